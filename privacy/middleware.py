"""Per-request privacy handling: reads the browser's privacy signals once per request
(request.privacy_signals), and keeps personal pages out of every cache on the way back."""

from .browser_signals import BrowserSignals

# The privacy center and every privacy or account endpoint of the API: personal (or about to
# be, after signing in) whoever asks. Public pages under these prefixes (the policy, the
# ledger) lose nothing by not being cached: they are small and rarely read twice.
PERSONAL_PREFIXES = ("/privacy/", "/api/v1/privacy/", "/api/v1/account/")


def is_personal(request) -> bool:
    """Whether a response may show one reader's data: anything under the privacy prefixes,
    and every page or API answer to a signed-in reader (their feed, preferences, name in the
    header). `request.user` is read after the view, so a token signed in by the API counts."""
    if request.path.startswith(PERSONAL_PREFIXES):
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)


class BrowserPrivacySignalsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.privacy_signals = BrowserSignals.from_headers(request.headers)
        response = self.get_response(request)
        if getattr(response, "same_for_everyone", False):
            # Public bytes that never depend on who asks (the private-mode bundle): their own
            # cache headers stand, and no session is read to find out who asked.
            return response
        if is_personal(request):
            # "no-store", not "private": a shared computer's browser cache and its
            # back-and-forward cache must not keep a copy of a reader's history either.
            response["Cache-Control"] = "no-store"
        return response
