"""The feed's candidates shared by the site's processes: a publication is on every process's
next page without a reader's request reading the candidates, a withdrawn story is gone at
once, a failed read leaves the previous candidates serving, and two processes never undo
each other's newer candidates."""

import gc
import logging
import sys
import weakref
from contextlib import contextmanager
from datetime import timedelta
from types import SimpleNamespace

import numpy as np
import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.db import OperationalError, connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from news.models import Article
from news.services import article_publish, article_unpublish
from recommendations import active as active_module
from recommendations import services
from recommendations.active import active_model, loaded_model_forget
from recommendations.feed import pool
from recommendations.feed.page import feed_page
from recommendations.feed.pool import candidate_refresh_wait
from recommendations.services import model_retrain
from tests.conftest import DEAD_CACHE, gunicorn_settings
from tests.factories import ArticleFactory

from .conftest import story

pytestmark = pytest.mark.django_db

# Only the candidates' read selects a story's pick end as epoch seconds.
CANDIDATES_READ = 'EXTRACT(EPOCH FROM "news_article"."editors_pick_until")'


@contextmanager
def another_process():
    """What a second gunicorn worker holds in memory: its own pool, the same database and
    shared cache."""
    own = pool._pool_cache
    pool._pool_cache = pool._PoolCache()
    try:
        yield
    finally:
        pool._pool_cache = own


def anonymous_titles() -> list[str]:
    return [item.article.title for item in feed_page(user=AnonymousUser())]


def draft(title: str) -> Article:
    return story(
        title=title, body="Words.", status=Article.Status.DRAFT, published_at=None, hours_ago=0
    )


def test_a_published_story_is_on_every_process_s_next_page_without_reading_candidates(
    newsroom, client, django_capture_on_commit_callbacks
):
    model_retrain()
    news = draft("Harbour bridge reopens tonight")
    client.get("/")
    with another_process():
        client.get("/")
    # An editor publishes from a third process.
    with another_process(), django_capture_on_commit_callbacks(execute=True):
        article_publish(article=news)

    for process in (pool._pool_cache, pool._PoolCache()):
        pool._pool_cache, own = process, pool._pool_cache
        try:
            with CaptureQueriesContext(connection) as queries:
                page = client.get("/").content.decode()
        finally:
            pool._pool_cache = own
        assert "Harbour bridge reopens tonight" in page
        assert not [q for q in queries if CANDIDATES_READ in q["sql"]]


def test_a_withdrawn_story_leaves_every_process_s_feed_at_once(
    newsroom, client, django_capture_on_commit_callbacks
):
    model_retrain()
    news = draft("Storm warning for the coast")
    with django_capture_on_commit_callbacks(execute=True):
        article_publish(article=news)
    assert "Storm warning for the coast" in anonymous_titles()
    with another_process():
        assert "Storm warning for the coast" in anonymous_titles()

    with django_capture_on_commit_callbacks(execute=True):
        article_unpublish(article=news, changed_by="Editor")

    assert "Storm warning for the coast" not in anonymous_titles()
    assert "Storm warning for the coast" not in client.get("/").content.decode()
    with another_process():
        assert "Storm warning for the coast" not in anonymous_titles()


