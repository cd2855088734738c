"""Django's authentication middleware, with the reader's login check run where the backends
can take the reader from their session's row (`accounts.sessions.reader_check_scope`)."""

from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthentication
from django.contrib.auth.middleware import get_user
from django.utils.functional import SimpleLazyObject

from .sessions import reader_check_scope


def _reader(request):
    with reader_check_scope(request.session):
        return get_user(request)


class AuthenticationMiddleware(DjangoAuthentication):
    def process_request(self, request):
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _reader(request))
