"""The key store: data keys, daily salts and the consent-chain key live in a database of their
own, so no copy of the main database (a dump, a backup) opens anything; and a wrong or
malformed master key stops the site at `check` instead of failing every signed-in page."""

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connections, models
from django.utils import timezone

from privacy import services
from privacy.browser_signals import NO_SIGNALS
from privacy.crypto import (
    DataKeyDestroyed,
    _master_key_decode,
    data_key_destroy,
    decrypt_for_user,
    encrypt_for_user,
)
from privacy.models import (
    DailySalt,
    KeyStoreSecret,
    ReadingHistoryEntry,
    SignalEvent,
    UserDataKey,
)
from privacy.selectors import HISTORY_CONTEXT
from privacy.tasks import refuse_a_wrong_master_key
from tests.factories import reader_choices

pytestmark = pytest.mark.django_db
OTHER_KEY = "q0lsW2VqUtoRP1nQs0Sg2ZfKqj8QdM6FJ1kJhD0g6pU="


def _main_database_copy() -> dict[str, list[tuple]]:
    """Every row of every table of the main database, as a dump would hold them."""
    main = connections["default"]
    copy = {}
    with main.cursor() as cursor:
        for table in main.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')
            copy[table] = cursor.fetchall()
    return copy


def _byte_values(copy: dict[str, list[tuple]]) -> list[bytes]:
    return [
        bytes(value)
        for rows in copy.values()
        for row in rows
        for value in row
        if isinstance(value, bytes | memoryview)
    ]


def _open_with_any(candidates: list[bytes], *, user_id: int, sealed: bytes) -> str | None:
    """Try every byte string of the copy as the reader's wrapped key, with the master key."""
    master = _master_key_decode(settings.NEWSITE_MASTER_KEY, setting="NEWSITE_MASTER_KEY")
    for wrapped in candidates:
        try:
            data_key = AESGCM(master).decrypt(
                wrapped[:12], wrapped[12:], f"data-key:{user_id}".encode()
            )
            opened = AESGCM(data_key).decrypt(
                sealed[1:13], sealed[13:], f"{HISTORY_CONTEXT}:{user_id}".encode()
            )
        except (InvalidTag, ValueError):
            continue
        return opened.decode()
    return None


def test_a_main_database_copy_taken_before_erasure_plus_the_master_key_cannot_decrypt_the_history(
    reader, article, record_read
):
    reader_choices(reader, counting=True)
    record_read(user=reader, article=article, signals=NO_SIGNALS)
    sealed = bytes(ReadingHistoryEntry.objects.get(user=reader).sealed_article)
    assert decrypt_for_user(user_id=reader.pk, ciphertext=sealed, context=HISTORY_CONTEXT)

    backup = _main_database_copy()  # taken before the erasure, kept by the backup schedule
    assert data_key_destroy(user_id=reader.pk) is True

    # Only the copied rows, the key store as it is now, and the master key.
    assert _open_with_any(_byte_values(backup), user_id=reader.pk, sealed=sealed) is None
    with pytest.raises(DataKeyDestroyed):
        decrypt_for_user(user_id=reader.pk, ciphertext=sealed, context=HISTORY_CONTEXT)


def test_the_main_database_holds_no_key_no_salt_and_no_key_store_secret(
    reader, article, record_read
):
    reader_choices(reader, counting=True)
    record_read(user=reader, article=article, signals=NO_SIGNALS)
    services.consent_digest_publish(day=timezone.localdate())
    assert UserDataKey.objects.exists() and DailySalt.objects.exists()
    assert KeyStoreSecret.objects.exists()

    main_tables = set(connections["default"].introspection.table_names())
    for model in (UserDataKey, DailySalt, KeyStoreSecret):
        assert model._meta.db_table not in main_tables
    # A day's salt would let anyone holding a main-database copy recompute pseudonyms.
    salt = bytes(DailySalt.objects.get().salt)
    assert salt not in _byte_values(_main_database_copy())


