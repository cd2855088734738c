"""The signed-in reader is read with their session: one query, and Django's login check
still decides who is signed in."""

import importlib
from datetime import timedelta

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import ReaderSession
from accounts.sessions import SessionStore, reader_loaded_with_session
from common.db_functions import CompiledOnce
from privacy.crypto import data_key_loaded_with, decrypt_for_user, encrypt_for_user
from privacy.models import ReadingHistoryEntry
from privacy.selectors import HISTORY_CONTEXT, history_reads_for_user
from tests.factories import ArticleFactory, ReaderFactory

pytestmark = pytest.mark.django_db


def signed_in_as(client):
    """The email address the page's account menu answers to, or None when signed out."""
    response = client.get(reverse("accounts:preferences"))
    if response.status_code != 200:
        return None
    return response.wsgi_request.user.email


def test_a_signed_in_page_reads_the_session_and_the_reader_in_one_query(client):
    reader = ReaderFactory()
    client.force_login(reader)
    with CaptureQueriesContext(connection) as queries:
        # The account menu needs the reader: no second query for them.
        response = client.get(reverse("privacy:policy"))
    assert "Sign out" in response.content.decode()
    assert response.wsgi_request.user.email == reader.email
    reading_readers = [q["sql"] for q in queries if '"accounts_user"' in q["sql"]]
    assert len(reading_readers) == 1
    assert reading_readers[0].startswith('SELECT "accounts_readersession"')


def test_a_password_changed_elsewhere_signs_this_session_out(client):
    reader = ReaderFactory()
    client.force_login(reader)
    assert signed_in_as(client) == reader.email
    reader.set_password("a-new-and-different-passphrase")
    reader.save(update_fields=["password"])
    assert signed_in_as(client) is None
    assert "_auth_user_id" not in client.session


def test_a_deactivated_reader_is_signed_out_at_their_next_page(client):
    reader = ReaderFactory()
    client.force_login(reader)
    assert signed_in_as(client) == reader.email
    type(reader).objects.filter(pk=reader.pk).update(is_active=False)
    assert signed_in_as(client) is None


def test_two_readers_taking_turns_each_see_only_themselves(client):
    first, second = ReaderFactory(), ReaderFactory()
    other = client.__class__()
    client.force_login(first)
    other.force_login(second)
    for _ in range(2):
        assert signed_in_as(client) == first.email
        assert signed_in_as(other) == second.email
    client.logout()
    assert signed_in_as(client) is None
    assert signed_in_as(other) == second.email


def test_a_session_signed_in_before_the_sites_backends_stays_signed_in(client):
    # Sessions from before name Django's or allauth's backend: the migration renames them,
    # so the deployment signs nobody out.
    migration = importlib.import_module(
        "accounts.migrations.0005_sessions_name_the_reader_backends"
    )
    reader, other = ReaderFactory(), ReaderFactory()
    client.force_login(reader)
    session = client.session
    session[BACKEND_SESSION_KEY] = "allauth.account.auth_backends.AuthenticationBackend"
    session.save()
    assert signed_in_as(client) is None  # a backend no longer configured signs nobody in

    client.force_login(reader)
    session = client.session
    session[BACKEND_SESSION_KEY] = "allauth.account.auth_backends.AuthenticationBackend"
    session.save()
    renamed = migration.sessions_rename_backends(ReaderSession, migration.BACKENDS)
    assert renamed == 1
    assert signed_in_as(client) == reader.email
    assert migration.sessions_rename_backends(ReaderSession, migration.BACKENDS) == 0
    assert not other.sessions.exists()


def test_no_reader_is_handed_out_outside_a_login_check():
    reader = ReaderFactory()
    assert reader_loaded_with_session(reader.pk) is None


def read_through_session(reader):
    """The reader as the session engine reads them for a signed-in page."""
    session = SessionStore()
    session["_auth_user_id"] = str(reader.pk)
    session.create()
    loaded = SessionStore(session_key=session.session_key)
    loaded.load()
    return loaded.loaded_reader


def test_a_readers_history_is_opened_with_the_key_read_with_their_session():
    reader = ReaderFactory()
    stories = ArticleFactory.create_batch(3)
    for story in stories:
        ReadingHistoryEntry.objects.create(
            user=reader,
            sealed_article=encrypt_for_user(
                user=reader, plaintext=str(story.pk), context=HISTORY_CONTEXT
            ),
        )
    signed_in = read_through_session(reader)
    with CaptureQueriesContext(connection) as queries:
        reads = history_reads_for_user(user=signed_in)
    assert sorted(read.article_id for read in reads) == sorted(story.pk for story in stories)
    assert not [q for q in queries if '"privacy_userdatakey"' in q["sql"]]


def test_a_key_made_after_the_session_was_read_still_opens_what_it_sealed():
    # A reader's first sealed data can be written after their session was read: the key
    # missing then is looked up again, not taken for destroyed.
    reader = ReaderFactory()
    signed_in = read_through_session(reader)
    assert data_key_loaded_with(signed_in).wrapped_key is None
    sealed = encrypt_for_user(user=reader, plaintext="first read", context=HISTORY_CONTEXT)
    opened = decrypt_for_user(
        user_id=reader.pk,
        ciphertext=sealed,
        context=HISTORY_CONTEXT,
        loaded_key=data_key_loaded_with(signed_in),
    )
    assert opened == "first read"


def test_an_expired_session_signs_its_reader_out(client):
    reader = ReaderFactory()
    client.force_login(reader)
    assert signed_in_as(client) == reader.email
    ReaderSession.objects.filter(user=reader).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    assert signed_in_as(client) is None


def test_a_compiled_query_refuses_values_it_was_not_built_with():
    wrong = CompiledOnce(
        lambda: (ReaderSession.objects.filter(session_key="a", user_id=1), {"key": "a"})
    )
    with pytest.raises(ValueError, match="once each"):
        wrong.first(key="b")


def test_a_worker_thread_reads_sessions_with_its_own_connection(transactional_db, client):
    # gunicorn's threaded workers share the compiled query between threads; each runs it on
    # its own connection.
    import threading

    from django.db import connections

    reader = ReaderFactory()
    client.force_login(reader)
    assert signed_in_as(client) == reader.email  # compiled here, in this thread
    seen = []

    def in_another_thread():
        try:
            seen.append(signed_in_as(client))
        finally:
            connections.close_all()

    worker = threading.Thread(target=in_another_thread)
    worker.start()
    worker.join(timeout=30)
    assert seen == [reader.email]
