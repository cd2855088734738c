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
    assert result["history entries"] == 1
    remaining = sorted((now - e.read_at).days for e in ReadingHistoryEntry.objects.all())
    assert remaining == [0, 3, 89]
    # Signal events and salts older than 48 hours go, with their days' salts.
    assert result["signal events"] == 3 and result["daily salts"] == 3
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
    assert out.getvalue().startswith("Purged ")
    assert "1 history entries" in out.getvalue() and "1 signal events" in out.getvalue()
    assert not ReadingHistoryEntry.objects.exists()


def test_purge_runs_daily_as_a_celery_task(recording_reader, article, settings, record_read):
    from privacy.tasks import retention_purge

    record_read(
        user=recording_reader,
        article=article,
        signals=NO_SIGNALS,
        now=timezone.now() - timedelta(days=200),
    )
    assert retention_purge.delay().get() == 3  # the entry, the signal event and its day's salt
    assert retention_purge.delay().get() == 0
    entry = settings.CELERY_BEAT_SCHEDULE["purge-expired-personal-data"]
    assert entry["task"] == retention_purge.name


def test_purge_deletes_expired_export_files_then_their_records(reader, settings, tmp_path):
    from privacy.exports import exports_root
    from privacy.models import ExportRequest, PrivacyAuditEvent

    settings.PRIVATE_STORAGE_ROOT = tmp_path
    now = timezone.now()
    exports_root().mkdir(parents=True)
    expired = ExportRequest.objects.create(
        user=reader,
        status=ExportRequest.Status.READY,
        file_name="old.zip",
        expires_at=now - timedelta(minutes=1),
        created_at=now - timedelta(days=1),
    )
    fresh = ExportRequest.objects.create(
        user=reader,
        status=ExportRequest.Status.READY,
        file_name="new.zip",
        expires_at=now + timedelta(hours=23),
    )
    for export in (expired, fresh):
        (exports_root() / export.file_name).write_bytes(b"zip")

    result = services.retention_purge(now=now)
    assert result["export files"] == 1
    assert sorted(p.name for p in exports_root().iterdir()) == ["new.zip"]
    expired.refresh_from_db()
    assert expired.status == ExportRequest.Status.EXPIRED and expired.file_name == ""
    assert PrivacyAuditEvent.objects.filter(
        user=reader, action=PrivacyAuditEvent.Action.EXPORT_EXPIRED, actor="system"
    ).exists()
    # The record (no file) is listed for a week, then goes too.
    later = now + timedelta(days=settings.PRIVACY_EXPORT_RECORD_DAYS, minutes=1)
    assert services.retention_purge(now=later)["export records"] == 2
    assert services.retention_purge(now=later).total == 0


def test_purge_deletes_activity_events_after_two_years(reader, settings):
    from privacy.models import PrivacyAuditEvent

    settings.PRIVACY_AUDIT_RETENTION_DAYS = 730
    now = timezone.now()
    for days_ago in (731, 729):
        PrivacyAuditEvent.objects.create(
            user=reader, action="history_cleared", created_at=now - timedelta(days=days_ago)
        )
    PrivacyAuditEvent.objects.create(
        user=None,
        subject_hash="a" * 64,
        action="account_erased",
        created_at=now - timedelta(days=800),
    )
    assert services.retention_purge(now=now)["activity-log events"] == 2
    assert [
        (now - e.created_at).days
        for e in PrivacyAuditEvent.objects.filter(action="history_cleared")
    ] == [729]


def test_a_purge_queued_under_the_tasks_former_name_still_runs(
    recording_reader, article, record_read
):
    # A message queued (or a beat schedule saved) before the tasks took their services' names.
    from celery import current_app

    record_read(
        user=recording_reader,
        article=article,
        signals=NO_SIGNALS,
        now=timezone.now() - timedelta(days=200),
    )
    current_app.tasks["privacy.tasks.purge_expired"].delay()
    assert not ReadingHistoryEntry.objects.exists()
