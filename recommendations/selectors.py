"""Reads of the recommender shared by pages, the API and tasks: the feed, a page at a time,
with the reason for every story; "More like this"; and the record of retrains for editors.

The feed (design flow 4): candidates published in the last N days, minus what the reader has
read and their blocked topics -> a score (similarity to the reader's topics and, at the top
level, their own reads; DP popularity; freshness; editors' picks) -> diversity re-ranking
with per-topic caps. Level Off and anonymous visitors get the non-personal feed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Preferences
from accounts.selectors import ReaderProfile, reader_profile
from news.models import Article, Topic
from news.selectors import articles_for_topic, articles_latest
from privacy.selectors import HistoryItem, history_for_user

from . import explanations, ranking
from .active import LoadedModel, active_model
from .explanations import Reason
from .models import ArticleVector, ModelVersion

logger = logging.getLogger(__name__)

# A topic the reader does not follow counts at this share of its affinity with one they do.
RELATED_TOPIC_SHARE = 0.5
# At the top level, this share of content similarity comes from the reader's own reads.
HISTORY_SHARE = 0.5
# Popular enough to say so: at least this share of the most popular story's prior.
POPULAR_FLOOR = 0.5
# "More like this" leaves out stories barely related to the one on the page.
MORE_LIKE_THIS_MIN_SIMILARITY = 0.05


@dataclass(frozen=True)
class FeedItem:
    article: Article
    reason: Reason


@dataclass
class _Candidates:
    ids: np.ndarray
    published_at: list[datetime]
    picks: np.ndarray
    topic_ids: list[tuple[int, ...]]


def _candidates(*, now: datetime, exclude_ids: set[int], blocked: frozenset[int]) -> _Candidates:
    """Live articles of the last N days, newest first, in one query (a row per topic)."""
    since = now - timedelta(days=settings.RECOMMENDER_CANDIDATE_DAYS)
    rows = (
        Article.objects.published(now=now)
        .filter(published_at__gte=since)
        .order_by("-published_at", "-id")
        .values_list("id", "published_at", "editors_pick_until", "topics__id")
    )
    order: list[int] = []
    details: dict[int, tuple[datetime, bool]] = {}
    topics: dict[int, list[int]] = {}
    limit = settings.RECOMMENDER_MAX_CANDIDATES
    for article_id, published_at, pick_until, topic_id in rows:
        if article_id not in details:
            if len(order) >= limit:
                break
            order.append(article_id)
            details[article_id] = (published_at, pick_until is not None and pick_until > now)
            topics[article_id] = []
        if topic_id is not None:
            topics[article_id].append(topic_id)
    kept = [
        a
        for a in order
        if a not in exclude_ids and not (blocked and blocked.intersection(topics[a]))
    ]
    return _Candidates(
        ids=np.array(kept, dtype=np.int64),
        published_at=[details[a][0] for a in kept],
        picks=np.array([details[a][1] for a in kept], dtype=bool),
        topic_ids=[tuple(topics[a]) for a in kept],
    )


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
    followed_topic: list[int | None]  # the followed topic behind the topic part
    related_topic: list[int | None]


def _freshness(published_at: list[datetime], *, now: datetime) -> np.ndarray:
    half_life = settings.RECOMMENDER_FRESHNESS_HALF_LIFE_HOURS
    hours = np.array([max((now - p).total_seconds(), 0.0) / 3600 for p in published_at])
    return 0.5 ** (hours / half_life) if len(hours) else np.zeros(0)


def _popularity(
    loaded: LoadedModel | None, rows: np.ndarray, topic_ids: list[tuple[int, ...]]
) -> np.ndarray:
    if loaded is None:
        return np.zeros(len(rows))
    model = loaded.model
    popularity = np.where(rows >= 0, model.popularity[np.maximum(rows, 0)], 0.0)
    topic_rows = model.topic_rows()
    # Stories newer than the model borrow half their best topic's popularity.
    for position in np.flatnonzero(rows < 0):
        known = [topic_rows[t] for t in topic_ids[position] if t in topic_rows]
        if known:
            popularity[position] = 0.5 * float(model.topic_popularity[known].max())
    return popularity


def _topic_weights(
    profile: ReaderProfile, loaded: LoadedModel | None, topic_ids: list[int]
) -> tuple[dict[int, float], dict[int, int]]:
    """Weight of every topic for this reader: theirs for topics they follow, a share of the
    affinity with one they follow otherwise. Also which followed topic lends each weight."""
    weights = dict(profile.topic_weights)
    source = {t: t for t in profile.topic_weights}
    if loaded is None:
        return weights, source
    rows = loaded.model.topic_rows()
    affinity = loaded.model.topic_affinity
    for topic_id in topic_ids:
        if topic_id in weights or topic_id not in rows:
            continue
        best, best_from = 0.0, None
        for followed, weight in profile.topic_weights.items():
            if followed in rows:
                lent = (
                    RELATED_TOPIC_SHARE * weight * float(affinity[rows[followed], rows[topic_id]])
                )
                if lent > best:
                    best, best_from = lent, followed
        if best_from is not None:
            weights[topic_id], source[topic_id] = best, best_from
    return weights, source


def _score(
    *,
    profile: ReaderProfile,
    loaded: LoadedModel | None,
    candidates: _Candidates,
    vectors: np.ndarray,
    rows: np.ndarray,
    history: list[HistoryItem],
    popularity: np.ndarray,
    now: datetime,
) -> _Scores:
    count = len(candidates.ids)
    weights = dict(loaded.model.weights) if loaded else {}
    w = {"topic": 1.0, "content": 0.8, "popularity": 0.3, "freshness": 0.3, "pick": 0.4}
    w.update(weights)
    freshness = _freshness(candidates.published_at, now=now)
    pick = candidates.picks.astype(float)
    topic = np.zeros(count)
    related = np.zeros(count)
    history_part = np.zeros(count)
    history_source = np.full(count, -1)
    followed_topic: list[int | None] = [None] * count
    related_topic: list[int | None] = [None] * count

    if profile.personalized:
        all_topics = sorted({t for ts in candidates.topic_ids for t in ts})
        topic_weight, lent_by = _topic_weights(profile, loaded, all_topics)
        for position, topic_ids in enumerate(candidates.topic_ids):
            followed = [
                (profile.topic_weights[t], t) for t in topic_ids if t in profile.topic_weights
            ]
            if followed:
                weight, topic_id = max(followed)
                topic[position], followed_topic[position] = weight, topic_id
            others = [(topic_weight[t], lent_by[t]) for t in topic_ids if t in topic_weight]
            if others:
                weight, topic_id = max(others)
                if weight > topic[position]:
                    related[position], related_topic[position] = weight, topic_id
        content_share = 1.0
        if loaded is not None and history:
            read_vectors, _ = _vectors_for(
                loaded, np.array([h.article.pk for h in history], dtype=np.int64)
            )
            usable = np.linalg.norm(read_vectors, axis=1) > 0
            if usable.any():
                similarity = vectors @ read_vectors[usable].T
                best = similarity.argmax(axis=1)
                history_part = np.clip(similarity[np.arange(count), best], 0, 1) * HISTORY_SHARE
                history_source = np.flatnonzero(usable)[best]
                content_share = 1 - HISTORY_SHARE
        if loaded is not None:
            rows_of = loaded.model.topic_rows()
            chosen = [t for t in profile.topic_weights if t in rows_of]
            if chosen:
                centroids = loaded.model.topic_centroids[[rows_of[t] for t in chosen]]
                topic_weights = np.array([profile.topic_weights[t] for t in chosen])
                profile_vector = (topic_weights[:, None] * centroids).sum(axis=0)
                norm = np.linalg.norm(profile_vector)
                if norm > 0:
                    closeness = np.clip(vectors @ (profile_vector / norm), 0, 1) * content_share
                    nearest = np.argmax(vectors @ centroids.T, axis=1)
                    # Content close to the reader's topics counts with the topic part: with
                    # the followed topic it is in, else as related to the nearest one.
                    lift = w["content"] / w["topic"] * closeness
                    in_followed = topic > 0
                    topic = topic + lift * in_followed
                    related = related + lift * ~in_followed
                    for position in np.flatnonzero(~in_followed & (closeness > 0)):
                        if related_topic[position] is None:
                            related_topic[position] = chosen[int(nearest[position])]
        relevance = (
            w["topic"] * (topic + related)
            + w["content"] * history_part
            + w["popularity"] * popularity
            + w["freshness"] * freshness
            + 0.5 * w["pick"] * pick
        )
    else:
        relevance = w["pick"] * pick + w["popularity"] * popularity + w["freshness"] * freshness
    return _Scores(
        relevance=relevance,
        topic=w["topic"] * topic,
        related=w["topic"] * related,
        history=w["content"] * history_part,
        history_source=history_source,
        popularity=w["popularity"] * popularity,
        freshness=w["freshness"] * freshness,
        pick=(0.5 if profile.personalized else 1.0) * w["pick"] * pick,
        followed_topic=followed_topic,
        related_topic=related_topic,
    )


def _reason(
    *,
    position: int,
    scores: _Scores,
    raw_popularity: float,
    history: list[HistoryItem],
    topic_names: dict[int, str],
    signed_in: bool,
    now: datetime,
) -> Reason:
    """The part that contributed most to the story's score, as a sentence."""
    parts = {
        explanations.ReasonKind.TOPIC: scores.topic[position],
        explanations.ReasonKind.RELATED_TOPIC: scores.related[position],
        explanations.ReasonKind.HISTORY: scores.history[position],
        explanations.ReasonKind.POPULAR: scores.popularity[position]
        if raw_popularity >= POPULAR_FLOOR
        else 0.0,
        explanations.ReasonKind.PICK: scores.pick[position],
        explanations.ReasonKind.FRESH: scores.freshness[position],
    }
    kind = max(parts, key=lambda k: parts[k])
    if parts[kind] <= 0:
        kind = explanations.ReasonKind.FRESH
    if kind == explanations.ReasonKind.TOPIC:
        topic_id = scores.followed_topic[position]
        return explanations.because_you_follow(topic_id=topic_id, topic_name=topic_names[topic_id])
    if kind == explanations.ReasonKind.RELATED_TOPIC:
        return explanations.related_to(topic_name=topic_names[scores.related_topic[position]])
    if kind == explanations.ReasonKind.HISTORY:
        read = history[int(scores.history_source[position])]
        return explanations.like_what_you_read(
            title=read.article.title, read_at=read.read_at, now=now
        )
    if kind == explanations.ReasonKind.POPULAR:
        return explanations.popular_today()
    if kind == explanations.ReasonKind.PICK:
        return explanations.editors_pick(signed_in=signed_in)
    return explanations.just_in(signed_in=signed_in)


