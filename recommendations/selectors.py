"""Reads of the recommender shared by pages, the API and tasks: the feed, a page at a time,
with the reason for every story; "More like this"; and the record of retrains for editors.

The feed (design flow 4): candidates published in the last N days, minus what the reader has
read and their blocked topics -> a score (similarity to the reader's topics and, at the top
level, their own reads; DP popularity; freshness; editors' picks) -> diversity re-ranking
with per-topic caps. Level Off and anonymous visitors get the non-personal feed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db import connections
from django.db.models import QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Preferences
from accounts.selectors import ReaderProfile, reader_profile
from common.db_functions import EpochSeconds
from news.models import Article, Topic
from news.selectors import articles_for_topic, articles_latest, articles_live_by_id
from privacy.selectors import HistoryRead, history_reads_for_user

from . import explanations, ranking
from .active import LoadedModel, active_model
from .explanations import Reason
from .models import ArticleVector, ModelVersion
from .training import DEFAULT_WEIGHTS
from .vectors import article_text

logger = logging.getLogger(__name__)

# A topic the reader does not follow counts at this share of its affinity with one they do.
RELATED_TOPIC_SHARE = 0.5
# At the top level, this share of content similarity comes from the reader's own reads.
HISTORY_SHARE = 0.5
# Popular enough to say so: at least this share of the most popular story's prior.
POPULAR_FLOOR = 0.5
# "More like this" leaves out stories barely related to the one on the page.
MORE_LIKE_THIS_MIN_SIMILARITY = 0.05


# How many older stories' topics a pool keeps at most (_older_topics).
OLDER_TOPICS_KEPT = 100_000

# In _Scores.related_topic: related to the followed topic nearest in content.
NEAREST = -2

# Which kind of feed a card was shown in: its link carries it (?via=), so a read that follows
# can be counted per list type for the editors' click-through rates.
PERSONAL = "personal"
EDITORIAL = "editorial"


@dataclass(frozen=True)
class FeedItem:
    article: Article
    reason: Reason
    list_type: str = EDITORIAL


def _fresh_vectors(*, loaded: LoadedModel, ids: Sequence[int]) -> dict[int, np.ndarray]:
    """Vectors of articles published since the model was trained (vectorised on publish)."""
    if not ids:
        return {}
    rows = ArticleVector.objects.filter(
        model_version_id=loaded.version_id, article_id__in=list(ids)
    ).values_list("article_id", "vector")
    dimensions = loaded.model.dimensions
    vectors = {}
    for article_id, blob in rows:
        vector = np.frombuffer(bytes(blob), dtype=np.float32)
        if vector.shape == (dimensions,):
            vectors[article_id] = vector
    return vectors


def _vectors_for(loaded: LoadedModel | None, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(vectors, model rows) for the ids; zero vectors and row -1 for what has none."""
    if loaded is None:
        return np.zeros((len(ids), 1), np.float32), np.full(len(ids), -1)
    model = loaded.model
    rows = model.rows_for(ids)
    vectors = np.zeros((len(ids), model.dimensions), np.float32)
    known = rows >= 0
    vectors[known] = model.vectors[rows[known]]
    missing = [int(a) for a in ids[~known]]
    if missing:
        fresh = _fresh_vectors(loaded=loaded, ids=missing)
        for position in np.flatnonzero(~known):
            vector = fresh.get(int(ids[position]))
            if vector is not None:
                vectors[position] = vector
    return vectors, rows


# --- The candidate pool: the same for every visitor, so built once per process per moment --


