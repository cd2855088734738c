"""Periodic privacy work run by Celery beat."""

from celery import shared_task

from . import aggregation, exports, read_queue, services
from .exports import export_build


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def aggregate_signals() -> int:
    """Release every closed day's popularity counts; returns how many days were released."""
    return sum(not result.already_done for result in aggregation.aggregate_pending())


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def purge_expired() -> int:
    """Delete everything past its retention period; returns how many rows were removed."""
    return services.retention_purge().total


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def store_queued_reads() -> int:
    """Store the reads queued by article pages; returns how many were handled."""
    return read_queue.reads_store_queued()


# Queued by `export_request_create`, not by beat. Retrying is safe: `export_build` builds only
# a still-active export, from scratch.
@shared_task(autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=600, max_retries=5)
def export_build_task(export_id: str) -> str | None:
    """Build one reader's copy of their data; returns its status, or None if nothing to do."""
    export = export_build(export_id=export_id)
    return export.status if export else None


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def build_pending_exports() -> int:
    """Build the exports whose queued message was lost (a broker outage); returns how many."""
    return exports.exports_build_pending()


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def expire_exports() -> int:
    """Delete export files past their expiry; returns how many went."""
    return services.exports_purge()
