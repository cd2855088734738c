"""Privacy's own categories of personal data: consent receipts, reading history, popularity
signals, the reader's data key, exports and the privacy activity log."""

from datetime import datetime, timedelta

from django.conf import settings

from .crypto import data_key_destroy
from .exports import exports_erase
from .history_kept import history_reads_kept_erase, history_reads_kept_rows
from .models import (
    DailySalt,
    ExportRequest,
    PolicyChangeEmail,
    PrivacyAuditEvent,
    ReadingHistoryEntry,
    SignalEvent,
    UserDataKey,
)
from .registry import DataCategory, LegalBasis, days, register, until_account_deleted
from .selectors import history_for_user
from .services import exports_purge, pseudonym_for, signal_events_erase


def _history_rows(*, user) -> list[dict]:
    return [
        {
            "read_at": item.read_at,
            "article_title": item.article.title if item.article else "(article removed)",
            "article_url": item.article.get_absolute_url() if item.article else "",
        }
        for item in history_for_user(user=user)
    ]


def _history_purge(*, now: datetime) -> dict[str, int]:
    cutoff = now - timedelta(days=settings.PRIVACY_HISTORY_RETENTION_DAYS)
    return {"history entries": ReadingHistoryEntry.objects.filter(read_at__lt=cutoff).delete()[0]}


def _signal_rows(*, user) -> list[dict]:
    rows = []
    for day, salt in DailySalt.objects.values_list("day", "salt"):
        pseudonym = pseudonym_for(user_id=user.pk, salt=bytes(salt))
        for article_id in SignalEvent.objects.filter(day=day, pseudonym=pseudonym).values_list(
            "article_id", flat=True
        ):
            rows.append({"day": day, "article_id": article_id})
    return rows


def _signal_purge(*, now: datetime) -> dict[str, int]:
    # Events and salts of a day are kept until that day is at most N hours in the past.
    cutoff = (now - timedelta(hours=settings.PRIVACY_SIGNAL_RETENTION_HOURS)).date()
    return {
        "signal events": SignalEvent.objects.filter(day__lt=cutoff).delete()[0],
        "daily salts": DailySalt.objects.filter(day__lt=cutoff).delete()[0],
    }


def _data_key_rows(*, user) -> list[dict]:
    # The key itself is never exported: only that it exists.
    return list(UserDataKey.objects.filter(user_id=user.pk).values("created_at", "rotated_at"))


def _exports_purge(*, now: datetime) -> dict[str, int]:
    files = exports_purge(now=now)
    # An expired request (its file already gone) stays listed for a while, then goes.
    record_cutoff = now - timedelta(days=settings.PRIVACY_EXPORT_RECORD_DAYS)
    records = ExportRequest.objects.filter(created_at__lt=record_cutoff).delete()[0]
    return {"export files": files, "export records": records}


def _activity_purge(*, now: datetime) -> dict[str, int]:
    cutoff = now - timedelta(days=settings.PRIVACY_AUDIT_RETENTION_DAYS)
    return {
        "activity-log events": PrivacyAuditEvent.objects.filter(created_at__lt=cutoff).delete()[0]
    }


