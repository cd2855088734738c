""" "More like this": the published stories closest in content to one, the same for every
visitor, from the feed's candidate pool."""

from __future__ import annotations

import logging

import numpy as np
from django.db.models import QuerySet
from django.utils import timezone

from news.models import Article
from news.selectors import articles_for_topic, articles_latest, articles_live_by_id

from .active import active_model
from .feed.pool import candidate_pool, pool_marks, vectors_for
from .vectors import article_text

logger = logging.getLogger(__name__)

# "More like this" leaves out stories barely related to the one on the page.
MORE_LIKE_THIS_MIN_SIMILARITY = 0.05


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
    # Which model serves and the pool's marks, in one round trip (as a feed page reads them).
    marks = pool_marks()
    loaded = active_model(found=marks)
    if loaded is None:
        return _same_topics(article=article, limit=limit)
    # The feed's candidates: live stories of the last N days with their vectors (fresh ones
    # included) already in memory, so a page compares one vector with the window, not with
    # the whole catalogue and every vector stored since the model was trained.
    pool = candidate_pool(loaded=loaded, now=timezone.now(), marks=marks)
    ids = np.array([article.pk], dtype=np.int64)
    row = int(pool.rows_of(ids)[0])
    vector = pool.vectors[row] if row >= 0 else vectors_for(loaded, ids)[0][0]
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
