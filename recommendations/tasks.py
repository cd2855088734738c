"""Recommender work run by Celery: the nightly (or on-demand) retrain and fresh vectors."""

from celery import shared_task

from . import services
from .models import ModelVersion


@shared_task
def retrain_recommender(trigger: str = ModelVersion.Trigger.NIGHTLY) -> dict:
    """No automatic retry: a failed retrain is recorded for editors, the active model keeps
    serving, and the next night (or an editor) tries again."""
    result = services.model_retrain(trigger=trigger)
    return {"status": result.status, "version": result.version, "activated": result.activated}


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=3)
def vectorise_article(article_id: int) -> int:
    return services.articles_vectorise(article_ids=[article_id])


@shared_task
def vectorise_fresh_articles() -> int:
    return services.articles_vectorise_fresh()


@shared_task
def retrain_if_requested() -> str | None:
    """Run an editor's retrain request whose message was lost (a broker outage)."""
    result = services.model_retrain_if_requested()
    return result.status if result else None
