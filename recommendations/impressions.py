"""The feed's impression counters (the cards shown per day and list type, the denominators of
the editors' click-through rates), added up in each process and written in batches: one
upsert for every count of the last `FEED_IMPRESSIONS_FLUSH_SECONDS` instead of a round trip
and a WAL write on every home page. Only counts are kept: nothing says who saw what.

The buffer is written when a page finds the interval over, by `feed_impressions_flush()`,
and when the process exits (gunicorn's `worker_exit` hook and `atexit`)."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from datetime import date

from django.conf import settings
from django.db import connection
from django.utils import timezone

from .models import FeedImpressionCount

logger = logging.getLogger(__name__)

FEED_LIST_TYPES = frozenset(FeedImpressionCount.ListType.values)

Counts = dict[tuple[date, str], int]

# gthread workers serve pages from several threads: every read and swap of the buffer holds
# the lock, the database write never does.
_lock = threading.Lock()
_buffered: Counts = {}
_last_write = time.monotonic()


def feed_impressions_record(*, list_types, day=None) -> dict[str, int]:
    """Add the cards of one feed page (the list type of each) to the day's counters; returns
    the page's count per list type. The counts reach the table with the process's next write,
    at most `FEED_IMPRESSIONS_FLUSH_SECONDS` later (at once when it is 0). A failed write keeps
    them for the next one and never fails the page."""
    shown: dict[str, int] = {}
    for list_type in list_types:
        if list_type in FEED_LIST_TYPES:
            shown[list_type] = shown.get(list_type, 0) + 1
    if not shown:
        return shown
    day = day or timezone.localdate()
    seconds = settings.FEED_IMPRESSIONS_FLUSH_SECONDS
    with _lock:
        for list_type, count in shown.items():
            key = (day, list_type)
            _buffered[key] = _buffered.get(key, 0) + count
        now = time.monotonic()
        if seconds > 0 and now - _last_write < seconds:
            return shown
        counts = _swap_out(now)
    try:
        _write(counts)
    except Exception:
        # Kept in the buffer (see _write): the next write, or the exit's, carries them.
        logger.exception("Feed impression counts not written; kept for the next write")
    return shown


def feed_impressions_flush() -> int:
    """Write every count buffered in this process now (at a worker's exit, after the demo's
    seeding, in tests); returns the number of (day, list type) rows written. A failed write
    keeps the counts buffered and raises."""
    with _lock:
        counts = _swap_out(time.monotonic())
    return _write(counts)


def feed_impressions_forget_in_process() -> None:
    """Drop the buffered counts unwritten (tests: each has tables of its own)."""
    global _buffered, _last_write
    with _lock:
        _buffered, _last_write = {}, time.monotonic()


def _swap_out(now: float) -> Counts:
    """Take the buffer for writing, leaving an empty one (the caller holds the lock)."""
    global _buffered, _last_write
    counts, _buffered, _last_write = _buffered, {}, now
    return counts


def _write(counts: Counts) -> int:
    if not counts:
        return 0
    try:
        _upsert(counts)
    except Exception:
        # The database refused the statement, so none of it was counted: merged back, these
        # counts are neither lost nor written twice.
        with _lock:
            for key, count in counts.items():
                _buffered[key] = _buffered.get(key, 0) + count
        raise
    return len(counts)


def _upsert(counts: Counts) -> None:
    table = FeedImpressionCount._meta.db_table
    upsert = (
        f"INSERT INTO {table} (day, list_type, count) {{rows}} "
        "ON CONFLICT (day, list_type) "
        f"DO UPDATE SET count = {table}.count + EXCLUDED.count"
    )
    # In one order for every process, so two workers' writes lock the rows in the same order
    # and never wait on each other in a deadlock.
    rows = [(day, list_type, count) for (day, list_type), count in sorted(counts.items())]
    with connection.cursor() as cursor:
        # One statement, atomic in the database: concurrent writes never lose an increment
        # (PostgreSQL and SQLite both speak this upsert).
        values = "VALUES " + ", ".join(["(%s, %s, %s)"] * len(rows))
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            # A counter: not worth waiting for the disk flush of its commit (a crash may lose
            # the last few counts; never a reader's data). The setting is read at commit, so
            # setting it inside the statement's own transaction is enough, without a round
            # trip of its own.
            values = (
                "SELECT v.day::date, v.list_type, v.count::integer FROM (" + values + ") "
                "AS v(day, list_type, count), set_config('synchronous_commit', 'off', true)"
            )
        cursor.execute(upsert.format(rows=values), [value for row in rows for value in row])


def _flush_at_exit() -> None:
    # runserver, a Celery worker or a management command that showed feed pages: their last
    # counts too. Nothing buffered (the usual case) means no database access at all.
    try:
        feed_impressions_flush()
    except Exception:
        logger.exception("Feed impression counts lost at exit")


def _forget_in_forked_child() -> None:
    # The parent's counts are the parent's to write: a worker writing them too would count
    # them twice. A lock some other thread held at the fork would stay held in the child.
    global _lock, _buffered, _last_write
    _lock = threading.Lock()
    _buffered, _last_write = {}, time.monotonic()


atexit.register(_flush_at_exit)
os.register_at_fork(after_in_child=_forget_in_forked_child)
