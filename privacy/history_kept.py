"""A reader's latest reads, kept sealed in the shared cache while their history is unchanged,
so a personalized page computed again (page 2, a kept page expired, a new model) does not read
and open every entry of their history again.

Two entries per reader: the copy (their reads as the feed asks for them, sealed with their
data key under its own context, so it opens only as this) and a token that changes whenever
their data does (`reader_data_changed_send`, after the commit; also on every history write).
A copy is made under the token read *before* its rows were queried, and used only while that
token is still current: a change committed after the read moves the token, so a copy made from
the rows before it never passes for current. No token (a new or flushed cache): no copy is
made, and a token is set for the next page. The copy lives `HISTORY_READS_KEPT_SECONDS` at
most; the nightly retention purge sends no change, so a read it removes stays in a copy at most
that long. With the data key destroyed the copy is noise; erasure also deletes it.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import secrets
import struct
from dataclasses import dataclass
from operator import attrgetter
from typing import NamedTuple

import redis
from django.conf import settings
from django.core.cache import cache, caches

from common.redis_cache import cache_redis

from .crypto import (
    DataKeyDestroyed,
    DecryptionFailed,
    data_key_loaded_with,
    decrypt_for_user,
    encrypt_for_user,
)
from .selectors import HistoryRead, history_read_at, history_reads_for_user, reads_wanted

# The field name a copy is sealed under: it opens only as this reader's kept reads.
READS_KEPT_CONTEXT = "history.reads_kept"
# A read as the copy packs it: entry id, article id, seconds since 1970 (200 reads open in a
# third of the time JSON takes).
_READ = struct.Struct("<qqd")
# A token outlives what is made under it (copies, kept pages), so a missing one means a new or
# flushed cache, or a reader whose data did not change for a week (made again on their page).
TOKEN_SECONDS = 7 * 24 * 3600


def reads_kept_keys(user_id: int) -> tuple[str, str]:
    """(the copy, its token) in the shared cache: a page reads both with its other marks."""
    return f"history:reads:{user_id}", data_token_key(user_id)


def data_token_key(user_id: int) -> str:
    """The reader's token: it moves whenever their data changes (committed), so anything kept
    from their data can say which state it was made from (their copy of their reads, their
    kept front page)."""
    return f"history:reads-token:{user_id}"


def data_token_make(*, user_id: int) -> str | None:
    """A token for a reader who has none (a new or flushed cache, or a week without a change),
    unless one was set meanwhile; the reader's token either way (None: the cache is down).
    What is then made from their data is made after it, so a change after it moves it."""
    key = data_token_key(user_id)
    cache.add(key, secrets.token_hex(8), TOKEN_SECONDS)
    return cache.get(key)


@dataclass(frozen=True)
class ReadsAsked:
    """Which of a reader's reads a page asks for (newest first): at most `limit`, of which
    only the newest `newest` and those read at or after `since` (seconds since 1970; None:
    every one) are opened (`selectors.reads_wanted`)."""

    limit: int
    since: float | None = None
    newest: int = 0

    def cut(self, reads: list[HistoryRead]) -> list[HistoryRead]:
        reads = reads[: self.limit]
        wanted = reads_wanted(
            reads, since=self.since, newest=self.newest, epoch_of=attrgetter("read_epoch")
        )
        return reads[:wanted]


class _Copy(NamedTuple):
    """A copy, opened: the token it was made under, what it was made for and its reads."""

    token: str
    asked: ReadsAsked
    reads: list[HistoryRead]

    def holds(self, asked: ReadsAsked) -> bool:
        """Whether it holds every read `asked` wants. A copy of reads since a time holds all
        since any later time (the window of stories a page may show only moves on); one
        made without a time and of fewer reads than its limit holds all the reader has."""
        made = self.asked
        if made.since is None:
            return made.limit >= asked.limit or len(self.reads) < made.limit
        return (
            asked.since is not None
            and asked.since >= made.since
            and asked.newest <= made.newest
            and asked.limit <= made.limit
        )


@dataclass(frozen=True)
class CopyToKeep:
    """A copy made from the rows just read, to be stored while its token is current."""

    copy_key: str
    token_key: str
    token: str
    sealed: bytes


def history_reads_kept(
    *, user, asked: ReadsAsked, found: dict | None, later: list | None = None
) -> list[HistoryRead]:
    """`history_reads_for_user` of the reads `asked` for: from the reader's copy while it is
    current, else from the database (then kept, made for what was asked). `found` holds the
    cache's values of `reads_kept_keys(user.pk)`, read before this call; None: not read,
    nothing kept. With `later`, a copy to keep is added to it instead, for `copies_keep` to
    store with the caller's own write (one round trip instead of two)."""
    seconds = settings.HISTORY_READS_KEPT_SECONDS
    if found is None or seconds <= 0:
        return _reads_from_rows(user=user, asked=asked)
    copy_key, token_key = reads_kept_keys(user.pk)
    token = found.get(token_key)
    opened = _copy_open(user=user, copy=found.get(copy_key))
    if opened is not None and token is not None and opened.token == token and opened.holds(asked):
        return asked.cut(opened.reads)
    reads = _reads_from_rows(user=user, asked=asked)
    if token is None:
        # Nothing to make a copy under: a copy made now could miss a change set meanwhile.
        data_token_make(user_id=user.pk)
        return reads
    copy = CopyToKeep(
        copy_key=copy_key,
        token_key=token_key,
        token=token,
        sealed=_copy_sealed(user=user, token=token, asked=asked, reads=reads),
    )
    if later is None:
        copies_keep([copy])
    else:
        later.append(copy)
    return reads


