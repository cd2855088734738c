"""One page of the feed (design flow 4): candidates from the pool, minus what the reader has
read and their blocked topics -> `scoring.score` -> diversity re-ranking with per-topic caps ->
each story with the reason that placed it. Level Off and anonymous visitors get the
non-personal feed."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

import numpy as np
from django.conf import settings
from django.core.paginator import Page, Paginator
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.models import Preferences
from accounts.selectors import ReaderProfile, reader_profile
from news.models import Article, Topic
from news.selectors import articles_latest, articles_live_by_id
from privacy.crypto import data_key_loaded_with
from privacy.history_kept import ReadsAsked, history_reads_kept, reads_kept_keys
from privacy.purposes import READING_HISTORY
from privacy.selectors import HistoryRead, purposes_to_reconfirm

from .. import explanations, ranking
from ..active import LoadedModel, active_model
from ..explanations import Reason
from .pending import entry_parts, noted_reads, reader_feed_key, with_pending
from .pool import (
    CandidatePool,
    candidate_pool,
    catalogue_marker,
    older_topics,
    pool_freshness,
    pool_marks,
    vectors_for,
)
from .scoring import Ranked, Reader, Scores, score

logger = logging.getLogger(__name__)

# Which kind of feed a card was shown in: its link carries it (?via=), so a read that follows
# can be counted per list type for the editors' click-through rates.
PERSONAL = "personal"
EDITORIAL = "editorial"
# A personalized reader shown the editors' order for the day (PERSONALIZATION_HOLDOUT_SHARE).
HOLDOUT = "holdout"
# Names the holdout's keyed hash, so its key (derived from SECRET_KEY) serves nothing else.
HOLDOUT_KEY_SALT = "newsite.recommendations.personalization-holdout"
# The non-personal first page (anonymous visitors, level Off) keeps places halfway down for
# the newest stories of the last hours that ranking put further down: a story just published
# has no reads yet, and the day's hits must not keep it off the page most visitors see.
FRESH_PLACES = 2
FRESH_WITHIN_HOURS = 6
# How far apart the clocks that time a story's publication and a read may be.
CLOCKS_MARGIN_SECONDS = 3600
# The parts of a score its reason is chosen from.
REASON_PARTS = ("topic", "related", "history", "popularity", "pick", "freshness")


@dataclass(frozen=True)
class FeedItem:
    article: Article
    reason: Reason
    list_type: str = EDITORIAL


def in_holdout(*, user_id: int, day: date, share: float | None = None) -> bool:
    """Whether this reader sees the editors' order on `day`: an HMAC of (reader, day) under a
    key derived from SECRET_KEY, read as a number in [0, 1), under the share. The same answer
    all day on every worker, a fresh draw each day, unpredictable without the key, and nothing
    stored about anyone."""
    share = settings.PERSONALIZATION_HOLDOUT_SHARE if share is None else share
    if share <= 0:
        return False
    digest = salted_hmac(
        HOLDOUT_KEY_SALT, f"{user_id}:{day.isoformat()}", algorithm="sha256"
    ).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def read_rows_of(pool: CandidatePool, reads: list[HistoryRead]) -> tuple[np.ndarray, np.ndarray]:
    """The stories these reads are of, and each one's pool row (-1: not in the pool)."""
    read_ids = np.fromiter((read.article_id for read in reads), dtype=np.int64, count=len(reads))
    return read_ids, pool.rows_of(read_ids)


