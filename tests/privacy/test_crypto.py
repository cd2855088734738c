"""Encryption at rest: sealed data opens only for its reader and field, never after shredding."""

import base64
import hashlib
import os
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from accounts.models import User
from privacy.crypto import (
    DataKeyDestroyed,
    DecryptionFailed,
    LoadedDataKey,
    data_key_destroy,
    decrypt_for_user,
    encrypt_for_user,
    with_data_key,
)
from privacy.models import UserDataKey
from tests.factories import ReaderFactory
from tests.processes import PRODUCTION_ENV, manage


def new_master_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def fingerprint(key: str) -> str:
    return hashlib.sha256(base64.urlsafe_b64decode(key)).hexdigest()[:16]


KEY_A = new_master_key()
KEY_B = new_master_key()


@pytest.fixture
def master_key_a(settings):
    settings.NEWSITE_MASTER_KEY = KEY_A
    settings.NEWSITE_OLD_MASTER_KEYS = []
    return settings


def rotate(*args) -> str:
    out = StringIO()
    call_command("rotate_master_key", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("plaintext", ["climate, local politics", "Zoë’s notes ✓", ""])
def test_round_trip(reader, plaintext):
    sealed = encrypt_for_user(user=reader, plaintext=plaintext, context="reading_history")

    assert decrypt_for_user(user_id=reader.pk, ciphertext=sealed, context="reading_history") == (
        plaintext
    )


@pytest.mark.django_db
def test_the_same_text_seals_differently_each_time_under_one_data_key(reader):
    first = encrypt_for_user(user=reader, plaintext="same words", context="notes")
    second = encrypt_for_user(user=reader, plaintext="same words", context="notes")

    assert first != second
    assert decrypt_for_user(user_id=reader.pk, ciphertext=second, context="notes") == "same words"
    assert UserDataKey.objects.filter(user_id=reader.pk).count() == 1


@pytest.mark.django_db
def test_a_ciphertext_copied_to_another_reader_does_not_open(reader):
    other = ReaderFactory()
    encrypt_for_user(user=other, plaintext="their own data", context="notes")
    sealed = encrypt_for_user(user=reader, plaintext="private", context="notes")

    with pytest.raises(DecryptionFailed):
        decrypt_for_user(user_id=other.pk, ciphertext=sealed, context="notes")


@pytest.mark.django_db
def test_a_ciphertext_copied_to_another_field_does_not_open(reader):
    sealed = encrypt_for_user(user=reader, plaintext="private", context="reading_history")

    with pytest.raises(DecryptionFailed):
        decrypt_for_user(user_id=reader.pk, ciphertext=sealed, context="search_history")


@pytest.mark.django_db
@pytest.mark.parametrize("position", [0, 1, 13, -1], ids=["version", "nonce", "body", "tag"])
def test_changing_any_byte_is_detected(reader, position):
    sealed = bytearray(encrypt_for_user(user=reader, plaintext="private", context="notes"))
    sealed[position] ^= 0x01

    with pytest.raises(DecryptionFailed):
        decrypt_for_user(user_id=reader.pk, ciphertext=bytes(sealed), context="notes")


@pytest.mark.django_db
def test_after_shredding_even_a_backup_copy_cannot_be_read(reader):
    backup = encrypt_for_user(user=reader, plaintext="reading history", context="notes")

    assert data_key_destroy(user_id=reader.pk) is True

    assert not UserDataKey.objects.filter(user_id=reader.pk).exists()
    with pytest.raises(DataKeyDestroyed):
        decrypt_for_user(user_id=reader.pk, ciphertext=backup, context="notes")
    assert data_key_destroy(user_id=reader.pk) is False


def _loaded_key(user_id: int) -> LoadedDataKey:
    # As a page reads it: along with a row of the reader's, here their own user row.
    wrapped, master_key_id = (
        with_data_key(User.objects.filter(pk=user_id), user_field="")
        .values_list("data_key_wrapped", "data_key_master_id")
        .get()
    )
    return LoadedDataKey.of(user_id=user_id, wrapped=wrapped, master_key_id=master_key_id)


@pytest.mark.django_db
def test_a_key_read_along_with_another_row_opens_only_that_readers_data(reader):
    other = ReaderFactory()
    sealed = encrypt_for_user(user=reader, plaintext="Space", context="notes")
    encrypt_for_user(user=other, plaintext="Food", context="notes")

    key = _loaded_key(reader.pk)
    assert decrypt_for_user(user_id=reader.pk, ciphertext=sealed, context="notes", loaded_key=key)
    with pytest.raises(ValueError):
        decrypt_for_user(user_id=other.pk, ciphertext=sealed, context="notes", loaded_key=key)
    with pytest.raises(DecryptionFailed):
        decrypt_for_user(
            user_id=other.pk, ciphertext=sealed, context="notes", loaded_key=_loaded_key(other.pk)
        )

    data_key_destroy(user_id=reader.pk)
    with pytest.raises(DataKeyDestroyed):
        decrypt_for_user(
            user_id=reader.pk, ciphertext=sealed, context="notes", loaded_key=_loaded_key(reader.pk)
        )


@pytest.mark.django_db
def test_deleting_a_reader_shreds_their_data_key(reader, django_capture_on_commit_callbacks):
    backup = encrypt_for_user(user=reader, plaintext="reading history", context="notes")
    user_id = reader.pk

    # The key store is another database: the key goes once the deletion commits.
    with django_capture_on_commit_callbacks(execute=True):
        reader.delete()

    with pytest.raises(DataKeyDestroyed):
        decrypt_for_user(user_id=user_id, ciphertext=backup, context="notes")


@pytest.mark.django_db
def test_rotation_rewraps_every_key_and_data_still_opens(master_key_a):
    readers = ReaderFactory.create_batch(3)
    sealed = {
        r.pk: encrypt_for_user(user=r, plaintext=f"for {r.pk}", context="notes") for r in readers
    }
    master_key_a.NEWSITE_MASTER_KEY = KEY_B
    master_key_a.NEWSITE_OLD_MASTER_KEYS = [KEY_A]

    output = rotate("--batch-size", "2")

    assert f"Re-wrapped 3 data keys under master key {fingerprint(KEY_B)}." in output
    assert set(UserDataKey.objects.values_list("master_key_id", flat=True)) == {fingerprint(KEY_B)}
    assert all(key.rotated_at for key in UserDataKey.objects.all())
    # The old key is no longer needed once rotation has finished.
    master_key_a.NEWSITE_OLD_MASTER_KEYS = []
    for user_id, ciphertext in sealed.items():
        assert decrypt_for_user(user_id=user_id, ciphertext=ciphertext, context="notes") == (
            f"for {user_id}"
        )
    assert "Re-wrapped 0 data keys" in rotate()


@pytest.mark.django_db
def test_rotation_with_an_unconfigured_old_key_changes_nothing(master_key_a, reader):
    sealed = encrypt_for_user(user=reader, plaintext="private", context="notes")
    before = UserDataKey.objects.get(user_id=reader.pk)
    master_key_a.NEWSITE_MASTER_KEY = KEY_B
    master_key_a.NEWSITE_OLD_MASTER_KEYS = [new_master_key()]

    with pytest.raises(CommandError, match=fingerprint(KEY_A)):
        rotate()

    after = UserDataKey.objects.get(user_id=reader.pk)
    assert (bytes(after.wrapped_key), after.master_key_id, after.rotated_at) == (
        bytes(before.wrapped_key),
        fingerprint(KEY_A),
        None,
    )
    master_key_a.NEWSITE_MASTER_KEY = KEY_A
    assert decrypt_for_user(user_id=reader.pk, ciphertext=sealed, context="notes") == "private"


@pytest.mark.django_db
def test_a_malformed_master_key_is_reported_clearly(settings, reader):
    settings.NEWSITE_MASTER_KEY = base64.urlsafe_b64encode(b"too short").decode()

    with pytest.raises(ImproperlyConfigured, match="NEWSITE_MASTER_KEY must decode to 32 bytes"):
        encrypt_for_user(user=reader, plaintext="private", context="notes")


def test_production_without_a_master_key_refuses_to_start():
    result = manage("check", env_overrides={**PRODUCTION_ENV, "NEWSITE_MASTER_KEY": ""})

    assert result.returncode != 0
    assert "NEWSITE_MASTER_KEY must be set when DEBUG is off" in result.stderr
