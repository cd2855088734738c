"""A copy of one's data: what the ZIP holds, who may get it, and when it is gone."""

import csv
import dataclasses
import io
import json
import os
import tempfile
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from privacy import registry, tasks
from privacy.browser_signals import NO_SIGNALS
from privacy.exports import (
    BUILD_FAILED_ERROR,
    ExportExpired,
    ExportNotFound,
    ExportNotReady,
    export_build,
    export_download_path,
    export_file_path,
    export_orphans_delete,
    export_request_create,
    exports_root,
)
from privacy.models import ConsentRecord, ExportRequest, PrivacyAuditEvent
from privacy.reauth import SESSION_KEY
from privacy.services import retention_purge
from tests.factories import DEFAULT_PASSWORD, ArticleFactory, ReaderFactory, reader_choices

pytestmark = pytest.mark.django_db

Action = PrivacyAuditEvent.Action
Status = ExportRequest.Status
EXPORT_URL = "/privacy/export/"
CONFIRM_URL = "/privacy/export/confirm-password/"


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path, monkeypatch):
    """Every test has its own private folder, and a system temp folder that must stay empty."""
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    system_temp = tmp_path / "system-temp"
    system_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    settings.PRIVACY_EXPORT_RETENTION_HOURS = 24
    settings.PRIVACY_EXPORTS_PER_DAY = 3
    settings.PRIVACY_REAUTH_SECONDS = 600
    return settings.PRIVATE_STORAGE_ROOT


@pytest.fixture
def reader_with_data(reader, article, record_read):
    """A reader with preferences, consent receipts, a read in their history and a signal."""
    reader.display_name = "<script>alert('x')</script> & Co"
    reader.save()
    reader_choices(reader, counting=True)
    record_read(user=reader, article=article, signals=NO_SIGNALS)
    return reader


@pytest.fixture
def other_reader(record_read):
    """Someone else with data of their own, none of which may appear in the reader's copy."""
    other = ReaderFactory(email="someone.else@example.org", display_name="Someone Else")
    reader_choices(other, counting=True)
    secret = ArticleFactory(title="A story only someone else read")
    record_read(user=other, article=secret, signals=NO_SIGNALS)
    return other


@pytest.fixture
def request_export(django_capture_on_commit_callbacks):
    """Ask for a copy through the service and run the build it queues (eager Celery)."""

    def ask(user) -> ExportRequest:
        with django_capture_on_commit_callbacks(execute=True):
            export = export_request_create(user=user)
        export.refresh_from_db()
        return export

    return ask


@pytest.fixture
def signed_in(client, reader_with_data):
    client.force_login(reader_with_data)
    return client


def archive_of(export: ExportRequest) -> zipfile.ZipFile:
    return zipfile.ZipFile(export_file_path(export))


def data_json(export: ExportRequest) -> dict:
    return json.loads(archive_of(export).read("data.json"))


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def confirm_password(client, password=DEFAULT_PASSWORD, next_url=""):
    return client.post(CONFIRM_URL, {"password": password, "next": next_url})


def download_url(export: ExportRequest) -> str:
    return reverse("privacy:export_download", args=[export.pk])


def status_url(export: ExportRequest) -> str:
    return reverse("privacy:export_status", args=[export.pk])


def actions_of(user) -> list[str]:
    return list(
        PrivacyAuditEvent.objects.filter(user=user, category="exports")
        .order_by("created_at", "id")
        .values_list("action", flat=True)
    )


# --- What the copy holds -------------------------------------------------------------------


def test_the_zip_holds_every_registry_category_with_why_we_keep_it(
    reader_with_data, request_export
):
    export = request_export(reader_with_data)

    assert export.status == Status.READY and export.progress == 100
    keys = [entry.key for entry in registry.categories()]
    assert sorted(archive_of(export).namelist()) == sorted(
        ["data.json", "index.html", *(f"csv/{key}.csv" for key in keys)]
    )
    document = data_json(export)
    assert document["schema_version"] == 1
    assert document["account"]["email"] == reader_with_data.email
    assert [section["key"] for section in document["categories"]] == keys
    for section, entry in zip(document["categories"], registry.categories(), strict=True):
        assert section["title"] == entry.title
        assert section["purpose"] == entry.purpose
        assert section["legal_basis"] == entry.legal_basis
        assert section["retention"] == entry.retention()
        assert isinstance(section["rows"], list)  # present even when empty
    assert export.size_bytes == export_file_path(export).stat().st_size


