"""Copies of a reader's data: asked for, built by a Celery task into a private ZIP file (never
under MEDIA_URL), downloaded only by their owner, and deleted when they expire."""

import csv
import io
import json
import logging
import os
import tempfile
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format

from common.queueing import enqueue_on_commit
from common.site_links import site_url

from .audit import audit_record
from .models import ExportRequest, PrivacyAuditEvent
from .registry import categories, category
from .selectors import export_for_user

logger = logging.getLogger(__name__)

# Bump when the layout of data.json changes, so programs reading old copies can tell.
EXPORT_SCHEMA_VERSION = 1
# No build takes this long: an active request older than this was lost (a broker outage, a
# killed worker) and must not block the reader's next request; a leftover file this old in the
# exports folder that no ready export owns is a half-written one and is deleted.
EXPORT_BUILD_TIMEOUT = timedelta(hours=1)
# Shown to the reader and kept on the request: never the exception, which could quote their data.
BUILD_FAILED_ERROR = "Something went wrong while building the copy. Nothing was kept."
STALE_ERROR = "The copy took too long to build and was stopped. Nothing was kept."
# A request still pending this long after it was made was never picked up by a worker (its
# message was lost while the broker was down), so the periodic sweep builds it.
EXPORT_QUEUE_GRACE = timedelta(minutes=5)

Status = ExportRequest.Status


def exports_root() -> Path:
    """The private folder export files live in; the web server never serves it."""
    return Path(settings.PRIVATE_STORAGE_ROOT) / "exports"


def export_file_path(export: ExportRequest) -> Path | None:
    if not export.file_name:
        return None
    path = (exports_root() / export.file_name).resolve()
    # A stored name can only ever point inside the exports folder.
    if exports_root().resolve() not in path.parents:
        raise ValueError("An export file name points outside the exports folder.")
    return path


def export_file_delete(export: ExportRequest) -> None:
    path = export_file_path(export)
    if path is not None:
        path.unlink(missing_ok=True)


def exports_erase(*, user_id: int) -> int:
    """Delete every export of a reader, files first; returns how many requests were removed."""
    exports = list(ExportRequest.objects.filter(user_id=user_id))
    for export in exports:
        export_file_delete(export)
    with transaction.atomic():
        return ExportRequest.objects.filter(user_id=user_id).delete()[0]


def _audit(**kwargs) -> None:
    audit_record(category="exports", **kwargs)


# --- Asking for a copy --------------------------------------------------------------------


def export_request_create(*, user) -> ExportRequest:
    """Ask for a copy of the reader's data; its build is queued once the request is committed.

    Refused with a ValidationError (code "export_active" or "export_daily_limit") while another
    copy is being built, or when the reader already asked PRIVACY_EXPORTS_PER_DAY times in the
    last 24 hours. Failed copies do not count: the failure was ours, not the reader's.
    """
    now = timezone.now()
    with transaction.atomic():
        # Lock the reader's row: a double submit or two tabs are decided one after the other.
        get_user_model().objects.select_for_update().get(pk=user.pk)
        _exports_give_up_stale(user=user, now=now)
        mine = ExportRequest.objects.filter(user=user)
        if mine.filter(status__in=ExportRequest.ACTIVE).exists():
            raise ValidationError(
                "A copy of your data is already being built. This page shows its progress.",
                code="export_active",
            )
        window_start = now - timedelta(hours=24)
        recent = list(
            mine.filter(created_at__gt=window_start)
            .exclude(status=Status.FAILED)
            .values_list("created_at", flat=True)
        )
        limit = settings.PRIVACY_EXPORTS_PER_DAY
        if len(recent) >= limit:
            again_at = timezone.localtime(min(recent) + timedelta(hours=24))
            raise ValidationError(
                f"You have asked for {limit} copies of your data in the last 24 hours, the most "
                f"we make in a day. You can ask again from {date_format(again_at, 'j F, H:i T')}.",
                code="export_daily_limit",
            )
        export = ExportRequest(user=user, created_at=now)
        export.full_clean(validate_constraints=False)  # the constraint is the backstop below
        try:
            with transaction.atomic():
                export.save()
        except IntegrityError as error:  # the database's own one-active rule, as a backstop
            raise ValidationError(
                "A copy of your data is already being built.", code="export_active"
            ) from error
        _audit(user=user, action=PrivacyAuditEvent.Action.EXPORT_REQUESTED)
        # A broker outage must not turn a saved request into an error page: the request stays
        # pending and the periodic sweep (`exports_build_pending`) builds it later.
        enqueue_on_commit(
            "privacy.tasks.export_build", str(export.pk), sweep="exports_build_pending"
        )
    return export


def exports_build_pending(*, now: datetime | None = None) -> int:
    """Build the pending exports no worker has started (their message was lost while the
    broker was down); returns how many were built. Safe beside the workers: `export_build`
    builds only a still-active export, and only one copy of a file is ever published."""
    now = now or timezone.now()
    waiting = ExportRequest.objects.filter(
        status=Status.PENDING, created_at__lt=now - EXPORT_QUEUE_GRACE
    ).order_by("created_at")
    built = 0
    for export_id in list(waiting.values_list("pk", flat=True)):
        if export_build(export_id=export_id) is not None:
            built += 1
    return built


