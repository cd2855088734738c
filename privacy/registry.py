"""The data registry: every model that holds personal data, registered once with its
category, purpose, legal basis, retention and how its rows are exported and erased.

The privacy center, export, erasure, the retention purge and the public "what we collect and
why" page all read this list, so adding a model with personal data means adding one entry.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.apps import apps
from django.conf import settings
from django.db import models


class LegalBasis:
    CONTRACT = "Contract: needed to provide the service you signed up for"
    CONSENT = "Consent: only while you have it turned on"
    LEGAL_OBLIGATION = "Legal obligation: we must be able to prove what you agreed to"


@dataclass(frozen=True)
class DataCategory:
    key: str
    title: str
    models: tuple[str, ...]  # "app_label.ModelName"; the first is the category's main model
    user_path: str | None  # lookup from the main model to the user; None: not linked by key
    purpose: str
    legal_basis: str
    retention: Callable[[], str]
    export_fields: tuple[str, ...] = ()
    # Custom export (rows as dicts) for sealed or derived data; default: export_fields.
    exporter: Callable | None = field(default=None, compare=False)
    # Custom erasure returning the number of rows removed; default: delete via user_path.
    eraser: Callable | None = field(default=None, compare=False)
    # Whether a reader may erase this category on its own, keeping the account.
    reader_erasable: bool = False

    @property
    def main_model(self) -> type[models.Model]:
        return apps.get_model(self.models[0])

    def rows_for(self, *, user) -> list[dict]:
        if self.exporter is not None:
            return self.exporter(user=user)
        if self.user_path is None:
            return []
        queryset = self.main_model.objects.filter(**{self.user_path: user.pk})
        return list(queryset.values(*self.export_fields))

    def erase_for(self, *, user) -> int:
        if self.eraser is not None:
            return self.eraser(user=user)
        if self.user_path is None:
            return 0
        return self.main_model.objects.filter(**{self.user_path: user.pk}).delete()[0]


def _history_rows(*, user) -> list[dict]:
    from .selectors import history_for_user

    return [
        {
            "read_at": item.read_at,
            "article_title": item.article.title if item.article else "(article removed)",
            "article_url": item.article.get_absolute_url() if item.article else "",
        }
        for item in history_for_user(user=user)
    ]


def _preferences_rows(*, user) -> list[dict]:
    from accounts.models import Preferences
    from accounts.selectors import preferences_region

    preferences = (
        Preferences.objects.filter(user=user)
        .prefetch_related("preferred_topics__topic", "blocked_topics")
        .first()
    )
    if preferences is None:
        return []
    return [
        {
            "level": preferences.get_level_display(),
            "topics": "; ".join(
                f"{p.topic.name} (weight {p.weight:.2f})"
                for p in preferences.preferred_topics.all()
            ),
            "blocked_topics": "; ".join(t.name for t in preferences.blocked_topics.all()),
            "region": preferences_region(preferences=preferences),
            "onboarding_finished_at": preferences.onboarding_finished_at,
            "browser_signal_seen_at": preferences.browser_signal_seen_at,
        }
    ]


def _data_key_rows(*, user) -> list[dict]:
    from .models import UserDataKey

    # The key itself is never exported: only that it exists.
    return list(UserDataKey.objects.filter(user=user).values("created_at", "rotated_at"))


def _signal_rows(*, user) -> list[dict]:
    from .models import DailySalt, SignalEvent
    from .services import pseudonym_for

    rows = []
    for day, salt in DailySalt.objects.values_list("day", "salt"):
        pseudonym = pseudonym_for(user_id=user.pk, salt=bytes(salt))
        for article_id in SignalEvent.objects.filter(day=day, pseudonym=pseudonym).values_list(
            "article_id", flat=True
        ):
            rows.append({"day": day, "article_id": article_id})
    return rows


def _signal_erase(*, user) -> int:
    from .services import signal_events_erase

    return signal_events_erase(user_id=user.pk)


def _exports_erase(*, user) -> int:
    from .exports import exports_erase

    return exports_erase(user_id=user.pk)


def _feed_cache_rows(*, user) -> list[dict]:
    from recommendations.feed_cache import reader_feed_rows

    return reader_feed_rows(user=user)


def _feed_cache_erase(*, user) -> int:
    from recommendations.feed_cache import reader_feed_erase

    return reader_feed_erase(user=user)


def _days(setting: str, unit: str = "days") -> Callable[[], str]:
    return lambda: f"{getattr(settings, setting)} {unit}"


def _until_account_deleted() -> str:
    return "until you delete your account"


REGISTRY: tuple[DataCategory, ...] = (
    DataCategory(
        key="account",
        title="Your account",
        models=("accounts.User", "accounts.User_groups", "accounts.User_user_permissions"),
        user_path="pk",
        purpose="To let you sign in and keep your choices.",
        legal_basis=LegalBasis.CONTRACT,
        retention=_until_account_deleted,
        export_fields=("email", "display_name", "date_joined", "last_login"),
    ),
    DataCategory(
        key="sessions",
        title="Signed-in sessions",
        models=("accounts.ReaderSession",),
        user_path="user",
        purpose="To keep you signed in on the devices you use.",
        legal_basis=LegalBasis.CONTRACT,
        retention=lambda: (
            f"until you sign out, at most {settings.SESSION_COOKIE_AGE // 86400} days"
        ),
        # Never the session key: it is a password to the session.
        export_fields=("expire_date",),
    ),
    DataCategory(
        key="email_addresses",
        title="Email addresses",
        models=("account.EmailAddress", "account.EmailConfirmation"),
        user_path="user",
        purpose="To sign you in, verify your address and send mail you asked for.",
        legal_basis=LegalBasis.CONTRACT,
        retention=_until_account_deleted,
        export_fields=("email", "verified", "primary"),
    ),
    DataCategory(
        key="two_factor",
        title="Two-factor authentication",
        models=("mfa.Authenticator",),
        user_path="user",
        purpose="To protect your account with a second factor, if you set one up.",
        legal_basis=LegalBasis.CONTRACT,
        retention=_until_account_deleted,
        export_fields=("type", "created_at", "last_used_at"),
    ),
    DataCategory(
        key="api_tokens",
        title="API tokens",
        # TokenProxy is the admin's view of the same rows.
        models=("authtoken.Token", "authtoken.TokenProxy"),
        user_path="user",
        purpose="To let apps you authorise use your account.",
        legal_basis=LegalBasis.CONTRACT,
        retention=lambda: "until you revoke it or delete your account",
        # Never the key: it is a password to the account.
        export_fields=("created",),
    ),
    DataCategory(
        key="preferences",
        title="Topics and personalization settings",
        models=(
            "accounts.Preferences",
            "accounts.PreferredTopic",
            "accounts.Preferences_blocked_topics",
        ),
        user_path="user",
        purpose="To order your front page by the topics you chose, at the level you chose.",
        legal_basis=LegalBasis.CONTRACT,
        retention=_until_account_deleted,
        exporter=_preferences_rows,
    ),
    DataCategory(
        key="consent_receipts",
        title="Consent receipts",
        models=("privacy.ConsentRecord",),
        user_path="user",
        purpose="To prove which optional purposes you turned on or off, when, and what you saw.",
        legal_basis=LegalBasis.LEGAL_OBLIGATION,
        retention=_until_account_deleted,
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
        key="reading_history",
        title="Reading history",
        models=("privacy.ReadingHistoryEntry",),
        user_path="user",
        purpose="To suggest stories like the ones you read (level: Topics + reading history).",
        legal_basis=LegalBasis.CONSENT,
        retention=_days("PRIVACY_HISTORY_RETENTION_DAYS"),
        exporter=_history_rows,
        reader_erasable=True,
    ),
    DataCategory(
        key="feed_cache",
        title="Your front page, kept briefly",
        # Not a table: one entry in the cache (Redis), sealed with your encryption key.
        models=(),
        user_path=None,
        purpose=(
            "To show your front page again quickly; encrypted with your key, and forgotten "
            "as soon as you read a story or change a choice."
        ),
        legal_basis=LegalBasis.CONTRACT,
        retention=lambda: f"{settings.FEED_READER_CACHE_SECONDS} seconds at most",
        exporter=_feed_cache_rows,
        eraser=_feed_cache_erase,
    ),
    DataCategory(
        key="popularity_signals",
        title='Reads counted toward "popular" (not yet aggregated)',
        models=("privacy.SignalEvent",),
        user_path=None,
        purpose="To count popular stories with differential privacy; unlinkable once counted.",
        legal_basis=LegalBasis.CONSENT,
        retention=_days("PRIVACY_SIGNAL_RETENTION_HOURS", "hours at most"),
        exporter=_signal_rows,
        eraser=_signal_erase,
        reader_erasable=True,
    ),
    DataCategory(
        key="data_key",
        title="Your encryption key",
        models=("privacy.UserDataKey",),
        user_path="user",
        purpose="To encrypt your history and region; destroying it makes every copy unreadable.",
        legal_basis=LegalBasis.LEGAL_OBLIGATION,
        retention=_until_account_deleted,
        exporter=_data_key_rows,
    ),
    DataCategory(
        key="exports",
        title="Copies of your data you asked for",
        models=("privacy.ExportRequest",),
        user_path="user",
        purpose="To build the copy of your data you asked for and let only you download it.",
        legal_basis=LegalBasis.LEGAL_OBLIGATION,
        retention=lambda: (
            f"{settings.PRIVACY_EXPORT_RETENTION_HOURS} hours for the file; the request "
            f"record, without the file, {settings.PRIVACY_EXPORT_RECORD_DAYS} days"
        ),
        export_fields=("id", "status", "created_at", "ready_at", "expires_at", "size_bytes"),
        eraser=_exports_erase,
        reader_erasable=True,
    ),
    DataCategory(
        key="privacy_activity",
        title="Your privacy activity log",
        models=("privacy.PrivacyAuditEvent",),
        user_path="user",
        purpose="To show you, and prove, every privacy action taken on your data.",
        legal_basis=LegalBasis.LEGAL_OBLIGATION,
        retention=_days("PRIVACY_AUDIT_RETENTION_DAYS"),
        export_fields=("created_at", "actor", "action", "category", "detail"),
    ),
    DataCategory(
        key="staff_actions",
        title="Editing actions (staff only)",
        models=("admin.LogEntry",),
        user_path="user",
        purpose="To keep a record of changes staff made in the admin.",
        legal_basis=LegalBasis.CONTRACT,
        retention=_until_account_deleted,
        export_fields=("action_time", "object_repr", "change_message"),
    ),
)


def categories() -> tuple[DataCategory, ...]:
    return REGISTRY


def category(key: str) -> DataCategory:
    for entry in REGISTRY:
        if entry.key == key:
            return entry
    raise KeyError(f"No data category {key!r}.")


def registered_models() -> set[type[models.Model]]:
    return {apps.get_model(label) for entry in REGISTRY for label in entry.models}
