"""With Redis stopped (cache and broker), every page still answers and nothing is lost."""

from contextlib import contextmanager
from datetime import timedelta

import pytest
import time_machine
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import Preferences
from accounts.services import preferences_set_topics
from news.models import Article
from news.services import article_publish, feed_entries_import
from privacy.browser_signals import NO_SIGNALS
from privacy.exports import EXPORT_QUEUE_GRACE, export_file_path, export_request_create
from privacy.models import ExportRequest, ReadingHistoryEntry
from privacy.tasks import exports_build_pending
from recommendations.models import ArticleVector, ModelVersion
from recommendations.services import RETRAIN_REQUEST_GRACE, model_retrain
from recommendations.tasks import articles_vectorise_fresh, model_retrain_if_requested
from tests.conftest import DEAD_CACHE, DEAD_REDIS, celery_broker
from tests.factories import (
    DEFAULT_PASSWORD,
    ArticleFactory,
    SourceFactory,
    TopicFactory,
    reader_choices,
    verified_reader,
)
from tests.news.conftest import labelled_stories, sport_feed
from tests.recommendations.conftest import STORIES, story

pytestmark = pytest.mark.django_db


@contextmanager
def redis_stopped():
    """Cache and broker both unreachable; leaving the block is Redis coming back."""
    with override_settings(CACHES=DEAD_CACHE), celery_broker(DEAD_REDIS):
        yield


@pytest.fixture
def redis_down():
    with redis_stopped():
        yield