class _RankedFeed(Sequence):
    """The feed as a sequence a Paginator can slice: only the slice asked for is re-ranked."""

    def __init__(self, *, relevance, vectors, topic_matrix, page_size: int) -> None:
        self.relevance, self.vectors, self.topic_matrix = relevance, vectors, topic_matrix
        self.page_size = page_size

    def __len__(self) -> int:
        return len(self.relevance)

    def __getitem__(self, index):
        if not isinstance(index, slice):
            return self[index : index + 1][0]
        start, stop, _ = index.indices(len(self))
        order = ranking.rank(
            relevance=self.relevance,
            vectors=self.vectors,
            topic_matrix=self.topic_matrix,
            diversity=settings.RECOMMENDER_DIVERSITY,
            topic_cap=settings.RECOMMENDER_TOPIC_CAP,
            page_size=self.page_size,
            stop=stop,
        )
        return order[start:stop]


def _reader_history(*, user, profile: ReaderProfile) -> list[HistoryItem]:
    """The reader's own reads, only at "Topics + reading history" (the privacy chokepoint
    decrypts them; nothing else in this app touches history)."""
    if not profile.personalized or profile.level != Preferences.Level.TOPICS_HISTORY:
        return []
    items = history_for_user(user=user, limit=settings.RECOMMENDER_HISTORY_LIMIT)
    return [item for item in items if item.article is not None]


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
    loaded = active_model()
    history = _reader_history(user=user, profile=profile)
    candidates = _candidates(
        now=now,
        exclude_ids={item.article.pk for item in history},
        blocked=profile.blocked_topic_ids,
    )
    vectors, rows = _vectors_for(loaded, candidates.ids)
    popularity = _popularity(loaded, rows, candidates.topic_ids)
    scores = _score(
        profile=profile,
        loaded=loaded,
        candidates=candidates,
        vectors=vectors,
        rows=rows,
        history=history,
        popularity=popularity,
        now=now,
    )
    topic_index = {
        t: i for i, t in enumerate(sorted({t for ts in candidates.topic_ids for t in ts}))
    }
    topic_matrix = np.zeros((len(candidates.ids), max(len(topic_index), 1)), dtype=bool)
    for position, topic_ids in enumerate(candidates.topic_ids):
        topic_matrix[position, [topic_index[t] for t in topic_ids]] = True
    ranked = _RankedFeed(
        relevance=scores.relevance, vectors=vectors, topic_matrix=topic_matrix, page_size=page_size
    )
    page = Paginator(ranked, page_size).get_page(page_number)
    positions = list(page.object_list)
    articles = articles_latest().filter(pk__in=[int(candidates.ids[p]) for p in positions])
    by_id = {article.pk: article for article in articles}
    topic_names = {t.pk: t.name for a in by_id.values() for t in a.topics.all()}
    unnamed = [t for t in profile.topic_weights if t not in topic_names]
    if unnamed:
        topic_names.update(Topic.objects.filter(pk__in=unnamed).values_list("pk", "name"))
    top = popularity.max() if len(popularity) else 0.0
    items = []
    for position in positions:
        article = by_id.get(int(candidates.ids[position]))
        if article is None:  # unpublished since the candidates were read
            continue
        reason = _reason(
            position=position,
            scores=scores,
            raw_popularity=float(popularity[position] / top) if top > 0 else 0.0,
            history=history,
            topic_names=topic_names,
            signed_in=user.is_authenticated,
            now=now,
        )
        followed = scores.followed_topic[position]
        if followed is not None and reason.show_less_topic_id is None:
            # Whatever brought it here, "Show less like this" lowers the topic it is in.
            reason = replace(
                reason, show_less_topic_id=followed, show_less_topic_name=topic_names[followed]
            )
        items.append(FeedItem(article=article, reason=reason))
    page.object_list = items
    return page


