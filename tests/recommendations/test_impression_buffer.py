"""The feed's impression counters are added up in each process and written in batches: what an
editor finds in the table and when, and that no count is lost or counted twice on the way."""

import logging
import os
import re
import threading
from datetime import date, datetime
from types import SimpleNamespace

import pytest
import time_machine
from django.db import OperationalError, connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from recommendations import impressions
from recommendations.models import FeedImpressionCount
from recommendations.services import feed_impressions_flush, feed_impressions_record
from tests.factories import ArticleFactory

pytestmark = pytest.mark.django_db

START = 10_000.0


def table() -> dict[tuple[date, str], int]:
    rows = FeedImpressionCount.objects.values_list("day", "list_type", "count")
    return {(day, list_type): count for day, list_type, count in rows}


@pytest.fixture
def clock(monkeypatch):
    """The module's monotonic clock, moved by hand; the last write was at START."""
    now = [START]
    monkeypatch.setattr(impressions, "time", SimpleNamespace(monotonic=lambda: now[0]))
    impressions.feed_impressions_forget_in_process()
    return now


def test_pages_within_the_interval_reach_the_table_together(settings, clock):
    settings.FEED_IMPRESSIONS_FLUSH_SECONDS = 1
    today = timezone.localdate()
    FeedImpressionCount.objects.create(day=today, list_type="editorial", count=10)

    feed_impressions_record(list_types=["editorial"] * 3)
    clock[0] += 0.5
    feed_impressions_record(list_types=["editorial"] * 2 + ["personal"])
    assert table() == {(today, "editorial"): 10}

    clock[0] += 0.5
    with CaptureQueriesContext(connection) as queries:
        shown = feed_impressions_record(list_types=["personal"] * 4 + ["elsewhere"])
    assert shown == {"personal": 4}
    assert len(queries) == 1  # one upsert for the three pages
    assert table() == {(today, "editorial"): 15, (today, "personal"): 5}


def test_a_page_before_midnight_and_one_after_count_on_their_own_days(settings, clock):
    settings.FEED_IMPRESSIONS_FLUSH_SECONDS = 1
    before = timezone.make_aware(datetime(2027, 3, 1, 23, 59, 50))
    after = timezone.make_aware(datetime(2027, 3, 2, 0, 0, 10))

    with time_machine.travel(before, tick=False):
        feed_impressions_record(list_types=["editorial"] * 4)
    clock[0] += 20
    with time_machine.travel(after, tick=False):
        feed_impressions_record(list_types=["editorial"] * 3)

    assert table() == {(date(2027, 3, 1), "editorial"): 4, (date(2027, 3, 2), "editorial"): 3}


def test_a_failed_write_keeps_the_counts_and_the_next_one_writes_them(caplog):
    # Written on every page (the test suite's setting), if the database answers.
    today = timezone.localdate()

    def unreachable(execute, sql, params, many, context):
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    with (
        caplog.at_level(logging.ERROR, logger="recommendations.impressions"),
        connection.execute_wrapper(unreachable),
    ):
        first = feed_impressions_record(list_types=["editorial"] * 3)
        second = feed_impressions_record(list_types=["personal"] * 2)

    assert (first, second) == ({"editorial": 3}, {"personal": 2})  # the pages were served
    assert table() == {}
    assert len(caplog.records) == 2 and "not written" in caplog.text

    feed_impressions_record(list_types=["editorial"])
    assert table() == {(today, "editorial"): 4, (today, "personal"): 2}
    assert feed_impressions_flush() == 0  # nothing left to write twice
    assert table() == {(today, "editorial"): 4, (today, "personal"): 2}


def test_a_failed_flush_raises_and_keeps_the_counts(settings):
    settings.FEED_IMPRESSIONS_FLUSH_SECONDS = 60
    feed_impressions_record(list_types=["holdout"] * 2)

    def unreachable(execute, sql, params, many, context):
        raise OperationalError("the database is down")

    with connection.execute_wrapper(unreachable), pytest.raises(OperationalError):
        feed_impressions_flush()

    assert feed_impressions_flush() == 1
    assert table() == {(timezone.localdate(), "holdout"): 2}


def test_flush_writes_what_is_buffered_once(settings):
    settings.FEED_IMPRESSIONS_FLUSH_SECONDS = 60
    today = timezone.localdate()
    yesterday = date.fromordinal(today.toordinal() - 1)
    feed_impressions_record(list_types=["editorial", "editorial", "personal"])
    feed_impressions_record(list_types=["editorial"])
    feed_impressions_record(list_types=["holdout"], day=yesterday)
    assert table() == {}

    assert feed_impressions_flush() == 3
    written = {(today, "editorial"): 3, (today, "personal"): 1, (yesterday, "holdout"): 1}
    assert table() == written

    with CaptureQueriesContext(connection) as queries:
        assert feed_impressions_flush() == 0
    assert len(queries) == 0
    assert table() == written


@pytest.mark.django_db(transaction=True)
def test_pages_served_by_many_threads_are_each_counted_once(settings, caplog):
    settings.FEED_IMPRESSIONS_FLUSH_SECONDS = 0.001
    today = timezone.localdate()
    page = ["personal"] * 3 + ["editorial"] * 2 + ["holdout"]
    threads, calls = 8, 250
    start, failures = threading.Barrier(threads), []

    def serve() -> None:
        try:
            start.wait()
            for _ in range(calls):
                feed_impressions_record(list_types=page, day=today)
        except Exception as error:  # reported by the assertion below
            failures.append(error)
        finally:
            connections.close_all()

    with caplog.at_level(logging.ERROR, logger="recommendations.impressions"):
        workers = [threading.Thread(target=serve) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        feed_impressions_flush()

    assert failures == [] and caplog.records == []
    pages = threads * calls
    assert table() == {
        (today, "personal"): pages * 3,
        (today, "editorial"): pages * 2,
        (today, "holdout"): pages,
    }


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this system")
def test_a_forked_worker_does_not_inherit_the_masters_counts(settings):
    settings.FEED_IMPRESSIONS_FLUSH_SECONDS = 60
    feed_impressions_record(list_types=["editorial"] * 5)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never touches the parent's database connection
        os.write(write, str(sum(impressions._buffered.values())).encode())
        os._exit(0)
    os.close(write)
    inherited = int(os.read(read, 32))
    os.close(read)
    os.waitpid(pid, 0)

    assert inherited == 0
    assert feed_impressions_flush() == 1  # the parent keeps its own
    assert table() == {(timezone.localdate(), "editorial"): 5}


def test_a_home_page_reaches_the_table_with_the_next_write(client, settings):
    settings.FEED_IMPRESSIONS_FLUSH_SECONDS = 60
    ArticleFactory.create_batch(3)

    html = client.get("/").content.decode()
    cards = re.findall(r'<h3 class="card-title"><a href="[^"]+\?via=editorial"', html)
    assert len(cards) == 3
    assert table() == {}

    assert feed_impressions_flush() == 1
    assert table() == {(timezone.localdate(), "editorial"): len(cards)}
