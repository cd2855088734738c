"""Rate limits of the API: per client address for everyone, per account for signed-in
callers, and tighter scopes for password checks and heavy jobs. Rates come from
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] (set from the environment in settings); the client
address from TRUSTED_PROXY_COUNT, read the same way as allauth's own limits read it."""

import contextlib
import hashlib
import hmac
import uuid
from dataclasses import dataclass

from allauth.account.adapter import get_adapter as get_account_adapter
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

# Seconds a client is told to wait when the limits cannot be counted (the cache is down).
UNAVAILABLE_RETRY_SECONDS = 60


def client_address(request) -> str:
    """The caller's address: REMOTE_ADDR, or the X-Forwarded-For entry added by the nearest
    of TRUSTED_PROXY_COUNT proxies. allauth's reading, so that the sign-in form, the API and
    every password check count a client under the same address."""
    django_request = getattr(request, "_request", request)
    try:
        return get_account_adapter(django_request).get_client_ip(django_request)
    except (PermissionDenied, ImproperlyConfigured):
        # No address at all (a test client, a socket without one), or fewer forwarding
        # entries than trusted proxies: such requests share one count rather than none.
        return django_request.META.get("REMOTE_ADDR") or "unknown"


def rate_limits_available() -> bool:
    """Whether the cache that holds the counters answers. The Redis cache is configured to
    swallow its errors (the site keeps serving without it), so a counter that silently stays
    at zero is told apart from a first attempt only by writing and reading back."""
    probe_key, token = "ratelimit:probe", uuid.uuid4().hex
    cache.set(probe_key, token, timeout=10)
    return cache.get(probe_key) == token


class PasswordAttemptsRefused(Exception):
    """Too many password attempts for the account or from the address, or (`unavailable`)
    no way to count them right now."""

    def __init__(self, *, unavailable: bool = False):
        super().__init__("unavailable" if unavailable else "too many attempts")
        self.unavailable = unavailable


@dataclass(frozen=True)
class PasswordAttempt:
    account_key: str
    address_key: str

    def succeeded(self) -> None:
        """The password was right: the account's own mistakes are forgiven (only its owner
        can do that); the address keeps its count minus this attempt, so someone guessing
        other accounts cannot wipe it by signing in to their own now and then."""
        cache.delete(self.account_key)
        with contextlib.suppress(ValueError):  # the window ended meanwhile
            cache.decr(self.address_key)


def _count(key: str) -> int | None:
    window = settings.PASSWORD_FAILURE_WINDOW_SECONDS
    # The window starts at the first attempt and is not extended by later ones.
    cache.add(key, 0, timeout=window)
    try:
        value = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        value = cache.get(key)
    # The Redis cache answers None instead of raising while Redis is down.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def password_attempt_start(*, scope: str, account: str, request) -> PasswordAttempt:
    """Count one password check against `account` and the client address before it is made;
    raises PasswordAttemptsRefused beyond PASSWORD_FAILURES_PER_ACCOUNT / _PER_ADDRESS in
    PASSWORD_FAILURE_WINDOW_SECONDS, or when the cache cannot count (fails closed, see
    PasswordRateThrottle for why). Counting before checking means parallel guesses cannot
    slip past the limit; call `succeeded()` on the result when the password was right."""
    attempt = PasswordAttempt(
        account_key=f"password-attempts:{scope}:account:{account}",
        address_key=f"password-attempts:{scope}:address:{client_address(request)}",
    )
    account_count, address_count = _count(attempt.account_key), _count(attempt.address_key)
    if account_count is None or address_count is None:
        raise PasswordAttemptsRefused(unavailable=True)
    if (
        account_count > settings.PASSWORD_FAILURES_PER_ACCOUNT
        or address_count > settings.PASSWORD_FAILURES_PER_ADDRESS
    ):
        raise PasswordAttemptsRefused()
    return attempt


class _RateFromSettings(SimpleRateThrottle):
    def get_rate(self):
        # Looked up on each request, not frozen at import, so settings overrides apply.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_ident(self, request):
        return client_address(request)


class AddressRateThrottle(_RateFromSettings):
    """Every request, counted per client address."""

    scope = "address"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class KeyedAddressRateThrottle(AddressRateThrottle):
    """Per client address, for endpoints that must not hold one: the throttle's cache keeps a
    keyed hash of the address, and only for its window."""

    def get_ident(self, request):
        address = super().get_ident(request)
        return hmac.new(settings.SECRET_KEY.encode(), address.encode(), hashlib.sha256).hexdigest()


class AccountRateThrottle(_RateFromSettings):
    """Requests of a signed-in caller, counted per account across all their addresses."""

    scope = "account"

    def get_cache_key(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class _PerAccountOrAddress(_RateFromSettings):
    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"ip-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class PasswordRateThrottle(_RateFromSettings):
    """Anything that checks a password: signing in for a token, re-authentication, erasure.
    Counted per client address AND per account (the signed-in caller, or the email address a
    token is asked for), so neither many addresses against one account nor many accounts
    from one address escape it.

    Fails closed: when the cache cannot be written (Redis down) every password check is
    refused with "try again later" rather than let through uncounted. A database fallback
    counter would keep sign-in open during an outage, at the price of a write to the main
    database on every guess and a second counting scheme that allauth's own limits (sign-in
    page, second-factor codes) would not share, so they would still refuse. Refusing is
    simple, cannot be raced around, and costs only new password checks for the minutes
    Redis is away: signed-in readers keep using the site (sessions live in the database)."""

    scope = "password"

    def _idents(self, request) -> list[str]:
        idents = [f"ip-{self.get_ident(request)}"]
        if request.user and request.user.is_authenticated:
            idents.append(f"user-{request.user.pk}")
        else:
            email = request.data.get("email") if hasattr(request.data, "get") else None
            if isinstance(email, str) and email.strip():
                idents.append(f"email-{email.strip().lower()}")
        return idents

    def allow_request(self, request, view):
        self.unavailable = False
        if self.rate is None:
            return True
        self.now = self.timer()
        counted = []
        for ident in self._idents(request):
            key = self.cache_format % {"scope": self.scope, "ident": ident}
            history = [t for t in self.cache.get(key, []) if t > self.now - self.duration]
            if len(history) >= self.num_requests:
                self.history = history
                return self.throttle_failure()
            counted.append((key, [self.now, *history]))
        for key, history in counted:
            self.cache.set(key, history, self.duration)
            if self.cache.get(key) != history:
                self.unavailable = True
                return self.throttle_failure()
        return self.throttle_success()

    def throttle_success(self):
        return True

    def wait(self):
        if self.unavailable:
            return UNAVAILABLE_RETRY_SECONDS
        return super().wait()


class ExportRateThrottle(_PerAccountOrAddress):
    scope = "export"