@dataclass
class _Pool:
    """Live articles of the last N days (newest first, at most M) and all that the scoring
    needs about them, with rows following `ids` and topic columns following `topic_ids`."""

    loaded: LoadedModel | None
    built_at: float  # time.time() of the build, for its age
    built_epoch: float  # the moment it was built for, for freshness
    ids: np.ndarray
    published: np.ndarray  # epoch seconds
    pick_until: np.ndarray  # epoch seconds; 0 when not a pick
    topic_ids: np.ndarray
    topic_matrix: np.ndarray  # bool, article x topic
    vectors: np.ndarray
    popularity: np.ndarray
    # bool: the popularity is the story's own DP counts, not borrowed, and clear of the noise
    counted: np.ndarray
    # Per topic column: the rows of its stories, and their vectors side by side, so a read
    # is compared with the stories of its own topics without gathering rows per request.
    topic_members: list[np.ndarray]
    topic_vectors: list[np.ndarray]
    id_order: np.ndarray  # rows in the order of their ids, to find an id's row by bisection
    # Freshness as of `built_epoch` (it only decays from there, by one factor for every story),
    # and each story's closeness to every topic centroid of the model (a reader's profile
    # direction is a weighted sum of centroids): per request, neither touches the vectors.
    freshness_at_build: np.ndarray
    centroid_closeness: np.ndarray  # float32, story x model topic row
    # Topics of stories older than the window, as reads name them (see _older_topics).
    older_topics: dict[int, tuple[int, ...]] = field(default_factory=dict)

    def column_of(self) -> dict[int, int]:
        return {int(t): column for column, t in enumerate(self.topic_ids)}

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """The pool row of each article id, or -1 for one not in the pool."""
        if not len(self.ids):
            return np.full(len(ids), -1, dtype=np.int64)
        sorted_ids = self.ids[self.id_order]
        found = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
        return np.where(sorted_ids[found] == ids, self.id_order[found], -1)


class _PoolCache:
    def __init__(self) -> None:
        self.pool: _Pool | None = None
        self.lock = threading.Lock()
        self.refresher: threading.Thread | None = None


_pool_cache = _PoolCache()


def forget_candidate_pool() -> None:
    candidate_refresh_wait()
    with _pool_cache.lock:
        _pool_cache.pool = None


def candidate_refresh_wait(timeout: float = 30.0) -> None:
    """Wait for a refresh running in the background, if any (tests; a worker shutting down)."""
    refresher = _pool_cache.refresher
    if refresher is not None:
        refresher.join(timeout)


def _popularity(loaded: LoadedModel | None, rows: np.ndarray, topic_matrix, topic_ids):
    if loaded is None:
        return np.zeros(len(rows))
    model = loaded.model
    popularity = np.where(rows >= 0, model.popularity[np.maximum(rows, 0)], 0.0)
    model_rows = model.topic_rows()
    # Stories newer than the model borrow half their best topic's popularity.
    by_column = np.array(
        [
            model.topic_popularity[model_rows[int(t)]] if int(t) in model_rows else 0.0
            for t in topic_ids
        ]
    )
    unseen = rows < 0
    if unseen.any() and len(by_column):
        popularity[unseen] = 0.5 * (topic_matrix[unseen] * by_column).max(axis=1)
    return popularity


def _pool_build(*, loaded: LoadedModel | None, now: datetime) -> _Pool:
    """One query (a row per article and topic), newest first, turned into arrays."""
    since = now - timedelta(days=settings.RECOMMENDER_CANDIDATE_DAYS)
    rows = list(
        Article.objects.published(now=now)
        .filter(published_at__gte=since)
        .order_by("-published_at", "-id")
        .values_list(
            "id",
            EpochSeconds("published_at"),
            EpochSeconds("editors_pick_until"),
            Coalesce("topics__id", -1),
        )
    )
    row_ids = np.array([row[0] for row in rows], dtype=np.int64)
    # The articles in feed order (their first row), at most the configured number.
    _, first_row = np.unique(row_ids, return_index=True)
    firsts = np.sort(first_row)[: settings.RECOMMENDER_MAX_CANDIDATES]
    ids = row_ids[firsts]
    published = np.array([rows[i][1] for i in firsts], dtype=np.float64)
    pick_until = np.array([rows[i][2] for i in firsts], dtype=np.float64)
    row_topics = np.array([row[3] for row in rows], dtype=np.int64)
    topic_ids = np.unique(row_topics[row_topics >= 0])
    topic_matrix = np.zeros((len(ids), max(len(topic_ids), 1)), dtype=bool)
    id_order = np.argsort(ids, kind="stable")
    positions = np.minimum(np.searchsorted(ids[id_order], row_ids), max(len(ids) - 1, 0))
    if len(ids):
        kept = (row_topics >= 0) & (ids[id_order][positions] == row_ids)
        topic_matrix[id_order[positions[kept]], np.searchsorted(topic_ids, row_topics[kept])] = True
    vectors, model_rows = _vectors_for(loaded, ids)
    members = [np.flatnonzero(topic_matrix[:, column]) for column in range(len(topic_ids))]
    centroid_closeness = (
        vectors @ loaded.model.topic_centroids.astype(np.float32).T
        if loaded is not None and len(loaded.model.topic_centroids)
        else np.zeros((len(ids), 0), np.float32)
    )
    return _Pool(
        loaded=loaded,
        built_at=time.time(),
        built_epoch=now.timestamp(),
        ids=ids,
        published=published,
        pick_until=pick_until,
        topic_ids=topic_ids,
        topic_matrix=topic_matrix,
        vectors=vectors,
        popularity=_popularity(loaded, model_rows, topic_matrix, topic_ids),
        counted=loaded.model.popular_rows(model_rows)
        if loaded is not None
        else np.zeros(len(ids), dtype=bool),
        topic_members=members,
        topic_vectors=[np.ascontiguousarray(vectors[rows]) for rows in members],
        id_order=id_order,
        freshness_at_build=_freshness(published=published, at=now.timestamp()),
        centroid_closeness=centroid_closeness,
    )


