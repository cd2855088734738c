"""Recent re-authentication: sensitive privacy actions (downloading a copy of one's data,
erasing the account) need the password typed within the last PRIVACY_REAUTH_SECONDS, so an
unlocked, unattended session is not enough. Every password typed here is counted per account
and per client address, and refused beyond the limits."""

import enum
from datetime import datetime, timedelta
from functools import wraps

from allauth.core import context
from django.conf import settings
from django.shortcuts import render
from django.utils import timezone

from common.api_throttles import (
    PasswordAttemptsRefused,
    password_attempt_start,
    rate_limits_available,
)

SESSION_KEY = "privacy_reauth_at"


class ReauthResult(enum.Enum):
    CONFIRMED = "confirmed"
    WRONG_PASSWORD = "wrong_password"
    # Beyond the limit of wrong passwords, or while the limit cannot be counted (cache down).
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


def reauth_check_password(*, user, password: str, request=None) -> ReauthResult:
    """Check the reader's password, counting wrong ones; marks nothing. Used directly by API
    clients that confirm the password on the request itself (no session to mark).

    A stolen session must not become a way to guess the password: PASSWORD_FAILURES_PER_ACCOUNT
    per reader and PASSWORD_FAILURES_PER_ADDRESS per client address in
    PASSWORD_FAILURE_WINDOW_SECONDS, refused while the cache holding the counts is down.
    `request` defaults to the one being answered (allauth's middleware keeps it)."""
    request = getattr(request, "_request", request) or context.request
    try:
        attempt = password_attempt_start(scope="reauth", account=str(user.pk), request=request)
    except PasswordAttemptsRefused:
        return ReauthResult.TOO_MANY_ATTEMPTS
    if not user.check_password(password or ""):
        return ReauthResult.WRONG_PASSWORD
    attempt.succeeded()
    return ReauthResult.CONFIRMED


def reauth_confirm(request, *, password: str) -> ReauthResult:
    """Check the signed-in reader's password; on success mark the session as re-authenticated."""
    result = reauth_check_password(user=request.user, password=password, request=request)
    if result is ReauthResult.CONFIRMED:
        reauth_mark(request)
    return result


def too_many_attempts_message() -> str:
    if not rate_limits_available():
        return (
            "Password checks are paused for a few minutes while we cannot count attempts: "
            "try again later."
        )
    minutes = settings.PASSWORD_FAILURE_WINDOW_SECONDS // 60
    return (
        f"Too many wrong passwords. Wait {minutes} minutes and try again, or reset your password."
    )


def password_checks_limited(view):
    """For a page that checks the signed-in reader's password itself (erasing the account):
    a POSTed `password` is first checked here, inside the limits; beyond them the page does
    not run and answers 429. A right password is not counted; the page checks it again."""

    @wraps(view)
    def limited(request, *args, **kwargs):
        if request.method == "POST" and request.user.is_authenticated:
            result = reauth_check_password(
                user=request.user, password=request.POST.get("password", ""), request=request
            )
            if result is ReauthResult.TOO_MANY_ATTEMPTS:
                context_data = {
                    "title": "Too many attempts",
                    "message": f"{too_many_attempts_message()} Nothing was erased.",
                    "status": 429,
                }
                return render(request, "error.html", context_data, status=429)
        return view(request, *args, **kwargs)

    return limited