def test_the_copy_holds_this_readers_rows_and_nobody_elses(
    reader_with_data, other_reader, article, request_export
):
    export = request_export(reader_with_data)

    document = data_json(export)
    rows = {section["key"]: section["rows"] for section in document["categories"]}
    # Exactly what the registry gives for this reader (the two categories about the export
    # itself moved on while it was built).
    for entry in registry.categories():
        if entry.key not in {"exports", "privacy_activity"}:
            expected = json.loads(json.dumps(entry.rows_for(user=reader_with_data), default=str))
            assert len(rows[entry.key]) == len(expected), entry.key
    assert rows["account"][0]["email"] == reader_with_data.email
    assert rows["reading_history"][0]["article_title"] == article.title
    assert len(rows["popularity_signals"]) == 1
    assert [row["id"] for row in rows["exports"]] == [str(export.pk)]
    # Nothing of the other reader, in any file of the archive.
    archive = archive_of(export)
    for name in archive.namelist():
        text = archive.read(name).decode()
        for secret in (other_reader.email, "Someone Else", "A story only someone else read"):
            assert secret not in text, (name, secret)
    other_hashes = set(
        ConsentRecord.objects.filter(user=other_reader).values_list("record_hash", flat=True)
    )
    assert not other_hashes & {row["record_hash"] for row in rows["consent_receipts"]}


def test_consent_receipts_are_in_the_copy(reader_with_data, request_export):
    export = request_export(reader_with_data)

    receipts = next(s for s in data_json(export)["categories"] if s["key"] == "consent_receipts")
    stored = ConsentRecord.objects.filter(user=reader_with_data)
    assert stored.count() >= 2  # reading history (by the level) and popular counting
    assert sorted(row["record_hash"] for row in receipts["rows"]) == sorted(
        stored.values_list("record_hash", flat=True)
    )
    assert {row["purpose"] for row in receipts["rows"]} == set(
        stored.values_list("purpose", flat=True)
    )
    assert all(row["granted"] is True for row in receipts["rows"])


def test_dates_in_data_json_are_iso_8601(reader_with_data, request_export):
    export = request_export(reader_with_data)

    document = data_json(export)
    generated = datetime.fromisoformat(document["generated_at"])
    assert generated.tzinfo is not None
    checked = 0
    date_keys = {"created_at", "read_at", "date_joined", "ready_at", "expires_at", "day"}
    for section in document["categories"]:
        for row in section["rows"]:
            for key in date_keys & row.keys():
                if row[key] is not None:
                    datetime.fromisoformat(row[key])  # raises on anything else
                    checked += 1
    assert checked >= 5
    read_at = next(s for s in document["categories"] if s["key"] == "reading_history")["rows"][0]
    assert read_at["read_at"].endswith("Z") and "T" in read_at["read_at"]


def test_there_is_one_csv_per_category(reader_with_data, request_export):
    export = request_export(reader_with_data)

    archive = archive_of(export)
    receipts = list(csv.DictReader(io.StringIO(archive.read("csv/consent_receipts.csv").decode())))
    assert len(receipts) == ConsentRecord.objects.filter(user=reader_with_data).count()
    header = next(csv.reader(io.StringIO(archive.read("csv/consent_receipts.csv").decode())))
    assert header == list(registry.category("consent_receipts").export_fields)
    assert receipts[0]["granted"] == "true"
    # A category with nothing in it still has its file: the header alone.
    two_factor = archive.read("csv/two_factor.csv").decode().splitlines()
    assert two_factor == [",".join(registry.category("two_factor").export_fields)]


def test_csv_cells_that_a_spreadsheet_would_run_stay_text(reader, request_export):
    reader.display_name = '=HYPERLINK("http://evil.example")'
    reader.save()
    export = request_export(reader)

    account = list(csv.DictReader(io.StringIO(archive_of(export).read("csv/account.csv").decode())))
    assert account[0]["display_name"] == '\'=HYPERLINK("http://evil.example")'
    # data.json keeps the value exactly as stored.
    rows = next(s for s in data_json(export)["categories"] if s["key"] == "account")["rows"]
    assert rows[0]["display_name"] == reader.display_name


def test_index_html_is_readable_offline_and_escapes_every_value(reader_with_data, request_export):
    export = request_export(reader_with_data)

    html = archive_of(export).read("index.html").decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; Co" in html
    for entry in registry.categories():
        assert f'id="{entry.key}"' in html
        assert entry.purpose in html
    # Self-contained: nothing loaded from anywhere.
    assert "<script" not in html and "<link" not in html
    assert "src=" not in html and "http://" not in html and "https://" not in html


# --- Asking for it -------------------------------------------------------------------------