def _freshness(*, published: np.ndarray, at: float) -> np.ndarray:
    hours = np.maximum(at - published, 0.0) / 3600
    return 0.5 ** (hours / settings.RECOMMENDER_FRESHNESS_HALF_LIFE_HOURS)


def _pool_freshness(pool: _Pool, *, now: datetime) -> np.ndarray:
    """Every story's freshness now: its freshness when the pool was built, times the decay
    since, which is the same for all (each was published before the build)."""
    later = now.timestamp() - pool.built_epoch
    if later < 0:  # asked about a moment before the build (a test's clock)
        return _freshness(published=pool.published, at=now.timestamp())
    return pool.freshness_at_build * 0.5 ** (
        later / 3600 / settings.RECOMMENDER_FRESHNESS_HALF_LIFE_HOURS
    )


def _candidate_pool(*, loaded: LoadedModel | None, now: datetime) -> _Pool:
    """The pool, refreshed after a few seconds (so a new story is a candidate within a
    minute) and rebuilt when another model version starts serving.

    A stale pool is refreshed in a background thread while this and other requests are
    still served from it: a build reads every candidate from the database, hundreds of
    milliseconds at 20,000 of them, which no reader should wait for. Only the first pool of a
    process (or of a model version) is built in the request."""
    pool = _pool_cache.pool
    if pool is None or pool.loaded is not loaded:
        pool = _pool_build(loaded=loaded, now=now)
        with _pool_cache.lock:
            _pool_cache.pool = pool
        return pool
    age = time.time() - pool.built_at
    if 0 <= age < settings.RECOMMENDER_CANDIDATE_CACHE_SECONDS:
        return pool
    if not settings.RECOMMENDER_CANDIDATE_REFRESH_IN_BACKGROUND:
        pool = _pool_build(loaded=loaded, now=now)
        with _pool_cache.lock:
            _pool_cache.pool = pool
        return pool
    with _pool_cache.lock:
        if _pool_cache.refresher is None or not _pool_cache.refresher.is_alive():
            _pool_cache.refresher = threading.Thread(
                target=_pool_refresh, kwargs={"loaded": loaded}, name="feed-candidates", daemon=True
            )
            _pool_cache.refresher.start()
    return pool


def _pool_refresh(*, loaded: LoadedModel | None) -> None:
    try:
        pool = _pool_build(loaded=loaded, now=timezone.now())
        with _pool_cache.lock:
            # A newer model may have started serving meanwhile; its pool is built for it.
            if _pool_cache.pool is not None and _pool_cache.pool.loaded is loaded:
                _pool_cache.pool = pool
    except Exception:
        logger.exception("Refreshing the feed's candidates failed; serving the previous ones.")
        with _pool_cache.lock:
            if _pool_cache.pool is not None:
                # Try again after another interval, not on every request.
                _pool_cache.pool.built_at = time.time()
    finally:
        # This thread's own database connection, opened for the build.
        connections.close_all()