def reader_for(
    *,
    pool: CandidatePool,
    profile: ReaderProfile,
    reads: list[HistoryRead],
    rows: tuple[np.ndarray, np.ndarray] | None = None,
) -> Reader | None:
    """What scoring may use about this reader (None: the non-personal feed): their topics
    and, for their reads, the vectors and the topics each is in. Most reads are recent, so the
    pool holds their vectors and topics; the rest are looked up in the model and the
    database. `rows`: `read_rows_of` these reads, when the caller has it."""
    if not profile.personalized:
        return None
    if not reads or pool.loaded is None or not len(pool.ids):
        return Reader(topic_weights=profile.topic_weights)
    read_ids, pool_rows = rows if rows is not None else read_rows_of(pool, reads)
    in_pool = pool_rows >= 0
    read_vectors = np.zeros((len(reads), pool.vectors.shape[1]), dtype=np.float32)
    read_vectors[in_pool] = pool.vectors[pool_rows[in_pool]]
    # (read position, topic column) pairs: at once for the reads in the pool.
    in_pool_positions = np.flatnonzero(in_pool)
    pair_reads, pair_columns = np.nonzero(pool.topic_matrix[pool_rows[in_pool_positions]])
    pair_reads = in_pool_positions[pair_reads]
    older = np.flatnonzero(~in_pool)
    if len(older):
        read_vectors[older] = vectors_for(pool.loaded, read_ids[older])[0]
        columns = pool.column_of()
        positions_of: dict[int, list[int]] = {}
        for position in older:
            positions_of.setdefault(int(read_ids[position]), []).append(int(position))
        topics_of = older_topics(pool, article_ids=list(positions_of))
        extra = [
            (position, columns[topic_id])
            for article_id, positions in positions_of.items()
            for topic_id in topics_of[article_id]
            if topic_id in columns
            for position in positions
        ]
        if extra:
            pair_reads = np.concatenate([pair_reads, [p for p, _ in extra]])
            pair_columns = np.concatenate([pair_columns, [c for _, c in extra]])
    return Reader(
        topic_weights=profile.topic_weights,
        read_vectors=read_vectors,
        pair_reads=pair_reads.astype(np.int64),
        pair_columns=pair_columns.astype(np.int64),
        read_rows=pool_rows,
    )


def feed_scores(
    *,
    pool: CandidatePool,
    profile: ReaderProfile,
    reads: list[HistoryRead],
    now: datetime,
    rows: tuple[np.ndarray, np.ndarray] | None = None,
    ranked: Ranked | None = None,
) -> Scores:
    """Every part of every pool row's score for this reader (rows they must not see are
    dropped later, which is cheaper than copying the rows that stay). `rows`: see
    `reader_for`; `ranked`: see `score`."""
    loaded: LoadedModel | None = pool.loaded
    return score(
        candidates=pool.candidates,
        reader=reader_for(pool=pool, profile=profile, reads=reads, rows=rows),
        weights=loaded.model.weights if loaded is not None else None,
        freshness=pool_freshness(pool, now=now),
        pick=(pool.pick_until > now.timestamp()).astype(float),
        ranked=ranked,
    )


def _reason(
    *,
    kind: str,
    about: int | None,
    reads: list[HistoryRead],
    read_titles: dict[int, str],
    topic_names: dict[int, str],
    signed_in: bool,
    now: datetime,
) -> Reason:
    """The reason of that kind, as a sentence; `about` is what it names (`_reason_about`)."""
    kinds = explanations.ReasonKind
    if kind == kinds.TOPIC:
        return explanations.because_you_follow(topic_id=about, topic_name=topic_names[about])
    if kind == kinds.RELATED_TOPIC:
        return explanations.related_to(topic_name=topic_names[about])
    if kind == kinds.HISTORY:
        read = reads[about]
        return explanations.because_you_read(
            title=read_titles[read.article_id], read_at=read.read_at, now=now
        )
    if kind == kinds.POPULAR:
        return explanations.popular_today()
    if kind == kinds.PICK:
        return explanations.editors_pick(signed_in=signed_in)
    return explanations.just_in(signed_in=signed_in)


def _reason_about(*, kind: str, row: int, scores: Scores, vectors: np.ndarray) -> int | None:
    """What a reason of that kind names for this story: the followed topic, the topic it is
    related to, the read (its index), or nothing."""
    kinds = explanations.ReasonKind
    if kind == kinds.TOPIC:
        return int(scores.followed_topic[row])
    if kind == kinds.RELATED_TOPIC:
        return scores.related_topic_of(row, vectors)
    if kind == kinds.HISTORY:
        return int(scores.history_source[row])
    return None


