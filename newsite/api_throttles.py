"""Rate limits of the API: per client address for everyone, per account for signed-in
callers, and tighter scopes for password checks and heavy jobs. Rates come from
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] (set from the environment in settings)."""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class _RateFromSettings(SimpleRateThrottle):
    def get_rate(self):
        # Looked up on each request, not frozen at import, so settings overrides apply.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class AddressRateThrottle(_RateFromSettings):
    """Every request, counted per client address."""

    scope = "address"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


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


class PasswordRateThrottle(_PerAccountOrAddress):
    """Anything that checks a password: signing in for a token, re-authentication, erasure."""

    scope = "password"


class ExportRateThrottle(_PerAccountOrAddress):
    scope = "export"