# --- Scoring ------------------------------------------------------------------------------


@dataclass
class _Scores:
    """Each part of every candidate's score, kept to explain the ones shown."""

    relevance: np.ndarray
    topic: np.ndarray
    related: np.ndarray
    history: np.ndarray
    history_source: np.ndarray  # index into the reads, -1 for none
    popularity: np.ndarray
    freshness: np.ndarray
    pick: np.ndarray
    followed_topic: np.ndarray  # the followed topic behind the topic part, -1 for none
    # The followed topic a related story is related to: -1 for none, NEAREST for the one
    # whose centroid is closest to the story (of `nearest_of`: topic ids and centroids).
    related_topic: np.ndarray
    nearest_of: tuple[np.ndarray, np.ndarray] | None = None

    def related_topic_of(self, row: int, vectors: np.ndarray) -> int:
        topic_id = int(self.related_topic[row])
        if topic_id == NEAREST and self.nearest_of is not None:
            chosen, centroids = self.nearest_of
            return int(chosen[np.argmax(centroids @ vectors[row])])
        return topic_id


def _lent_weights(
    profile: ReaderProfile, loaded: LoadedModel | None, topic_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per topic column: the weight a topic the reader does not follow borrows from its
    affinity with one they do, and which followed topic lends it (-1 for none)."""
    lent = np.zeros(len(topic_ids))
    lender = np.full(len(topic_ids), -1, dtype=np.int64)
    if loaded is None:
        return lent, lender
    rows = loaded.model.topic_rows()
    affinity = loaded.model.topic_affinity
    followed = [(t, w) for t, w in profile.topic_weights.items() if t in rows and w > 0]
    for column, topic_id in enumerate(int(t) for t in topic_ids):
        if topic_id in profile.topic_weights or topic_id not in rows:
            continue
        for source, weight in followed:
            share = RELATED_TOPIC_SHARE * weight * float(affinity[rows[source], rows[topic_id]])
            if share > lent[column]:
                lent[column], lender[column] = share, source
    return lent, lender


def _older_topics(pool: _Pool, *, article_ids: list[int]) -> dict[int, tuple[int, ...]]:
    """The topics of stories older than the window (reads still shape the profile), kept
    with the pool: readers come back to the same stories, and topics are the same for everyone.
    A removed story has no topics left, so it is never the "X" of "Like 'X'"; one removed
    since is forgotten with the pool, within seconds."""
    known = pool.older_topics
    topics = {article_id: known[article_id] for article_id in article_ids if article_id in known}
    missing = [article_id for article_id in article_ids if article_id not in known]
    if missing:
        found: dict[int, list[int]] = {article_id: [] for article_id in missing}
        for article_id, topic_id in Article.topics.through.objects.filter(
            article_id__in=missing
        ).values_list("article_id", "topic_id"):
            found[article_id].append(topic_id)
        fetched = {article_id: tuple(topic_ids) for article_id, topic_ids in found.items()}
        topics.update(fetched)
        if len(known) < OLDER_TOPICS_KEPT:  # bounded: a pool lives seconds and holds ids only
            known.update(fetched)
    return topics


def _history_similarity(
    *, loaded: LoadedModel, pool: _Pool, reads: list[HistoryRead]
) -> tuple[np.ndarray, np.ndarray]:
    """Per pool row: the greatest similarity to one of the reads it shares a topic with (0
    for none), and which read that is (-1 for none).

    A story is "like" a read when they are in the same topic and close in content. Comparing
    each read with its own topics' stories only, rather than with every candidate, also keeps
    a 200-read profile at a twelfth of the work on a site with a dozen topics."""
    count = len(pool.ids)
    best = np.zeros(count, dtype=np.float32)
    source = np.full(count, -1, dtype=np.int64)
    read_ids = np.array([read.article_id for read in reads], dtype=np.int64)
    # Most reads are recent, so the pool holds their vectors and topics; the rest are
    # looked up in the model and the database.
    pool_rows = pool.rows_of(read_ids)
    in_pool = pool_rows >= 0
    read_vectors = np.zeros((len(reads), pool.vectors.shape[1]), dtype=np.float32)
    read_vectors[in_pool] = pool.vectors[pool_rows[in_pool]]
    # (read position, topic column) pairs: at once for the reads in the pool.
    in_pool_positions = np.flatnonzero(in_pool)
    pair_reads, pair_columns = np.nonzero(pool.topic_matrix[pool_rows[in_pool_positions]])
    pair_reads = in_pool_positions[pair_reads]
    older = np.flatnonzero(~in_pool)
    if len(older):
        read_vectors[older] = _vectors_for(loaded, read_ids[older])[0]
        columns = pool.column_of()
        positions_of: dict[int, list[int]] = {}
        for position in older:
            positions_of.setdefault(int(read_ids[position]), []).append(int(position))
        topics_of = _older_topics(pool, article_ids=list(positions_of))
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
    usable = np.linalg.norm(read_vectors, axis=1) > 0
    keep = usable[pair_reads]
    pair_reads, pair_columns = pair_reads[keep], pair_columns[keep]
    reads_per_column = {
        int(column): pair_reads[pair_columns == column] for column in np.unique(pair_columns)
    }
    for column, positions in reads_per_column.items():
        members = pool.topic_members[column]
        if not len(members):
            continue
        # Stories x reads: each story's best read is then a reduction along a row.
        similarity = pool.topic_vectors[column] @ read_vectors[positions].T
        nearest = similarity.argmax(axis=1)
        value = similarity[np.arange(len(members)), nearest]
        better = value > best[members]
        best[members[better]] = value[better]
        source[members[better]] = positions[nearest[better]]
    return best, source


def _score(
    *, profile: ReaderProfile, pool: _Pool, reads: list[HistoryRead], now: datetime
) -> _Scores:
    """Every part of every pool row's score (rows the reader must not see are dropped later,
    which is cheaper than copying the rows that stay)."""
    loaded = pool.loaded
    count = len(pool.ids)
    w = dict(DEFAULT_WEIGHTS)
    if loaded is not None:
        w.update(loaded.model.weights)
    freshness = _pool_freshness(pool, now=now)
    popularity = pool.popularity
    pick = (pool.pick_until > now.timestamp()).astype(float)
    topic, related, history_part = np.zeros(count), np.zeros(count), np.zeros(count)
    history_source = np.full(count, -1)
    followed_topic = np.full(count, -1, dtype=np.int64)
    related_topic = np.full(count, -1, dtype=np.int64)
    nearest_of = None

    if not profile.personalized:
        return _Scores(
            relevance=w["pick"] * pick + w["popularity"] * popularity + w["freshness"] * freshness,
            topic=topic,
            related=related,
            history=history_part,
            history_source=history_source,
            popularity=w["popularity"] * popularity,
            freshness=w["freshness"] * freshness,
            pick=w["pick"] * pick,
            followed_topic=followed_topic,
            related_topic=related_topic,
        )

    # Per story, the weight of its strongest followed topic, and the share a story in a topic
    # the reader does not follow borrows from one they do: set topic by topic (a handful),
    # not over the whole story x topic matrix.
    columns = pool.column_of()
    for topic_id, weight in profile.topic_weights.items():
        column = columns.get(topic_id)
        if column is None or weight <= 0:
            continue
        members = pool.topic_members[column]
        stronger = members[weight > topic[members]]
        topic[stronger] = weight
        followed_topic[stronger] = topic_id
    lent, lender = _lent_weights(profile, loaded, pool.topic_ids)
    for column in np.flatnonzero(lent > 0):
        members = pool.topic_members[column]
        stronger = members[lent[column] > related[members]]
        related[stronger] = lent[column]
        related_topic[stronger] = lender[column]
    related = np.where(related > topic, related, 0.0)
    related_topic = np.where(related > 0, related_topic, -1)

    content_share = 1.0
    if loaded is not None and reads and count:
        similarity, history_source = _history_similarity(loaded=loaded, pool=pool, reads=reads)
        history_part = np.clip(similarity, 0, 1) * HISTORY_SHARE
        if (history_source >= 0).any():
            content_share = 1 - HISTORY_SHARE
    if loaded is not None and count:
        model_rows = loaded.model.topic_rows()
        chosen = [t for t, wt in profile.topic_weights.items() if t in model_rows and wt > 0]
        if chosen:
            chosen_rows = [model_rows[t] for t in chosen]
            centroids = loaded.model.topic_centroids[chosen_rows]
            chosen_weights = np.array([profile.topic_weights[t] for t in chosen], np.float32)
            profile_vector = (chosen_weights[:, None] * centroids).sum(axis=0)
            norm = np.linalg.norm(profile_vector)
            if norm > 0:
                # The cosine with the profile direction (the weighted sum of the centroids,
                # normalised), from each story's closeness to each centroid.
                closeness = pool.centroid_closeness[:, chosen_rows] @ (chosen_weights / norm)
                closeness = np.clip(closeness, 0, 1) * content_share
                # Content close to the reader's topics counts with the topic part: with the
                # followed topic it is in, else as related to the nearest followed topic
                # (worked out only for the stories shown, see _related_topic).
                lift = w["content"] / w["topic"] * closeness
                in_followed = topic > 0
                topic = topic + lift * in_followed
                related = related + lift * ~in_followed
                related_topic = np.where(
                    ~in_followed & (related_topic < 0) & (related > 0), NEAREST, related_topic
                )
                nearest_of = (np.array(chosen), centroids)
    relevance = (
        w["topic"] * (topic + related)
        + w["content"] * history_part
        + w["popularity"] * popularity
        + w["freshness"] * freshness
        + 0.5 * w["pick"] * pick
    )
    return _Scores(
        relevance=relevance,
        topic=w["topic"] * topic,
        related=w["topic"] * related,
        history=w["content"] * history_part,
        history_source=history_source,
        popularity=w["popularity"] * popularity,
        freshness=w["freshness"] * freshness,
        pick=0.5 * w["pick"] * pick,
        followed_topic=followed_topic,
        related_topic=related_topic,
        nearest_of=nearest_of,
    )


def _reason_kind(*, row: int, scores: _Scores, popularity_share: float) -> str:
    """The part that contributed most to the story's score."""
    kinds = explanations.ReasonKind
    parts = {
        kinds.TOPIC: scores.topic[row],
        kinds.RELATED_TOPIC: scores.related[row],
        kinds.HISTORY: scores.history[row],
        kinds.POPULAR: scores.popularity[row] if popularity_share >= POPULAR_FLOOR else 0.0,
        kinds.PICK: scores.pick[row],
        kinds.FRESH: scores.freshness[row],
    }
    kind = max(parts, key=lambda k: parts[k])
    return kind if parts[kind] > 0 else kinds.FRESH


