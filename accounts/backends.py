"""Authentication backends: Django's and allauth's, taking the signed-in reader from the row
their session was read with (`accounts.sessions`) rather than a second query on every page.

Django's own login check still runs on that reader: the session's hash against their current
password, and whether they may sign in at all.
"""

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend
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
