"""Each request remembers the wrapped data keys it reads from the key store until it ends
(`privacy.crypto.data_keys_remembered`), so a page that opens and seals a reader's data asks
the store once; the next request asks again, so a shredded key is gone from it."""

from .crypto import data_keys_remembered


class DataKeyMemoMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with data_keys_remembered():
            return self.get_response(request)