class _RankedFeed(Sequence):
    """The feed as a sequence a Paginator can slice: only the slice asked for is re-ranked.
    Items are pool rows; `rows` are the ones this visitor may see."""

    def __init__(
        self,
        *,
        relevance,
        rows,
        vectors,
        topic_matrix,
        page_size: int,
        fresh=(),
        exact_until: int,
        contenders=None,
    ) -> None:
        self.relevance, self.rows = relevance[rows], rows
        self.vectors, self.topic_matrix = vectors, topic_matrix
        self.page_size = page_size
        # Items (indices into `rows`) that get a place on page 1, newest first.
        self.fresh = [int(item) for item in fresh]
        # The relevance is exact where the ranking of the first `exact_until` items looks.
        self.exact_until = exact_until
        # Items that hold the best the ranking of those looks at (`Scores.contenders`, which
        # are rows among `rows`), when scoring found them.
        self.among = None if contenders is None else np.searchsorted(rows, contenders)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index):
        if not isinstance(index, slice):
            return self[index : index + 1][0]
        start, stop, _ = index.indices(len(self))
        placed = min(stop + len(self.fresh), len(self))  # the fresh stories may push some on
        if placed > self.exact_until:
            raise ValueError("Ranked past the stories whose scores were made exact.")
        order = ranking.rank(
            relevance=self.relevance,
            vectors=self.vectors,
            topic_matrix=self.topic_matrix,
            rows=self.rows,
            among=self.among,
            diversity=settings.RECOMMENDER_DIVERSITY,
            topic_cap=settings.RECOMMENDER_TOPIC_CAP,
            page_size=self.page_size,
            stop=placed,
        )
        order = _with_fresh_places([int(i) for i in order], self.fresh, self.page_size)
        return [int(self.rows[i]) for i in order[start:stop]]


