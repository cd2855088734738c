"""Periodic privacy work run by Celery beat."""

from celery import shared_task

from . import aggregation, read_queue, services


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
