"""A reader's entry in the shared cache, and the reads it notes that are not in their history
yet. `recommendations.feed_cache` keeps the reader's first page in the entry.

A read that the reader's history keeps is written after the page (`privacy.read_queue`):
within a couple of seconds while a worker drains the queue, later when none does. Until
then the story is noted in the reader's entry, sealed with their data key as the page is.
So every page computed meanwhile leaves the story out, and may say "Because you read" it.
The write drops the entry (`reader_data_changed`), and the note with it.

An entry is the sealed page alone, or, with a note, `NOTED`, the sealed page's length (4
bytes; 0 for none), the page and the sealed note: a feed page opens only the note, never the
page around it. Bytes either way, and never a ciphertext's first byte: a process still running
the code from before notes (a deployment rolling out) takes such an entry for a damaged page
and drops it, instead of failing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from privacy.crypto import (
    DataKeyDestroyed,
    DecryptionFailed,
    LoadedDataKey,
    decrypt_for_user,
    encrypt_for_user,
)
from privacy.selectors import HistoryRead

# The field names sealed into an entry's two parts: each opens only as this reader's cached
# feed, or as their noted reads.
READER_FEED_CONTEXT = "feed_cache"
READER_READS_CONTEXT = "feed_cache_reads"
# At most this many reads noted (newest first): a reader opening many stories at once while
# no worker writes them.
PENDING_READS_KEPT = 50
# A noted read's entry id: it has no row yet.
NO_ENTRY = 0
# An entry with a note starts with this mark, then the sealed page's length in 4 bytes.
NOTED = b"N"
_LENGTH = 4


def reader_feed_key(user_id: int) -> str:
    return f"feed:reader:{user_id}"


def entry_parts(value) -> tuple[bytes | None, bytes | None]:
    """(the sealed page, the sealed note of reads) of an entry as the cache holds it."""
    if not isinstance(value, bytes | bytearray | memoryview):
        return None, None
    value = bytes(value)
    if value[:1] != NOTED:
        return value or None, None
    end = 1 + _LENGTH + int.from_bytes(value[1 : 1 + _LENGTH], "big")
    return value[1 + _LENGTH : end] or None, value[end:] or None


def entry_value(page: bytes | None, note: bytes | None) -> bytes:
    """What the cache holds for an entry with these parts (a page, a note, or both)."""
    page = page or b""
    if note is None:
        return page
    return NOTED + len(page).to_bytes(_LENGTH, "big") + page + note


def sealed_open(
    *,
    user_id: int,
    sealed: bytes | None,
    context: str,
    key: LoadedDataKey | None = None,
    loads: Callable[[str], Any] = json.loads,
):
    """A part of the reader's entry, opened (read by `loads`): None when there is none, or
    it is not this reader's, is damaged, or their key is gone (never used then)."""
    if sealed is None:
        return None
    try:
        return loads(
            decrypt_for_user(user_id=user_id, ciphertext=sealed, context=context, loaded_key=key)
        )
    except (DataKeyDestroyed, DecryptionFailed, ValueError):
        return None


def noted_reads(
    *, user_id: int, note: bytes | None, key: LoadedDataKey | None = None
) -> list[HistoryRead]:
    """The reads a note holds, newest first."""
    opened = sealed_open(user_id=user_id, sealed=note, context=READER_READS_CONTEXT, key=key)
    try:
        return [HistoryRead(NO_ENTRY, int(article), float(epoch)) for article, epoch in opened]
    except (TypeError, ValueError):  # none, or not a note this site wrote
        return []


def note_sealed(*, user, reads: list[HistoryRead], article_id: int, read_epoch: float) -> bytes:
    """A note of this read and the `reads` noted before it (a story read again moves up)."""
    noted = [[int(article_id), float(read_epoch)]]
    noted += [[read.article_id, read.read_epoch] for read in reads if read.article_id != article_id]
    return encrypt_for_user(
        user=user, plaintext=json.dumps(noted[:PENDING_READS_KEPT]), context=READER_READS_CONTEXT
    )


def with_pending(reads: list[HistoryRead], pending: list[HistoryRead]) -> list[HistoryRead]:
    """The reader's stored reads and the noted ones, newest first; a noted read already
    written (the same story at the same moment) counts once."""
    if not pending:
        return reads
    stored = {(read.article_id, _microsecond(read.read_epoch)) for read in reads}
    unstored = [p for p in pending if (p.article_id, _microsecond(p.read_epoch)) not in stored]
    if not unstored:
        return reads
    if not reads or unstored[-1].read_epoch >= reads[0].read_epoch:
        return [*unstored, *reads]  # the usual case: every noted read is the newest
    return sorted([*unstored, *reads], key=lambda read: -read.read_epoch)


def _microsecond(epoch: float) -> int:
    # The queued read's time and the stored one's are the same microsecond, as floats read
    # one from the request and one from the database.
    return round(epoch * 1_000_000)