register(
    DataCategory(
        key="consent_receipts",
        title="Consent receipts",
        position=70,
        models=("privacy.ConsentRecord",),
        user_path="user",
        purpose="To prove which optional purposes you turned on or off, when, and what you saw.",
        legal_basis=LegalBasis.LEGAL_OBLIGATION,
        retention=until_account_deleted,
        export_fields=(
            "purpose",
            "granted",
            "policy_version",
            "notice_sha256",
            "browser_signal",
            "source",
            "created_at",
            "record_hash",
        ),
    ),
    DataCategory(
        key="policy_change_emails",
        title="Emails about policy changes",
        position=75,
        models=("privacy.PolicyChangeEmail",),
        user_path="user",
        purpose="To tell you, once, when a new policy version changes a feature you had on.",
        legal_basis=LegalBasis.CONTRACT,
        retention=until_account_deleted,
        exporter=lambda *, user: [
            {"policy_version": version, "sent_at": sent_at}
            for version, sent_at in PolicyChangeEmail.objects.filter(user=user)
            .order_by("claimed_at")
            .values_list("policy__version", "sent_at")
        ],
    ),
    DataCategory(
        key="reading_history",
        title="Reading history",
        position=80,
        models=("privacy.ReadingHistoryEntry",),
        user_path="user",
        purpose="To suggest stories like the ones you read (level: Topics + reading history).",
        legal_basis=LegalBasis.CONSENT,
        retention=days("PRIVACY_HISTORY_RETENTION_DAYS"),
        exporter=_history_rows,
        purger=_history_purge,
        reader_erasable=True,
    ),
    DataCategory(
        key="history_reads_kept",
        title="Your latest reads, kept briefly for your front page",
        position=85,
        # Not a table: one entry in the cache (Redis), sealed with your encryption key.
        models=(),
        user_path=None,
        purpose=(
            "To make your front page again without reading your whole history each time; "
            "a copy of your latest reads, encrypted with your key, dropped whenever your "
            "history or your choices change."
        ),
        legal_basis=LegalBasis.CONSENT,
        retention=lambda: f"{settings.HISTORY_READS_KEPT_SECONDS} seconds at most",
        exporter=history_reads_kept_rows,
        eraser=history_reads_kept_erase,
    ),
    DataCategory(
        key="popularity_signals",
        title='Reads counted toward "popular" (not yet aggregated)',
        position=100,
        models=("privacy.SignalEvent",),
        user_path=None,
        purpose="To count popular stories with differential privacy; unlinkable once counted.",
        legal_basis=LegalBasis.CONSENT,
        retention=days("PRIVACY_SIGNAL_RETENTION_HOURS", "hours at most"),
        exporter=_signal_rows,
        eraser=lambda *, user: signal_events_erase(user_id=user.pk),
        purger=_signal_purge,
        reader_erasable=True,
    ),
    DataCategory(
        key="data_key",
        title="Your encryption key",
        position=110,
        # In the key store, named by a plain id (no path any query of the main database can
        # follow); the placeholder in the main database is empty.
        models=("privacy.UserDataKey", "privacy.LegacyUserDataKey"),
        user_path=None,
        purpose="To encrypt your history and region; destroying it makes every copy unreadable.",
        legal_basis=LegalBasis.CONTRACT,
        retention=until_account_deleted,
        exporter=_data_key_rows,
        eraser=lambda *, user: int(data_key_destroy(user_id=user.pk)),
    ),
    DataCategory(
        key="exports",
        title="Copies of your data you asked for",
        position=120,
        models=("privacy.ExportRequest",),
        user_path="user",
        purpose="To build the copy of your data you asked for and let only you download it.",
        legal_basis=LegalBasis.RIGHTS_REQUESTS,
        retention=lambda: (
            f"{settings.PRIVACY_EXPORT_RETENTION_HOURS} hours for the file; the request "
            f"record, without the file, {settings.PRIVACY_EXPORT_RECORD_DAYS} days"
        ),
        export_fields=("id", "status", "created_at", "ready_at", "expires_at", "size_bytes"),
        eraser=lambda *, user: exports_erase(user_id=user.pk),
        purger=_exports_purge,
        reader_erasable=True,
    ),
    DataCategory(
        key="privacy_activity",
        title="Your privacy activity log",
        position=130,
        models=("privacy.PrivacyAuditEvent",),
        user_path="user",
        purpose="To show you, and prove, every privacy action taken on your data.",
        legal_basis=LegalBasis.RIGHTS_REQUESTS,
        retention=days("PRIVACY_AUDIT_RETENTION_DAYS"),
        export_fields=("created_at", "actor", "action", "category", "detail"),
        purger=_activity_purge,
    ),
)
