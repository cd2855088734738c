"""A request reads its reader's wrapped data key from the key store once, however often it opens
or seals their data; the next request reads it again, so a shredded key is gone from it, and
one reader's key never serves another.

These tests commit (transaction=True): a key read or made inside a transaction of the key
store is never remembered, since it could be rolled back."""

import threading

import pytest
from django.core.cache import cache
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Preferences
from privacy.crypto import (
    DataKeyDestroyed,
    DecryptionFailed,
    data_key_destroy,
    data_keys_remembered,
    decrypt_for_user,
    encrypt_for_user,
)
from privacy.models import ReadingHistoryEntry, UserDataKey
from privacy.selectors import HISTORY_CONTEXT
from recommendations.services import model_retrain
from tests.conftest import redis_cache_settings
from tests.factories import ReaderFactory
from tests.recommendations.conftest import follow, newsroom  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)

KEY_TABLE = UserDataKey._meta.db_table


@pytest.fixture
def kept_pages(settings):
    """The production cache (django-redis on a real Redis), where kept pages live."""
    settings.CACHES = redis_cache_settings("test-key-memo")
    cache.clear()
    yield
    cache.clear()


def key_lookups(queries, reader=None) -> list[str]:
    """The key store's reads of a data key (of `reader`, when given)."""
    found = [q["sql"] for q in queries if KEY_TABLE in q["sql"] and "SELECT" in q["sql"]]
    if reader is not None:
        found = [sql for sql in found if sql.rstrip().endswith(f"= {reader.pk}")]
    return found


def history_reader(newsroom):  # noqa: F811 (the fixture's value)
    reader = follow(
        ReaderFactory(), newsroom.topics["space"], level=Preferences.Level.TOPICS_HISTORY
    )
    for story in newsroom.stories["space"][:2]:
        ReadingHistoryEntry.objects.create(
            user=reader,
            sealed_article=encrypt_for_user(
                user=reader, plaintext=str(story.pk), context=HISTORY_CONTEXT
            ),
        )
    return reader


def test_a_first_visit_reads_the_key_once_and_each_later_visit_reads_it_again(
    client,
    kept_pages,
    newsroom,  # noqa: F811
):
    model_retrain()
    reader = history_reader(newsroom)
    client.force_login(reader)

    # The first visit opens the reader's history, then seals the page it keeps: one read.
    with CaptureQueriesContext(connections["keys"]) as first:
        html = client.get(reverse("news:home")).content.decode()
    assert newsroom.stories["space"][2].title in html
    assert newsroom.stories["space"][0].title not in html  # read: left out, so it was opened
    assert isinstance(cache.get(f"feed:reader:{reader.pk}"), bytes)  # sealed, kept
    assert len(key_lookups(first, reader)) == 1

    # The next visit opens the kept page: it asks the key store again, nothing carried over.
    with CaptureQueriesContext(connections["keys"]) as second:
        again = client.get(reverse("news:home")).content.decode()
    assert newsroom.stories["space"][2].title in again
    assert len(key_lookups(second, reader)) == 1


def test_a_key_shredded_after_a_request_is_gone_for_the_next_one(reader):
    sealed = encrypt_for_user(user=reader, plaintext="reading history", context="notes")
    with data_keys_remembered():
        assert decrypt_for_user(user_id=reader.pk, ciphertext=sealed, context="notes") == (
            "reading history"
        )
        # Shredded by another process while this request runs (its own memory is untouched).
        UserDataKey.objects.filter(user_id=reader.pk).delete()

    with data_keys_remembered(), pytest.raises(DataKeyDestroyed):
        decrypt_for_user(user_id=reader.pk, ciphertext=sealed, context="notes")