def _reads_from_rows(*, user, asked: ReadsAsked) -> list[HistoryRead]:
    return history_reads_for_user(
        user=user, limit=asked.limit, since=asked.since, newest=asked.newest
    )


def _copy_sealed(*, user, token: str, asked: ReadsAsked, reads: list[HistoryRead]) -> bytes:
    # One call for every read (packing them one by one took most of the copy's making).
    packed = struct.pack("<" + _READ.format[1:] * len(reads), *itertools.chain.from_iterable(reads))
    plaintext = json.dumps(
        {
            "token": token,
            "limit": asked.limit,
            "since": asked.since,
            "newest": asked.newest,
            "reads": base64.b64encode(packed).decode("ascii"),
        }
    )
    return encrypt_for_user(user=user, plaintext=plaintext, context=READS_KEPT_CONTEXT)


# Stores the copy only while its token is current, and the caller's own entry if it has one,
# in one round trip: a change that moved the token since the copy's rows were read (and may
# have deleted it already) keeps the copy out.
_KEEP_IF_CURRENT = """
if KEYS[3] then
    redis.call('SET', KEYS[3], ARGV[4], 'EX', ARGV[5])
end
if redis.call('GET', KEYS[2]) == ARGV[1] then
    redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
end
"""


def copies_keep(copies: list[CopyToKeep], *, also: tuple[str, bytes, int] | None = None) -> None:
    """Store the copies made this request (one reader: at most one), each while its token is
    current, and `also` (key, value, seconds: the caller's own entry) as `cache.set` would."""
    seconds = settings.HISTORY_READS_KEPT_SECONDS
    client = cache_redis()
    if len(copies) != 1 or client is None:
        if also is not None:
            cache.set(*also)
        for copy in copies:
            # Stored, then dropped if the token moved meanwhile (were the change's own
            # deletion already done, nothing else would remove it before it expires).
            cache.set(copy.copy_key, copy.sealed, seconds)
            if cache.get(copy.token_key) != copy.token:
                cache.delete(copy.copy_key)
        return
    (copy,) = copies
    encode = caches["default"].client.encode
    keys = [copy.copy_key, copy.token_key]
    args = [encode(copy.token), encode(copy.sealed), seconds]
    if also is not None:
        key, value, also_seconds = also
        keys.append(key)
        args += [encode(value), also_seconds]
    _script_run(client, _KEEP_IF_CURRENT, keys=keys, args=args)


def _script_run(client: redis.Redis, script: str, *, keys: list[str], args: list) -> None:
    """`script` on the cache's Redis, on these cache keys (named as the cache names them);
    `args` encoded by the caller where they are cache values. The cache down: nothing done,
    as with every other write."""
    backend = caches["default"]
    with contextlib.suppress(redis.RedisError):
        client.eval(script, len(keys), *[backend.make_key(key) for key in keys], *args)


def _copy_open(*, user, copy) -> _Copy | None:
    """A copy, opened; None when there is none, or it is not this reader's, is damaged, or
    their key is gone."""
    if not isinstance(copy, bytes | bytearray | memoryview):
        return None
    try:
        opened = json.loads(
            decrypt_for_user(
                user_id=user.pk,
                ciphertext=bytes(copy),
                context=READS_KEPT_CONTEXT,
                loaded_key=data_key_loaded_with(user),
            )
        )
        packed = base64.b64decode(opened["reads"], validate=True)
        reads = list(map(HistoryRead._make, _READ.iter_unpack(packed)))
        since = opened.get("since")  # none in a copy made before copies were cut
        asked = ReadsAsked(
            limit=int(opened["limit"]),
            since=None if since is None else float(since),
            newest=int(opened.get("newest", 0)),
        )
        return _Copy(token=str(opened["token"]), asked=asked, reads=reads)
    except (DataKeyDestroyed, DecryptionFailed, ValueError, KeyError, TypeError, struct.error):
        return None