def _reason(
    *,
    kind: str,
    row: int,
    scores: _Scores,
    reads: list[HistoryRead],
    read_titles: dict[int, str],
    topic_names: dict[int, str],
    vectors: np.ndarray,
    signed_in: bool,
    now: datetime,
) -> Reason:
    """The reason of that kind, as a sentence."""
    kinds = explanations.ReasonKind
    if kind == kinds.TOPIC:
        topic_id = int(scores.followed_topic[row])
        return explanations.because_you_follow(topic_id=topic_id, topic_name=topic_names[topic_id])
    if kind == kinds.RELATED_TOPIC:
        return explanations.related_to(
            topic_name=topic_names[scores.related_topic_of(row, vectors)]
        )
    if kind == kinds.HISTORY:
        read = reads[int(scores.history_source[row])]
        return explanations.like_what_you_read(
            title=read_titles[read.article_id], read_at=read.read_at, now=now
        )
    if kind == kinds.POPULAR:
        return explanations.popular_today()
    if kind == kinds.PICK:
        return explanations.editors_pick(signed_in=signed_in)
    return explanations.just_in(signed_in=signed_in)


class _RankedFeed(Sequence):
    """The feed as a sequence a Paginator can slice: only the slice asked for is re-ranked.
    Items are pool rows; `rows` are the ones this visitor may see."""

    def __init__(self, *, relevance, rows, vectors, topic_matrix, page_size: int) -> None:
        self.relevance, self.rows = relevance[rows], rows
        self.vectors, self.topic_matrix = vectors, topic_matrix
        self.page_size = page_size

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index):
        if not isinstance(index, slice):
            return self[index : index + 1][0]
        start, stop, _ = index.indices(len(self))
        order = ranking.rank(
            relevance=self.relevance,
            vectors=self.vectors,
            topic_matrix=self.topic_matrix,
            rows=self.rows,
            diversity=settings.RECOMMENDER_DIVERSITY,
            topic_cap=settings.RECOMMENDER_TOPIC_CAP,
            page_size=self.page_size,
            stop=stop,
        )
        return [int(self.rows[i]) for i in order[start:stop]]