def test_a_stolen_master_key_alone_opens_nothing_in_the_main_database(reader, article, record_read):
    reader_choices(reader)
    record_read(user=reader, article=article, signals=NO_SIGNALS)
    sealed = bytes(ReadingHistoryEntry.objects.get(user=reader).sealed_article)
    assert (
        _open_with_any(_byte_values(_main_database_copy()), user_id=reader.pk, sealed=sealed)
        is None
    )


def test_signal_events_carry_no_time_finer_than_their_day(reader, record_read):
    from tests.factories import ArticleFactory

    reader_choices(reader, level="topics", counting=True)
    articles = ArticleFactory.create_batch(5)
    for article in articles:
        record_read(user=reader, article=article, signals=NO_SIGNALS)
    time_fields = (models.DateTimeField, models.TimeField, models.AutoField, models.BigAutoField)
    assert not [f.name for f in SignalEvent._meta.concrete_fields if isinstance(f, time_fields)]
    # Not even the order of writing: the ids are random, not a sequence.
    ids = sorted(SignalEvent.objects.values_list("pk", flat=True))
    assert len(ids) == 5 and ids != list(range(ids[0], ids[0] + 5))


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_history_and_signal_rows_of_one_read_are_written_in_different_transactions(reader):
    if connections["default"].vendor != "postgresql":
        pytest.skip("xmin (the writing transaction's id) exists on PostgreSQL only; CI runs it")
    from tests.factories import ArticleFactory

    article = ArticleFactory()
    reader_choices(reader, counting=True)
    outcome = services.read_store(
        user_id=reader.pk, article_id=article.pk, read_at=timezone.now().isoformat()
    )
    assert outcome.history_kept and outcome.counted
    with connections["default"].cursor() as cursor:
        cursor.execute(f"SELECT xmin::text FROM {ReadingHistoryEntry._meta.db_table}")
        (history_xmin,) = cursor.fetchone()
        cursor.execute(f"SELECT xmin::text FROM {SignalEvent._meta.db_table}")
        (signal_xmin,) = cursor.fetchone()
    assert history_xmin != signal_xmin


def _check_errors() -> str:
    with pytest.raises(SystemCheckError) as failed:
        call_command("check")
    return str(failed.value)


def test_a_wrong_master_key_fails_check_with_a_message_naming_the_problem(settings, reader):
    encrypt_for_user(user=reader, plaintext="Space", context="notes")
    call_command("check")  # the right key passes

    settings.NEWSITE_MASTER_KEY = OTHER_KEY
    message = _check_errors()
    assert "privacy.E011" in message
    assert "not the master key the key store was made with" in message
    with pytest.raises(ImproperlyConfigured, match="not the master key"):
        refuse_a_wrong_master_key()  # and a worker refuses to start


def test_a_malformed_master_key_fails_check_saying_it_is_malformed(settings, db):
    settings.NEWSITE_MASTER_KEY = "not a key!"
    message = _check_errors()
    assert "privacy.E010" in message and "malformed" in message


def test_a_previous_master_key_listed_as_old_passes_check_during_a_rotation(settings, reader):
    encrypt_for_user(user=reader, plaintext="Space", context="notes")
    previous = settings.NEWSITE_MASTER_KEY
    settings.NEWSITE_MASTER_KEY = OTHER_KEY
    settings.NEWSITE_OLD_MASTER_KEYS = [previous]
    call_command("check")
    call_command("rotate_master_key", verbosity=0)
    settings.NEWSITE_OLD_MASTER_KEYS = []
    call_command("check")  # the key-check value was re-wrapped with the data keys
    assert decrypt_for_user(
        user_id=reader.pk,
        ciphertext=encrypt_for_user(user=reader, plaintext="Space", context="notes"),
        context="notes",
    )


def test_a_key_store_made_before_the_check_value_is_checked_against_a_data_key(settings, reader):
    encrypt_for_user(user=reader, plaintext="Space", context="notes")
    KeyStoreSecret.objects.filter(name="key-check").delete()
    settings.NEWSITE_MASTER_KEY = OTHER_KEY
    assert "privacy.E011" in _check_errors()
