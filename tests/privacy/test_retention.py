"""The retention purge removes exactly what has expired, and nothing twice."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from privacy import services
from privacy.browser_signals import NO_SIGNALS
from privacy.models import DailySalt, ReadingHistoryEntry, SignalEvent
from tests.factories import reader_choices

pytestmark = pytest.mark.django_db


@pytest.fixture
def recording_reader(reader):
    return reader_choices(reader, counting=True)


def test_purge_removes_exactly_the_expired_rows(recording_reader, article, settings, record_read):
    settings.PRIVACY_HISTORY_RETENTION_DAYS = 90
    now = timezone.now()
    for days_ago in (91, 89, 3, 0):
        record_read(
            user=recording_reader,
            article=article,
            signals=NO_SIGNALS,
            now=now - timedelta(days=days_ago),
        )
    result = services.retention_purge(now=now)
    assert result.history_entries == 1
    remaining = sorted((now - e.read_at).days for e in ReadingHistoryEntry.objects.all())
    assert remaining == [0, 3, 89]
    # Signal events and salts older than 48 hours go, with their days' salts.
    assert result.signal_events == 3 and result.daily_salts == 3
    assert set(SignalEvent.objects.values_list("day", flat=True)) == {now.date()}
    assert set(DailySalt.objects.values_list("day", flat=True)) == {now.date()}

    assert services.retention_purge(now=now).total == 0


def test_purge_command_reports_what_it_removed(recording_reader, article, record_read):
    record_read(
        user=recording_reader,
        article=article,
        signals=NO_SIGNALS,
        now=timezone.now() - timedelta(days=200),
    )
    out = StringIO()
    call_command("purge_expired", stdout=out)
    assert "Purged 1 history entries" in out.getvalue()
    assert not ReadingHistoryEntry.objects.exists()


def test_purge_runs_daily_as_a_celery_task(recording_reader, article, settings, record_read):
    from privacy.tasks import purge_expired

    record_read(
        user=recording_reader,
        article=article,
        signals=NO_SIGNALS,
        now=timezone.now() - timedelta(days=200),
    )
    assert purge_expired.delay().get() == 3  # the entry, the signal event and its day's salt
    assert purge_expired.delay().get() == 0
    entry = settings.CELERY_BEAT_SCHEDULE["purge-expired-personal-data"]
    assert entry["task"] == purge_expired.name
