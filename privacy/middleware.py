"""Reads the browser's privacy signals once per request (request.privacy_signals)."""

from .browser_signals import BrowserSignals


class BrowserPrivacySignalsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.privacy_signals = BrowserSignals.from_headers(request.headers)
        return self.get_response(request)
