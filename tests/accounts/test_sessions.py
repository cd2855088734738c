"""The signed-in reader is read with their session: one query, and Django's login check
still decides who is signed in."""

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.sessions import reader_loaded_with_session
from tests.factories import ReaderFactory

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


def test_a_session_naming_a_backend_no_longer_configured_is_signed_out(client):
    # Sessions written when Django's own backend paths were configured name those paths;
    # a reader with one is signed out once (the path is no longer configured), never let in
    # as anyone else.
    reader = ReaderFactory()
    client.force_login(reader)
    session = client.session
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session.save()
    assert signed_in_as(client) is None


def test_no_reader_is_handed_out_outside_a_login_check():
    reader = ReaderFactory()
    assert reader_loaded_with_session(reader.pk) is None
