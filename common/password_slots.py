"""A site-wide cap on concurrent password hashing.

Hashing a password costs about a second of one core on purpose (PBKDF2 at Django's work
factor), so a handful of sign-in attempts at once (guesses, or a flood) would otherwise take
every core from the pages. Every hash the site computes (sign-in on every path, the token
endpoint, re-authentication, account deletion, sign-up and password changes, and the dummy
hash for unknown accounts) goes through `PasswordHashSlotsMixin`, which holds one of
PASSWORD_HASH_SLOTS slots while it runs. When none frees up within PASSWORD_HASH_WAIT_SECONDS
the request is refused with 429 and Retry-After (`PasswordChecksBusy`), never queued.

The slots are counted in Redis (the cache's server), shared by every worker process. Without
Redis (it is down, or the cache is not Redis) each process counts its own slots: the cap
still holds per process, so it fails closed rather than open."""

import contextlib
import threading
import time
import uuid

import redis
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core.cache import cache
from rest_framework.exceptions import Throttled

from . import error_pages
from .redis_cache import cache_redis

# A worker killed in the middle of a hash frees its slot after this many seconds.
SLOT_LEASE_SECONDS = 15
POLL_SECONDS = 0.05
SLOTS_KEY = "password-hash-slots"
BUSY_MESSAGE = (
    "The site is checking many passwords at this moment; nothing was changed. "
    "Please try again in a few seconds."
)

# Frees expired leases, then takes a slot if fewer than the cap are held. One script, so two
# workers cannot both see the last free slot.
_ACQUIRE_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0
"""


class PasswordChecksBusy(Throttled):
    """Every password-hashing slot is taken: answer 429 and ask the client to retry. A
    throttling refusal, so the API answers it in its own format like any other 429."""

    def __init__(self) -> None:
        super().__init__(
            wait=settings.PASSWORD_HASH_RETRY_AFTER_SECONDS, detail=BUSY_MESSAGE, code="busy"
        )


class _RedisSlots:
    def __init__(self, client) -> None:
        self.client = client
        self.script = client.register_script(_ACQUIRE_SCRIPT)

    def try_take(self, *, token: str, slots: int) -> bool:
        now = time.time()
        taken = self.script(
            keys=[cache.make_key(SLOTS_KEY)],
            args=[now, slots, now + SLOT_LEASE_SECONDS, token, SLOT_LEASE_SECONDS * 2],
        )
        return bool(taken)

    def give_back(self, *, token: str) -> None:
        self.client.zrem(cache.make_key(SLOTS_KEY), token)


class _ProcessSlots:
    """The fallback: this process's own count, under a lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.held: set[str] = set()

    def try_take(self, *, token: str, slots: int) -> bool:
        with self.lock:
            if len(self.held) >= slots:
                return False
            self.held.add(token)
            return True

    def give_back(self, *, token: str) -> None:
        with self.lock:
            self.held.discard(token)


_process_slots = _ProcessSlots()
_held = threading.local()


def _redis_slots() -> _RedisSlots | None:
    """The cache's Redis, when the cache is Redis; None otherwise."""
    client = cache_redis()
    return None if client is None else _RedisSlots(client)


def _take(*, token: str, slots: int):
    """A slot from Redis, or from this process when Redis cannot answer. Returns the store
    that holds it, or None when every slot is taken."""
    shared = _redis_slots()
    if shared is not None:
        try:
            return shared if shared.try_take(token=token, slots=slots) else None
        except redis.RedisError:
            pass  # fall through to this process's own count: closed, not open
    return _process_slots if _process_slots.try_take(token=token, slots=slots) else None


@contextlib.contextmanager
def password_hash_slot():
    """Hold one hashing slot for the duration of the block; raises PasswordChecksBusy when
    none frees up in time. Re-entrant: a hash computed inside another (PBKDF2's hardening of
    an old hash) uses the slot already held."""
    if getattr(_held, "depth", 0):
        _held.depth += 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    token = uuid.uuid4().hex
    deadline = time.monotonic() + settings.PASSWORD_HASH_WAIT_SECONDS
    while (store := _take(token=token, slots=settings.PASSWORD_HASH_SLOTS)) is None:
        if time.monotonic() >= deadline:
            raise PasswordChecksBusy()
        time.sleep(POLL_SECONDS)
    _held.depth = 1
    try:
        yield
    finally:
        _held.depth = 0
        with contextlib.suppress(Exception):  # an unreturned slot expires with its lease
            store.give_back(token=token)


class PasswordHashSlotsMixin:
    """Put in front of a Django password hasher: every hash and check holds a slot."""

    def encode(self, *args, **kwargs):
        with password_hash_slot():
            return super().encode(*args, **kwargs)

    def verify(self, *args, **kwargs):
        with password_hash_slot():
            return super().verify(*args, **kwargs)


class SlotLimitedPBKDF2PasswordHasher(PasswordHashSlotsMixin, PBKDF2PasswordHasher):
    """Django's default hasher (same algorithm name, so existing hashes verify), capped."""


class PasswordChecksBusyMiddleware:
    """Turns PasswordChecksBusy raised in any page (the sign-in forms, the admin's, the
    privacy center's password checks) into the site's error page, 429 with Retry-After. The
    API's views answer it themselves, in the API's format, as any throttling."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, PasswordChecksBusy):
            return None
        response = error_pages.error_page(request, 429, "Please try again shortly", BUSY_MESSAGE)
        response["Retry-After"] = str(exception.wait)
        return response