# --- More like this -----------------------------------------------------------------------


def more_like_this(*, article: Article, limit: int = 4) -> list[Article]:
    """Published stories closest in content to this one: the same for every visitor.
    Without a model, the newest stories sharing a topic with it."""
    loaded = active_model()
    if loaded is None:
        return _same_topics(article=article, limit=limit)
    model = loaded.model
    vector, _ = _vectors_for(loaded, np.array([article.pk], dtype=np.int64))
    vector = vector[0]
    if not np.linalg.norm(vector) > 0:
        from .vectors import article_text

        vector = model.vectorise(
            [article_text(title=article.title, summary=article.summary, body=article.body)]
        )[0]
    fresh = ArticleVector.objects.filter(model_version_id=loaded.version_id).values_list(
        "article_id", "vector"
    )
    fresh_ids, fresh_vectors = [], []
    for article_id, blob in fresh:
        candidate = np.frombuffer(bytes(blob), dtype=np.float32)
        if candidate.shape == (model.dimensions,):
            fresh_ids.append(article_id)
            fresh_vectors.append(candidate)
    ids = np.concatenate([model.article_ids, np.array(fresh_ids, dtype=np.int64)])
    similarity = model.vectors @ vector
    if fresh_vectors:
        similarity = np.concatenate([similarity, np.stack(fresh_vectors) @ vector])
    similarity[ids == article.pk] = -np.inf
    wanted = min(len(ids), limit * 4)
    best = np.argpartition(-similarity, wanted - 1)[:wanted] if wanted else np.array([], int)
    best = best[np.argsort(-similarity[best], kind="stable")]
    best = [i for i in best if similarity[i] >= MORE_LIKE_THIS_MIN_SIMILARITY]
    ordered = [int(ids[i]) for i in best]
    live = {a.pk: a for a in articles_latest().filter(pk__in=ordered)}
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
