"""Re-ranking of scored candidates: maximal marginal relevance for diversity, and a cap on
stories of one topic per page. Pure numpy, so it is fast and testable without a database."""

from __future__ import annotations

import numpy as np

# MMR looks at the best-scored candidates only: enough for every page up to the one asked
# for, and cheap at any catalogue size.
POOL_PER_ITEM = 10
MIN_POOL = 300


def pool_size(stop: int) -> int:
    """How many of the most relevant MMR chooses from to place the first `stop`."""
    return max(stop * POOL_PER_ITEM, MIN_POOL)


# `most_relevant` guesses its cut from every SAMPLE_STEP-th value, aiming to let through about
# twice as many stories as it needs (so a sample a little off still lets through enough).
SAMPLE_STEP = 16


def most_relevant(relevance: np.ndarray, size: int) -> np.ndarray:
    """Indices of the `size` most relevant, most relevant first, ties in index order: the
    first `size` of a stable sort of them all (as the browser's ranking takes them), without
    sorting or partitioning them all. A cut guessed from a sample keeps a few hundred of
    20,000 (about 30 us, against 250 for a partition of them all); when the guess keeps too
    few or far too many, the exact cut is taken from a partition of every value."""
    count = len(relevance)
    if count <= size:
        return np.argsort(-relevance, kind="stable")
    sample = relevance[::SAMPLE_STEP]
    wanted = 2 * size // SAMPLE_STEP + 1
    best = None
    if wanted < len(sample):
        cut = np.partition(sample, len(sample) - wanted)[len(sample) - wanted]
        best = np.flatnonzero(relevance >= cut)
    if best is None or not size <= len(best) <= 8 * size:
        cut = np.partition(relevance, count - size)[count - size]
        best = np.flatnonzero(relevance >= cut)  # ties at the cut included: sorted below
        if len(best) < size:  # values that compare with nothing (NaN): sort them all
            return np.argsort(-relevance, kind="stable")[:size]
    return best[np.argsort(-relevance[best], kind="stable")][:size]


def rank(
    *,
    relevance: np.ndarray,
    vectors: np.ndarray,
    topic_matrix: np.ndarray,
    rows: np.ndarray | None = None,
    among: np.ndarray | None = None,
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
    the caller need not copy the rows it keeps. `among`, when given: candidates (ascending)
    that hold the `pool_size(stop)` most relevant, so the rest need not be looked at.
    """
    count = len(relevance)
    stop = min(stop, count)
    if stop <= 0:
        return []
    size = pool_size(stop)
    if among is None or len(among) < min(size, count):
        pool = most_relevant(relevance, size)
    else:
        pool = among[most_relevant(relevance[among], size)]
    scores = relevance[pool].astype(np.float64)
    top = scores.max()
    scores = scores / top if top > 0 else scores
    source_rows = pool if rows is None else rows[pool]
    content = vectors[source_rows]
    has_content = np.linalg.norm(content, axis=1) > 0
    in_topics = topic_matrix[source_rows]
    pool_topics = in_topics.astype(bool)
    # Most stories have content vectors: then one product per placed story, and the topic
    # sets are not needed.
    all_content = bool(has_content.all())
    if not all_content:
        topics = in_topics.astype(np.float32)
        norms = np.linalg.norm(topics, axis=1, keepdims=True)
        topics = topics / np.where(norms == 0, 1.0, norms)

    nearest = np.zeros(len(pool))  # greatest similarity to anything placed so far
    order: list[int] = []
    page_counts = [0] * topic_matrix.shape[1]
    capped = np.zeros(len(pool), dtype=bool)
    any_capped = False
    # A placed story's relevance becomes -inf, so it is never chosen again (nor when a page
    # is filled past its caps): minus the finite penalty it stays -inf.
    relevant = (1 - diversity) * scores
    value = np.empty(len(pool))
    for position in range(stop):
        if position % page_size == 0:
            page_counts = [0] * topic_matrix.shape[1]
            capped[:] = False
            any_capped = False
        np.subtract(relevant, np.multiply(diversity, nearest, out=value), out=value)
        allowed = np.where(capped, -np.inf, value) if any_capped else value
        choice = int(np.argmax(allowed))
        if allowed[choice] == -np.inf:  # every story left is capped: fill the page anyway
            choice = int(np.argmax(value))
        order.append(int(pool[choice]))
        relevant[choice] = -np.inf
        if all_content:
            similarity = content @ content[choice]
        elif has_content[choice]:
            similarity = np.where(has_content, content @ content[choice], topics @ topics[choice])
        else:
            similarity = topics @ topics[choice]
        np.maximum(nearest, similarity, out=nearest)
        full = False
        for column, inside in enumerate(pool_topics[choice].tolist()):
            if inside:
                page_counts[column] += 1
                full = full or page_counts[column] >= topic_cap
        if full:
            at_cap = [c for c, placed in enumerate(page_counts) if placed >= topic_cap]
            capped = pool_topics[:, at_cap].any(axis=1)
            any_capped = True
    return order
