"""The session engine: Django's database sessions, stored with the reader they belong to.

A session is loaded with its reader, their preferences and their wrapped data key in one
query: every signed-in page needs the reader (the login check), and the home page needs the
other two. `accounts.backends` hands that reader to Django's login check instead of asking
the database again.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.core.exceptions import SuspiciousOperation
from django.db import connection
from django.utils import timezone

from common.db_functions import CompiledOnce

from .models import ReaderSession

# The session whose reader Django's login check is verifying, only for the length of that
# check (`reader_check_scope`): a reader loaded by another request can never be handed out.
_session_in_check: ContextVar["SessionStore | None"] = ContextVar("session_in_check", default=None)


class SessionStore(DatabaseSessionStore):
    # The reader this request's session row was read with (None: no row, or nobody signed in).
    loaded_reader = None

    @classmethod
    def get_model_class(cls):
        return ReaderSession

    def create_model_instance(self, data):
        instance = super().create_model_instance(data)
        user_id = data.get(SESSION_KEY)
        instance.user_id = int(user_id) if user_id is not None and str(user_id).isdigit() else None
        return instance

    def _get_session_from_db(self):
        self.loaded_reader = None
        try:
            now = connection.ops.adapt_datetimefield_value(timezone.now())
            session = _SESSION_WITH_READER.first(key=self.session_key, now=now)
        except SuspiciousOperation as error:
            logger = logging.getLogger(f"django.security.{error.__class__.__name__}")
            logger.warning(str(error))
            session = None
        if session is None:
            self._session_key = None
            return None
        self.loaded_reader = session.user
        return session


def _session_with_reader():
    never = datetime(2000, 1, 1, tzinfo=UTC)
    sessions = ReaderSession.objects.select_related("user__preferences", "user__data_key")
    return sessions.filter(session_key="", expire_date__gt=never), {
        "key": "",
        "now": connection.ops.adapt_datetimefield_value(never),
    }


# Asked on every page with a session cookie.
_SESSION_WITH_READER = CompiledOnce(_session_with_reader)


@contextmanager
def reader_check_scope(session) -> Iterator[None]:
    token = _session_in_check.set(session if isinstance(session, SessionStore) else None)
    try:
        yield
    finally:
        _session_in_check.reset(token)


def reader_loaded_with_session(user_id) -> object | None:
    """The reader the session under check was read with, if it is `user_id`."""
    session = _session_in_check.get()
    reader = session.loaded_reader if session is not None else None
    if reader is None or str(reader.pk) != str(user_id):
        return None
    return reader
