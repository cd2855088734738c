"""Encryption at rest with a data key per reader, wrapped under the site's master key; destroying
a reader's data key (crypto-shredding) makes every copy of their sealed data unreadable."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from .models import UserDataKey

# The first byte of every ciphertext, so a future format can be told apart from this one.
FORMAT_VERSION = b"\x01"
NONCE_BYTES = 12
TAG_BYTES = 16


class DataKeyDestroyed(Exception):
    """The reader's data key is gone, so their data can no longer be read by anyone."""


class DecryptionFailed(Exception):
    """The ciphertext was altered, or belongs to another reader or another field."""


class MasterKeyMissing(ImproperlyConfigured):
    """A data key is wrapped under a master key that is not configured."""


def _master_key_decode(value: str, *, setting: str) -> bytes:
    try:
        key = base64.b64decode(value.strip(), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as error:
        raise ImproperlyConfigured(f"{setting} is not url-safe base64.") from error
    if len(key) != 32:
        raise ImproperlyConfigured(f"{setting} must decode to 32 bytes, not {len(key)}.")
    return key


def _fingerprint(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


def _master_keys() -> tuple[str, dict[str, bytes]]:
    """Return the current master key's fingerprint and every configured key by fingerprint.

    Read from settings on every call, so a changed setting (or a test's override) takes effect.
    """
    current = _master_key_decode(settings.NEWSITE_MASTER_KEY, setting="NEWSITE_MASTER_KEY")
    keys = {
        _fingerprint(old): old
        for old in (
            _master_key_decode(value, setting="NEWSITE_OLD_MASTER_KEYS")
            for value in settings.NEWSITE_OLD_MASTER_KEYS
            if value.strip()
        )
    }
    current_id = _fingerprint(current)
    keys[current_id] = current
    return current_id, keys


def master_key_fingerprint() -> str:
    """The fingerprint of the current master key, as stored in `UserDataKey.master_key_id`."""
    return _master_keys()[0]


def _wrap_associated_data(user_id: int) -> bytes:
    # Binds a wrapped key to its reader, so swapping two readers' rows does not swap their keys.
    return f"data-key:{user_id}".encode()


def _wrap(*, data_key: bytes, user_id: int, master_key: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(master_key).encrypt(nonce, data_key, _wrap_associated_data(user_id))


def _unwrap(row: UserDataKey | LoadedDataKey, *, master_keys: dict[str, bytes]) -> bytes:
    master_key = master_keys.get(row.master_key_id)
    if master_key is None:
        raise MasterKeyMissing(
            f"The data key of reader {row.user_id} is wrapped under master key "
            f"{row.master_key_id}, which is neither NEWSITE_MASTER_KEY nor in "
            "NEWSITE_OLD_MASTER_KEYS."
        )
    wrapped = bytes(row.wrapped_key)  # PostgreSQL hands back a memoryview
    try:
        return AESGCM(master_key).decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _wrap_associated_data(row.user_id)
        )
    except InvalidTag as error:
        raise DecryptionFailed(f"The data key of reader {row.user_id} is damaged.") from error


def _associated_data(*, user_id: int, context: str) -> bytes:
    if not context:
        raise ValueError("A context naming what is encrypted is required.")
    # A ciphertext only opens for the reader and the field it was sealed for.
    return f"{context}:{user_id}".encode()


@dataclass(frozen=True)
class LoadedDataKey:
    """A reader's wrapped data key, read along with another row of theirs (`with_data_key`)
    to save a round trip; `wrapped_key` is None when they have none (destroyed)."""

    user_id: int
    wrapped_key: bytes | None
    master_key_id: str | None

    @classmethod
    def of(cls, *, user_id: int, wrapped, master_key_id: str | None) -> LoadedDataKey:
        """From the two `with_data_key` columns (PostgreSQL hands back a memoryview)."""
        return cls(
            user_id=user_id,
            wrapped_key=None if wrapped is None else bytes(wrapped),
            master_key_id=master_key_id,
        )


def data_key_loaded_with(user) -> LoadedDataKey | None:
    """The reader's wrapped key as it was read with their session (`accounts.sessions`), so
    a signed-in page opens their data without asking for it again; None when it was not."""
    related = user.__class__.data_key
    if not related.is_cached(user):
        return None
    row = related.related.get_cached_value(user)
    if row is None:
        return LoadedDataKey(user_id=user.pk, wrapped_key=None, master_key_id=None)
    return LoadedDataKey.of(
        user_id=user.pk, wrapped=row.wrapped_key, master_key_id=row.master_key_id
    )


def with_data_key(queryset: QuerySet, *, user_field: str = "user") -> QuerySet:
    """`queryset`, of rows that belong to one reader, with that reader's wrapped data key as
    two more columns (`data_key_wrapped`, `data_key_master_id`) for a LoadedDataKey: for a
    page that reads such a row anyway and then opens something sealed for them."""
    # An empty `user_field`: the rows are the readers themselves.
    key = f"{user_field}__data_key" if user_field else "data_key"
    return queryset.annotate(
        data_key_wrapped=F(f"{key}__wrapped_key"), data_key_master_id=F(f"{key}__master_key_id")
    )


def _data_key_row(*, user_id: int) -> LoadedDataKey | None:
    # One row per reader (a one-to-one): no ordering, no model instance, only what unwrapping
    # needs. Asked on every personalized page.
    row = (
        UserDataKey.objects.filter(user_id=user_id)
        .values_list("wrapped_key", "master_key_id")
        .first()
    )
    if row is None:
        return None
    return LoadedDataKey.of(user_id=user_id, wrapped=row[0], master_key_id=row[1])


# No cache of unwrapped keys: a cached key would outlive data_key_destroy in every other process
# (web workers, Celery), and could outlive a rolled-back key row. One indexed lookup is cheaper.
def _data_key_get_or_create(*, user_id: int) -> bytes:
    current_id, master_keys = _master_keys()
    row = _data_key_row(user_id=user_id)
    if row is not None:
        return _unwrap(row, master_keys=master_keys)
    data_key = AESGCM.generate_key(bit_length=256)
    try:
        # A savepoint, so losing the race does not break the caller's transaction.
        with transaction.atomic():
            UserDataKey.objects.create(
                user_id=user_id,
                wrapped_key=_wrap(
                    data_key=data_key, user_id=user_id, master_key=master_keys[current_id]
                ),
                master_key_id=current_id,
            )
    except IntegrityError:
        # Another request created the reader's key first: use theirs, never a second one.
        row = UserDataKey.objects.get(user_id=user_id)
        return _unwrap(row, master_keys=master_keys)
    return data_key


def encrypt_for_user(*, user, plaintext: str, context: str) -> bytes:
    """Seal `plaintext` for `user` under their data key, creating the key on first use.

    `context` names the field (e.g. "reading_history"); decrypting needs the same one.
    Returns the version byte, the nonce, then the ciphertext with its tag.
    """
    return encrypt_many_for_user(user=user, plaintexts=[plaintext], context=context)[0]


def encrypt_many_for_user(*, user, plaintexts: list[str], context: str) -> list[bytes]:
    """Seal several plaintexts for `user`, looking up (or creating) their key once."""
    if user.pk is None:
        raise ValueError("The reader must be saved before data is encrypted for them.")
    associated_data = _associated_data(user_id=user.pk, context=context)
    cipher = AESGCM(_data_key_get_or_create(user_id=user.pk))
    sealed = []
    for plaintext in plaintexts:
        nonce = os.urandom(NONCE_BYTES)
        sealed.append(
            FORMAT_VERSION
            + nonce
            + cipher.encrypt(nonce, plaintext.encode("utf-8"), associated_data)
        )
    return sealed


def decrypt_for_user(
    *, user_id: int, ciphertext: bytes, context: str, loaded_key: LoadedDataKey | None = None
) -> str:
    """Open a ciphertext from `encrypt_for_user`.

    Raises DataKeyDestroyed when the reader's key was destroyed (or never existed), and
    DecryptionFailed when the ciphertext was altered or sealed for another reader or context.
    With `loaded_key` (read by the caller's own query), the key is not looked up again.
    """
    return decrypt_many_for_user(
        user_id=user_id, ciphertexts=[ciphertext], context=context, loaded_key=loaded_key
    )[0]


def decrypt_many_for_user(
    *,
    user_id: int,
    ciphertexts: list[bytes],
    context: str,
    loaded_key: LoadedDataKey | None = None,
) -> list[str]:
    """Open several ciphertexts of one reader, looking up and unwrapping their key once."""
    associated_data = _associated_data(user_id=user_id, context=context)
    opened = [bytes(ciphertext) for ciphertext in ciphertexts]
    for ciphertext in opened:
        if ciphertext[:1] != FORMAT_VERSION or len(ciphertext) < 1 + NONCE_BYTES + TAG_BYTES:
            raise DecryptionFailed("Not a ciphertext this site wrote.")
    if not opened:
        return []
    if loaded_key is not None and loaded_key.user_id != user_id:
        raise ValueError("The key given is another reader's.")
    row = loaded_key
    if row is None or row.wrapped_key is None:
        # Read again when the key was missing as loaded: it may have been made since (a
        # first read recorded earlier in the same request).
        row = _data_key_row(user_id=user_id)
    if row is None or row.wrapped_key is None:
        raise DataKeyDestroyed(f"The data key of reader {user_id} has been destroyed.")
    _, master_keys = _master_keys()
    cipher = AESGCM(_unwrap(row, master_keys=master_keys))
    plaintexts = []
    for ciphertext in opened:
        nonce, sealed = ciphertext[1 : 1 + NONCE_BYTES], ciphertext[1 + NONCE_BYTES :]
        try:
            plaintexts.append(cipher.decrypt(nonce, sealed, associated_data).decode("utf-8"))
        except InvalidTag as error:
            raise DecryptionFailed(
                f"The ciphertext was altered, or is not reader {user_id}'s {context}."
            ) from error
    return plaintexts


def data_key_destroy(*, user_id: int) -> bool:
    """Crypto-shred a reader: delete their data key. Returns whether they had one."""
    deleted, _ = UserDataKey.objects.filter(user_id=user_id).delete()
    return deleted > 0


MAX_ROTATION_BATCH = 100_000


def master_keys_rotate(
    *, batch_size: int = 500, progress: Callable[[int, int], None] | None = None
) -> int:
    """Re-wrap every data key not yet under the current master key; returns how many.

    Keys wrapped under a master key in NEWSITE_OLD_MASTER_KEYS are unwrapped with it. If any
    key's master key is not configured, nothing is changed. `progress(done, total)` is called
    before the first batch and after each one. Running it again re-wraps nothing.
    """
    if not 1 <= batch_size <= MAX_ROTATION_BATCH:
        # Beyond PostgreSQL's LIMIT range a huge batch would fail inside the query instead.
        raise ValueError(f"The batch size must be from 1 to {MAX_ROTATION_BATCH:,}.")
    current_id, master_keys = _master_keys()
    stale = UserDataKey.objects.exclude(master_key_id=current_id)
    unknown = set(stale.values_list("master_key_id", flat=True).distinct()) - master_keys.keys()
    if unknown:
        raise MasterKeyMissing(
            f"Data keys are wrapped under master key {', '.join(sorted(unknown))}, which is "
            "neither NEWSITE_MASTER_KEY nor in NEWSITE_OLD_MASTER_KEYS; nothing was re-wrapped."
        )
    total = stale.count()
    if progress is not None:
        progress(0, total)
    done = 0
    last_pk = 0
    while True:
        with transaction.atomic():
            # Locked, so a data_key_destroy running meanwhile waits and its delete still wins.
            batch = list(
                stale.filter(pk__gt=last_pk).order_by("pk").select_for_update()[:batch_size]
            )
            if not batch:
                break
            now = timezone.now()
            for row in batch:
                data_key = _unwrap(row, master_keys=master_keys)
                row.wrapped_key = _wrap(
                    data_key=data_key, user_id=row.user_id, master_key=master_keys[current_id]
                )
                row.master_key_id = current_id
                row.rotated_at = now
            # An UPDATE only: unlike save(), it can never re-insert a key that was destroyed.
            UserDataKey.objects.bulk_update(batch, ["wrapped_key", "master_key_id", "rotated_at"])
        last_pk = batch[-1].pk
        done += len(batch)
        if progress is not None:
            progress(done, total)
    return done
