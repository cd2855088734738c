"""Feed sources polled by Celery beat, each at its own interval, with failures logged on the
source. The clock is moved with time-machine; feeds come from a fake fetcher."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings

from news import services, tasks
from news.models import Article, Source, SourceError
from news.safe_fetch import Fetched, FetchError
from tests.factories import SourceFactory

from .conftest import FakeResponse

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)


class FakeFetcher:
    """Serves fixture feeds by address and remembers what was fetched."""

    def __init__(self, feeds: dict[str, bytes | Exception]):
        self.feeds = feeds
        self.fetched: list[str] = []

    def __call__(self, url: str) -> Fetched:
        self.fetched.append(url)
        answer = self.feeds[url]
        if isinstance(answer, Exception):
            raise answer
        return Fetched(url=url, content=answer)


@pytest.fixture
def two_feeds(feed_bytes):
    quick = SourceFactory(
        name="Quick", kind=Source.Kind.RSS, url="https://quick.example/rss", poll_interval_minutes=5
    )
    slow = SourceFactory(
        name="Slow",
        kind=Source.Kind.ATOM,
        url="https://slow.example/atom",
        poll_interval_minutes=60,
    )
    fetcher = FakeFetcher({quick.url: feed_bytes("rss.xml"), slow.url: feed_bytes("atom.xml")})
    return quick, slow, fetcher


def test_each_source_is_polled_at_its_own_interval(two_feeds):
    quick, slow, fetcher = two_feeds
    with time_machine.travel(START, tick=False) as clock:
        assert services.sources_poll_due(fetcher=fetcher).polled == 2  # never polled: both due
        clock.shift(timedelta(minutes=4))
        assert services.sources_poll_due(fetcher=fetcher).polled == 0
        clock.shift(timedelta(minutes=1))
        assert services.sources_poll_due(fetcher=fetcher).polled == 1  # quick, 5 min later
        clock.shift(timedelta(minutes=55))
        assert services.sources_poll_due(fetcher=fetcher).polled == 2  # both, 60 min later
    assert fetcher.fetched == [quick.url, slow.url, quick.url, quick.url, slow.url]
    quick.refresh_from_db()
    assert quick.last_polled_at == START + timedelta(minutes=60)


def test_polling_twice_imports_once(two_feeds):
    _, _, fetcher = two_feeds
    with time_machine.travel(START, tick=False) as clock:
        first = services.sources_poll_due(fetcher=fetcher)
        clock.shift(timedelta(hours=2))
        second = services.sources_poll_due(fetcher=fetcher)
    assert (first.result.created, second.result.created) == (4, 0)
    assert second.result.skipped == 4
    assert Article.objects.count() == 4


def test_paused_and_non_feed_sources_are_not_polled(two_feeds):
    quick, slow, fetcher = two_feeds
    Source.objects.filter(pk=slow.pk).update(active=False)
    SourceFactory(name="Written here")  # manual
    with time_machine.travel(START, tick=False):
        assert services.sources_poll_due(fetcher=fetcher).polled == 1
    assert fetcher.fetched == [quick.url]


def test_a_failing_feed_is_logged_and_retried_at_its_interval_not_every_minute(two_feeds):
    quick, _, fetcher = two_feeds
    fetcher.feeds[quick.url] = FetchError("The feed did not answer within 15 seconds.")
    with time_machine.travel(START, tick=False) as clock:
        services.sources_poll_due(fetcher=fetcher)
        clock.shift(timedelta(minutes=1))
        services.sources_poll_due(fetcher=fetcher)
    assert fetcher.fetched.count(quick.url) == 1
    error = SourceError.objects.get(source=quick)
    assert error.message == "The feed did not answer within 15 seconds."
    assert error.entry_reference == ""


def test_a_feed_that_is_not_a_feed_is_logged_and_writes_nothing(two_feeds):
    quick, slow, fetcher = two_feeds
    fetcher.feeds[quick.url] = b"<html><body>Maintenance</body></html>"
    with time_machine.travel(START, tick=False):
        services.sources_poll_due(fetcher=fetcher)
    assert not Article.objects.filter(source=quick).exists()
    assert "not an RSS or Atom feed" in SourceError.objects.get(source=quick).message
    assert Article.objects.filter(source=slow).count() == 2  # the other feed is unaffected


def test_old_feed_errors_are_forgotten(two_feeds, settings):
    quick, _, fetcher = two_feeds
    settings.INGEST_ERROR_RETENTION_DAYS = 30
    services.source_error_record(source=quick, message="old", now=START - timedelta(days=31))
    services.source_error_record(source=quick, message="recent", now=START - timedelta(days=2))
    with time_machine.travel(START, tick=False):
        services.sources_poll_due(fetcher=lambda url: (_ for _ in ()).throw(FetchError("down")))
    assert set(SourceError.objects.values_list("message", flat=True)) == {"recent", "down"}


def test_the_beat_task_fetches_through_the_guard_and_imports(dns, feed_bytes, monkeypatch):
    from news import safe_fetch

    dns["quick.example"] = ["93.184.216.34"]
    SourceFactory(name="Quick", kind=Source.Kind.RSS, url="https://quick.example/rss")
    requested = []

    def fake_http(url, timeout):
        requested.append((url, timeout))
        return FakeResponse(feed_bytes("rss.xml"))

    monkeypatch.setattr(safe_fetch, "open_url", fake_http)
    assert tasks.sources_poll_due.delay().get() == 1
    assert requested == [("https://quick.example/rss", settings.INGEST_TIMEOUT_SECONDS)]
    assert Article.objects.count() == 2


def test_beat_schedule_polls_feed_sources_every_minute():
    entry = settings.CELERY_BEAT_SCHEDULE["poll-feed-sources"]
    assert entry["task"] == tasks.sources_poll_due.name
    assert entry["schedule"] == 60
