"""Periodic privacy work run by Celery beat."""

from datetime import timedelta

from celery import shared_task
from celery.signals import worker_init
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from common.queueing import renamed_tasks_keep

from . import aggregation, exports, federated, local_reports, services
from .checks import master_key_messages


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def aggregate_pending() -> int:
    """Release every closed day's popularity counts; returns how many days were released."""
    return sum(not result.already_done for result in aggregation.aggregate_pending())


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def retention_purge() -> int:
    """Delete everything past its retention period; returns how many rows were removed."""
    return services.retention_purge().total


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def reads_store_queued() -> int:
    """Store the reads queued by article pages; returns how many were handled."""
    return services.reads_store_queued()


# Queued by `export_request_create`, not by beat. Retrying is safe: `export_build` builds only
# a still-active export, from scratch.
@shared_task(autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=600, max_retries=5)
def export_build(export_id: str) -> str | None:
    """Build one reader's copy of their data; returns its status, or None if nothing to do."""
    export = exports.export_build(export_id=export_id)
    return export.status if export else None


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def exports_build_pending() -> int:
    """Build the exports whose queued message was lost (a broker outage); returns how many."""
    return exports.exports_build_pending()


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def exports_purge() -> int:
    """Delete export files past their expiry; returns how many went."""
    return services.exports_purge()


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def consent_digest_publish() -> str:
    """Publish yesterday's digest of the consent-receipt chain heads; returns it."""
    yesterday = timezone.localdate() - timedelta(days=1)
    return services.consent_digest_publish(day=yesterday).digest


# Queued by `policy_publish`, and by the sweep below for a version that takes effect later.
@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def policy_change_emails_queue(policy_id: int) -> int:
    """Queue the emails to readers a policy version turned purposes off for; returns how many."""
    return services.policy_change_emails_queue(policy_id=policy_id)


# Retrying is safe: a reader's email is claimed before it is sent, and only a failed send
# gives the claim back, so no retry or repeat sends it twice.
@shared_task(autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=600, max_retries=5)
def policy_change_email_send(policy_id: int, user_id: int) -> bool:
    """Email one reader what a policy version changed; returns whether an email went."""
    return services.policy_change_email_send(policy_id=policy_id, user_id=user_id)


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def policy_change_emails_queue_due() -> int:
    """Queue the emails of versions now in effect whose emails were not queued yet."""
    return services.policy_change_emails_queue_due()


renamed_tasks_keep(
    module=__name__,
    renames={
        "aggregate_signals": aggregate_pending,
        "purge_expired": retention_purge,
        "store_queued_reads": reads_store_queued,
        "export_build_task": export_build,
        "build_pending_exports": exports_build_pending,
        "expire_exports": exports_purge,
        "publish_consent_digest": consent_digest_publish,
        "queue_policy_change_emails": policy_change_emails_queue,
        "send_policy_change_email": policy_change_email_send,
        "queue_due_policy_change_emails": policy_change_emails_queue_due,
    },
)


@worker_init.connect(dispatch_uid="privacy-master-key-check")
def refuse_a_wrong_master_key(**kwargs) -> None:
    """A worker with a wrong or malformed master key would fail every task that opens a
    reader's data: it refuses to start instead, naming the problem."""
    errors = [message for message in master_key_messages() if message.is_serious()]
    if errors:
        raise ImproperlyConfigured(errors[0].msg)


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def local_reports_release_pending() -> int:
    """Release private mode's local DP reports of every closed day; returns how many days."""
    return sum(not result.already_done for result in local_reports.local_reports_release_pending())


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def federated_release_pending() -> int:
    """Average private mode's federated updates of every closed day; returns how many days
    were released (a day with too few updates releases nothing)."""
    return sum(result.released for result in federated.federated_release_pending())
