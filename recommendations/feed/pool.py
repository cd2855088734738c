"""The feed's candidate pool: live articles of the last N days with everything scoring needs
about them, the same for every visitor. Their public rows (the catalogue) are read from the
database once per change for the whole site and shared through the cache; each process turns
them into its pool with its own model, so no reader waits for the database read."""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.db.models import Min
from django.db.models.functions import Coalesce
from django.utils import timezone

from common.db_functions import EpochSeconds
from news.models import Article

from ..active import MARKER_KEY, LoadedModel, active_model
from ..models import ArticleVector
from .scoring import Candidates, only_columns

logger = logging.getLogger(__name__)

# How many older stories' topics a pool keeps at most (older_topics).
OLDER_TOPICS_KEPT = 100_000
# When a story last went live (time.time()), shared by every process: a pool whose build
# began before it is rebuilt before it ranks again.
PUBLISHED_AT_KEY = "recommendations:feed:published-at"
# Changes whenever any story or the serving model does (set by recommendations.feed_cache):
# what is made from stories' rows (the shared page, kept article pages, private mode's
# bundle, the stories a process listed) is kept under it.
CATALOGUE_MARKER_KEY = "feed:catalogue"


def marker_current(key: str, *, found: dict | None = None) -> str:
    """The current marker under `key` (from `found`, a read that asked for it, if there),
    made when there is none (a new or restarted cache); "" while the cache is down."""
    marker = (found or {}).get(key) or cache.get(key)
    if marker is None:
        cache.add(key, secrets.token_hex(8), None)
        marker = cache.get(key)
    return marker or ""


def catalogue_marker(*, found: dict | None = None) -> str:
    """The current catalogue marker: changes whenever any story or the model does."""
    return marker_current(CATALOGUE_MARKER_KEY, found=found)


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
    known = rows >= 0
    # One gather of every row (a pool's 20,000 x 128 floats), then the unknown ones zeroed:
    # half the copying of a masked assignment.
    if known.any():
        vectors = model.vectors.take(np.maximum(rows, 0), axis=0).astype(np.float32, copy=False)
        vectors[~known] = 0.0
    else:
        vectors = np.zeros((len(ids), model.dimensions), np.float32)
    missing = [int(a) for a in ids[~known]]
    if missing:
        fresh = _fresh_vectors(loaded=loaded, ids=missing)
        for position in np.flatnonzero(~known):
            vector = fresh.get(int(ids[position]))
            if vector is not None:
                vectors[position] = vector
    return vectors, rows


# --- The candidate pool: the same for every visitor, so made once per process per catalogue --


@dataclass
class CandidatePool:
    """Live articles of the last N days (newest first, at most M) and all that the scoring
    needs about them, with rows following `ids` and topic columns following `topic_ids`."""

    loaded: LoadedModel | None
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
    # What it was made from (its `started_at` and `built_at` say what it may miss, how old).
    catalogue: Catalogue | None = None
    without_vector: int = 0  # stories newer than the model not vectorised yet

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


# --- The catalogue: the public rows every pool is made of, read once per change -------------


@dataclass(frozen=True)
class Catalogue:
    """The live stories of the candidate window, newest first (at most the configured number),
    as the database gave them: public article data only, the same for every process and model,
    so one read serves the whole site."""

    started_at: float  # time.time() when the read began: a change after it may be missing
    built_at: float  # time.time() when it was read, for its age
    epoch: float  # the moment whose live stories it holds
    ids: np.ndarray  # int64
    published: np.ndarray  # epoch seconds
    pick_until: np.ndarray  # epoch seconds; 0 when not a pick
    topic_ids: np.ndarray  # int64, ascending: the topic of each column
    # A row and a topic column per (story, topic) pair, by column then row.
    pair_rows: np.ndarray
    pair_columns: np.ndarray
    id_order: np.ndarray  # rows in the order of their ids
    digest: str  # of the rows alone, to tell a catalogue read again unchanged
    # The catalogue marker as the read began ("" while the cache was down): when it has moved
    # since, the site changed a story, a topic or the model, and the catalogue may be behind.
    marker: str = ""
    # When the next story stored as published with a later time goes live (inf: none is).
    next_live_at: float = float("inf")

    def as_shared(self) -> dict:
        # Plain values and arrays (pickled as raw buffers, under 1 MB at 20,000 stories), so a
        # process running other code can still read it.
        return {"format": CATALOGUE_FORMAT, **self.__dict__}

    @classmethod
    def from_shared(cls, value) -> Catalogue | None:
        if not isinstance(value, dict) or value.get("format") != CATALOGUE_FORMAT:
            return None
        return cls(**{name: value[name] for name in cls.__dataclass_fields__})