def history_reads_changed(*, user_id: int) -> None:
    """Their data changed (committed): no copy made before now is used again, and the copy
    itself goes."""
    copy_key, token_key = reads_kept_keys(user_id)
    cache.set(token_key, secrets.token_hex(8), TOKEN_SECONDS)
    cache.delete(copy_key)


def history_reads_changed_receiver(*, user_id: int, read_appended: bool = False, **kwargs) -> None:
    # `reader_data_changed` arrives after the commit of any change to the reader's data; a
    # read written moves the token itself (`history_reads_appended`), keeping the copy.
    if not read_appended:
        history_reads_changed(user_id=user_id)


def history_reads_kept_rows(*, user) -> list[dict]:
    """The reader's copy, for their copy of their data: each read it holds (current or
    outdated: held either way until it goes)."""
    copy_key, _ = reads_kept_keys(user.pk)
    opened = _copy_open(user=user, copy=cache.get(copy_key))
    reads = opened.reads if opened is not None else []
    return [{"article_id": read.article_id, "read_at": read.read_at} for read in reads]


def history_reads_kept_erase(*, user) -> int:
    """Erasure: the copy goes now (it is noise already once the data key is gone)."""
    copy_key, _ = reads_kept_keys(user.pk)
    existed = cache.get(copy_key) is not None
    history_reads_changed(user_id=user.pk)
    return int(existed)


@dataclass(frozen=True)
class Before:
    """What the shared cache held for a reader before one of their reads was written: their
    token and their copy, opened (None: none, or it does not open)."""

    token: str | None
    opened: _Copy | None


def history_reads_before_append(*, user) -> Before:
    """Read before a history write: the reader's token and copy (`history_reads_appended`)."""
    copy_key, token_key = reads_kept_keys(user.pk)
    found = cache.get_many([copy_key, token_key])
    return Before(
        token=found.get(token_key), opened=_copy_open(user=user, copy=found.get(copy_key))
    )


# After a read is written: the token moves either way; the copy, made from the one before
# plus the read, is stored only if the token is still the one the copy before was current
# under (no other change since), else the copy goes.
_APPENDED = """
if ARGV[1] ~= '' and redis.call('GET', KEYS[2]) == ARGV[1] then
    redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
else
    redis.call('DEL', KEYS[1])
end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[5])
"""


def history_reads_appended(*, user, read_at, before: Before) -> None:
    """One read of theirs was written (committed): their token moves, as on any change of
    their data, and the copy they were using (current before the write) is made again from
    itself plus that read, with no query of their history, so their next page finds it
    current. Any other change since `before` was read leaves no copy."""
    copy_key, token_key = reads_kept_keys(user.pk)
    new_token = secrets.token_hex(8)
    opened = before.opened
    current = opened is not None and before.token is not None and opened.token == before.token
    sealed = None
    if current and settings.HISTORY_READS_KEPT_SECONDS > 0:
        reads = opened.reads
        written = history_read_at(user=user, read_at=read_at)
        if written is not None and all(read.entry_id != written.entry_id for read in reads):
            reads = sorted([written, *reads], key=lambda read: (-read.read_epoch, -read.entry_id))
        reads = reads[: opened.asked.limit]
        with contextlib.suppress(DataKeyDestroyed):  # erased meanwhile: no copy
            sealed = _copy_sealed(user=user, token=new_token, asked=opened.asked, reads=reads)
    client = cache_redis()
    if client is None:
        # Another cache (one process, the demo): in turn.
        cache.set(token_key, new_token, TOKEN_SECONDS)
        if sealed is None:
            cache.delete(copy_key)
        else:
            cache.set(copy_key, sealed, settings.HISTORY_READS_KEPT_SECONDS)
        return
    encode = caches["default"].client.encode
    _script_run(
        client,
        _APPENDED,
        keys=[copy_key, token_key],
        args=[
            encode(before.token) if sealed is not None else "",
            encode(new_token),
            encode(sealed) if sealed is not None else "",
            max(settings.HISTORY_READS_KEPT_SECONDS, 1),
            TOKEN_SECONDS,
        ],
    )
