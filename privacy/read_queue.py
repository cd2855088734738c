"""A write-behind queue for recorded reads, so the article page never waits for them.

The request pushes one small JSON payload onto a Redis list (a fraction of a millisecond; a
Celery message costs several times that). A task drains the list in batches: it reads a batch,
stores it, and only then trims it from the list, so a crash in between delivers the batch
again, and `read_store` is idempotent, so nothing is lost and nothing is counted twice.
Without a broker (the embedded default) or when Redis is down, the read is stored at once.
"""

import json
import logging
from functools import lru_cache

import redis
from celery import current_app as celery_app
from django.conf import settings

logger = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def _client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)


def _client() -> redis.Redis:
    return _client_for(celery_app.conf.broker_write_url or celery_app.conf.broker_url)


def _key() -> str:
    return settings.PRIVACY_READ_QUEUE_KEY


def read_enqueue(payload: dict) -> None:
    """Queue a read decided in the request; store it here when there is no queue to use."""
    from .services import read_store

    if celery_app.conf.task_always_eager:
        read_store(**payload)
        return
    try:
        waiting = _client().rpush(_key(), json.dumps(payload))
        if waiting == 1:  # the first read of a batch schedules the drain
            from .tasks import store_queued_reads

            store_queued_reads.apply_async(countdown=settings.PRIVACY_READ_FLUSH_SECONDS)
    except (redis.RedisError, OSError) as error:
        # A read must neither be lost nor break the page: store it in the request instead.
        logger.warning("Read queue unavailable (%s); storing a read in the request.", error)
        read_store(**payload)


def reads_store_queued(*, batch_size: int = 500) -> int:
    """Store every queued read; returns how many payloads were handled.

    One drain at a time (a Redis lock): two would store the same batch twice before trimming.
    """
    from .services import read_store

    client = _client()
    lock = client.lock(f"{_key()}:lock", timeout=300, blocking=False)
    if not lock.acquire():
        return 0
    handled = 0
    try:
        while batch := client.lrange(_key(), 0, batch_size - 1):
            for raw in batch:
                try:
                    read_store(**json.loads(raw))
                except (ValueError, TypeError) as error:
                    # A malformed payload is dropped with a log line rather than blocking
                    # every read queued behind it.
                    logger.error("Dropped a malformed queued read: %s", error)
            client.ltrim(_key(), len(batch), -1)
            handled += len(batch)
    finally:
        lock.release()
    return handled