def test_every_page_is_served_while_redis_is_down(client, redis_down, caplog):
    reader = reader_choices(verified_reader())
    article = ArticleFactory(topics=[reader.preferences.topics.first()])
    for url in ["/", article.get_absolute_url(), reverse("news:search") + "?q=story"]:
        assert client.get(url).status_code == 200, url
    assert client.get(reverse("account_login")).status_code == 200
    # Sign-in attempts are rate limited through the cache. Without it they are refused, not
    # let through unthrottled: a deliberate choice, with a page that says what happened.
    response = client.post(
        reverse("account_login"), {"login": reader.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 429
    # Readers already signed in (sessions live in the database) use the whole site.
    client.force_login(reader)
    for name in ["news:home", "privacy:center", "privacy:history", "accounts:preferences"]:
        assert client.get(reverse(name)).status_code == 200, name


def test_a_read_is_not_lost_while_redis_is_down(
    client, redis_down, django_capture_on_commit_callbacks
):
    reader = reader_choices(verified_reader())
    article = ArticleFactory()
    client.force_login(reader)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(article.get_absolute_url()).status_code == 200
    assert ReadingHistoryEntry.objects.filter(user=reader).count() == 1


@pytest.fixture
def newsroom():
    """Stories three days old in three topics (so freshness does not outweigh the rest)
    and an active recommender model trained on them."""
    topics = {name: TopicFactory(name=name.title(), slug=name) for name in STORIES}
    for name, items in STORIES.items():
        for title, body in items:
            story(title=title, body=body, topics=[topics[name]], hours_ago=72)
    assert model_retrain().activated
    return topics


def test_the_feed_is_personal_from_the_loaded_model_while_redis_is_down(
    client, newsroom, record_read
):
    reader = reader_choices(verified_reader())
    preferences_set_topics(user=reader, topic_ids=[newsroom["sport"].pk])
    assert Preferences.objects.get(user=reader).level == Preferences.Level.TOPICS_HISTORY
    read = Article.objects.get(title="Baking sourdough bread at home")
    record_read(user=reader, article=read, signals=NO_SIGNALS)
    client.force_login(reader)
    assert client.get("/").status_code == 200  # the model is loaded while Redis is up

    with redis_stopped():
        response = client.get("/")
    assert response.status_code == 200
    page = response.text
    # Every card is the personal feed's, placed by a followed topic or by a read.
    assert page.count('<article class="card">') > 0
    assert "via=personal" in page and "via=editorial" not in page and "via=holdout" not in page
    assert "Because you follow Sport" in response.text
    assert "Because you read &#x27;Baking sourdough bread at home&#x27;" in response.text


def test_an_export_asked_for_while_redis_is_down_is_built_once_it_is_back(
    settings, tmp_path, caplog, django_capture_on_commit_callbacks
):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    reader = reader_choices(verified_reader())
    with redis_stopped(), django_capture_on_commit_callbacks(execute=True):
        export = export_request_create(user=reader)  # the request itself does not fail
    assert "the periodic sweep (exports_build_pending) will run it" in caplog.text
    export.refresh_from_db()
    assert export.status == ExportRequest.Status.PENDING

    # Redis is back. A message still on its way is given time before the sweep steps in.
    assert exports_build_pending.apply().get() == 0
    with time_machine.travel(timezone.now() + EXPORT_QUEUE_GRACE + timedelta(seconds=1)):
        assert exports_build_pending.apply().get() == 1
        assert exports_build_pending.apply().get() == 0  # built once, not again
    export.refresh_from_db()
    assert export.status == ExportRequest.Status.READY
    assert export_file_path(export).is_file()


def test_an_article_published_while_redis_is_down_gets_its_vector_once_it_is_back(
    newsroom, editor, caplog, django_capture_on_commit_callbacks
):
    draft = ArticleFactory(
        title="Sprinter wins the final in record time",
        body="The sprinter won the final in record time, ahead of the marathon champion.",
        status="draft",
        published_at=None,
        topics=[newsroom["sport"]],
    )
    with redis_stopped(), django_capture_on_commit_callbacks(execute=True):
        article_publish(article=draft, changed_by=editor.email)  # the editor's save stands
    draft.refresh_from_db()
    assert draft.is_live
    assert not ArticleVector.objects.filter(article=draft).exists()
    assert "articles_vectorise" in caplog.text  # the lost message is logged

    # Redis is back: the minutely sweep vectorises what the lost message would have.
    assert articles_vectorise_fresh.apply().get() == 1
    assert ArticleVector.objects.filter(article=draft).exists()
    assert articles_vectorise_fresh.apply().get() == 0


def test_an_imported_story_gets_topic_suggestions_while_redis_is_down(
    caplog, django_capture_on_commit_callbacks
):
    topics = labelled_stories()  # stories editors labelled, as in the topic-suggestion tests
    with redis_stopped(), django_capture_on_commit_callbacks(execute=True):
        feed_entries_import(source=SourceFactory(), feed=sport_feed())
    assert "Could not queue news.tasks.article_topics_suggest" in caplog.text
    assert "doing it now instead" in caplog.text
    article = Article.objects.get(external_id="e1")
    assert article.suggested_topics[0]["topic_id"] == topics["sport"].pk


def test_a_retrain_asked_for_while_redis_is_down_runs_once_it_is_back(
    client, newsroom, editor, caplog, django_capture_on_commit_callbacks
):
    active = ModelVersion.objects.get()
    client.force_login(editor)
    with redis_stopped(), django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("news:editor_model_retrain"))
    assert response.status_code == 302  # the editor's page answers
    assert "the periodic sweep (model_retrain_if_requested) will run it" in caplog.text
    assert list(ModelVersion.objects.all()) == [active]

    # Redis is back; the sweep leaves a request alone while its message may still arrive.
    assert model_retrain_if_requested.apply().get() is None
    with time_machine.travel(timezone.now() + RETRAIN_REQUEST_GRACE + timedelta(seconds=1)):
        assert model_retrain_if_requested.apply().get() == ModelVersion.Status.READY
        assert model_retrain_if_requested.apply().get() is None  # run once, not again
    latest = ModelVersion.objects.latest("version")
    assert latest.version == active.version + 1
    assert latest.trigger == ModelVersion.Trigger.MANUAL


def test_the_cached_pages_are_computed_while_redis_is_down(
    client, redis_down, django_capture_on_commit_callbacks
):
    reader = reader_choices(verified_reader())
    topic = reader.preferences.topics.first()
    first, second = ArticleFactory(topics=[topic]), ArticleFactory(topics=[topic])
    # The shared feed and "More like this", for anonymous visitors, twice: no stale copy.
    for _ in range(2):
        assert first.title in client.get("/").content.decode()
        assert client.get(first.get_absolute_url()).status_code == 200
    # A reader's own feed, and everything that would forget their cached copy.
    client.force_login(reader)
    html = client.get(reverse("news:home")).content.decode()
    assert "Your front page" in html and f"Because you follow {topic.name}" in html
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(first.get_absolute_url()).status_code == 200
        response = client.post(reverse("recommendations:show_less"), {"topic": topic.pk})
    assert response.status_code == 302
    html = client.get(reverse("news:home")).content.decode()
    assert "Your front page" in html and second.title in html