def test_a_failed_read_leaves_the_previous_candidates_serving(
    newsroom, client, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    model_retrain()
    before = anonymous_titles()
    news = draft("Train strike called off")

    def database_restarting(**kwargs):
        raise OperationalError("the database system is shutting down")

    with monkeypatch.context() as patched:
        patched.setattr(pool, "_catalogue_read", database_restarting)
        with django_capture_on_commit_callbacks(execute=True):
            article_publish(article=news)  # the editor's publication itself succeeds
        response = client.get("/")
        assert response.status_code == 200
        assert anonymous_titles() == before
    assert "Reading the feed's candidates failed" in caplog.text

    # Once the database answers again, the next page reads what it missed.
    assert "Train strike called off" in anonymous_titles()


def test_a_process_without_a_pool_takes_the_shared_one_rather_than_reading(newsroom):
    model_retrain()
    first = anonymous_titles()
    with another_process():
        with CaptureQueriesContext(connection) as queries:
            assert anonymous_titles() == first
        assert not [q for q in queries if CANDIDATES_READ in q["sql"]]


def test_an_earlier_read_never_replaces_a_later_one(newsroom):
    """Two publications at once: the process whose read began first may share it last."""
    model_retrain()
    earlier = pool._catalogue_read(now=timezone.now())
    story(title="Comet visible tonight", body="Look up.", hours_ago=0.01)
    later = pool._catalogue_read(now=timezone.now())
    pool._catalogue_share(later)
    pool._catalogue_share(earlier)
    with another_process():
        assert "Comet visible tonight" in anonymous_titles()


def _counted_reads(monkeypatch) -> list[int]:
    """One item per read of the candidates from the database."""
    reads: list[int] = []
    read = pool._catalogue_read
    monkeypatch.setattr(pool, "_catalogue_read", lambda **kw: reads.append(1) or read(**kw))
    return reads


@pytest.mark.django_db(transaction=True)
def test_aged_candidates_are_read_again_by_one_process_for_all(settings, monkeypatch):
    settings.RECOMMENDER_CANDIDATE_REFRESH_IN_BACKGROUND = True
    settings.RECOMMENDER_CANDIDATE_CACHE_SECONDS = 60
    reads = _counted_reads(monkeypatch)
    story(title="Harbour reopens", body="The harbour reopened.", hours_ago=2)
    assert anonymous_titles() == ["Harbour reopens"]
    with another_process():
        assert anonymous_titles() == ["Harbour reopens"]
    assert len(reads) == 1
    story(title="Comet visible tonight", body="Look up tonight.", hours_ago=0.01)

    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        # Another process is reading them: this one serves its own meanwhile, reading none.
        cache.set(pool.CATALOGUE_LOCK_KEY, 1)
        assert anonymous_titles() == ["Harbour reopens"]
        candidate_refresh_wait()
        assert len(reads) == 1
        cache.delete(pool.CATALOGUE_LOCK_KEY)
        # The first page that finds them aged is served from them and starts the read...
        assert anonymous_titles() == ["Harbour reopens"]
        candidate_refresh_wait()
        assert len(reads) == 2
        # ...which every process's next page is ranked from.
        assert anonymous_titles() == ["Comet visible tonight", "Harbour reopens"]
        with another_process():
            assert anonymous_titles() == ["Comet visible tonight", "Harbour reopens"]
    assert len(reads) == 2


def test_a_story_vectorised_after_the_read_gets_its_vector_at_the_next_refresh(newsroom, settings):
    """The catalogue read again unchanged keeps each process's pool, but not a story still
    waiting for its vector: similar stories find it once it has one."""
    model_retrain()
    imported = story(title="Imported comet story", body="A comet passes Mars, rocket in tow.")
    pool.candidate_pool_forget()
    before = pool.candidate_pool(loaded=active_model(), now=timezone.now())
    row = int(before.rows_of(np.array([imported.pk]))[0])
    assert not before.vectors[row].any()

    assert services.articles_vectorise_fresh() == 1
    interval = timedelta(seconds=settings.RECOMMENDER_CANDIDATE_CACHE_SECONDS + 1)
    with time_machine.travel(timezone.now() + interval):
        after = pool.candidate_pool(loaded=active_model(), now=timezone.now())
    assert after.vectors[row].any()
    assert np.array_equal(after.ids, before.ids)
    # Once each story has its vector, a read that finds nothing new keeps the pool.
    with time_machine.travel(timezone.now() + 2 * interval):
        again = pool.candidate_pool(loaded=active_model(), now=timezone.now())
    assert again.candidates is after.candidates


def _written_past_the_site(title: str, **fields) -> Article:
    """A story written as another program would (SQL, a bulk import): no signal is sent."""
    fields.setdefault("published_at", timezone.now() - timedelta(hours=1))
    (article,) = Article.objects.bulk_create([ArticleFactory.build(title=title, **fields)])
    return article


def _titles_later(seconds: float) -> list[str]:
    """The anonymous front page's titles that many seconds from now."""
    with time_machine.travel(timezone.now() + timedelta(seconds=seconds)):
        return anonymous_titles()


@pytest.fixture
def intervals(settings):
    settings.RECOMMENDER_CANDIDATE_CACHE_SECONDS = 20
    settings.RECOMMENDER_CANDIDATE_RECHECK_SECONDS = 300
    return settings


@pytest.fixture
def reads(intervals, monkeypatch) -> list[int]:
    """A front page of one story, its candidates read once: one item per read since then."""
    story(title="Harbour reopens", body="The harbour reopened.", hours_ago=2)
    counted = _counted_reads(monkeypatch)
    assert anonymous_titles() == ["Harbour reopens"]
    return counted


def test_unchanged_candidates_are_not_read_again_until_the_recheck(reads):
    _written_past_the_site("Bridge closes for repairs")
    # Nothing the site did changed a story: pages are served without reading every row again.
    assert _titles_later(21) == ["Harbour reopens"]
    assert _titles_later(299) == ["Harbour reopens"]
    assert len(reads) == 1
    # What no signal reports is in the candidates once the recheck is due.
    assert _titles_later(301) == ["Bridge closes for repairs", "Harbour reopens"]
    assert len(reads) == 2


def test_a_change_the_site_made_is_read_again_after_the_short_interval(reads):
    story(title="Comet visible tonight", body="Look up tonight.", hours_ago=0.5)
    assert _titles_later(10) == ["Harbour reopens"]
    assert len(reads) == 1
    assert _titles_later(21) == ["Comet visible tonight", "Harbour reopens"]
    assert len(reads) == 2
    # Read once for that change: the marker it read under is current.
    assert _titles_later(42) == ["Comet visible tonight", "Harbour reopens"]
    assert len(reads) == 2


def test_a_story_published_for_later_goes_live_on_time_without_a_signal(reads, intervals):
    intervals.RECOMMENDER_CANDIDATE_RECHECK_SECONDS = 3600
    _written_past_the_site("Election results", published_at=timezone.now() + timedelta(seconds=600))
    # Read again for a change the site made: the catalogue learns when the next goes live.
    story(title="Weather warning", body="Storms ahead.", hours_ago=3)
    assert _titles_later(21) == ["Harbour reopens", "Weather warning"]
    assert len(reads) == 2
    assert _titles_later(590) == ["Harbour reopens", "Weather warning"]
    assert len(reads) == 2
    assert _titles_later(601) == ["Election results", "Harbour reopens", "Weather warning"]
    assert len(reads) == 3


def test_while_the_cache_is_down_candidates_are_read_after_the_short_interval(
    intervals, monkeypatch
):
    with override_settings(CACHES=DEAD_CACHE):
        story(title="Harbour reopens", body="The harbour reopened.", hours_ago=2)
        reads = _counted_reads(monkeypatch)
        assert anonymous_titles() == ["Harbour reopens"]
        # No marker can say whether the site changed anything: the old cadence serves.
        _written_past_the_site("Bridge closes for repairs")
        assert _titles_later(21) == ["Bridge closes for repairs", "Harbour reopens"]
        assert len(reads) == 2


def _a_new_worker(monkeypatch):
    """What gunicorn runs in a worker it has just started, before it takes a request."""
    pool.candidate_pool_forget()
    loaded_model_forget()
    worker = SimpleNamespace(pid=4242, log=logging.getLogger("gunicorn.error"))
    gunicorn_settings(monkeypatch).post_worker_init(worker)


@pytest.mark.django_db(transaction=True)
def test_a_new_worker_loads_the_feed_before_its_first_page(newsroom, monkeypatch):
    model_retrain()
    _a_new_worker(monkeypatch)
    loads = []
    load = active_module._load
    monkeypatch.setattr(active_module, "_load", lambda version: loads.append(1) or load(version))

    # Its first page neither loads the model nor reads the candidates: both were ready.
    with CaptureQueriesContext(connection) as queries:
        assert len(anonymous_titles()) == len(newsroom.all())
    assert not loads
    assert not any(CANDIDATES_READ in query["sql"] for query in queries)


@pytest.mark.django_db(transaction=True)
def test_what_a_new_worker_loaded_and_froze_is_freed_once_replaced(newsroom, monkeypatch):
    model_retrain()
    _a_new_worker(monkeypatch)
    warm = pool._pool_cache.pool
    model = warm.loaded
    # Out of the way of the worker's full collections, for as long as they serve...
    walked = {id(tracked) for tracked in gc.get_objects()}
    assert id(warm) not in walked and id(model) not in walked
    freed = []
    weakref.finalize(warm, freed.append, "candidates")
    weakref.finalize(model, freed.append, "model")
    del warm, model, walked

    # ...and freed once a new model and a publication replace them, without a collection:
    # the worker's memory does not grow with each change.
    assert model_retrain().activated
    anonymous_titles()
    assert sorted(freed) == ["candidates", "model"]
    replaced = pool._pool_cache.pool
    weakref.finalize(replaced, freed.append, "candidates")
    del replaced
    article_publish(article=draft("Bridge closes for repairs"))
    assert "Bridge closes for repairs" in anonymous_titles()
    assert sorted(freed) == ["candidates", "candidates", "model"]


@pytest.mark.django_db(transaction=True)
def test_a_new_worker_that_cannot_load_the_feed_still_starts(newsroom, monkeypatch, caplog):
    def unreachable(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(pool, "_catalogue_read", unreachable)
    _a_new_worker(monkeypatch)  # does not raise: gunicorn would stop the worker
    assert "could not load the feed before its first page" in caplog.text

    # Its first page loads what it needs, once the database answers.
    monkeypatch.undo()
    assert len(anonymous_titles()) == len(newsroom.all())


@pytest.mark.django_db(transaction=True)
def test_a_worker_whose_feed_cannot_even_be_imported_still_starts(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "recommendations.feed.pool", None)  # the import fails
    _a_new_worker(monkeypatch)
    assert "could not load the feed before its first page" in caplog.text
