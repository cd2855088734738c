"""A write-behind queue for recorded reads, so the article page never waits for them.

The request pushes one small JSON payload onto a Redis list (a fraction of a millisecond; a
Celery message costs several times that). A task drains the list in batches: it reads a batch,
stores it, and only then trims it from the list, so a crash in between delivers the batch
again, and `read_store` is idempotent, so nothing is lost and nothing is counted twice.
Without a Redis broker (none, or the demo's folder of files) or when Redis is down, the read is
stored at once.

A queued read is personal data sitting in Redis, whose dumps (RDB/AOF files, replicas) are
not the key store's: each payload is sealed twice, so a stolen dump holds neither who read
nor what. What was read (article, time, list type, browser signals) is sealed under the
reader's data key, as the feed cache does, so erasing them shreds their queued reads too (the
drain drops what no longer opens). Whose read it is (their id, needed to find that key) is
sealed around it under a subkey (HKDF) of the master key, as `accounts.mfa_secrets` does, and
names the master key it used, so a rotation never strands a queued read. Sealing costs the
request one indexed key lookup on top of the push, after the response is decided.
"""

import base64
import binascii
import json
import logging
import os
from collections import defaultdict
from collections.abc import Callable
from functools import lru_cache

import redis
from celery import current_app as celery_app
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.contrib.auth import get_user_model

from .crypto import (
    DataKeyDestroyed,
    DecryptionFailed,
    decrypt_many_for_user,
    encrypt_for_user,
    master_keys_configured,
)

logger = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def _client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)


def _client() -> redis.Redis:
    return _client_for(celery_app.conf.broker_write_url or celery_app.conf.broker_url)


def _key() -> str:
    return settings.PRIVACY_READ_QUEUE_KEY


def _queue_in_redis() -> bool:
    """Whether the broker is Redis, where the queue is a list. Another broker (the demo's
    folder of files) has no such list: each read is stored in the request, as without one."""
    url = celery_app.conf.broker_write_url or celery_app.conf.broker_url or ""
    return url.startswith(("redis://", "rediss://", "unix://"))


# The field name sealed into the inner layer: it opens only as this reader's queued read.
READ_QUEUE_CONTEXT = "read_queue"
# The task that drains the queue, queued by name: the tasks module imports this one.
DRAIN_TASK = "privacy.tasks.reads_store_queued"
# "rq1$<master key fingerprint>$<url-safe base64 of nonce + ciphertext + tag>".
ENVELOPE_PREFIX = b"rq1"
SEPARATOR = b"$"
NONCE_BYTES = 12
# The subkey's purpose: another use of the master key derives another, unrelated key.
HKDF_INFO = b"newsite:privacy.read-queue:envelope:v1"
# Binds a ciphertext to this use, so none sealed elsewhere under the same subkey opens here.
ASSOCIATED_DATA = b"privacy.read_queue"


class UnreadableQueuedRead(ValueError):
    """A queued payload this site did not seal, or one altered since."""


