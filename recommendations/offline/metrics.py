"""Ranking metrics, as in MIND's official evaluation script (AUC, MRR, nDCG@k) and for
leave-one-out (the held-out story's rank, coverage, intra-list diversity)."""

from __future__ import annotations

import numpy as np


def order(scores: np.ndarray) -> np.ndarray:
    # Stable on the negated scores: ties keep the order shown, so results are reproducible.
    return np.argsort(-np.asarray(scores, dtype=float), kind="stable")


def dcg_at(labels: np.ndarray, scores: np.ndarray, k: int) -> float:
    gains = 2.0 ** np.asarray(labels, dtype=float)[order(scores)[:k]] - 1
    return float(np.sum(gains / np.log2(np.arange(len(gains)) + 2)))


def ndcg_at(labels, scores, k: int) -> float:
    best = dcg_at(labels, labels, k)
    return dcg_at(labels, scores, k) / best if best > 0 else 0.0


def mrr(labels, scores) -> float:
    ranked = np.asarray(labels, dtype=float)[order(scores)]
    return float(np.sum(ranked / (np.arange(len(ranked)) + 1)) / np.sum(ranked))


def auc(labels, scores) -> float:
    """Share of (click, skip) pairs ordered right, ties counting half: sklearn's ROC AUC, in
    plain numpy because it is called for every impression."""
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=float)
    clicked, skipped = scores[labels == 1], scores[labels == 0]
    right = np.sum(clicked[:, None] > skipped[None, :])
    ties = np.sum(clicked[:, None] == skipped[None, :])
    return float((right + 0.5 * ties) / (len(clicked) * len(skipped)))


def impression_metrics(labels, scores) -> dict[str, float]:
    return {
        "auc": auc(labels, scores),
        "mrr": mrr(labels, scores),
        "ndcg@5": ndcg_at(labels, scores, 5),
        "ndcg@10": ndcg_at(labels, scores, 10),
    }


def hit_rank(scores: np.ndarray, target: int) -> int:
    """1-based rank of candidate `target` when sorted by score, ties in candidate order (as
    `order` breaks them), in O(n) rather than a full sort."""
    value = scores[target]
    return int(1 + np.sum(scores > value) + np.sum(scores[:target] == value))


def catalogue_coverage(lists: list[np.ndarray], catalogue_size: int) -> float:
    """Share of the catalogue that appears in at least one list."""
    shown = set()
    for items in lists:
        shown.update(int(i) for i in items)
    return len(shown) / catalogue_size if catalogue_size else 0.0


def intra_list_diversity(lists: list[np.ndarray], vectors: np.ndarray) -> float:
    """Mean over lists of the mean pairwise cosine distance (1 - cosine) within a list."""
    values = []
    for items in lists:
        if len(items) < 2:
            continue
        block = vectors[np.asarray(items)]
        similarity = block @ block.T
        pairs = np.triu_indices(len(items), k=1)
        values.append(float(np.mean(1.0 - similarity[pairs])))
    return float(np.mean(values)) if values else 0.0
