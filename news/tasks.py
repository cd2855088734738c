"""Periodic news work run by Celery beat."""

from celery import shared_task
from django.db import DatabaseError

from common.queueing import renamed_tasks_keep

from . import images, services


# Without beat, `manage.py publish_due` (cron, or by hand in the demo) runs the same service.
@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def articles_publish_due() -> int:
    return services.articles_publish_due()


# Not retried: a failing feed is logged on its source and polled again at its own interval.
@shared_task(ignore_result=True)
def sources_poll_due() -> int:
    return services.sources_poll_due().polled


# One message per import or admin save, with every new untagged article of it: the classifier
# is trained once for the batch.
@shared_task(autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=3)
def article_topics_suggest(article_ids: list[int]) -> int:
    """Idempotent: articles that got topics meanwhile are skipped, others re-suggested."""
    return services.article_topics_suggest(article_ids=article_ids).suggested


# Idempotent and cheap: a listing of one folder and one query.
@shared_task(ignore_result=True)
def lead_images_orphaned_delete() -> int:
    return images.lead_images_orphaned_delete()


renamed_tasks_keep(
    module=__name__,
    renames={
        "publish_due_articles": articles_publish_due,
        "poll_feed_sources": sources_poll_due,
        "suggest_topics": article_topics_suggest,
    },
)
