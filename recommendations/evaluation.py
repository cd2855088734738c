"""Offline evaluation on MIND-format data (news.tsv + behaviors.tsv): the recommender's
content model against a popularity and a random baseline, with MIND's metrics (AUC, MRR,
nDCG@5, nDCG@10, averaged over impressions). Reads files only; writes nothing."""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from django.conf import settings
from sklearn.metrics import roc_auc_score

from .training import DEFAULT_WEIGHTS
from .vectors import fit_text_model

NEWS_FILE = "news.tsv"
BEHAVIORS_FILE = "behaviors.tsv"
MIND_TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"
METRICS = ("auc", "mrr", "ndcg@5", "ndcg@10")
METHODS = ("recommender", "popularity", "random")


class MindFormatError(ValueError):
    """The files are not MIND-format data; the message says where and why."""


@dataclass(frozen=True)
class News:
    news_id: str
    category: str
    subcategory: str
    title: str
    abstract: str


@dataclass(frozen=True)
class Impression:
    impression_id: str
    user_id: str
    time: datetime
    history: tuple[str, ...]
    candidates: tuple[str, ...]
    labels: tuple[int, ...]


@dataclass
class MindData:
    news: dict[str, News]
    impressions: list[Impression]


def _rows(path: Path):
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            yield from enumerate(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE), 1)
    except UnicodeDecodeError as error:
        raise MindFormatError(f"{path.name} is not UTF-8 text: {error}") from error


def _news_load(path: Path) -> dict[str, News]:
    news: dict[str, News] = {}
    for line, row in _rows(path):
        if not row or row == [""]:
            continue
        if len(row) < 5:
            raise MindFormatError(
                f"{path.name} line {line}: expected at least 5 tab-separated columns "
                f"(id, category, subcategory, title, abstract), found {len(row)}."
            )
        news_id = row[0].strip()
        if not news_id:
            raise MindFormatError(f"{path.name} line {line}: the news id is empty.")
        news[news_id] = News(news_id, row[1], row[2], row[3], row[4])
    if not news:
        raise MindFormatError(f"{path.name} holds no news.")
    return news


def _impression(row: list[str], *, line: int, news: dict[str, News]) -> Impression:
    where = f"{BEHAVIORS_FILE} line {line}"
    if len(row) != 5:
        raise MindFormatError(
            f"{where}: expected 5 tab-separated columns (impression id, user id, time, "
            f"history, impressions), found {len(row)}."
        )
    impression_id, user_id, time_text, history_text, shown_text = row
    try:
        time = datetime.strptime(time_text.strip(), MIND_TIME_FORMAT)
    except ValueError as error:
        raise MindFormatError(
            f"{where}: time {time_text!r} is not like '11/15/2019 8:55:22 AM'."
        ) from error
    history = tuple(history_text.split())
    candidates, labels = [], []
    for shown in shown_text.split():
        news_id, _, label = shown.rpartition("-")
        if not news_id or label not in {"0", "1"}:
            raise MindFormatError(f"{where}: {shown!r} is not a news id, '-', then 0 or 1.")
        candidates.append(news_id)
        labels.append(int(label))
    if not candidates:
        raise MindFormatError(f"{where}: the impression shows no news.")
    unknown = [n for n in (*history, *candidates) if n not in news]
    if unknown:
        raise MindFormatError(f"{where}: {unknown[0]} is not in {NEWS_FILE}.")
    return Impression(impression_id, user_id, time, history, tuple(candidates), tuple(labels))


def mind_load(path: Path, *, limit: int | None = None) -> MindData:
    """Read and check a MIND folder; any problem raises MindFormatError naming file and line."""
    path = Path(path)
    if not path.is_dir():
        raise MindFormatError(f"{path} is not a folder with {NEWS_FILE} and {BEHAVIORS_FILE}.")
    for name in (NEWS_FILE, BEHAVIORS_FILE):
        if not (path / name).is_file():
            raise MindFormatError(f"{path} has no {name}.")
    news = _news_load(path / NEWS_FILE)
    impressions = []
    for line, row in _rows(path / BEHAVIORS_FILE):
        if not row or row == [""]:
            continue
        impressions.append(_impression(row, line=line, news=news))
        if limit is not None and len(impressions) >= limit:
            break
    if not impressions:
        raise MindFormatError(f"{BEHAVIORS_FILE} holds no impressions.")
    return MindData(news=news, impressions=impressions)


# --- Metrics (as in MIND's official evaluation script) --------------------------------------


def _order(scores: np.ndarray) -> np.ndarray:
    # Stable on the negated scores: ties keep the order shown, so results are reproducible.
    return np.argsort(-np.asarray(scores, dtype=float), kind="stable")


