"""Django's authentication middleware, with the reader's login check run where the backends
can take the reader from their session's row (`accounts.sessions.reader_check_scope`)."""

from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthentication
from django.contrib.auth.middleware import get_user
from django.utils.functional import SimpleLazyObject

from .sessions import reader_check_scope


def _reader(request, stand_in):
    with reader_check_scope(request.session):
        reader = get_user(request)
    # Once looked up, the reader replaces its lazy stand-in (unless sign-in or sign-out put
    # another reader there): a page reads the reader dozens of times, and each attribute
    # read through the stand-in costs a call and a caught AttributeError.
    if request.__dict__.get("user") is stand_in:
        request.user = reader
    return reader


class AuthenticationMiddleware(DjangoAuthentication):
    def process_request(self, request):
        super().process_request(request)
        stand_in = SimpleLazyObject(lambda: _reader(request, stand_in))
        request.user = stand_in