def _exports_give_up_stale(*, user, now: datetime) -> None:
    stale = ExportRequest.objects.filter(
        user=user, status__in=ExportRequest.ACTIVE, created_at__lt=now - EXPORT_BUILD_TIMEOUT
    )
    for export in stale:
        _export_fail(export=export, error=STALE_ERROR)


# --- Building it --------------------------------------------------------------------------


def export_build(*, export_id) -> ExportRequest | None:
    """Build the ZIP of a pending export and mark it ready; returns it, or None when there was
    nothing to build (already built, failed, expired or erased), which makes retries safe.

    The file is written under a temporary name and renamed into place, so a crash never
    leaves a half-written copy under the final name. A failure while building marks the export
    failed, deletes the partial file and is not raised again: building is deterministic, so a
    retry would fail the same way, and the reader can simply ask again (failed copies do not
    count toward the daily limit). Errors outside the build itself (the database going away)
    do propagate, and the task's retry then builds the still-active export from scratch.
    """
    with transaction.atomic():
        export = (
            ExportRequest.objects.select_for_update()
            .select_related("user")
            .filter(pk=export_id, status__in=ExportRequest.ACTIVE)
            .first()
        )
        if export is None:
            return None
        export.status, export.progress = Status.BUILDING, 0
        export.save(update_fields=["status", "progress"])

    root = exports_root()
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkstemp creates the file readable by this user only.
    handle, temp_name = tempfile.mkstemp(dir=root, prefix=f".{export.pk}-", suffix=".part")
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as stream:
            _export_write_zip(export=export, stream=stream)
        published = _export_publish(export=export, temp=temp)
    except Exception:
        temp.unlink(missing_ok=True)
        logger.exception("Export %s failed; marked failed.", export.pk)
        _export_fail(export=export, error=BUILD_FAILED_ERROR)
        export.refresh_from_db()
        return export
    if published:
        _export_ready_email(export=export)
    export.refresh_from_db()
    return export


def _export_publish(*, export: ExportRequest, temp: Path) -> bool:
    """Move the finished file into place and mark the export ready, under its row lock."""
    with transaction.atomic():
        current = (
            ExportRequest.objects.select_for_update()
            .filter(pk=export.pk, status=Status.BUILDING)
            .first()
        )
        if current is None:
            # Erased, given up on, or finished by a redelivered copy of this task meanwhile.
            temp.unlink(missing_ok=True)
            return False
        final = exports_root() / f"{export.pk}.zip"
        os.replace(temp, final)
        now = timezone.now()
        current.status = Status.READY
        current.progress = 100
        current.ready_at = now
        current.expires_at = now + timedelta(hours=settings.PRIVACY_EXPORT_RETENTION_HOURS)
        current.file_name = final.name
        current.size_bytes = final.stat().st_size
        current.error = ""
        current.full_clean()
        current.save()
        _audit(
            user=export.user,
            action=PrivacyAuditEvent.Action.EXPORT_READY,
            actor=PrivacyAuditEvent.Actor.SYSTEM,
        )
    return True


def _export_fail(*, export: ExportRequest, error: str) -> None:
    failed = ExportRequest.objects.filter(pk=export.pk, status__in=ExportRequest.ACTIVE).update(
        status=Status.FAILED, error=error[:200]
    )
    if failed:
        _audit(
            user=export.user,
            action=PrivacyAuditEvent.Action.EXPORT_FAILED,
            actor=PrivacyAuditEvent.Actor.SYSTEM,
        )


def _export_progress(*, export: ExportRequest, percent: int) -> None:
    ExportRequest.objects.filter(pk=export.pk, status=Status.BUILDING).update(progress=percent)


def _json_ready(value):
    """Rows as plain JSON values (dates as ISO 8601 text), so data.json, the CSV files and
    index.html all show exactly the same thing."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def export_document(*, user, on_category=None) -> dict:
    """The content of data.json: every registry category, with why we hold it, next to the
    reader's rows. `on_category(done, total)` is called after each category."""

    entries = categories()
    sections = []
    for done, entry in enumerate(entries, start=1):
        sections.append(
            {
                "key": entry.key,
                "title": entry.title,
                "purpose": entry.purpose,
                "legal_basis": entry.legal_basis,
                "retention": entry.retention(),
                "rows": _json_ready(entry.rows_for(user=user)),
            }
        )
        if on_category is not None:
            on_category(done, len(entries))
    return {
        "schema_version": EXPORT_SCHEMA_VERSION,
        "generated_at": _json_ready(timezone.now()),
        "account": {"email": user.email, "display_name": user.display_name},
        "categories": sections,
    }


def _columns(section: dict) -> list[str]:

    columns = list(dict.fromkeys(key for row in section["rows"] for key in row))
    return columns or list(category(section["key"]).export_fields)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


