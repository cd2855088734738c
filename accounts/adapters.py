"""allauth adapters. The account adapter sends new readers to onboarding until they finish or
skip it, and counts wrong passwords per account and per client address on every path that
checks one. The MFA adapter keeps second-factor secrets encrypted in the database."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from django.core.exceptions import ValidationError
from django.urls import reverse

from common.api_throttles import rate_limits_available

from . import mfa_secrets
from .selectors import reader_profile


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "rate_limits_unavailable": (
            "Password checks are paused for a few minutes while we cannot count attempts. "
            "Nothing is wrong with your account: try again later."
        ),
    }

    def get_login_redirect_url(self, request):
        if not reader_profile(user=request.user).onboarding_done:
            return reverse("accounts:onboarding")
        return super().get_login_redirect_url(request)

    def get_signup_redirect_url(self, request):
        return reverse("accounts:onboarding")

    def _get_login_attempts_cache_key(self, request, **credentials):
        # allauth prefixes the address with the current site's domain, which here (no sites
        # framework) is the Host header, port included: ALLOWED_HOSTS ignores the port, so a
        # guesser sending "host:1", "host:2"... would get a fresh count each time. The
        # account alone is the key; allauth's password reset clears the same key.
        login = credentials.get("email", credentials.get("username", "")) or ""
        return f"account:{login.strip().lower()}"

    def pre_authenticate(self, request, **credentials):
        """allauth's count of failed sign-ins (per address and per account). With the cache
        down allauth cannot take its counter's lock and refuses (fails closed); say why."""
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError as error:
            if error.code == "too_many_login_attempts" and not rate_limits_available():
                raise self.validation_error("rate_limits_unavailable") from error
            raise


class MFAAdapter(DefaultMFAAdapter):
    """allauth passes every TOTP secret and recovery-code seed through `encrypt()` before it
    stores it, and through `decrypt()` when it checks a code: sealed with AES-GCM under a
    subkey of the master key (`accounts.mfa_secrets`)."""

    def encrypt(self, text: str) -> str:
        return mfa_secrets.seal(text)

    def decrypt(self, encrypted_text: str) -> str:
        return mfa_secrets.unseal(encrypted_text)
