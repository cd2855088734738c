"""Re-ranking of scored candidates: maximal marginal relevance for diversity, and a cap on
stories of one topic per page. Pure numpy, so it is fast and testable without a database."""

from __future__ import annotations

import numpy as np

# MMR looks at the best-scored candidates only: enough for every page up to the one asked
# for, and cheap at any catalogue size.
POOL_PER_ITEM = 10
MIN_POOL = 300


def rank(
    *,
    relevance: np.ndarray,
    vectors: np.ndarray,
    topic_matrix: np.ndarray,
    rows: np.ndarray | None = None,
    diversity: float,
    topic_cap: int,
    page_size: int,
    stop: int,
) -> list[int]:
    """Indices of the first `stop` candidates in feed order.

    Each next item maximises (1 - diversity) * relevance - diversity * (its greatest similarity
    to an item already placed), with relevance scaled to 0..1. Similarity is the cosine of the
    content vectors, or of the topic sets for items without one. Within each page no topic
    appears more than `topic_cap` times, unless nothing else is left to fill the page.
    `rows`, when given, maps each candidate to its row of `vectors` and `topic_matrix`, so
    the caller need not copy the rows it keeps.
    """
    count = len(relevance)
    stop = min(stop, count)
    if stop <= 0:
        return []
    size = max(stop * POOL_PER_ITEM, MIN_POOL)
    if count > size:
        # Only the best `size` are needed in order: select them, then sort just those.
        best = np.argpartition(-relevance, size - 1)[:size]
        pool = best[np.argsort(-relevance[best], kind="stable")]
    else:
        pool = np.argsort(-relevance, kind="stable")
    scores = relevance[pool].astype(np.float64)
    top = scores.max()
    scores = scores / top if top > 0 else scores
    source_rows = pool if rows is None else rows[pool]
    content = vectors[source_rows]
    has_content = np.linalg.norm(content, axis=1) > 0
    pool_topics = topic_matrix[source_rows]
    topics = pool_topics.astype(np.float32)
    norms = np.linalg.norm(topics, axis=1, keepdims=True)
    topics = topics / np.where(norms == 0, 1.0, norms)

    placed = np.zeros(len(pool), dtype=bool)
    nearest = np.zeros(len(pool))  # greatest similarity to anything placed so far
    order: list[int] = []
    page_counts = np.zeros(topic_matrix.shape[1], dtype=np.int64)
    capped = np.zeros(len(pool), dtype=bool)
    relevant = (1 - diversity) * scores
    # Most stories have content vectors: then one product per placed story, not two.
    all_content = bool(has_content.all())
    for position in range(stop):
        if position % page_size == 0:
            page_counts[:] = 0
            capped[:] = False
        value = relevant - diversity * nearest
        value[placed] = -np.inf
        allowed = np.where(capped, -np.inf, value)
        choice = int(np.argmax(allowed))
        if allowed[choice] == -np.inf:  # every story left is capped: fill the page anyway
            choice = int(np.argmax(value))
        order.append(int(pool[choice]))
        placed[choice] = True
        if all_content:
            similarity = content @ content[choice]
        elif has_content[choice]:
            similarity = np.where(has_content, content @ content[choice], topics @ topics[choice])
        else:
            similarity = topics @ topics[choice]
        np.maximum(nearest, similarity, out=nearest)
        chosen_topics = pool_topics[choice].astype(bool)
        page_counts[chosen_topics] += 1
        if (page_counts[chosen_topics] >= topic_cap).any():
            capped = pool_topics[:, page_counts >= topic_cap].any(axis=1)
    return order