def dcg_at(labels: np.ndarray, scores: np.ndarray, k: int) -> float:
    gains = 2.0 ** np.asarray(labels, dtype=float)[_order(scores)[:k]] - 1
    return float(np.sum(gains / np.log2(np.arange(len(gains)) + 2)))


def ndcg_at(labels, scores, k: int) -> float:
    best = dcg_at(labels, labels, k)
    return dcg_at(labels, scores, k) / best if best > 0 else 0.0


def mrr(labels, scores) -> float:
    ranked = np.asarray(labels, dtype=float)[_order(scores)]
    return float(np.sum(ranked / (np.arange(len(ranked)) + 1)) / np.sum(ranked))


def impression_metrics(labels, scores) -> dict[str, float]:
    return {
        "auc": float(roc_auc_score(labels, scores)),
        "mrr": mrr(labels, scores),
        "ndcg@5": ndcg_at(labels, scores, 5),
        "ndcg@10": ndcg_at(labels, scores, 10),
    }


# --- Scorers ------------------------------------------------------------------------------


def _text(item: News) -> str:
    # Category names are words too: they tie stories of one section together.
    return f"{item.title}\n{item.title}\n{item.abstract}\n{item.category} {item.subcategory}"


@dataclass
class EvaluationReport:
    impressions: int
    evaluated: int
    skipped: int  # impressions without both a click and a non-click
    news: int
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)


def evaluate(
    data: MindData, *, seed: int = 0, progress: Callable[[int], None] | None = None
) -> EvaluationReport:
    """Replay the impressions in time order. Popularity is what was clicked before each
    impression (histories, then earlier impressions), so nothing is learned from the labels
    being predicted. The recommender blends, as the live feed does, the user's "topics" (the
    categories of their history), content similarity to their history, and popularity."""
    ids = list(data.news)
    row_of = {news_id: row for row, news_id in enumerate(ids)}
    _, vectors = fit_text_model(
        [_text(data.news[n]) for n in ids],
        max_features=settings.RECOMMENDER_MAX_FEATURES,
        svd_components=settings.RECOMMENDER_SVD_COMPONENTS,
        seed=seed,
    )
    category = np.array([data.news[n].category for n in ids])
    clicks: Counter[str] = Counter()
    seen_history: set[tuple[str, str]] = set()
    for impression in data.impressions:
        for news_id in impression.history:
            if (impression.user_id, news_id) not in seen_history:
                seen_history.add((impression.user_id, news_id))
                clicks[news_id] += 1
    rng = np.random.default_rng(seed)
    weights = DEFAULT_WEIGHTS
    totals = {method: dict.fromkeys(METRICS, 0.0) for method in METHODS}
    evaluated = skipped = 0
    for done, impression in enumerate(sorted(data.impressions, key=lambda i: i.time), 1):
        labels = np.array(impression.labels)
        rows = np.array([row_of[n] for n in impression.candidates])
        popularity = np.array([clicks[n] for n in impression.candidates], dtype=float)
        scaled_popularity = np.log1p(popularity) / math.log1p(max(popularity.max(), 1.0))
        recommender = weights["popularity"] * scaled_popularity
        if impression.history:
            history_rows = np.array([row_of[n] for n in impression.history])
            # Later reads count more, as the newest reads do in the live profile.
            recency = np.linspace(0.5, 1.0, len(history_rows))[:, None]
            profile = (vectors[history_rows] * recency).sum(axis=0)
            norm = np.linalg.norm(profile)
            closeness = np.clip(vectors[rows] @ profile / norm, 0, 1) if norm > 0 else 0.0
            shares = Counter(category[history_rows])
            topic = np.array([shares[c] / len(history_rows) for c in category[rows]])
            recommender = recommender + weights["topic"] * topic + weights["content"] * closeness
        scores = {
            "recommender": recommender,
            "popularity": popularity,
            "random": rng.random(len(rows)),
        }
        if 0 < labels.sum() < len(labels):
            evaluated += 1
            for method, method_scores in scores.items():
                for metric, value in impression_metrics(labels, method_scores).items():
                    totals[method][metric] += value
        else:
            skipped += 1
        for news_id, label in zip(impression.candidates, impression.labels, strict=True):
            clicks[news_id] += label
        if progress is not None:
            progress(done)
    return EvaluationReport(
        impressions=len(data.impressions),
        evaluated=evaluated,
        skipped=skipped,
        news=len(ids),
        metrics={
            method: {m: (v / evaluated if evaluated else float("nan")) for m, v in values.items()}
            for method, values in totals.items()
        },
    )
