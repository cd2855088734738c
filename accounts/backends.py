"""Authentication backends: Django's and allauth's, taking the signed-in reader from the row
their session was read with (`accounts.sessions`) rather than a second query on every page.

Django's own login check still runs on that reader: the session's hash against their current
password, and whether they may sign in at all. Also the second-factor check of sign-ins that
do not go through allauth's login page (API tokens).
"""

import enum

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend
from allauth.core import context
from allauth.mfa.base.forms import AuthenticateForm
from allauth.mfa.utils import is_mfa_enabled
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend

from .sessions import reader_loaded_with_session


class _SessionReaderMixin:
    def get_user(self, user_id):
        reader = reader_loaded_with_session(user_id)
        if reader is None:
            return super().get_user(user_id)
        return reader if self.user_can_authenticate(reader) else None


class ModelBackend(_SessionReaderMixin, DjangoModelBackend):
    pass


class AuthenticationBackend(_SessionReaderMixin, AllauthBackend):
    pass


class SecondFactor(enum.Enum):
    NOT_SET = "not_set"
    CONFIRMED = "confirmed"
    MISSING = "missing"
    WRONG = "wrong"
    TOO_MANY_ATTEMPTS = "too_many_attempts"


def second_factor_check(request, *, user, code: str | None) -> SecondFactor:
    """The second factor of a sign-in that does not pass through allauth's login page (an
    API token): allauth's own check of a TOTP code or a recovery code, so a TOTP code is
    accepted once (no replay), a recovery code is spent, and failures count in allauth's
    per-account and per-address limit. Nothing is written to the session."""
    if not is_mfa_enabled(user):
        return SecondFactor.NOT_SET
    if not code:
        return SecondFactor.MISSING
    # allauth's form reads the request (for its rate limit) from its request context.
    with context.request_context(request):
        form = AuthenticateForm(user=user, data={"code": code})
        confirmed = form.is_valid()
    if confirmed:
        form.authenticator.record_usage()
        return SecondFactor.CONFIRMED
    codes = {error.code for error in form.errors.as_data().get("code", [])}
    if "too_many_login_attempts" in codes:
        return SecondFactor.TOO_MANY_ATTEMPTS
    return SecondFactor.WRONG