@lru_cache(maxsize=8)
def _subkey(master_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(master_key)


def read_seal(payload: dict) -> bytes:
    """The queued form of a read decided in the request: nothing in it readable in Redis."""
    user_id = payload["user_id"]
    what = {name: value for name, value in payload.items() if name != "user_id"}
    inner = encrypt_for_user(
        user=get_user_model()(pk=user_id), plaintext=json.dumps(what), context=READ_QUEUE_CONTEXT
    )
    envelope = json.dumps({"user_id": user_id, "read": base64.b64encode(inner).decode()})
    current_id, keys = master_keys_configured()
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(_subkey(keys[current_id])).encrypt(nonce, envelope.encode(), ASSOCIATED_DATA)
    return SEPARATOR.join(
        (ENVELOPE_PREFIX, current_id.encode(), base64.urlsafe_b64encode(nonce + sealed))
    )


def _envelope_open(raw: bytes) -> tuple[int, bytes]:
    """(the reader's id, their sealed read) from a queued payload."""
    parts = bytes(raw).split(SEPARATOR)
    if len(parts) != 3 or parts[0] != ENVELOPE_PREFIX:
        raise UnreadableQueuedRead("Not a read queued by this site.")
    _, keys = master_keys_configured()
    master_key = keys.get(parts[1].decode(errors="replace"))
    if master_key is None:
        raise UnreadableQueuedRead("Sealed under a master key that is not configured.")
    try:
        body = base64.urlsafe_b64decode(parts[2])
        envelope = json.loads(
            AESGCM(_subkey(master_key)).decrypt(
                body[:NONCE_BYTES], body[NONCE_BYTES:], ASSOCIATED_DATA
            )
        )
        return int(envelope["user_id"]), base64.b64decode(envelope["read"])
    except (InvalidTag, binascii.Error, ValueError, TypeError, KeyError) as error:
        raise UnreadableQueuedRead(f"A queued read was altered ({error!r}).") from error


def _reads_open(batch: list[bytes]) -> list[dict]:
    """The payloads of a batch that still open, grouped by reader so each reader's key is
    looked up once. An erased reader's reads no longer open (their key is gone): dropped, as
    they would be by `read_store`. A damaged payload is dropped with a log line rather than
    blocking every read queued behind it."""
    by_reader: dict[int, list[bytes]] = defaultdict(list)
    for raw in batch:
        try:
            user_id, sealed = _envelope_open(raw)
        except UnreadableQueuedRead as error:
            logger.error("Dropped a malformed queued read: %s", error)
            continue
        by_reader[user_id].append(sealed)
    payloads = []
    for user_id, sealed_reads in by_reader.items():
        try:
            opened = decrypt_many_for_user(
                user_id=user_id, ciphertexts=sealed_reads, context=READ_QUEUE_CONTEXT
            )
        except DataKeyDestroyed:
            logger.info("Dropped %d queued reads of an erased reader.", len(sealed_reads))
            continue
        except DecryptionFailed:
            opened = _reads_open_one_by_one(user_id=user_id, sealed_reads=sealed_reads)
        for plaintext in opened:
            try:
                payloads.append({**json.loads(plaintext), "user_id": user_id})
            except (ValueError, TypeError) as error:
                logger.error("Dropped a malformed queued read: %s", error)
    return payloads


def _reads_open_one_by_one(*, user_id: int, sealed_reads: list[bytes]) -> list[str]:
    opened = []
    for sealed in sealed_reads:
        try:
            opened += decrypt_many_for_user(
                user_id=user_id, ciphertexts=[sealed], context=READ_QUEUE_CONTEXT
            )
        except DecryptionFailed as error:
            logger.error("Dropped a malformed queued read: %s", error)
    return opened


def read_enqueue(payload: dict, *, store: Callable[..., object]) -> bool:
    """Queue a read decided in the request; `store` it here when there is no queue to use.
    Whether it was queued (False: stored already)."""
    if celery_app.conf.task_always_eager or not _queue_in_redis():
        store(**payload)
        return False
    sealed = read_seal(payload)
    try:
        waiting = _client().rpush(_key(), sealed)
        if waiting == 1:  # the first read of a batch schedules the drain
            celery_app.tasks[DRAIN_TASK].apply_async(countdown=settings.PRIVACY_READ_FLUSH_SECONDS)
    except (redis.RedisError, OSError) as error:
        # A read must neither be lost nor break the page: store it in the request instead.
        logger.warning("Read queue unavailable (%s); storing a read in the request.", error)
        store(**payload)
        return False
    return True


def reads_drain(*, store: Callable[..., object], batch_size: int = 500) -> int:
    """`store` every queued read; returns how many payloads were handled.

    One drain at a time (a Redis lock): two would store the same batch twice before trimming.
    """
    if not _queue_in_redis():
        return 0  # nothing is ever queued without Redis
    client = _client()
    lock = client.lock(f"{_key()}:lock", timeout=300, blocking=False)
    if not lock.acquire():
        return 0
    handled = 0
    try:
        while batch := client.lrange(_key(), 0, batch_size - 1):
            for payload in _reads_open(batch):
                try:
                    store(**payload)
                except (ValueError, TypeError) as error:
                    logger.error("Dropped a malformed queued read: %s", error)
            client.ltrim(_key(), len(batch), -1)
            handled += len(batch)
    finally:
        lock.release()
    return handled
