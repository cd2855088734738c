"""allauth adapters. The account adapter sends new readers to onboarding until they finish or
skip it, counts wrong passwords per account and per client address on every path that checks
one, and builds allauth's emails on the site's settings (name and SITE_URL), not on the Host
header of the request that sent them. The MFA adapter keeps second-factor secrets encrypted in
the database."""

from dataclasses import dataclass
from urllib.parse import urlsplit

from allauth.account import app_settings as allauth_account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse

from common.api_throttles import rate_limits_available
from common.site_links import site_url

from . import mfa_secrets
from .selectors import reader_profile


@dataclass(frozen=True)
class EmailSite:
    """What allauth's email templates read as `current_site` ("Hello from {{ name }}!",
    "{{ domain }}"): without the sites framework allauth would use the request's host for both."""

    name: str
    domain: str


def email_site() -> EmailSite:
    return EmailSite(name=settings.SITE_NAME, domain=urlsplit(settings.SITE_URL).netloc)


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "rate_limits_unavailable": (
            "Password checks are paused for a few minutes while we cannot count attempts. "
            "Nothing is wrong with your account: try again later."
        ),
    }

    def get_login_redirect_url(self, request):
        # Editors and admins sign in to work: the reader onboarding stays open to them, unforced.
        if not request.user.is_staff and not reader_profile(user=request.user).onboarding_done:
            return reverse("accounts:onboarding")
        return super().get_login_redirect_url(request)

    def get_signup_redirect_url(self, request):
        return reverse("accounts:onboarding")

    # --- Emails: every link on SITE_URL, the site's name in the greeting and the subject ---

    def get_email_confirmation_url(self, request, emailconfirmation):
        return site_url(super().get_email_confirmation_url(request, emailconfirmation))

    def get_reset_password_from_key_url(self, key):
        return site_url(super().get_reset_password_from_key_url(key))

    def format_email_subject(self, subject):
        prefix = allauth_account_settings.EMAIL_SUBJECT_PREFIX
        if prefix is None:
            prefix = f"[{settings.SITE_NAME}] "
        return prefix + str(subject)

    def send_mail(self, template_prefix, email, context):
        """allauth builds some links in place from the request (the sign-up and password-reset
        links of "unknown account" and "account already exists"): every `*_url` is put on
        SITE_URL here, whichever path built it."""
        context = {
            **context,
            **{
                key: site_url(value)
                for key, value in context.items()
                if key.endswith("_url") and isinstance(value, str)
            },
            "current_site": email_site(),
        }
        super().send_mail(template_prefix, email, context)

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