# Raised with every change of `Catalogue`'s fields: a value of another format is not read.
CATALOGUE_FORMAT = 4
# The shared catalogue, and its `started_at` apart: every request asks for that small stamp
# (with the publication mark, one round trip); the catalogue itself only when it is newer.
CATALOGUE_KEY = "recommendations:feed:catalogue"
CATALOGUE_STAMP_KEY = "recommendations:feed:catalogue-started-at"
# Held by the one process that reads an aged catalogue again, for at most one interval.
CATALOGUE_LOCK_KEY = "recommendations:feed:catalogue-refresh"


def _catalogue_read(*, now: datetime) -> Catalogue:
    """One query (a row per article and topic), newest first, turned into arrays, run as
    written SQL (the ORM's per-value converters cost more than the database's answer); and
    one aggregate: when the next story stored as published for later goes live."""
    started_at = time.time()
    # Before the rows: a change made while they are read moves it again.
    marker = catalogue_marker()
    since = now - timedelta(days=settings.RECOMMENDER_CANDIDATE_DAYS)
    query = (
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
    sql, params = query.query.sql_with_params()
    with connections[query.db].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    table = np.array(rows, dtype=np.float64).reshape(len(rows), 4)
    row_ids = table[:, 0].astype(np.int64)
    # The articles in feed order (their first row), at most the configured number.
    _, first_row = np.unique(row_ids, return_index=True)
    firsts = np.sort(first_row)[: settings.RECOMMENDER_MAX_CANDIDATES]
    ids = row_ids[firsts]
    row_topics = table[:, 3].astype(np.int64)
    topic_ids = np.unique(row_topics[row_topics >= 0])
    id_order = np.argsort(ids, kind="stable")
    pair_rows = np.zeros(0, dtype=np.int64)
    pair_columns = np.zeros(0, dtype=np.int64)
    if len(ids):
        positions = np.minimum(np.searchsorted(ids[id_order], row_ids), len(ids) - 1)
        kept = (row_topics >= 0) & (ids[id_order][positions] == row_ids)
        pair_rows = id_order[positions[kept]]
        pair_columns = np.searchsorted(topic_ids, row_topics[kept])
        by_column = np.lexsort((pair_rows, pair_columns))
        pair_rows, pair_columns = pair_rows[by_column], pair_columns[by_column]
    published = table[firsts, 1].copy()
    pick_until = table[firsts, 2].copy()
    pair_rows, pair_columns = pair_rows.astype(np.int32), pair_columns.astype(np.int32)
    digest = hashlib.blake2b(digest_size=16)
    for array in (ids, published, pick_until, topic_ids, pair_rows, pair_columns):
        digest.update(array.tobytes())
    # A story stored as published with a later time goes live then, with no signal sent.
    next_live = Article.objects.filter(
        status=Article.Status.PUBLISHED, published_at__gt=now
    ).aggregate(first=Min("published_at"))["first"]
    return Catalogue(
        started_at=started_at,
        built_at=time.time(),
        epoch=now.timestamp(),
        ids=ids,
        published=published,
        pick_until=pick_until,
        topic_ids=topic_ids,
        pair_rows=pair_rows,
        pair_columns=pair_columns,
        id_order=id_order,
        digest=digest.hexdigest(),
        marker=marker,
        next_live_at=next_live.timestamp() if next_live is not None else float("inf"),
    )


def _catalogue_share(catalogue: Catalogue) -> None:
    """Offer it to every process, unless a newer one is there already (two changes at once)."""
    if (cache.get(CATALOGUE_STAMP_KEY) or 0.0) > catalogue.started_at:
        return
    # The catalogue before its stamp: whoever sees the stamp finds the catalogue.
    cache.set(CATALOGUE_KEY, catalogue.as_shared(), None)
    cache.set(CATALOGUE_STAMP_KEY, catalogue.started_at, None)


def _catalogue_shared() -> Catalogue | None:
    try:
        return Catalogue.from_shared(cache.get(CATALOGUE_KEY))
    except Exception:  # written by other code, or cut short: read it from the database
        logger.exception("The shared feed candidates could not be read.")
        return None


# --- The pool: the catalogue with what this process's model knows about each story ----------


def _pool_from(catalogue: Catalogue, *, loaded: LoadedModel | None) -> CandidatePool:
    """Vectors, popularity and topics as scoring takes them: numpy on arrays in memory, no
    query but the vectors of stories newer than the model (a few, vectorised on publish)."""
    ids = catalogue.ids
    topic_ids = catalogue.topic_ids
    topic_matrix = np.zeros((len(ids), max(len(topic_ids), 1)), dtype=bool)
    topic_matrix[catalogue.pair_rows, catalogue.pair_columns] = True
    vectors, model_rows = vectors_for(loaded, ids)
    # Each topic column's rows, ascending: the pairs come sorted so.
    bounds = np.searchsorted(catalogue.pair_columns, np.arange(1, len(topic_ids)))
    members = np.split(catalogue.pair_rows.astype(np.intp), bounds) if len(topic_ids) else []
    # Column by column in memory: a page gathers the few columns of the reader's topics
    # (13 us instead of 43 at 20,000 stories and 12 topics), and the values are the same.
    centroid_closeness = np.asfortranarray(
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
        built_epoch=catalogue.epoch,
        ids=ids,
        published=catalogue.published,
        pick_until=catalogue.pick_until,
        candidates=candidates,
        counted=model.popular_rows(model_rows)
        if model is not None
        else np.zeros(len(ids), dtype=bool),
        id_order=catalogue.id_order,
        freshness_at_build=freshness_at(published=catalogue.published, at=catalogue.epoch),
        catalogue=catalogue,
        without_vector=int(np.count_nonzero(~vectors[model_rows < 0].any(axis=1)))
        if loaded is not None
        else 0,
    )


def _pool_for(
    catalogue: Catalogue, *, loaded: LoadedModel | None, previous: CandidatePool | None
) -> CandidatePool:
    """The previous pool when the catalogue was read again unchanged (most reads of an aged
    one) and each story had its vector: making one costs a process 30-50 ms of CPU, which
    the request that takes a new catalogue would wait for."""
    if (
        previous is not None
        and previous.loaded is loaded
        and previous.catalogue is not None
        and previous.catalogue.digest == catalogue.digest
        and not previous.without_vector
    ):
        # Its freshness decays from its own build, the same as from this read's. Topics of
        # older stories are asked again, so that one removed since is forgotten.
        return replace(previous, catalogue=catalogue, older_topics={})
    return _pool_from(catalogue, loaded=loaded)


class _PoolCache:
    def __init__(self) -> None:
        self.pool: CandidatePool | None = None
        # A catalogue this process read in the background, for when the cache is down.
        self.read: Catalogue | None = None
        self.lock = threading.Lock()
        self.refresher: threading.Thread | None = None


_pool_cache = _PoolCache()


def candidate_pool_forget() -> None:
    """Forget the pool, here and the shared catalogue: the next one is read anew."""
    candidate_refresh_wait()
    with _pool_cache.lock:
        _pool_cache.pool = None
        _pool_cache.read = None
    cache.delete_many([CATALOGUE_STAMP_KEY, CATALOGUE_KEY, CATALOGUE_LOCK_KEY])


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


# What a feed request reads from the shared cache, in one round trip (with what its caller
# reads, `pool_marks(also=...)`): the last publication, the shared catalogue's stamp, the
# catalogue marker and which model is active.
POOL_MARK_KEYS = (PUBLISHED_AT_KEY, CATALOGUE_STAMP_KEY, CATALOGUE_MARKER_KEY, MARKER_KEY)


def pool_marks(*, also: Sequence[str] = ()) -> dict:
    """The feed's marks and the keys `also` asked for: each of those is in the result, None
    when the cache holds none (so a caller can tell "asked, absent" from "not asked")."""
    return {**dict.fromkeys(also), **cache.get_many([*also, *POOL_MARK_KEYS])}


def candidate_pool(
    *, loaded: LoadedModel | None, now: datetime, marks: dict | None = None
) -> CandidatePool:
    """The pool, from a catalogue at most a few seconds old (so a story is a candidate within
    a minute; one published through `article_publish` from the next page on) and made again
    when another model version starts serving.

    No reader waits for the database read (hundreds of milliseconds at 20,000 candidates,
    which used to be paid by every process after each publication): the process that
    publishes reads the catalogue and shares it, and an aged one is read again in the
    background by one process for the whole site. A process takes a newer shared catalogue
    in the request that sees it (1 ms to fetch, and 30-50 ms of numpy at 20,000 candidates
    when it holds a change, none when it does not). It reads the catalogue itself
    in the request only when there is none yet, or when the shared one misses a publication
    (the publishing process failed to share it). `marks`: this request's `pool_marks()`."""
    pool = _pool_cache.pool
    marks = pool_marks() if marks is None else marks
    published_at = marks.get(PUBLISHED_AT_KEY) or 0.0
    catalogue = pool.catalogue if pool is not None else None
    known = [c for c in (_pool_cache.read, catalogue) if c is not None]
    if marks.get(CATALOGUE_STAMP_KEY, 0.0) > max((c.started_at for c in known), default=0.0):
        shared = _catalogue_shared()
        if shared is not None:
            known.append(shared)
    if known:
        catalogue = max(known, key=lambda c: c.started_at)
    if catalogue is None or catalogue.started_at < published_at:
        # A story went live since: the page asked for now (and the shared first page kept
        # from it) must hold it.
        catalogue = _catalogue_read_here(now=now, previous=catalogue)
    elif _behind(catalogue, pool=pool, marks=marks, now=now):
        if settings.RECOMMENDER_CANDIDATE_REFRESH_IN_BACKGROUND:
            _refresh_in_background()
        else:
            catalogue = _catalogue_read_here(now=now, previous=catalogue)
    if pool is None or pool.catalogue is not catalogue or pool.loaded is not loaded:
        pool = _pool_for(catalogue, loaded=loaded, previous=pool)
        with _pool_cache.lock:
            _pool_cache.pool = pool
    return pool


def _behind(
    catalogue: Catalogue, *, pool: CandidatePool | None, marks: dict, now: datetime
) -> bool:
    """Whether the catalogue is read again: once `RECOMMENDER_CANDIDATE_CACHE_SECONDS` old
    when it may be behind (the site changed a story, a topic or the model since it was read,
    or cannot tell while the cache is down; a story stored as published for later went live;
    a story still waits for its vector), and once `RECOMMENDER_CANDIDATE_RECHECK_SECONDS` old
    whatever happened (what nothing reports: a change made outside the site, the oldest
    stories leaving the window). Reading it while nothing changed cost the site a read of
    every candidate's rows every few seconds, and the requests served meanwhile their tail."""
    age = time.time() - catalogue.built_at
    if not 0 <= age < settings.RECOMMENDER_CANDIDATE_RECHECK_SECONDS:
        return True
    if age < settings.RECOMMENDER_CANDIDATE_CACHE_SECONDS:
        return False
    marker = catalogue_marker(found=marks)
    return (
        not marker
        or marker != catalogue.marker
        or now.timestamp() >= catalogue.next_live_at
        or (pool is not None and pool.catalogue is catalogue and pool.without_vector > 0)
    )


def candidate_pool_warm() -> CandidatePool:
    """What a new process's first feed page would otherwise wait for: the serving model
    loaded, and the pool made from the shared catalogue (read when there is none)."""
    return candidate_pool(loaded=active_model(), now=timezone.now())


def _catalogue_read_here(*, now: datetime, previous: Catalogue | None) -> Catalogue:
    """Read in this request and shared; should the read fail, the previous one serves on."""
    try:
        catalogue = _catalogue_read(now=now)
    except Exception:
        if previous is None:
            raise
        logger.exception("Reading the feed's candidates failed; serving the previous ones.")
        return previous
    _catalogue_share(catalogue)
    return catalogue


def _refresh_in_background() -> None:
    """One process of the site reads the aged catalogue again, the others keep serving theirs
    until it is shared: a read holds a sync worker's interpreter lock for part of its time."""
    with _pool_cache.lock:
        if _pool_cache.refresher is not None and _pool_cache.refresher.is_alive():
            return
        # False: another process holds it. None: the cache is down, so each process reads
        # its own, as it can share none.
        if cache.add(CATALOGUE_LOCK_KEY, 1, settings.RECOMMENDER_CANDIDATE_CACHE_SECONDS) is False:
            return
        _pool_cache.refresher = threading.Thread(
            target=_catalogue_refresh,
            kwargs={"state": _pool_cache},
            name="feed-candidates",
            daemon=True,
        )
        _pool_cache.refresher.start()


def _catalogue_refresh(*, state: _PoolCache) -> None:
    try:
        catalogue = _catalogue_read(now=timezone.now())
        _catalogue_share(catalogue)
        with state.lock:
            state.read = catalogue
        cache.delete(CATALOGUE_LOCK_KEY)
    except Exception:
        # The lock is kept: tried again after another interval, not on every request.
        logger.exception("Refreshing the feed's candidates failed; serving the previous ones.")
    finally:
        # This thread's own database connection, opened for the read.
        connections.close_all()


def candidate_pool_published() -> None:
    """Stories went live (called after the commit): every process's next feed is ranked from
    a catalogue read after now, which this process reads and shares, so that no reader's
    request reads it. Should that fail, each process reads it in its next feed request."""
    cache.set(PUBLISHED_AT_KEY, time.time(), None)
    try:
        _catalogue_share(_catalogue_read(now=timezone.now()))
    except Exception:
        logger.exception("Sharing the feed's candidates after a publication failed.")


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