# A spreadsheet runs a cell starting with one of these as a formula: an article title like
# "=HYPERLINK(...)" must stay text. data.json keeps every value exactly as stored.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_text(section: dict) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    columns = _columns(section)
    if not columns:  # a custom exporter with nothing to show: say so rather than write nothing
        writer.writerow(["note"])
        writer.writerow(["Nothing is stored in this category for you."])
        return buffer.getvalue()
    writer.writerow(columns)
    for row in section["rows"]:
        cells = [_cell(row.get(column)) for column in columns]
        writer.writerow(
            [f"'{cell}" if cell.startswith(_FORMULA_STARTS) else cell for cell in cells]
        )
    return buffer.getvalue()


def _section_table(section: dict) -> dict:
    columns = _columns(section)  # once per category: it reads every row
    return {
        **section,
        "columns": columns,
        "table": [[_cell(row.get(column)) for column in columns] for row in section["rows"]],
    }


def _index_html(document: dict) -> str:
    sections = [_section_table(section) for section in document["categories"]]
    # The template engine escapes every value: names and titles are shown, never run.
    return render_to_string(
        "privacy/export_index.html",
        {
            "site_name": settings.SITE_NAME,
            "generated_at": document["generated_at"],
            "account": document["account"],
            "schema_version": document["schema_version"],
            "sections": sections,
        },
    )


def _export_write_zip(*, export: ExportRequest, stream: IO[bytes]) -> None:
    def progress(done: int, total: int) -> None:
        # The last tenth is writing the files.
        _export_progress(export=export, percent=90 * done // total)

    document = export_document(user=export.user, on_category=progress)
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "data.json", json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False)
        )
        for section in document["categories"]:
            archive.writestr(f"csv/{section['key']}.csv", _csv_text(section))
        archive.writestr("index.html", _index_html(document))


def _export_ready_email(*, export: ExportRequest) -> None:
    """Tell the reader their copy is ready. The link is to the export page, never to the file:
    mail is read on shared screens and forwarded, and the download needs the password anyway.

    A mail failure is logged, not raised: the copy is ready and the page says so, and retrying
    the task would rebuild nothing and send nothing.
    """
    context = {
        "site_name": settings.SITE_NAME,
        "export_url": site_url(reverse("privacy:export")),
        "expires_at": timezone.localtime(export.expires_at) if export.expires_at else None,
        "hours": settings.PRIVACY_EXPORT_RETENTION_HOURS,
    }
    subject = " ".join(render_to_string("privacy/email/export_ready_subject.txt", context).split())
    body = render_to_string("privacy/email/export_ready_body.txt", context)
    try:
        send_mail(subject, body, None, [export.user.email])
    except Exception:
        logger.exception("The ready email of export %s could not be sent.", export.pk)


# --- Getting it ---------------------------------------------------------------------------


class ExportUnavailable(Exception):
    """The export cannot be downloaded; the subclass says why."""


class ExportNotFound(ExportUnavailable):
    """No such export, or someone else's: the same answer for both."""


class ExportExpired(ExportUnavailable):
    """It expired and its file was deleted (or is about to be)."""


class ExportNotReady(ExportUnavailable):
    """Still being built, or it failed."""

    def __init__(self, export: ExportRequest):
        super().__init__(export.get_status_display())
        self.export = export


def export_downloadable(*, user, export_id, now: datetime | None = None) -> ExportRequest:
    """The reader's export if its file can be downloaded now; raises ExportUnavailable if not.
    Changes nothing: views call it before asking for the password."""
    now = now or timezone.now()
    export = export_for_user(user=user, export_id=export_id)
    if export is None:
        raise ExportNotFound()
    # Past its expiry it is gone, even before the periodic purge has deleted the file.
    if export.status == Status.EXPIRED or (
        export.status == Status.READY and export.expires_at and export.expires_at <= now
    ):
        raise ExportExpired()
    if export.status != Status.READY:
        raise ExportNotReady(export)
    path = export_file_path(export)
    if path is None or not path.is_file():
        raise ExportExpired()
    return export


def export_download_path(*, user, export_id) -> Path:
    """The file of the reader's ready export, recording the download in their activity log.
    Raises ExportNotFound (unknown or someone else's), ExportExpired or ExportNotReady."""
    export = export_downloadable(user=user, export_id=export_id)
    _audit(user=user, action=PrivacyAuditEvent.Action.EXPORT_DOWNLOADED)
    return export_file_path(export)


# --- Cleaning up --------------------------------------------------------------------------


def export_orphans_delete(*, now: datetime | None = None) -> int:
    """Delete files in the exports folder that no ready export owns (left by a killed worker
    or an interrupted publish), once they are older than any build; returns how many."""
    now = now or timezone.now()
    root = exports_root()
    if not root.is_dir():
        return 0
    owned = set(
        ExportRequest.objects.filter(status=Status.READY)
        .exclude(file_name="")
        .values_list("file_name", flat=True)
    )
    cutoff = (now - EXPORT_BUILD_TIMEOUT).timestamp()
    deleted = 0
    for path in root.iterdir():
        if path.is_file() and path.name not in owned and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted
