"""Scheduled publishing through Celery: in-process, and through a real worker on Redis."""

import os
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from news.models import Article
from news.tasks import articles_publish_due
from newsite.celery import app as celery_app
from tests.conftest import worker_wait_until
from tests.factories import ArticleFactory

BROKER = os.environ.get("CELERY_BROKER_URL", "")


@pytest.mark.django_db
def test_publish_task_publishes_due_articles():
    due = ArticleFactory(
        status=Article.Status.SCHEDULED, published_at=timezone.now() - timedelta(seconds=1)
    )
    assert articles_publish_due.delay().get() == 1
    due.refresh_from_db()
    assert due.status == Article.Status.PUBLISHED


def test_beat_schedule_runs_scheduled_publishing_every_minute():
    entry = settings.CELERY_BEAT_SCHEDULE["publish-scheduled-articles"]
    assert entry["task"] == articles_publish_due.name
    assert entry["schedule"] <= 60


@pytest.mark.services
@pytest.mark.skipif(
    not BROKER.startswith("redis://") and os.environ.get("REQUIRE_SERVICES") != "1",
    reason="needs CELERY_BROKER_URL pointing at Redis",
)
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_on_redis_publishes_a_due_article(eager_celery):
    from celery.contrib.testing.worker import start_worker

    due = ArticleFactory(
        status=Article.Status.SCHEDULED, published_at=timezone.now() - timedelta(seconds=1)
    )
    celery_app.conf.task_always_eager = False
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        articles_publish_due.delay()

        def published() -> bool:
            due.refresh_from_db()
            return due.status == Article.Status.PUBLISHED

        assert worker_wait_until(published, seconds=20, every=0.2)
