"""`manage.py publish_due`: scheduled publishing without Celery beat (cron, or by hand)."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from news.models import Article
from news.services import SCHEDULER_LABEL
from tests.factories import ArticleFactory

pytestmark = pytest.mark.django_db
Status = Article.Status


def _run() -> str:
    out = StringIO()
    call_command("publish_due", stdout=out)
    return out.getvalue()


def test_publish_due_publishes_what_is_due_and_nothing_else(client):
    due = ArticleFactory(
        title="Due story",
        status=Status.SCHEDULED,
        published_at=timezone.now() - timedelta(minutes=2),
    )
    later = ArticleFactory(
        title="Later story",
        status=Status.SCHEDULED,
        published_at=timezone.now() + timedelta(hours=1),
    )
    assert client.get(due.get_absolute_url()).status_code == 404

    assert "Published 1 scheduled article(s) whose time had come." in _run()
    due.refresh_from_db()
    later.refresh_from_db()
    assert (due.status, later.status) == (Status.PUBLISHED, Status.SCHEDULED)
    assert due.revisions.get().changed_by == SCHEDULER_LABEL
    assert client.get(due.get_absolute_url()).status_code == 200
    assert "Due story" in client.get("/").content.decode()


def test_running_it_again_changes_nothing():
    due = ArticleFactory(
        status=Status.SCHEDULED, published_at=timezone.now() - timedelta(minutes=1)
    )
    _run()
    assert "No scheduled article was due; nothing changed." in _run()
    assert due.revisions.count() == 1


def test_the_scheduler_revision_keeps_the_whole_version():
    due = ArticleFactory(
        status=Status.SCHEDULED, published_at=timezone.now() - timedelta(minutes=1)
    )
    _run()
    snapshot = due.revisions.get().snapshot
    assert (snapshot["status"], snapshot["title"]) == ("published", due.title)