def test_a_double_submit_makes_one_request(signed_in, reader_with_data):
    first = signed_in.post(EXPORT_URL)
    second = signed_in.post(EXPORT_URL, follow=True)

    assert first.status_code == 302 and first["Location"] == EXPORT_URL
    assert ExportRequest.objects.filter(user=reader_with_data).count() == 1
    assert "already being built" in second.content.decode()
    assert actions_of(reader_with_data) == [Action.EXPORT_REQUESTED]


def test_only_one_copy_is_built_at_a_time(reader_with_data):
    export_request_create(user=reader_with_data)  # its build is queued but not run

    with pytest.raises(ValidationError) as refused:
        export_request_create(user=reader_with_data)
    assert refused.value.code == "export_active"
    assert ExportRequest.objects.filter(user=reader_with_data).count() == 1


def test_a_fourth_copy_in_a_day_is_refused_with_a_message(
    signed_in, reader_with_data, request_export
):
    for _ in range(3):
        assert request_export(reader_with_data).status == Status.READY

    response = signed_in.post(EXPORT_URL, follow=True)

    assert ExportRequest.objects.filter(user=reader_with_data).count() == 3
    page = response.content.decode()
    assert "You have asked for 3 copies of your data in the last 24 hours" in page
    assert "You can ask again from" in page
    assert "message-error" in page
    assert actions_of(reader_with_data).count(Action.EXPORT_REQUESTED) == 3

    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1), tick=False):
        assert request_export(reader_with_data).status == Status.READY


def test_a_stuck_request_stops_blocking_after_an_hour(reader_with_data, request_export):
    stuck = export_request_create(user=reader_with_data)  # its message was lost

    with time_machine.travel(timezone.now() + timedelta(hours=2), tick=False):
        fresh = request_export(reader_with_data)

    stuck.refresh_from_db()
    assert stuck.status == Status.FAILED and "took too long" in stuck.error
    assert fresh.status == Status.READY


def test_the_export_page_needs_a_signed_in_reader(client):
    response = client.get(EXPORT_URL)
    assert response.status_code == 302 and reverse("account_login") in response["Location"]
    assert client.post(EXPORT_URL).status_code == 302
    assert not ExportRequest.objects.exists()


def test_the_export_page_offers_a_request_and_lists_copies(signed_in, reader_with_data):
    page = signed_in.get(EXPORT_URL).content.decode()
    assert "Ask for a copy of my data" in page and "You have not asked for a copy yet." in page
    assert "js/htmx.min.js" in page
    assert "<script>" not in page  # no inline script: a strict CSP is coming

    signed_in.post(EXPORT_URL)  # queued, not built
    page = signed_in.get(EXPORT_URL).content.decode()
    assert "Ask for a copy of my data" not in page  # one at a time
    assert "Waiting to start" in page and 'hx-trigger="every 2s"' in page
    assert f'href="{EXPORT_URL}">Refresh</a>' in page  # works without JavaScript too


# --- Building it ---------------------------------------------------------------------------


def test_the_reader_is_emailed_a_link_to_the_page_not_the_file(
    reader_with_data, request_export, mailoutbox, settings
):
    settings.SITE_URL = "https://news.example.org"
    export = request_export(reader_with_data)

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [reader_with_data.email]
    assert "ready" in mail.subject and "\n" not in mail.subject
    assert "https://news.example.org/privacy/export/" in mail.body
    assert str(export.pk) not in mail.body and "&amp;" not in mail.body


def test_a_failing_build_leaves_no_file_and_is_marked_failed(
    reader_with_data, request_export, monkeypatch, mailoutbox
):
    def broken_exporter(*, user):
        raise RuntimeError(f"cannot read data of {user.email}")

    broken = dataclasses.replace(registry.category("data_key"), exporter=broken_exporter)
    monkeypatch.setitem(registry._REGISTRY, "data_key", broken)

    export = request_export(reader_with_data)

    assert export.status == Status.FAILED
    assert export.error == BUILD_FAILED_ERROR and reader_with_data.email not in export.error
    assert export.file_name == "" and files_under(exports_root()) == []
    assert actions_of(reader_with_data) == [Action.EXPORT_REQUESTED, Action.EXPORT_FAILED]
    assert mailoutbox == []

    # A failure is ours: the reader may ask again at once, and it does not count as a copy.
    monkeypatch.undo()
    assert request_export(reader_with_data).status == Status.READY


