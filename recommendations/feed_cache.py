"""Caches around the feed in the shared cache (Redis), wrapping `feed_page` from outside.

- The non-personal feed (anonymous visitors, level Off) is the same for everyone it is shown
  to: its first page, rendered, is kept up to a minute and forgotten whenever an article or
  the model changes.
- A reader's own first page (ranked story ids, the reasons, which name their topics and
  reads, and the cards rendered from them) is personal data: it is kept only sealed with that
  reader's data key (AES-GCM, bound to the reader), for a minute at most, and forgotten when
  they read something, change their preferences, use "Show less like this", change a consent
  or are erased; nor is it served once any of their data changed after it was made (their
  data token, `privacy.history_kept`), even when that change's deletion came before the
  page was stored. It is not served once one of its own stories changed (edited, withdrawn,
  deleted: a per-story mark, `stories_changed`) or a topic or the serving model did (the
  reader-pages marker). A story published meanwhile does not drop it: it shows on that
  reader's page when the page is next computed, within the minute. A story they read whose
  write is still queued is noted in the same sealed entry until it is written
  (`feed.pending`), so no page computed meanwhile shows it. Registered in the data registry
  as "feed_cache".
- "More like this" is the same for every visitor: its story ids are kept per article and
  model version.

With the cache down every call is a miss (IGNORE_EXCEPTIONS) and the feed is computed.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from accounts.models import Preferences
from accounts.selectors import (
    ANONYMOUS_PROFILE,
    ReaderProfile,
    preferences_loaded_with,
    reader_profile,
)
from news.selectors import articles_live_by_id
from privacy.crypto import LoadedDataKey, encrypt_for_user, with_data_key
from privacy.history_kept import copies_keep, data_token_key, data_token_make
from privacy.selectors import HistoryRead

from .active import active_marker
from .explanations import Reason
from .feed.page import feed_page, history_marks
from .feed.pending import (
    READER_FEED_CONTEXT,
    entry_parts,
    entry_value,
    note_sealed,
    noted_reads,
    reader_feed_key,
    sealed_open,
)
from .feed.pool import CATALOGUE_MARKER_KEY, marker_current, pool_marks
from .similar import more_like_this

logger = logging.getLogger(__name__)

PUBLIC_KEYS = ("feed:public:anonymous", "feed:public:signed-in")
# Changes when what every reader's page depends on does (topics, the serving model): a kept
# page made under another marker (or when it was unknown) is not served.
READER_PAGES_KEY = "feed:reader-pages"
# Counts story changes (edits, withdrawals, deletions), with no clock involved: each change
# marks its story with the next count, and a kept page remembers the count it was made
# after, so it is not served once one of its stories carries a higher mark.
CHANGES_KEY = "feed:story-changes"
STORY_MARK_KEY = "feed:story:{}"


@dataclass(frozen=True)
class HomeFeed:
    """What the home page shows: whose profile, the page (for its pagination; its items are
    the stories only when just ranked), the rendered cards, and each card's list type (for
    the impression counters)."""

    profile: ReaderProfile
    page: Page
    cards: SafeString
    list_types: list[str]


# Renders a page of FeedItems as the cards HTML (news.cards.feed_cards_html).
CardsRenderer = Callable[[Page], str]


def _first_page(page_number) -> bool:
    return page_number in (None, "", 1, "1")


def _preferences_version(user) -> tuple[str, str, LoadedDataKey] | None:
    """(level, when the preferences last changed, the reader's wrapped key): read with their
    session (`accounts.sessions`), else one indexed query; None before any choice. Every
    change of topics, weights, blocked topics or level moves `updated_at`."""
    loaded = preferences_loaded_with(user)
    if loaded is not None:
        preferences, key = loaded
        if preferences is None:
            return None
        return preferences.level, preferences.updated_at.isoformat(), key
    row = (
        with_data_key(Preferences.objects.filter(user=user))
        .values_list("level", "updated_at", "data_key_wrapped", "data_key_master_id")
        .first()
    )
    if row is None:
        return None
    level, updated_at, wrapped, master_key_id = row
    key = LoadedDataKey.of(user_id=user.pk, wrapped=wrapped, master_key_id=master_key_id)
    return level, updated_at.isoformat(), key


def _profile_entry(profile: ReaderProfile) -> dict:
    return {
        "level": profile.level,
        "topic_weights": [[int(t), float(w)] for t, w in profile.topic_weights.items()],
        "topic_names": list(profile.topic_names),
        "blocked_topic_ids": sorted(int(t) for t in profile.blocked_topic_ids),
        "onboarding_done": profile.onboarding_done,
    }


def _profile_of(entry: dict) -> ReaderProfile:
    return ReaderProfile(
        level=entry["level"],
        topic_weights=dict(entry["topic_weights"]),
        topic_names=tuple(entry["topic_names"]),
        blocked_topic_ids=frozenset(entry["blocked_topic_ids"]),
        onboarding_done=entry["onboarding_done"],
    )


def _reason_entry(reason) -> dict:
    # A reason's fields are plain values: a shallow copy is `asdict` without its deep copy of
    # each one (a page's 20 reasons: 0.18 ms with `asdict`, 0.02 ms so).
    return {name: getattr(reason, name) for name in _REASON_FIELDS}


_REASON_FIELDS = tuple(field.name for field in fields(Reason))


def _entry_of(page: Page, cards: str) -> dict:
    return {
        "count": page.paginator.count,
        "items": [
            [item.article.pk, _reason_entry(item.reason), item.list_type]
            for item in page.object_list
        ],
        "cards": cards,
    }


def _feed_of(entry: dict, *, profile: ReaderProfile, page_size: int) -> HomeFeed:
    """A kept first page as it is shown: rendered already, nothing to look up."""
    page = Paginator(range(entry["count"]), page_size).page(1)
    page.object_list = []
    return HomeFeed(
        profile=profile,
        page=page,
        cards=mark_safe(entry["cards"]),  # noqa: S308 (rendered by this site, kept sealed)
        list_types=[list_type for _, _, list_type in entry["items"]],
    )


def _feed_rendered(*, profile: ReaderProfile, page: Page, render_cards: CardsRenderer):
    return HomeFeed(
        profile=profile,
        page=page,
        cards=mark_safe(render_cards(page)),  # noqa: S308 (the site's own templates)
        list_types=[item.list_type for item in page.object_list],
    )


def home_feed(*, user, page_number=None, render_cards: CardsRenderer) -> HomeFeed:
    """The visitor's home page feed, rendered by `render_cards`, from the cache when it can
    be. A reader's kept first page carries their profile too, valid while their preferences
    are unchanged, so a hit reads one preferences row and their key, and renders nothing."""
    page_size = settings.NEWS_PAGE_SIZE
    first = _first_page(page_number)
    if not user.is_authenticated:
        profile = ANONYMOUS_PROFILE
        if first:
            return _public_feed(
                user=user, profile=profile, page_size=page_size, render_cards=render_cards
            )
        page = feed_page(user=user, profile=profile, page_number=page_number)
        return _feed_rendered(profile=profile, page=page, render_cards=render_cards)
    version = _preferences_version(user) if first else None
    use_reader_cache = (
        version is not None
        and version[0] != Preferences.Level.OFF
        and settings.FEED_READER_CACHE_SECONDS > 0
    )
    seen, marks = _Seen(marker="", changes=0), None
    if use_reader_cache:
        entry, seen, marks = _reader_feed_open(
            user=user,
            version=version[1],
            key=version[2],
            history=version[0] == Preferences.Level.TOPICS_HISTORY,
        )
        if entry is not None:
            profile = _profile_of(entry["profile"])
            return _feed_of(entry, profile=profile, page_size=page_size)
    profile = reader_profile(user=user)
    if not first:
        page = feed_page(user=user, profile=profile, page_number=page_number)
        return _feed_rendered(profile=profile, page=page, render_cards=render_cards)
    if not profile.personalized and not profile.blocked_topic_ids:
        return _public_feed(
            user=user, profile=profile, page_size=page_size, render_cards=render_cards
        )
    keep = use_reader_cache and profile.personalized
    # A copy of the reader's reads made for this page is stored with the page, in one write.
    later: list = []
    page = feed_page(
        user=user,
        profile=profile,
        page_number=1,
        marks=marks,
        pending=list(seen.pending) if marks is not None else None,
        later=later if keep else None,
    )
    feed = _feed_rendered(profile=profile, page=page, render_cards=render_cards)
    if keep:
        _reader_feed_keep(
            user=user, version=version[1], seen=seen, profile=profile, feed=feed, later=later
        )
    # Level Off with blocked topics: not the same as anyone else's, and not worth keeping.
    return feed


def _public_feed(*, user, profile, page_size: int, render_cards: CardsRenderer) -> HomeFeed:
    # The reasons' links differ for signed-in visitors ("Choose your topics" vs "Sign up").
    key = PUBLIC_KEYS[1] if user.is_authenticated else PUBLIC_KEYS[0]
    entry = cache.get(key)
    if entry is not None:
        return _feed_of(entry, profile=profile, page_size=page_size)
    page = feed_page(user=user, profile=profile, page_number=1)
    feed = _feed_rendered(profile=profile, page=page, render_cards=render_cards)
    if settings.FEED_PUBLIC_CACHE_SECONDS > 0:
        cache.set(key, _entry_of(page, feed.cards), settings.FEED_PUBLIC_CACHE_SECONDS)
    return feed


def public_feed_forget() -> None:
    """A story was published, changed or withdrawn, or another model serves: every visitor's
    next non-personal page is computed afresh (readers' kept pages: `catalogue_changed`)."""
    cache.delete_many(list(PUBLIC_KEYS))
    cache.set(CATALOGUE_MARKER_KEY, secrets.token_hex(8), None)


def _next_change() -> int | None:
    try:
        return cache.incr(CHANGES_KEY)
    except ValueError:  # no count yet (a new, flushed or restarted cache)
        if cache.add(CHANGES_KEY, 1, None):
            # Pages kept under a lost count must not pass for newer than the new marks.
            reader_feeds_forget_all()
            return 1
        return cache.incr(CHANGES_KEY)


def stories_changed(*, article_ids) -> None:
    """These stories were edited, withdrawn or deleted: no kept page holding one of them and
    made before now is served again. The mark outlives every such page (and is read by each
    hit of a page that holds the story, so an LRU cache keeps it while it matters)."""
    ids = [int(pk) for pk in article_ids if pk is not None]
    if not ids:
        return
    count = _next_change()
    if count is None:
        return  # the cache is down: nothing kept is served either
    cache.set_many(
        {STORY_MARK_KEY.format(pk): count for pk in ids},
        max(settings.FEED_READER_CACHE_SECONDS, 0) + 60,
    )


def reader_feeds_forget_all() -> None:
    """A topic changed or another model serves: no reader's kept page is served again."""
    cache.set(READER_PAGES_KEY, secrets.token_hex(8), None)


def catalogue_changed(*, article_ids=None) -> None:
    """Stories changed (`article_ids`), or, with None, what every page depends on (topics,
    the model): the shared page is forgotten, and the readers' kept pages that showed what
    changed are not served again."""
    public_feed_forget()
    if article_ids is None:
        reader_feeds_forget_all()
    else:
        stories_changed(article_ids=article_ids)


@dataclass(frozen=True)
class _Seen:
    """What a page made now is kept under, read before it is computed: a topic, the model
    or one of its stories changed after that leaves it outdated."""

    marker: str
    changes: int
    # The reader's reads not written yet, as their entry notes them (`feed.pending`), and the
    # sealed note, kept on with the page made now.
    pending: tuple[HistoryRead, ...] = ()
    note: bytes | None = None
    # The reader's data token (`privacy.history_kept`): it moves when any of their data
    # changes, so a page kept from data that changed before it was stored is not served.
    token: str | None = None


def _reader_feed_open(
    *, user, version: str, key: LoadedDataKey, history: bool
) -> tuple[dict | None, _Seen, dict]:
    """The reader's kept page if it can be served, what a page made now is kept under, and
    the marks the feed reads to make one (`pool_marks`; with `history`, the reader's kept
    reads too), all in one round trip."""
    token_key = data_token_key(user.pk)
    entry_keys = history_marks(user.pk) if history else [reader_feed_key(user.pk), token_key]
    found = pool_marks(also=[*entry_keys, READER_PAGES_KEY, CHANGES_KEY])
    seen = _Seen(
        marker=marker_current(READER_PAGES_KEY, found=found),
        changes=int(found.get(CHANGES_KEY) or 0),
        token=found.get(token_key) or data_token_make(user_id=user.pk),
    )
    sealed, note = entry_parts(found.get(reader_feed_key(user.pk)))
    entry = _entry_servable(
        user=user, sealed=sealed, note=note, version=version, seen=seen, key=key
    )
    if entry is not None:
        return entry, seen, found  # made with the reads noted, if any: not opened
    if note is not None:
        pending = noted_reads(user_id=user.pk, note=note, key=key)
        seen = replace(seen, pending=tuple(pending), note=note if pending else None)
    return None, seen, found


def _entry_servable(
    *, user, sealed: bytes | None, note: bytes | None, version: str, seen: _Seen, key
) -> dict | None:
    """The kept page, opened, if it may be served now."""
    if sealed is None:  # none, or only reads noted since the page was dropped
        return None
    entry = _page_open(user_id=user.pk, sealed=sealed, key=key)
    if not isinstance(entry, dict):
        # Not this reader's, damaged, or their key is gone: never served, and dropped (its
        # note, if any, stays until a page made now replaces the entry).
        if note is None:
            cache.delete(reader_feed_key(user.pk))
        return None
    # Past its time (an entry that notes reads outlives its page), made from the reader's
    # data before it changed (a change that raced the page's store), before the
    # preferences last changed (the change may have been missed by the cache), or before a
    # topic or the model changed, or on another day (whose holdout draw may differ:
    # `feed.page.in_holdout`).
    if (
        entry.get("until", 0) < time.time()
        or entry.get("token") != seen.token
        or entry.get("version") != version
        or entry.get("pages") != seen.marker
        or entry.get("day") != timezone.localdate().isoformat()
    ):
        return None
    # Or before one of its stories changed (looked up only when any story did since).
    made_after = entry.get("changes", -1)
    if seen.changes != made_after:
        marks = cache.get_many([STORY_MARK_KEY.format(pk) for pk, _, _ in entry["items"]])
        if any(int(mark) > made_after for mark in marks.values()):
            return None
    return entry


# A kept page is sealed as its JSON, a line break, then its cards' HTML as it is: the HTML is
# most of the page (18 of 24 KB), full of quotes JSON would escape on every store and unescape
# on every hit. JSON as this writes it holds no line break; a page kept in the earlier form
# (all one JSON document) opens as it was.
def _page_text(entry: dict) -> str:
    return json.dumps({**entry, "cards": None}) + "\n" + entry["cards"]


def _page_loads(text: str):
    head, _, cards = text.partition("\n")
    entry = json.loads(head)
    if isinstance(entry, dict) and entry.get("cards", "") is None:
        entry["cards"] = cards
    return entry


def _page_open(*, user_id: int, sealed: bytes | None, key: LoadedDataKey | None = None):
    return sealed_open(
        user_id=user_id, sealed=sealed, context=READER_FEED_CONTEXT, key=key, loads=_page_loads
    )


def _reader_feed_keep(
    *, user, version: str, seen: _Seen, profile: ReaderProfile, feed: HomeFeed, later: list
) -> None:
    seconds = settings.FEED_READER_CACHE_SECONDS
    if seen.token is None:
        copies_keep(later)  # the cache is down: nothing to keep the page under
        return
    entry = {
        "token": seen.token,
        "version": version,
        "pages": seen.marker,
        "changes": seen.changes,
        "day": timezone.localdate().isoformat(),
        "until": time.time() + seconds,
        "profile": _profile_entry(profile),
        **_entry_of(feed.page, feed.cards),
    }
    sealed = encrypt_for_user(user=user, plaintext=_page_text(entry), context=READER_FEED_CONTEXT)
    # The reads it left out that were not written yet stay noted with it, for as long as the
    # page is kept (never longer: the page's retention is the promise), then written within
    # seconds while a worker runs.
    copies_keep(later, also=(reader_feed_key(user.pk), entry_value(sealed, seen.note), seconds))


def reader_feed_read_noted(*, user_id: int, article_id: int, read_epoch: float) -> None:
    """The reader read this story and its write is queued: their kept page is dropped, and
    the read is noted in its place until the write drops the entry, so every page computed
    meanwhile leaves the story out. Without a time to keep it, the page is only dropped."""
    key = reader_feed_key(user_id)
    seconds = settings.FEED_PENDING_READ_SECONDS
    if seconds <= 0:
        cache.delete(key)
        return
    _, note = entry_parts(cache.get(key))
    note = note_sealed(
        user=get_user_model()(pk=user_id),
        reads=noted_reads(user_id=user_id, note=note),
        article_id=article_id,
        read_epoch=read_epoch,
    )
    cache.set(key, entry_value(None, note), seconds)


def reader_feed_forget_now(*, user_id: int) -> None:
    """The reader's next home page is computed afresh. Called on `reader_data_changed`, which
    is sent after the commit, so a page computed meanwhile cannot be kept past the change."""
    cache.delete(reader_feed_key(user_id))


def reader_feed_rows(*, user) -> list[dict]:
    """What is kept for the reader right now, for their copy of their data: the stories of
    their cached first page, with the reason each was shown, and the stories they read that
    are not in their history yet."""
    sealed, note = entry_parts(cache.get(reader_feed_key(user.pk)))
    # Unreadable by anyone (damaged, or their key is gone): nothing of theirs is left in it.
    entry = _page_open(user_id=user.pk, sealed=sealed)
    rows = [
        {"article_id": article_id, "reason": reason["sentence"]}
        for article_id, reason, _ in (entry.get("items", ()) if isinstance(entry, dict) else ())
    ]
    rows += [
        {"article_id": read.article_id, "reason": PENDING_READ_REASON}
        for read in noted_reads(user_id=user.pk, note=note)
    ]
    return rows


# What a noted read says in the reader's copy of their data.
PENDING_READ_REASON = "Read just now: kept off your front page until it is in your history"


def reader_feed_erase(*, user) -> int:
    """Erasure: drop the entry now (it is already unreadable once the data key is gone)."""
    existed = cache.get(reader_feed_key(user.pk)) is not None
    cache.delete(reader_feed_key(user.pk))
    return int(existed)


# --- More like this -----------------------------------------------------------------------


def more_like_this_cached(*, article, limit: int = 4) -> list:
    """`more_like_this`, its story ids kept per article, change and model version."""
    seconds = settings.MORE_LIKE_THIS_CACHE_SECONDS
    if seconds <= 0:
        return more_like_this(article=article, limit=limit)
    key = f"more-like-this:{article.pk}:{article.updated_at.timestamp()}:{active_marker()}:{limit}"
    ids = cache.get(key)
    if ids is None:
        related = more_like_this(article=article, limit=limit)
        cache.set(key, [a.pk for a in related], seconds)
        return related
    if not ids:
        return []
    live = articles_live_by_id(ids=ids)
    return [live[pk] for pk in ids if pk in live]
