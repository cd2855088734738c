"""The accounts app's categories of personal data: the account and what signs it in
(sessions, email addresses, second factor, API tokens), the reader's preferences, and the
admin log entries made by them (staff) or about their account and data."""

from datetime import datetime

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import Q
from django.db.models.functions import Cast

from privacy.registry import (
    DataCategory,
    LegalBasis,
    categories,
    register,
    until_account_deleted,
)

from .models import Preferences, ReaderSession, User
from .selectors import preferences_region

# What an admin log entry about an erased reader says instead of naming them.
ERASED_OBJECT_REPR = "(an erased reader's account or data)"


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


def _admin_log_of(*, user):
    """Admin log entries by the reader (staff) or about them: their account, any row a
    registered category links to them by key, or an entry naming their email address (a row
    of theirs deleted in the admin is gone, but its entry still names it).

    One query: the reader's rows are subqueries, so the privacy center's overview costs one
    query here however many categories there are."""
    about = Q(user_id=user.pk) | Q(
        content_type=ContentType.objects.get_for_model(User), object_id=str(user.pk)
    )
    for entry in categories():
        if entry.user_path is None or not entry.models or entry.main_model is User:
            continue
        model = entry.main_model
        own_ids = (
            model._default_manager.filter(**{entry.user_path: user.pk})
            .annotate(object_id_text=Cast("pk", output_field=models.TextField()))
            .values("object_id_text")
        )
        about |= Q(content_type=ContentType.objects.get_for_model(model), object_id__in=own_ids)
    if user.email:
        # The whole name, never a part: "ann@example.org" must not match "joann@example.org".
        # A change message is JSON, where a name Django quotes stands between double quotes.
        about |= Q(object_repr__iexact=user.email) | Q(change_message__icontains=f'"{user.email}"')
    return LogEntry.objects.filter(about)


def _admin_log_rows(*, user) -> list[dict]:
    return [
        {
            "action_time": entry.action_time,
            "by": "you" if entry.user_id == user.pk else "a staff member",
            "action": entry.get_action_flag_display(),
            "object": entry.object_repr,
            "change": entry.get_change_message(),
        }
        for entry in _admin_log_of(user=user).order_by("action_time", "pk")
    ]


@transaction.atomic
def _admin_log_erase(*, user) -> int:
    """The reader's own entries (staff) go; a staff member's entry about the reader stays as
    that staff member's record of what they did and when, naming nobody: the object's id, its
    name and the change message (which can quote a name or an address) are cleared."""
    entries = _admin_log_of(user=user)
    by_reader = entries.filter(user_id=user.pk).delete()[0]
    about_reader = entries.exclude(user_id=user.pk).update(
        object_id=None, object_repr=ERASED_OBJECT_REPR, change_message=""
    )
    return by_reader + about_reader


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
        models=("knox.AuthToken",),
        user_path="user",
        purpose="To let apps you authorise use your account.",
        legal_basis=LegalBasis.CONTRACT,
        retention=lambda: "until you revoke it or delete your account",
        # Only the date: the token itself is not stored, and its digest and lookup prefix are
        # of no use to the reader.
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
        title="Admin log entries by you or about you",
        position=140,
        models=("admin.LogEntry",),
        user_path="user",
        purpose=(
            "To keep a record of changes made in the admin: those you made (staff only) and "
            "those staff made to your account or your data."
        ),
        legal_basis=LegalBasis.LEGITIMATE_INTEREST,
        retention=until_account_deleted,
        exporter=_admin_log_rows,
        counter=lambda *, user: _admin_log_of(user=user).count(),
        eraser=_admin_log_erase,
        # Before every other category: entries about the reader's rows are found by those
        # rows' ids, which are gone once their own categories are erased.
        erase_order=-100,
    ),
)