def test_building_again_changes_nothing(reader_with_data, request_export, mailoutbox):
    export = request_export(reader_with_data)
    path = export_file_path(export)
    before = path.stat().st_mtime_ns

    assert export_build(export_id=export.pk) is None
    assert tasks.export_build.delay(str(export.pk)).get() is None  # a redelivered task

    assert path.stat().st_mtime_ns == before and len(mailoutbox) == 1
    assert actions_of(reader_with_data) == [Action.EXPORT_REQUESTED, Action.EXPORT_READY]


def test_files_live_only_in_the_private_exports_folder(
    reader_with_data, request_export, private_storage, tmp_path, settings
):
    export = request_export(reader_with_data)

    # The final file and nothing else: no temporary file left, nothing in the system temp
    # folder, nothing under MEDIA_ROOT or anywhere public.
    assert files_under(private_storage) == [exports_root() / f"{export.pk}.zip"]
    assert files_under(tmp_path / "system-temp") == []
    assert str(exports_root()) not in str(settings.STATIC_ROOT)
    assert not export.file_name.startswith("/") and "/" not in export.file_name


def test_a_half_written_file_left_by_a_killed_worker_is_deleted(reader_with_data, request_export):
    export = request_export(reader_with_data)
    leftover = exports_root() / ".0000-killed.part"
    leftover.write_bytes(b"partial")
    # Its age is read from the file system: written "now" by the site's clock, so the test
    # holds whatever the clock says (a frozen clock far from the file system's included).
    written = timezone.now().timestamp()
    os.utime(leftover, (written, written))

    assert export_orphans_delete() == 0  # could still be a build in progress
    later = timezone.now() + timedelta(hours=2)
    assert export_orphans_delete(now=later) == 1

    assert not leftover.exists() and export_file_path(export).exists()


# --- Watching it ---------------------------------------------------------------------------