def test_a_key_shredded_during_a_request_is_gone_at_once_in_it(reader):
    with data_keys_remembered():
        sealed = encrypt_for_user(user=reader, plaintext="reading history", context="notes")
        assert decrypt_for_user(user_id=reader.pk, ciphertext=sealed, context="notes") == (
            "reading history"
        )
        assert data_key_destroy(user_id=reader.pk) is True
        with pytest.raises(DataKeyDestroyed):
            decrypt_for_user(user_id=reader.pk, ciphertext=sealed, context="notes")
        # Data sealed afterwards gets a new key; the shredded data stays unreadable.
        fresh = encrypt_for_user(user=reader, plaintext="after", context="notes")
        assert decrypt_for_user(user_id=reader.pk, ciphertext=fresh, context="notes") == "after"
        with pytest.raises(DecryptionFailed):
            decrypt_for_user(user_id=reader.pk, ciphertext=sealed, context="notes")


def test_two_readers_in_one_request_each_get_their_own_key(reader):
    other = ReaderFactory()
    with data_keys_remembered():
        mine = encrypt_for_user(user=reader, plaintext="mine", context="notes")
        with CaptureQueriesContext(connections["keys"]) as queries:
            theirs = encrypt_for_user(user=other, plaintext="theirs", context="notes")
            assert decrypt_for_user(user_id=other.pk, ciphertext=theirs, context="notes") == (
                "theirs"
            )
        assert decrypt_for_user(user_id=reader.pk, ciphertext=mine, context="notes") == "mine"
        with pytest.raises(DecryptionFailed):
            decrypt_for_user(user_id=other.pk, ciphertext=mine, context="notes")
    assert UserDataKey.objects.filter(user_id__in=[reader.pk, other.pk]).count() == 2
    # The other reader's key was made, not borrowed from the first reader's.
    assert any("INSERT" in q["sql"] for q in queries)


def test_a_request_served_beside_another_never_uses_what_that_one_remembers(reader):
    sealed = encrypt_for_user(user=reader, plaintext="reading history", context="notes")
    remembered, shredded, finished = threading.Event(), threading.Event(), threading.Event()
    outcome = {}

    def earlier_request():
        try:
            with data_keys_remembered():
                outcome["earlier"] = decrypt_for_user(
                    user_id=reader.pk, ciphertext=sealed, context="notes"
                )
                remembered.set()
                finished.wait(timeout=30)  # still running while the next request is served
        finally:
            connections.close_all()

    def next_request():
        try:
            shredded.wait(timeout=30)
            with data_keys_remembered():
                decrypt_for_user(user_id=reader.pk, ciphertext=sealed, context="notes")
            outcome["next"] = "opened"
        except DataKeyDestroyed:
            outcome["next"] = "destroyed"
        finally:
            finished.set()
            connections.close_all()

    threads = [threading.Thread(target=earlier_request), threading.Thread(target=next_request)]
    for thread in threads:
        thread.start()
    assert remembered.wait(timeout=30)
    UserDataKey.objects.filter(user_id=reader.pk).delete()  # shredded by another process
    shredded.set()
    for thread in threads:
        thread.join(timeout=30)

    assert outcome == {"earlier": "reading history", "next": "destroyed"}


def test_a_key_made_in_a_transaction_that_rolled_back_is_not_used_afterwards(reader):
    class Abandoned(Exception):
        pass

    with data_keys_remembered():
        with pytest.raises(Abandoned), transaction.atomic(using="keys"):
            encrypt_for_user(user=reader, plaintext="lost", context="notes")
            raise Abandoned
        assert not UserDataKey.objects.filter(user_id=reader.pk).exists()
        # Sealed after the rollback: under a key that exists, so it opens in a later request.
        sealed = encrypt_for_user(user=reader, plaintext="kept", context="notes")

    with data_keys_remembered():
        assert decrypt_for_user(user_id=reader.pk, ciphertext=sealed, context="notes") == "kept"


def test_outside_a_request_every_use_asks_the_key_store(reader):
    # Celery tasks and commands: nothing remembered, a shred elsewhere counts at once.
    sealed = encrypt_for_user(user=reader, plaintext="queued read", context="notes")
    assert decrypt_for_user(user_id=reader.pk, ciphertext=sealed, context="notes") == (
        "queued read"
    )
    UserDataKey.objects.filter(user_id=reader.pk).delete()
    with pytest.raises(DataKeyDestroyed):
        decrypt_for_user(user_id=reader.pk, ciphertext=sealed, context="notes")
