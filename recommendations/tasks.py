"""Recommender work run by Celery: the nightly (or on-demand) retrain and fresh vectors."""

from celery import shared_task

from common.queueing import renamed_tasks_keep

from . import services
from .models import ModelVersion


@shared_task
def model_retrain(trigger: str = ModelVersion.Trigger.NIGHTLY) -> dict:
    """No automatic retry: a failed retrain is recorded for editors, the active model keeps
    serving, and the next night (or an editor) tries again."""
    result = services.model_retrain(trigger=trigger)
    return {"status": result.status, "version": result.version, "activated": result.activated}


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=3)
def articles_vectorise(article_ids: list[int]) -> int:
    return services.articles_vectorise(article_ids=article_ids)


@shared_task
def articles_vectorise_fresh() -> int:
    return services.articles_vectorise_fresh()


@shared_task
def model_retrain_if_requested() -> str | None:
    """Run an editor's retrain request whose message was lost (a broker outage)."""
    result = services.model_retrain_if_requested()
    return result.status if result else None


renamed_tasks_keep(
    module=__name__,
    renames={
        "retrain_recommender": model_retrain,
        "vectorise_fresh_articles": articles_vectorise_fresh,
        "retrain_if_requested": model_retrain_if_requested,
    },
)


# The former per-article task: its messages carry one id, the new task takes a list.
@shared_task(name="recommendations.tasks.vectorise_article", ignore_result=True)
def _vectorise_article_former(article_id: int) -> None:
    articles_vectorise.delay([article_id])
