"""The trust app's background work: emailing readers affected by an incident."""

from celery import shared_task

from . import services


# Queued by `incident_readers_mark_affected`. Retrying is safe: a notice is claimed before it
# is sent, and only a failed send gives the claim back, so no retry or repeat sends it twice.
@shared_task(autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=600, max_retries=5)
def incident_notice_send(notice_id: int) -> bool:
    """Email one reader about an incident that affected them; returns whether it went."""
    return services.incident_notice_send(notice_id=notice_id)


# Notices queued while the broker was down (or whose message was lost): a few minutes apart,
# each still sent once (the claim), so a reader learns of an incident within minutes anyway.
@shared_task(ignore_result=True)
def incident_notices_send_pending() -> int:
    return services.incident_notices_send_pending()
