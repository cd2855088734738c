"""The accounts app's categories of personal data: the account and what signs it in
(sessions, email addresses, second factor, API tokens), the reader's preferences, and the
admin's log of a staff member's actions."""

from datetime import datetime

from django.conf import settings

from privacy.registry import DataCategory, LegalBasis, register, until_account_deleted

from .models import Preferences, ReaderSession
from .selectors import preferences_region


def _preferences_rows(*, user) -> list[dict]:
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


def _sessions_purge(*, now: datetime) -> dict[str, int]:
    return {"expired sessions": ReaderSession.objects.filter(expire_date__lt=now).delete()[0]}


register(
    DataCategory(
        key="account",
        title="Your account",
        position=10,
        models=("accounts.User", "accounts.User_groups", "accounts.User_user_permissions"),
        user_path="pk",
        purpose="To let you sign in and keep your choices.",
        legal_basis=LegalBasis.CONTRACT,
        retention=until_account_deleted,
        export_fields=("email", "display_name", "date_joined", "last_login"),
        # It deletes the user row itself, so it goes last.
        erase_order=1000,
    ),
    DataCategory(
        key="sessions",
        title="Signed-in sessions",
        position=20,
        models=("accounts.ReaderSession",),
        user_path="user",
        purpose="To keep you signed in on the devices you use.",
        legal_basis=LegalBasis.CONTRACT,
        retention=lambda: (
            f"until you sign out, at most {settings.SESSION_COOKIE_AGE // 86400} days"
        ),
        # Never the session key: it is a password to the session.
        export_fields=("expire_date",),
        purger=_sessions_purge,
    ),
    DataCategory(
        key="email_addresses",
        title="Email addresses",
        position=30,
        models=("account.EmailAddress", "account.EmailConfirmation"),
        user_path="user",
        purpose="To sign you in, verify your address and send mail you asked for.",
        legal_basis=LegalBasis.CONTRACT,
        retention=until_account_deleted,
        export_fields=("email", "verified", "primary"),
    ),
    DataCategory(
        key="two_factor",
        title="Two-factor authentication",
        position=40,
        models=("mfa.Authenticator",),
        user_path="user",
        purpose="To protect your account with a second factor, if you set one up.",
        legal_basis=LegalBasis.CONTRACT,
        retention=until_account_deleted,
        export_fields=("type", "created_at", "last_used_at"),
    ),
    DataCategory(
        key="api_tokens",
        title="API tokens",
        position=50,
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
        position=60,
        models=(
            "accounts.Preferences",
            "accounts.PreferredTopic",
            "accounts.Preferences_blocked_topics",
        ),
        user_path="user",
        purpose="To order your front page by the topics you chose, at the level you chose.",
        legal_basis=LegalBasis.CONTRACT,
        retention=until_account_deleted,
        exporter=_preferences_rows,
    ),
    DataCategory(
        key="staff_actions",
        title="Editing actions (staff only)",
        position=140,
        models=("admin.LogEntry",),
        user_path="user",
        purpose="To keep a record of changes staff made in the admin.",
        legal_basis=LegalBasis.CONTRACT,
        retention=until_account_deleted,
        export_fields=("action_time", "object_repr", "change_message"),
    ),
)