def test_the_status_partial_polls_while_building_and_stops_when_ready(signed_in, reader_with_data):
    export = export_request_create(user=reader_with_data)
    ExportRequest.objects.filter(pk=export.pk).update(status=Status.BUILDING, progress=40)

    building = signed_in.get(status_url(export), HTTP_HX_REQUEST="true")
    html = building.content.decode()
    assert building.status_code == 200 and "<html" not in html
    assert f'hx-get="{status_url(export)}"' in html and 'hx-trigger="every 2s"' in html
    assert 'value="40"' in html and "40% done" in html

    export_build(export_id=export.pk)
    ready = signed_in.get(status_url(export), HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in ready and "hx-get" not in ready
    assert "Ready to download" in ready and download_url(export) in ready


def test_the_status_partial_without_htmx_sends_to_the_page(signed_in, reader_with_data):
    export = export_request_create(user=reader_with_data)
    response = signed_in.get(status_url(export))
    assert response.status_code == 302 and response["Location"] == EXPORT_URL


def test_the_status_of_someone_elses_export_is_not_found(client, reader_with_data, other_reader):
    export = export_request_create(user=reader_with_data)
    client.force_login(other_reader)
    assert client.get(status_url(export), HTTP_HX_REQUEST="true").status_code == 404


# --- Getting it ----------------------------------------------------------------------------


def test_downloading_needs_the_password_typed_again(signed_in, reader_with_data, request_export):
    export = request_export(reader_with_data)

    response = signed_in.get(download_url(export))

    assert response.status_code == 302
    assert response["Location"].startswith(CONFIRM_URL)
    assert "next=%2Fprivacy%2Fexport%2F" in response["Location"]
    assert Action.EXPORT_DOWNLOADED not in actions_of(reader_with_data)


def test_after_confirming_the_owner_downloads_the_zip(signed_in, reader_with_data, request_export):
    export = request_export(reader_with_data)

    confirmed = confirm_password(signed_in, next_url=download_url(export))
    assert confirmed.status_code == 302 and confirmed["Location"] == download_url(export)
    response = signed_in.get(download_url(export))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "no-store" in response["Cache-Control"]
    body = b"".join(response.streaming_content)
    assert zipfile.ZipFile(io.BytesIO(body)).read("data.json")
    assert actions_of(reader_with_data) == [
        Action.EXPORT_REQUESTED,
        Action.EXPORT_READY,
        Action.EXPORT_DOWNLOADED,
    ]


def test_a_wrong_password_is_refused_and_marks_nothing(signed_in, reader_with_data):
    response = confirm_password(signed_in, password="not-my-password")

    assert response.status_code == 200
    assert "That is not your password" in response.content.decode()
    assert SESSION_KEY not in signed_in.session


def test_repeated_wrong_passwords_lock_the_form(signed_in, reader_with_data):
    for _ in range(5):
        confirm_password(signed_in, password="guess")

    response = confirm_password(signed_in)  # even the right one, for now

    assert response.status_code == 429
    assert "Too many wrong passwords" in response.content.decode()
    assert SESSION_KEY not in signed_in.session


def test_a_right_password_clears_earlier_mistakes(signed_in, reader_with_data):
    for _ in range(4):
        confirm_password(signed_in, password="guess")
    assert confirm_password(signed_in).status_code == 302
    for _ in range(4):
        confirm_password(signed_in, password="guess")
    assert confirm_password(signed_in).status_code == 302


def test_the_confirmation_lasts_ten_minutes(signed_in, reader_with_data, request_export):
    export = request_export(reader_with_data)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        confirm_password(signed_in)
    with time_machine.travel(start + timedelta(minutes=9), tick=False):
        assert signed_in.get(download_url(export)).status_code == 200
    with time_machine.travel(start + timedelta(minutes=11), tick=False):
        response = signed_in.get(download_url(export))
    assert response.status_code == 302 and response["Location"].startswith(CONFIRM_URL)


def test_the_confirmation_only_returns_to_this_site(signed_in, reader_with_data):
    response = confirm_password(signed_in, next_url="https://evil.example/steal")
    assert response.status_code == 302 and response["Location"] == EXPORT_URL


def test_someone_elses_export_is_not_found(client, reader_with_data, other_reader, request_export):
    export = request_export(reader_with_data)
    client.force_login(other_reader)

    assert client.get(download_url(export)).status_code == 404  # before re-authenticating
    confirm_password(client)
    assert client.get(download_url(export)).status_code == 404  # and after
    missing = reverse("privacy:export_download", args=["00000000-0000-0000-0000-000000000000"])
    assert client.get(missing).status_code == 404
    with pytest.raises(ExportNotFound):
        export_download_path(user=other_reader, export_id=export.pk)
    assert Action.EXPORT_DOWNLOADED not in actions_of(reader_with_data)
    assert actions_of(other_reader) == []


def test_a_copy_still_being_built_cannot_be_downloaded(signed_in, reader_with_data):
    export = export_request_create(user=reader_with_data)
    confirm_password(signed_in)

    response = signed_in.get(download_url(export))

    assert response.status_code == 409
    assert "still being built" in response.content.decode()
    with pytest.raises(ExportNotReady):
        export_download_path(user=reader_with_data, export_id=export.pk)


def test_an_expired_copy_is_deleted_and_its_link_says_gone(
    signed_in, reader_with_data, request_export, private_storage
):
    export = request_export(reader_with_data)
    path = export_file_path(export)
    confirm_password(signed_in)

    later = timezone.now() + timedelta(hours=24, minutes=1)
    assert retention_purge(now=later)["export files"] == 1

    export.refresh_from_db()
    assert export.status == Status.EXPIRED and export.file_name == ""
    assert not path.exists() and files_under(private_storage) == []
    response = signed_in.get(download_url(export))
    assert response.status_code == 410
    page = response.content.decode()
    assert "This copy of your data has expired" in page and "24 hours" in page
    assert "Ask for a new copy" in page
    with pytest.raises(ExportExpired):
        export_download_path(user=reader_with_data, export_id=export.pk)
    assert actions_of(reader_with_data) == [
        Action.EXPORT_REQUESTED,
        Action.EXPORT_READY,
        Action.EXPORT_EXPIRED,
    ]


def test_a_copy_past_its_expiry_is_gone_even_before_the_purge_runs(
    signed_in, reader_with_data, request_export
):
    export = request_export(reader_with_data)
    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1), tick=False):
        confirm_password(signed_in)
        assert signed_in.get(download_url(export)).status_code == 410
    assert Action.EXPORT_DOWNLOADED not in actions_of(reader_with_data)


def test_expired_copies_are_deleted_by_a_frequent_task(reader_with_data, request_export, settings):
    from privacy.tasks import exports_purge

    export = request_export(reader_with_data)
    with time_machine.travel(timezone.now() + timedelta(hours=25), tick=False):
        assert exports_purge.delay().get() == 1
    assert not export_file_path(export) or not export_file_path(export).exists()
    schedule = settings.CELERY_BEAT_SCHEDULE["expire-data-exports"]
    assert schedule["task"] == exports_purge.name and schedule["schedule"] <= 3600


def test_a_broker_outage_keeps_the_request_and_shows_no_error(
    signed_in, reader_with_data, broker_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(EXPORT_URL)

    assert response.status_code == 302
    export = ExportRequest.objects.get(user=reader_with_data)
    assert export.status == Status.PENDING  # freed after an hour, see the stuck-request test
