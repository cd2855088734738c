"""The feed's candidate pool: live articles of the last N days with everything scoring needs
about them, the same for every visitor, so built once per process per moment and refreshed
in the background."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.db.models.functions import Coalesce
from django.utils import timezone

from common.db_functions import EpochSeconds
from news.models import Article

from ..active import LoadedModel
from ..models import ArticleVector
from .scoring import Candidates, only_columns

logger = logging.getLogger(__name__)

# How many older stories' topics a pool keeps at most (older_topics).
OLDER_TOPICS_KEPT = 100_000
# When a story last went live (time.time()), shared by every process: a pool whose build
# began before it is rebuilt before it ranks again.
PUBLISHED_AT_KEY = "recommendations:feed:published-at"


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


def vectors_for(loaded: LoadedModel | None, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
class CandidatePool:
    """Live articles of the last N days (newest first, at most M) and all that the scoring
    needs about them, with rows following `ids` and topic columns following `topic_ids`."""

    loaded: LoadedModel | None
    built_at: float  # time.time() of the build, for its age
    built_epoch: float  # the moment it was built for, for freshness
    ids: np.ndarray
    published: np.ndarray  # epoch seconds
    pick_until: np.ndarray  # epoch seconds; 0 when not a pick
    # Vectors, topics, popularity and closeness to the model's topic centroids, as scoring
    # takes them (per topic column its stories' rows and vectors side by side, so a read is
    # compared with the stories of its own topics without gathering rows per request).
    candidates: Candidates
    # bool: the popularity is the story's own DP counts, not borrowed, and clear of the noise
    counted: np.ndarray
    id_order: np.ndarray  # rows in the order of their ids, to find an id's row by bisection
    # Freshness as of `built_epoch` (it only decays from there, by one factor for every story).
    freshness_at_build: np.ndarray
    # Topics of stories older than the window, as reads name them (see older_topics).
    older_topics: dict[int, tuple[int, ...]] = field(default_factory=dict)
    started_at: float = 0.0  # time.time() when its build began (what it may have missed)

    @property
    def vectors(self) -> np.ndarray:
        return self.candidates.vectors

    @property
    def topic_ids(self) -> np.ndarray:
        return self.candidates.topic_ids

    @property
    def topic_matrix(self) -> np.ndarray:
        return self.candidates.topic_matrix

    @property
    def popularity(self) -> np.ndarray:
        return self.candidates.popularity

    def column_of(self) -> dict[int, int]:
        return self.candidates.columns

    @cached_property
    def sorted_ids(self) -> np.ndarray:
        return self.ids[self.id_order]

    @cached_property
    def popularity_order(self) -> np.ndarray:
        """Rows from the most popular down, for the top popularity among the rows a reader
        may see without gathering all of them."""
        return np.argsort(-self.popularity, kind="stable")

    def top_popularity(self, visible: np.ndarray) -> float:
        """The greatest popularity among the rows `visible` (a mask) marks: the first such
        row in `popularity_order`, a reader's reads and blocked topics being few."""
        for row in self.popularity_order[:64]:
            if visible[row]:
                return self.popularity[row]
        return self.popularity[visible].max() if visible.any() else 0.0

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """The pool row of each article id, or -1 for one not in the pool."""
        if not len(self.ids):
            return np.full(len(ids), -1, dtype=np.int64)
        sorted_ids = self.sorted_ids
        found = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
        return np.where(sorted_ids[found] == ids, self.id_order[found], -1)


class _PoolCache:
    def __init__(self) -> None:
        self.pool: CandidatePool | None = None
        self.lock = threading.Lock()
        self.refresher: threading.Thread | None = None


_pool_cache = _PoolCache()


def candidate_pool_forget() -> None:
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


def _pool_build(*, loaded: LoadedModel | None, now: datetime) -> CandidatePool:
    """One query (a row per article and topic), newest first, turned into arrays."""
    started_at = time.time()
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
    vectors, model_rows = vectors_for(loaded, ids)
    members = [np.flatnonzero(topic_matrix[:, column]) for column in range(len(topic_ids))]
    centroid_closeness = (
        vectors @ loaded.model.topic_centroids.astype(np.float32).T
        if loaded is not None and len(loaded.model.topic_centroids)
        else np.zeros((len(ids), 0), np.float32)
    )
    model = loaded.model if loaded is not None else None
    candidates = Candidates(
        vectors=vectors,
        topic_ids=topic_ids,
        topic_matrix=topic_matrix,
        popularity=_popularity(loaded, model_rows, topic_matrix, topic_ids),
        centroid_closeness=centroid_closeness,
        model_topic_ids=model.topic_ids if model is not None else np.zeros(0, np.int64),
        topic_centroids=model.topic_centroids if model is not None else np.zeros((0, 1)),
        topic_affinity=model.topic_affinity if model is not None else None,
        topic_members=members,
        topic_vectors=[np.ascontiguousarray(vectors[rows]) for rows in members],
        only_column=only_columns(topic_matrix),
    )
    return CandidatePool(
        loaded=loaded,
        built_at=time.time(),
        built_epoch=now.timestamp(),
        ids=ids,
        published=published,
        pick_until=pick_until,
        candidates=candidates,
        counted=model.popular_rows(model_rows)
        if model is not None
        else np.zeros(len(ids), dtype=bool),
        id_order=id_order,
        freshness_at_build=freshness_at(published=published, at=now.timestamp()),
        started_at=started_at,
    )


def freshness_at(*, published: np.ndarray, at: float) -> np.ndarray:
    hours = np.maximum(at - published, 0.0) / 3600
    return 0.5 ** (hours / settings.RECOMMENDER_FRESHNESS_HALF_LIFE_HOURS)


def pool_freshness(pool: CandidatePool, *, now: datetime) -> np.ndarray:
    """Every story's freshness now: its freshness when the pool was built, times the decay
    since, which is the same for all (each was published before the build)."""
    later = now.timestamp() - pool.built_epoch
    if later < 0:  # asked about a moment before the build (a test's clock)
        return freshness_at(published=pool.published, at=now.timestamp())
    return pool.freshness_at_build * 0.5 ** (
        later / 3600 / settings.RECOMMENDER_FRESHNESS_HALF_LIFE_HOURS
    )


def candidate_pool(*, loaded: LoadedModel | None, now: datetime) -> CandidatePool:
    """The pool, refreshed after a few seconds (so a new story is a candidate within a
    minute) and rebuilt when another model version starts serving.

    A stale pool is refreshed in a background thread while this and other requests are
    still served from it: a build reads every candidate from the database, hundreds of
    milliseconds at 20,000 of them, which no reader should wait for. Only the first pool of a
    process (or of a model version) is built in the request."""
    pool = _pool_cache.pool
    published_at = cache.get(PUBLISHED_AT_KEY)
    missed = pool is not None and published_at is not None and pool.started_at < published_at
    if pool is None or pool.loaded is not loaded or missed:
        # A story went live since this pool was begun: the page asked for now (and the
        # shared first page kept from it) must hold it, so this request waits for the build.
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


def candidate_pool_published() -> None:
    """Stories went live: every process's next feed is ranked from a pool built after now."""
    cache.set(PUBLISHED_AT_KEY, time.time(), None)


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


def older_topics(pool: CandidatePool, *, article_ids: list[int]) -> dict[int, tuple[int, ...]]:
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


def candidate_pool_size() -> int:
    """How many candidates the pool this process serves from holds (benchmarks)."""
    pool = _pool_cache.pool
    return len(pool.ids) if pool is not None else 0
