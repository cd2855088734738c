"""The recommender's Celery tasks and their place in the nightly schedule."""

import pytest
from django.conf import settings

from news.models import Article
from recommendations import tasks
from recommendations.models import ActiveModel, ModelVersion

pytestmark = pytest.mark.django_db


def test_the_nightly_retrain_runs_after_the_aggregation():
    schedule = settings.CELERY_BEAT_SCHEDULE
    retrain = schedule["retrain-recommender"]
    aggregate = schedule["aggregate-popularity-signals"]
    assert retrain["task"] == "recommendations.tasks.model_retrain"
    at = lambda entry: (min(entry["schedule"].hour), min(entry["schedule"].minute))  # noqa: E731
    assert at(retrain) > at(aggregate)


def test_the_retrain_task_activates_a_new_version(newsroom):
    result = tasks.model_retrain.delay().get()
    assert result == {"status": "ready", "version": 1, "activated": True}
    assert ModelVersion.objects.get().trigger == ModelVersion.Trigger.NIGHTLY


def test_a_failing_retrain_task_leaves_the_model_and_does_not_raise(newsroom):
    tasks.model_retrain.delay().get()
    Article.objects.update(status=Article.Status.DRAFT)
    result = tasks.model_retrain.delay().get()
    assert result["status"] == "failed" and not result["activated"]
    assert ActiveModel.objects.get().version.version == 1


def test_vectorising_without_a_model_does_nothing(newsroom):
    assert tasks.articles_vectorise.delay([newsroom.all()[0].pk]).get() == 0
    assert tasks.articles_vectorise_fresh.delay().get() == 0