def _reader_reads(*, user, profile: ReaderProfile) -> list[HistoryRead]:
    """The reader's own reads, newest first, only at "Topics + reading history" (the privacy
    chokepoint decrypts them; nothing else in this app touches history). Enough of them to
    leave out everything read in the candidate window, for all but the heaviest readers."""
    if not profile.personalized or profile.level != Preferences.Level.TOPICS_HISTORY:
        return []
    return history_reads_for_user(
        user=user,
        limit=max(settings.RECOMMENDER_HISTORY_LIMIT, settings.RECOMMENDER_EXCLUDED_READS),
    )


def feed_page(
    *,
    user,
    page_number=1,
    page_size: int | None = None,
    profile: ReaderProfile | None = None,
    now: datetime | None = None,
) -> Page:
    """One page of the feed for this visitor; each item is a FeedItem (article + reason).

    Personal for a signed-in reader with personalization on and topics chosen; otherwise
    the non-personal feed (editors' picks, fresh, DP popular). A signed-in reader's blocked
    topics are left out either way. `page_number` may be anything a visitor typed.
    """
    now = now or timezone.now()
    page_size = page_size or settings.NEWS_PAGE_SIZE
    profile = profile if profile is not None else reader_profile(user=user)
    try:
        return _feed_page(
            user=user, profile=profile, page_number=page_number, page_size=page_size, now=now
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


def _feed_page(*, user, profile: ReaderProfile, page_number, page_size: int, now: datetime) -> Page:
    pool = _candidate_pool(loaded=active_model(), now=now)
    reads = _reader_reads(user=user, profile=profile)
    keep = pool.published <= now.timestamp()
    if reads:
        read_rows = pool.rows_of(np.array([read.article_id for read in reads], dtype=np.int64))
        keep[read_rows[read_rows >= 0]] = False
    columns = pool.column_of()
    blocked = [columns[t] for t in profile.blocked_topic_ids if t in columns]
    if blocked:
        keep &= ~pool.topic_matrix[:, blocked].any(axis=1)
    scores = _score(
        profile=profile,
        pool=pool,
        reads=reads[: settings.RECOMMENDER_HISTORY_LIMIT],
        now=now,
    )
    visible = np.flatnonzero(keep)
    ranked = _RankedFeed(
        relevance=scores.relevance,
        rows=visible,
        vectors=pool.vectors,
        topic_matrix=pool.topic_matrix,
        page_size=page_size,
    )
    page = Paginator(ranked, page_size).get_page(page_number)
    rows = list(page.object_list)
    wanted = [int(pool.ids[row]) for row in rows]
    top = pool.popularity[visible].max() if len(visible) else 0.0
    kinds = {
        row: _reason_kind(
            row=row,
            scores=scores,
            # "Popular today" only for a story's own counts, never its topic's.
            popularity_share=float(pool.popularity[row] / top)
            if top > 0 and pool.counted[row]
            else 0.0,
        )
        for row in rows
    }
    # The reads a card names ("Like 'X'"), looked up with the page's stories: one query of
    # live stories without their body (most of a row), source or topics. What shows them
    # loads those (cards are rendered once per story version and kept; the API prefetches),
    # and a prefetch per page costs more than the rest of the query. A read story withdrawn
    # since is not named. Reasons name only followed topics, which the profile names.
    named = {
        reads[int(scores.history_source[row])].article_id
        for row, kind in kinds.items()
        if kind == explanations.ReasonKind.HISTORY
    }
    by_id = articles_live_by_id(ids=[*wanted, *named], now=now)
    read_titles = {
        article_id: by_id[article_id].title for article_id in named if article_id in by_id
    }
    topic_names = profile.topic_name_of
    unnamed = [t for t in profile.topic_weights if t not in topic_names]
    if unnamed and (scores.related_topic[rows] != -1).any():
        topic_names.update(Topic.objects.filter(pk__in=unnamed).values_list("pk", "name"))
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
        reason = _reason(
            kind=kind,
            row=row,
            scores=scores,
            reads=reads,
            read_titles=read_titles,
            topic_names=topic_names,
            vectors=pool.vectors,
            signed_in=user.is_authenticated,
            now=now,
        )
        followed = int(scores.followed_topic[row])
        if followed >= 0 and reason.show_less_topic_id is None:
            # Whatever brought it here, "Show less like this" lowers the topic it is in.
            reason = replace(
                reason, show_less_topic_id=followed, show_less_topic_name=topic_names[followed]
            )
        items.append(
            FeedItem(
                article=article,
                reason=reason,
                list_type=PERSONAL if profile.personalized else EDITORIAL,
            )
        )
    page.object_list = items
    return page


# --- More like this -----------------------------------------------------------------------


def more_like_this(*, article: Article, limit: int = 4) -> list[Article]:
    """Published stories closest in content to this one: the same for every visitor.
    Without a model, the newest stories sharing a topic with it."""
    try:
        return _more_like_this(article=article, limit=limit)
    except Exception:
        # A side panel must never take the article down with it.
        logger.exception("More like this failed for article %s; showing none.", article.pk)
        return []


def _more_like_this(*, article: Article, limit: int) -> list[Article]:
    loaded = active_model()
    if loaded is None:
        return _same_topics(article=article, limit=limit)
    # The feed's candidates: live stories of the last N days with their vectors (fresh ones
    # included) already in memory, so a page compares one vector with the window, not with
    # the whole catalogue and every vector stored since the model was trained.
    pool = _candidate_pool(loaded=loaded, now=timezone.now())
    ids = np.array([article.pk], dtype=np.int64)
    row = int(pool.rows_of(ids)[0])
    vector = pool.vectors[row] if row >= 0 else _vectors_for(loaded, ids)[0][0]
    if not np.linalg.norm(vector) > 0:
        vector = loaded.model.vectorise(
            [article_text(title=article.title, summary=article.summary, body=article.body)]
        )[0]
    similarity = pool.vectors @ vector
    if row >= 0:
        similarity[row] = -np.inf
    wanted = min(len(similarity), limit * 4)
    best = np.argpartition(-similarity, wanted - 1)[:wanted] if wanted else np.array([], int)
    best = best[np.argsort(-similarity[best], kind="stable")]
    ordered = [int(pool.ids[i]) for i in best if similarity[i] >= MORE_LIKE_THIS_MIN_SIMILARITY]
    live = articles_live_by_id(ids=ordered)
    return [live[pk] for pk in ordered if pk in live][:limit]


def _same_topics(*, article: Article, limit: int) -> list[Article]:
    topics = list(article.topics.all())
    if not topics:
        return []
    queryset: QuerySet[Article] = articles_for_topic(topic=topics[0])
    if len(topics) > 1:
        queryset = articles_latest().filter(topics__in=topics).distinct()
    return list(queryset.exclude(pk=article.pk)[:limit])


# --- For editors --------------------------------------------------------------------------


def model_versions_recent(*, limit: int = 20) -> QuerySet[ModelVersion]:
    return ModelVersion.objects.order_by("-version")[:limit]


def retrain_last_failure() -> ModelVersion | None:
    """The latest retrain that did not produce a serving model, if it is newer than the
    latest one that did: what an editors' dashboard should warn about."""
    bad = [ModelVersion.Status.FAILED, ModelVersion.Status.REJECTED]
    latest_bad = ModelVersion.objects.filter(status__in=bad).order_by("-version").first()
    latest_good = (
        ModelVersion.objects.filter(activated_at__isnull=False).order_by("-version").first()
    )
    if latest_bad and (latest_good is None or latest_bad.version > latest_good.version):
        return latest_bad
    return None