def _with_fresh_places(order: list[int], fresh: list[int], page_size: int) -> list[int]:
    """`order` with the `fresh` items it did not put on page 1 placed halfway down page 1;
    the stories they displace open page 2, so no story is shown twice or lost."""
    first = order[:page_size]
    missing = [item for item in fresh if item not in first]
    if not missing:
        return order
    keep = max(page_size - len(missing), 0)
    middle = min(page_size // 2, keep)
    rest = [item for item in order[keep:] if item not in missing]
    return first[:middle] + missing + first[middle:keep] + rest


def _uses_history(profile: ReaderProfile) -> bool:
    return profile.personalized and profile.level == Preferences.Level.TOPICS_HISTORY


def history_marks(user_id: int) -> list[str]:
    """The shared cache's keys a page of this reader reads with the feed's marks when their
    history shapes it: their entry (reads noted, not written yet) and their kept reads."""
    return [reader_feed_key(user_id), *reads_kept_keys(user_id)]


def _reader_reads(
    *,
    user,
    profile: ReaderProfile,
    pending: list[HistoryRead] | None,
    marks: dict,
    pool: CandidatePool,
    later: list | None = None,
) -> list[HistoryRead]:
    """The reader's own reads, newest first, only at "Topics + reading history" (the privacy
    chokepoint decrypts them, or its sealed copy of them; nothing else in this app touches
    history). Those that shape the profile (the newest), and those the pool's stories could
    have been read in (read since the oldest was published): every read the page leaves out,
    for all but the heaviest readers; older ones are not opened. With the reads not written
    yet (`pending`, or as noted in their cached entry). `marks`: the shared cache's values,
    `history_marks` among them if read; `later`: where a copy of the reads to keep goes, when
    the caller stores it with its own write (`privacy.history_kept.copies_keep`)."""
    if not _uses_history(profile):
        return []
    # A policy change to reading history turns it off until the reader confirms it again:
    # what was kept is not used meanwhile either (no query while no version changed one).
    if READING_HISTORY.key in purposes_to_reconfirm(user=user):
        return []
    if pending is None:
        _, note = entry_parts(marks.get(reader_feed_key(user.pk)))
        pending = noted_reads(user_id=user.pk, note=note, key=data_key_loaded_with(user))
    shaping = settings.RECOMMENDER_HISTORY_LIMIT
    limit = max(shaping, settings.RECOMMENDER_EXCLUDED_READS)
    # A story is read after it is published: a read before the oldest story of the pool is
    # of none of them. (A story whose date an editor moved later can then show again to a
    # reader who read it before the pool's oldest story, past their newest reads.) The
    # margin covers clocks of different machines.
    oldest = float(pool.published.min()) if len(pool.published) else math.inf
    asked = ReadsAsked(limit=limit, since=oldest - CLOCKS_MARGIN_SECONDS, newest=shaping)
    cached = all(key in marks for key in reads_kept_keys(user.pk))
    stored = history_reads_kept(
        user=user, asked=asked, found=marks if cached else None, later=later
    )
    return with_pending(stored, pending)[:limit]


def feed_page(
    *,
    user,
    page_number=1,
    page_size: int | None = None,
    profile: ReaderProfile | None = None,
    now: datetime | None = None,
    marks: dict | None = None,
    pending: list[HistoryRead] | None = None,
    later: list | None = None,
) -> Page:
    """One page of the feed for this visitor; each item is a FeedItem (article + reason).

    Personal for a signed-in reader with personalization on and topics chosen; otherwise
    the non-personal feed (editors' picks, fresh, DP popular). A signed-in reader's blocked
    topics are left out either way. A personalized reader in the day's holdout (`in_holdout`)
    gets the non-personal order, each card saying so. `page_number` may be anything a
    visitor typed. `marks`: the shared cache's `pool_marks()`, when the caller read them with
    its own keys; `pending`: the reader's reads not written yet, when the caller opened their
    entry (else they are read with the marks); `later`: see `_reader_reads`.
    """
    now = now or timezone.now()
    page_size = page_size or settings.NEWS_PAGE_SIZE
    profile = profile if profile is not None else reader_profile(user=user)
    holdout = profile.personalized and in_holdout(user_id=user.pk, day=timezone.localdate(now))
    if holdout:
        # What the reader would see without personalization: no topics, no reads; their
        # blocked topics still left out.
        profile = replace(profile, topic_weights={}, topic_names=())
    try:
        page = _feed_page(
            user=user,
            profile=profile,
            page_number=page_number,
            page_size=page_size,
            now=now,
            marks=marks,
            pending=pending,
            later=later,
        )
    except Exception:
        # The front page must not fail because ranking did: serve the latest stories.
        logger.exception("Feed ranking failed; serving the latest stories instead.")
        page = Paginator(articles_latest(), page_size).get_page(page_number)
        page.object_list = [
            FeedItem(article=a, reason=explanations.just_in(signed_in=user.is_authenticated))
            for a in page.object_list
        ]
        return page
    if holdout:
        # Counted apart from both feeds, so personalized and holdout readers, drawn from the
        # same population, can be compared; the reason is the truth, not a personal one.
        reason = explanations.holdout_pick()
        page.object_list = [
            FeedItem(article=item.article, reason=reason, list_type=HOLDOUT)
            for item in page.object_list
        ]
    return page


def _feed_page(
    *,
    user,
    profile: ReaderProfile,
    page_number,
    page_size: int,
    now: datetime,
    marks: dict | None,
    pending: list[HistoryRead] | None,
    later: list | None,
) -> Page:
    if marks is None:
        marks = pool_marks(also=history_marks(user.pk) if _uses_history(profile) else [])
    pool = candidate_pool(loaded=active_model(found=marks), now=now, marks=marks)
    reads = _reader_reads(
        user=user, profile=profile, pending=pending, marks=marks, pool=pool, later=later
    )
    keep = pool.published <= now.timestamp()
    read_ids, read_rows = read_rows_of(pool, reads)
    keep[read_rows[read_rows >= 0]] = False
    columns = pool.column_of()
    blocked = [columns[t] for t in profile.blocked_topic_ids if t in columns]
    if blocked:
        keep &= ~pool.topic_matrix[:, blocked].any(axis=1)
    visible = np.flatnonzero(keep)
    fresh = np.zeros(0, dtype=np.int64)
    if not profile.personalized:
        published = pool.published[visible]
        recent = np.flatnonzero(published >= now.timestamp() - FRESH_WITHIN_HOURS * 3600)
        fresh = recent[np.argsort(-published[recent], kind="stable")][:FRESH_PLACES]
    # The page the paginator will serve (the last for a number past it): the stories up to
    # its end are all the ranking takes, so only those scores must be exact.
    number = Paginator(range(len(visible)), page_size).get_page(page_number).number
    stop = min(number * page_size + len(fresh), len(visible))
    shaping = settings.RECOMMENDER_HISTORY_LIMIT  # the newest reads shape the profile
    scores = feed_scores(
        pool=pool,
        profile=profile,
        reads=reads[:shaping],
        now=now,
        rows=(read_ids[:shaping], read_rows[:shaping]),
        ranked=Ranked(rows=visible, size=ranking.pool_size(stop)),
    )
    ranked = _RankedFeed(
        relevance=scores.relevance,
        rows=visible,
        vectors=pool.vectors,
        topic_matrix=pool.topic_matrix,
        page_size=page_size,
        fresh=fresh,
        exact_until=stop,
        contenders=scores.contenders,
    )
    page = Paginator(ranked, page_size).get_page(number)
    rows = list(page.object_list)
    shown = np.array(rows, dtype=np.intp)
    wanted = pool.ids[shown].tolist()
    # "Popular today" only for a story's own counts, never its topic's.
    popularity_share = np.zeros(len(shown))
    counted = pool.counted[shown]
    if counted.any():
        top = pool.top_popularity(keep)
        if top > 0:
            popularity_share = np.where(counted, pool.popularity[shown] / top, 0.0)
    kinds = dict(
        zip(
            rows,
            explanations.reason_kinds(
                **{part: scores.part(part, shown) for part in REASON_PARTS},
                popularity_share=popularity_share,
            ),
            strict=True,
        )
    )
    # The reads a card names ("Because you read 'X'"), looked up with the page's stories: one
    # query of live stories without their body (most of a row), source or topics. What shows them
    # loads those (cards are rendered once per story version and kept; the API prefetches),
    # and a prefetch per page costs more than the rest of the query. None while this process
    # listed them all since the catalogue marker last moved (no story saved, withdrawn or
    # deleted since). A read story withdrawn since is not named. Reasons name only followed
    # topics, which the profile names.
    named = {
        reads[int(scores.history_source[row])].article_id
        for row, kind in kinds.items()
        if kind == explanations.ReasonKind.HISTORY
    }
    by_id = articles_live_by_id(
        ids=[*wanted, *named], now=now, kept_under=catalogue_marker(found=marks)
    )
    read_titles = {
        article_id: by_id[article_id].title for article_id in named if article_id in by_id
    }
    topic_names = profile.topic_name_of
    unnamed = [t for t in profile.topic_weights if t not in topic_names]
    if unnamed and (scores.related_topic[rows] != -1).any():
        topic_names.update(Topic.objects.filter(pk__in=unnamed).values_list("pk", "name"))
    # Most stories of a page give one of a few reasons ("Because you follow Science"): each
    # is made once per page (20 made and copied took 0.4 ms, a tenth of the ranking's time).
    reasons: dict[tuple, Reason] = {}
    items = []
    for row, article_id in zip(rows, wanted, strict=True):
        article = by_id.get(article_id)
        if article is None:  # unpublished since the pool was built
            continue
        kind = kinds[row]
        if (
            kind == explanations.ReasonKind.HISTORY
            and reads[int(scores.history_source[row])].article_id not in read_titles
        ):
            kind = explanations.ReasonKind.FRESH  # the story read was removed meanwhile
        about = _reason_about(kind=kind, row=row, scores=scores, vectors=pool.vectors)
        followed = int(scores.followed_topic[row])
        reason = reasons.get((kind, about, followed))
        if reason is None:
            reason = _reason(
                kind=kind,
                about=about,
                reads=reads,
                read_titles=read_titles,
                topic_names=topic_names,
                signed_in=user.is_authenticated,
                now=now,
            )
            if followed >= 0 and reason.show_less_topic_id is None:
                # Whatever brought it here, "Show less like this" lowers the topic it is in.
                reason = replace(
                    reason, show_less_topic_id=followed, show_less_topic_name=topic_names[followed]
                )
            reasons[kind, about, followed] = reason
        items.append(
            FeedItem(
                article=article,
                reason=reason,
                list_type=PERSONAL if profile.personalized else EDITORIAL,
            )
        )
    page.object_list = items
    return page
