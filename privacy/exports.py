"""Copies of a reader's data: private files, never under MEDIA_URL, deleted when they expire."""

from pathlib import Path

from django.conf import settings
from django.db import transaction

from .models import ExportRequest


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
