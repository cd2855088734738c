"""Recent re-authentication: sensitive privacy actions (downloading a copy of one's data,
erasing the account) need the password typed within the last PRIVACY_REAUTH_SECONDS, so an
unlocked, unattended session is not enough."""

import enum
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

SESSION_KEY = "privacy_reauth_at"
# Wrong passwords allowed per reader in the window before the form stops checking: a stolen
# session must not become a way to guess the password.
MAX_FAILURES = 5
FAILURE_WINDOW_SECONDS = 600


class ReauthResult(enum.Enum):
    CONFIRMED = "confirmed"
    WRONG_PASSWORD = "wrong_password"
    TOO_MANY_ATTEMPTS = "too_many_attempts"


def reauth_mark(request) -> None:
    # Login and logout flush the session, so the mark never outlives the person who made it.
    request.session[SESSION_KEY] = timezone.now().isoformat()


def reauth_is_fresh(request) -> bool:
    raw = request.session.get(SESSION_KEY)
    if not raw:
        return False
    try:
        marked_at = datetime.fromisoformat(raw)
    except (TypeError, ValueError):
        return False
    age = timezone.now() - marked_at
    # A mark from the future (a clock set back) is not trusted either.
    return timedelta(0) <= age <= timedelta(seconds=settings.PRIVACY_REAUTH_SECONDS)


def _failures_key(user) -> str:
    return f"privacy:reauth-failures:{user.pk}"


def reauth_check_password(*, user, password: str) -> ReauthResult:
    """Check the reader's password, counting wrong ones; marks nothing. Used directly by API
    clients that confirm the password on the request itself (no session to mark)."""
    key = _failures_key(user)
    if cache.get(key, 0) >= MAX_FAILURES:
        return ReauthResult.TOO_MANY_ATTEMPTS
    if not user.check_password(password):
        # The window starts at the first failure and is not extended by later ones.
        cache.add(key, 0, timeout=FAILURE_WINDOW_SECONDS)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=FAILURE_WINDOW_SECONDS)
        return ReauthResult.WRONG_PASSWORD
    cache.delete(key)
    return ReauthResult.CONFIRMED


def reauth_confirm(request, *, password: str) -> ReauthResult:
    """Check the signed-in reader's password; on success mark the session as re-authenticated."""
    result = reauth_check_password(user=request.user, password=password)
    if result is ReauthResult.CONFIRMED:
        reauth_mark(request)
    return result
