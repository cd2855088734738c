"""Periodic news work run by Celery beat."""

from celery import shared_task

from . import services


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def publish_due_articles() -> int:
    return services.articles_publish_due()
