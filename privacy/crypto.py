"""Encryption at rest with a data key per reader, wrapped under the site's master key and kept
in the key store (a database of its own); destroying a reader's data key (crypto-shredding)
makes every copy of their sealed data unreadable, in every backup of the main database too."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connections, router, transaction
from django.db.models import BinaryField, CharField, QuerySet, Value
from django.utils import timezone

from .models import KeyStoreSecret, UserDataKey
from .signals import master_key_rotated

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


def master_keys_configured() -> tuple[str, dict[str, bytes]]:
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
    return master_keys_configured()[0]


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
    """A stand-in for the reader's key as read with their session (`accounts.sessions`): the
    key store is another database, so no query of the main one can bring the key along; the
    key is looked up in the key store when something is opened. None when the reader was not
    read with their session (the session's join of the empty `LegacyUserDataKey` marks it)."""
    related = getattr(user.__class__, "data_key", None)
    if getattr(user, "pk", None) is None or related is None or not related.is_cached(user):
        return None
    return LoadedDataKey(user_id=user.pk, wrapped_key=None, master_key_id=None)


def with_data_key(queryset: QuerySet, *, user_field: str = "user") -> QuerySet:
    """`queryset` with the two columns a LoadedDataKey is made from (`data_key_wrapped`,
    `data_key_master_id`), both empty: the key lives in the key store, which no join of the
    main database reaches, so opening data looks it up there (one indexed query)."""
    del user_field  # kept for callers written when the key could be joined
    return queryset.annotate(
        data_key_wrapped=Value(None, output_field=BinaryField()),
        data_key_master_id=Value(None, output_field=CharField()),
    )


@functools.cache
def _data_key_sql() -> str:
    fields = UserDataKey._meta
    return (
        f"SELECT {fields.get_field('wrapped_key').column}, "
        f"{fields.get_field('master_key_id').column} FROM {fields.db_table} "
        f"WHERE {fields.get_field('user_id').column} = %s"
    )


# The wrapped keys read from the key store in the current request, by reader; None outside
# one (Celery tasks, commands: every lookup asks the store). A first visit needs its reader's
# key twice (opening the history, then sealing the kept page): one query of the key store.
_remembered: ContextVar[dict[int, LoadedDataKey] | None] = ContextVar(
    "remembered_data_keys", default=None
)


@contextmanager
def data_keys_remembered() -> Iterator[None]:
    """Remember each wrapped data key read or made inside the block, until the block ends
    (one request: `privacy.key_memo.DataKeyMemoMiddleware`). Never longer: a key shredded
    by another process must be gone for the next request, and no other process could
    forget it. Only the wrapped key is kept; it is unwrapped at each use."""
    token = _remembered.set({})
    try:
        yield
    finally:
        _remembered.reset(token)


def _remember(row: LoadedDataKey) -> None:
    remembered = _remembered.get()
    # Only a committed row: one made or read inside a transaction of the key store could be
    # rolled back, and a remembered key would then seal data that nothing can open.
    if remembered is not None and not connections[_key_store()].in_atomic_block:
        remembered[row.user_id] = row


def _forget(*, user_id: int | None = None) -> None:
    remembered = _remembered.get()
    if remembered is None:
        return
    if user_id is None:
        remembered.clear()
    else:
        remembered.pop(user_id, None)


def _data_key_row(*, user_id: int) -> LoadedDataKey | None:
    remembered = _remembered.get()
    if remembered is not None and user_id in remembered:
        return remembered[user_id]
    # One row per reader (a one-to-one): no ordering, no model instance, only what unwrapping
    # needs. Asked on every personalized page, so written out: building the query with the
    # ORM took several times as long as the key store's answer.
    with connections[router.db_for_read(UserDataKey)].cursor() as cursor:
        cursor.execute(_data_key_sql(), [user_id])
        row = cursor.fetchone()
    if row is None:
        return None  # not remembered: the key may be made later in the same request
    loaded = LoadedDataKey.of(user_id=user_id, wrapped=row[0], master_key_id=row[1])
    _remember(loaded)
    return loaded


# No cache of unwrapped keys across requests: a cached key would outlive data_key_destroy in
# every other process (web workers, Celery), and could outlive a rolled-back key row. One
# indexed lookup a request is cheaper.
def _data_key_get_or_create(*, user_id: int) -> bytes:
    current_id, master_keys = master_keys_configured()
    row = _data_key_row(user_id=user_id)
    if row is not None:
        return _unwrap(row, master_keys=master_keys)
    key_check_ensure()
    data_key = AESGCM.generate_key(bit_length=256)
    try:
        # A savepoint, so losing the race does not break the caller's transaction.
        with transaction.atomic(using=_key_store()):
            created = UserDataKey.objects.create(
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
    _remember(
        LoadedDataKey.of(
            user_id=user_id, wrapped=created.wrapped_key, master_key_id=created.master_key_id
        )
    )
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
    _, master_keys = master_keys_configured()
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
    """Crypto-shred a reader: delete their data key. Returns whether they had one.

    The key store commits on its own (outside the caller's transaction on the main database):
    a shred is never rolled back. On PostgreSQL the key table is then vacuumed, so the dead
    row's space is marked for reuse rather than kept for the next routine vacuum.
    """
    _forget(user_id=user_id)
    deleted, _ = UserDataKey.objects.filter(user_id=user_id).delete()
    if deleted:
        transaction.on_commit(_key_table_vacuum, using=_key_store())
    return deleted > 0


def data_key_destroy_after_reader_deletion(sender, instance, using, **kwargs) -> None:
    """post_delete of the user model: shred the deleted reader's key once that commits."""
    user_id = instance.pk
    transaction.on_commit(lambda: data_key_destroy(user_id=user_id), using=using)


def _key_store() -> str:
    return router.db_for_write(UserDataKey)


def _key_table_vacuum() -> None:
    connection = connections[_key_store()]
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return  # VACUUM cannot run inside a transaction block (a test's, or a caller's)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {UserDataKey._meta.db_table}")


# --- Key-store secrets --------------------------------------------------------------------

KEY_CHECK = "key-check"
# Sealed under the master key once; opening it proves the configured key is the store's own.
KEY_CHECK_PLAINTEXT = b"newsite key store: the master key is the right one"
CONSENT_CHAIN_KEY = "consent-chain"


def _secret_associated_data(name: str) -> bytes:
    return f"key-store-secret:{name}".encode()


def _secret_seal(*, name: str, value: bytes, master_key: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(master_key).encrypt(nonce, value, _secret_associated_data(name))


def _secret_open(row: KeyStoreSecret, *, master_keys: dict[str, bytes]) -> bytes:
    master_key = master_keys.get(row.master_key_id)
    if master_key is None:
        raise MasterKeyMissing(
            f"The key store's {row.name} is sealed under master key {row.master_key_id}, which "
            "is neither NEWSITE_MASTER_KEY nor in NEWSITE_OLD_MASTER_KEYS."
        )
    wrapped = bytes(row.wrapped_value)
    try:
        return AESGCM(master_key).decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _secret_associated_data(row.name)
        )
    except InvalidTag as error:
        raise DecryptionFailed(f"The key store's {row.name} does not open.") from error


def _secret_get_or_create(*, name: str, make: Callable[[], bytes]) -> bytes:
    current_id, master_keys = master_keys_configured()
    row = KeyStoreSecret.objects.filter(name=name).first()
    if row is not None:
        return _secret_open(row, master_keys=master_keys)
    value = make()
    try:
        with transaction.atomic(using=_key_store()):
            KeyStoreSecret.objects.create(
                name=name,
                wrapped_value=_secret_seal(
                    name=name, value=value, master_key=master_keys[current_id]
                ),
                master_key_id=current_id,
            )
    except IntegrityError:  # another process made it first: theirs is the one
        return _secret_open(KeyStoreSecret.objects.get(name=name), master_keys=master_keys)
    return value


def key_check_ensure() -> None:
    """Seal the key-check value under the current master key, once per key store."""
    _secret_get_or_create(name=KEY_CHECK, make=lambda: KEY_CHECK_PLAINTEXT)


def consent_chain_key() -> bytes:
    """The key of the consent receipts' HMAC chain, made on first use; never leaves the key
    store except in this process's memory, so a writer of the main database cannot forge a
    receipt that verifies."""
    key_check_ensure()
    return _secret_get_or_create(name=CONSENT_CHAIN_KEY, make=lambda: os.urandom(32))


@dataclass(frozen=True)
class MasterKeyProblem:
    """Why the configured master key cannot serve: `malformed` (not a key at all) or `wrong`
    (a key, but not the one the key store was made with)."""

    kind: str
    message: str


def master_key_problem() -> MasterKeyProblem | None:
    """Check NEWSITE_MASTER_KEY (and the old keys) against the key store's check value.

    With no check value yet (a new store, or one made before it was kept), one data key is
    opened instead. Raises django.db.DatabaseError when the key store cannot be read.
    """
    try:
        current_id, master_keys = master_keys_configured()
    except ImproperlyConfigured as error:
        return MasterKeyProblem("malformed", f"The master key is malformed: {error}")
    check = KeyStoreSecret.objects.filter(name=KEY_CHECK).first()
    row = None
    try:
        if check is not None:
            opened = _secret_open(check, master_keys=master_keys)
            if opened != KEY_CHECK_PLAINTEXT:
                raise DecryptionFailed("The key-check value is not the expected one.")
            return None
        row = _data_key_row_any()
        if row is not None:
            _unwrap(row, master_keys=master_keys)
    except (MasterKeyMissing, DecryptionFailed):
        sealed_under = check.master_key_id if check is not None else row.master_key_id
        return MasterKeyProblem(
            "wrong",
            f"NEWSITE_MASTER_KEY (fingerprint {current_id}) is not the master key the key store "
            f"was made with (fingerprint {sealed_under}): it cannot open the store's "
            f"{'key-check value' if check is not None else 'data keys'}. Set the right key, or "
            "list the old one in NEWSITE_OLD_MASTER_KEYS and run `manage.py rotate_master_key`.",
        )
    return None


def _data_key_row_any() -> LoadedDataKey | None:
    row = UserDataKey.objects.values_list("user_id", "wrapped_key", "master_key_id").first()
    if row is None:
        return None
    return LoadedDataKey.of(user_id=row[0], wrapped=row[1], master_key_id=row[2])


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
    current_id, master_keys = master_keys_configured()
    _forget()  # every remembered key is about to be wrapped anew
    stale = UserDataKey.objects.exclude(master_key_id=current_id)
    stale_secrets = KeyStoreSecret.objects.exclude(master_key_id=current_id)
    unknown = (
        set(stale.values_list("master_key_id", flat=True).distinct())
        | set(stale_secrets.values_list("master_key_id", flat=True).distinct())
    ) - master_keys.keys()
    if unknown:
        raise MasterKeyMissing(
            f"Data keys are wrapped under master key {', '.join(sorted(unknown))}, which is "
            "neither NEWSITE_MASTER_KEY nor in NEWSITE_OLD_MASTER_KEYS; nothing was re-wrapped."
        )
    with transaction.atomic(using=_key_store()):
        # The key-check value and the consent-chain key: a handful of rows, in one go.
        for secret in stale_secrets.select_for_update():
            value = _secret_open(secret, master_keys=master_keys)
            secret.wrapped_value = _secret_seal(
                name=secret.name, value=value, master_key=master_keys[current_id]
            )
            secret.master_key_id = current_id
            secret.rotated_at = timezone.now()
            KeyStoreSecret.objects.filter(pk=secret.pk).update(
                wrapped_value=secret.wrapped_value,
                master_key_id=current_id,
                rotated_at=secret.rotated_at,
            )
    total = stale.count()
    if progress is not None:
        progress(0, total)
    done = 0
    last_pk = 0
    while True:
        with transaction.atomic(using=_key_store()):
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
    # Every key is under the current master key now; what other apps seal under it follows.
    master_key_rotated.send(sender=master_keys_rotate)
    return done
