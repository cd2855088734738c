"""Offline evaluation on MIND-format data (news.tsv + behaviors.tsv), or on synthetic readers
of the demo corpus: the recommender, built in memory with the training code of `retrain`, its
popularity from clicks released with differential privacy, against exact (non-private)
popularity and a seeded random ranking. Two protocols: leave-one-out over each reader's clicks
(HR@10, nDCG@10, MRR, coverage, diversity) and MIND's impressions (AUC, MRR, nDCG@5/10).
Reads files only; writes nothing, touches no table."""

from __future__ import annotations

import copy
import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
from django.conf import settings

from privacy.aggregation import ARTICLE_SHARE, TOPIC_SHARE, release_counts
from privacy.releases import noise_variance

from .training import (
    DEFAULT_WEIGHTS,
    HELD_OUT_DAYS,
    Aggregates,
    _decayed,
    _scaled,
    blend_choose,
    blend_scores,
    decayed_with_noise,
    popularity_prior,
)
from .vectors import article_text, fit_text_model, normalise_rows

NEWS_FILE = "news.tsv"
BEHAVIORS_FILE = "behaviors.tsv"
MIND_TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"
METRICS = ("auc", "mrr", "ndcg@5", "ndcg@10")
LOO_METRICS = ("hr@10", "ndcg@10", "mrr", "coverage", "diversity")
METHODS = ("recommender", "popularity", "random")
TOP_K = 10
# Where the released popularity comes from: each article's own daily counts, its topic's
# (one count per category and day: far larger, so far less noisy relative to the noise), or
# the mean of both. Both are released every day, each at the share of the day's epsilon the
# site's aggregation gives its query (`ARTICLE_SHARE`, `TOPIC_SHARE`).
POPULARITY_SOURCES = ("article", "topic", "both")
# The noise of the release: discrete Laplace (pure epsilon-DP, pays for the L1 sensitivity L)
# or discrete Gaussian ((epsilon, delta)-DP, pays for the L2 sensitivity, sqrt(L) per article).
NOISES = ("laplace", "gaussian")
DEFAULT_NOISE = "laplace"
DEFAULT_DELTA = 1e-6
# Measured on the synthetic readers (bench/quality.py, figures in bench/README.md): at epsilon
# 1 per day, per-article counts with each reader bounded to 1 article a day kept the most
# signal, at 100 and at 500 readers; per-topic counts add little beyond the reader's own topics.
DEFAULT_BOUND = 1
DEFAULT_SOURCE = "article"


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
    """One behaviors row, keeping only the ids that are in news.tsv."""

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
    unknown_history: int = 0  # history ids not in news.tsv, skipped
    unknown_candidates: int = 0  # impression ids not in news.tsv, skipped


def _rows(path):
    """Each line split at tabs, as the MIND importer reads them: MIND never quotes a field,
    and unlike the csv module this has no field size limit."""
    try:
        with path.open(encoding="utf-8", newline="\n") as handle:
            for number, line in enumerate(handle, 1):
                yield number, line.rstrip("\r\n").split("\t")
    except UnicodeDecodeError as error:
        raise MindFormatError(f"{path.name} is not UTF-8 text: {error}") from error


def _news_load(path) -> dict[str, News]:
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


def _impression(row: list[str], *, line: int, data: MindData) -> Impression:
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
    shown = shown_text.split()
    if not shown:
        raise MindFormatError(f"{where}: the impression shows no news.")
    candidates, labels = [], []
    for item in shown:
        news_id, _, label = item.rpartition("-")
        if not news_id or label not in {"0", "1"}:
            raise MindFormatError(f"{where}: {item!r} is not a news id, '-', then 0 or 1.")
        # Real MIND splits reference news the file at hand lacks: counted and skipped.
        if news_id in data.news:
            candidates.append(news_id)
            labels.append(int(label))
        else:
            data.unknown_candidates += 1
    history = []
    for news_id in history_text.split():
        if news_id in data.news:
            history.append(news_id)
        else:
            data.unknown_history += 1
    return Impression(
        impression_id, user_id, time, tuple(history), tuple(candidates), tuple(labels)
    )


def mind_load(path, *, limit: int | None = None) -> MindData:
    """Read and check a MIND folder; any problem raises MindFormatError naming file and line."""
    path = Path(path)
    if not path.is_dir():
        raise MindFormatError(f"{path} is not a folder with {NEWS_FILE} and {BEHAVIORS_FILE}.")
    for name in (NEWS_FILE, BEHAVIORS_FILE):
        if not (path / name).is_file():
            raise MindFormatError(f"{path} has no {name}.")
    data = MindData(news=_news_load(path / NEWS_FILE), impressions=[])
    for line, row in _rows(path / BEHAVIORS_FILE):
        if not row or row == [""]:
            continue
        data.impressions.append(_impression(row, line=line, data=data))
        if limit is not None and len(data.impressions) >= limit:
            break
    if not data.impressions:
        raise MindFormatError(f"{BEHAVIORS_FILE} holds no impressions.")
    return data


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
    `_order` breaks them), in O(n) rather than a full sort."""
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


# --- Popularity from clicks, released with differential privacy --------------------------


@dataclass(frozen=True)
class PopularityPlan:
    """How the evaluation releases popularity: the day's epsilon, as the site's
    `DP_EPSILON_PER_DAY` (inf = exact counts, no noise), of which the per-article and per-topic
    counts get the shares the site's aggregation gives them; each reader's bound L of distinct
    articles per day, which counts, and which noise (`delta` per day applies to Gaussian noise
    only; Laplace spends none)."""

    epsilon: float = 1.0
    bound: int = DEFAULT_BOUND
    source: str = DEFAULT_SOURCE
    noise: str = DEFAULT_NOISE
    delta: float = DEFAULT_DELTA
    # Released per-article counts below this read as 0. Post-processing, so free: on a sparse
    # catalogue most noisy counts are noise alone, and a floor keeps them from outranking the
    # few stories many people read.
    threshold: int = 0
    # Released article counts shrink toward their topic's mean by how noisy they are
    # (empirical Bayes, post-processing, so free). Measured, not applied: training does not.
    shrink: bool = False
    # The shares of the day's epsilon (and delta) the two queries get: the site's by default;
    # others only to measure another split.
    article_share: float = ARTICLE_SHARE
    topic_share: float = TOPIC_SHARE

    def __post_init__(self):
        if math.isnan(self.epsilon) or self.epsilon <= 0:
            raise ValueError(f"Epsilon must be a positive number or inf, not {self.epsilon}.")
        if self.bound < 1:
            raise ValueError(f"The contribution bound must be at least 1, not {self.bound}.")
        if self.source not in POPULARITY_SOURCES:
            raise ValueError(f"Popularity source must be one of {', '.join(POPULARITY_SOURCES)}.")
        if self.noise not in NOISES:
            raise ValueError(f"Noise must be one of {', '.join(NOISES)}, not {self.noise!r}.")
        if not 0 < self.delta < 1:
            raise ValueError(f"Delta must be between 0 and 1 (exclusive), not {self.delta}.")
        if self.threshold < 0:
            raise ValueError(f"The threshold must be 0 or more, not {self.threshold}.")
        shares = (self.article_share, self.topic_share)
        if not all(0 < share <= 1 for share in shares) or sum(shares) > 1:
            raise ValueError(
                f"The article and topic shares of the day's epsilon must be above 0 and add up "
                f"to at most 1, not {self.article_share} and {self.topic_share}."
            )

    @property
    def release_delta(self) -> float:
        """Delta each day's release may spend: none with Laplace noise or exact counts."""
        return self.delta if self.noise == "gaussian" and math.isfinite(self.epsilon) else 0.0


def _draw(user_id: str, day: date, news_id: str) -> str:
    # The site keeps the reads whose MD5 of (the day's pseudonym, article) comes first
    # (privacy.aggregation): a per-reader, per-day order that does not favour the first read.
    return hashlib.md5(
        f"{user_id}:{day.isoformat()}:{news_id}".encode(), usedforsecurity=False
    ).hexdigest()


def daily_clicks(data: MindData, *, bound: int | None) -> dict[date, Counter[str]]:
    """Clicks per day and article, each reader counted once per article and day and for at
    most `bound` distinct articles a day, drawn as the site draws them; None = no bound."""
    clicked: dict[tuple[str, date], set[str]] = defaultdict(set)
    for impression in data.impressions:
        day = impression.time.date()
        for news_id, label in zip(impression.candidates, impression.labels, strict=True):
            if label:
                clicked[impression.user_id, day].add(news_id)
    per_day: dict[date, Counter[str]] = defaultdict(Counter)
    for (user_id, day), news_ids in clicked.items():
        kept = sorted(news_ids, key=lambda news_id: _draw(user_id, day, news_id))
        per_day[day].update(kept if bound is None else kept[:bound])
    return dict(per_day)


@dataclass(frozen=True)
class ReleasedAggregates(Aggregates):
    """Aggregates as training reads them (`article_noise`: no entry for exact counts), plus
    the delta their release spent."""

    delta: float = 0.0


# Below this many articles a topic's spread says too little to tell signal from noise: its
# articles shrink toward the whole catalogue's mean instead (or not at all, under this in all).
SHRINK_MIN_ARTICLES = 20


def _release(
    counts: list[int], *, plan: PopularityPlan, share: float, max_change: int
) -> tuple[list[int], float, float, float]:
    """Noisy counts at `share` of the day's epsilon (and delta), the epsilon and delta spent,
    and the variance of each count's noise."""
    if math.isinf(plan.epsilon):
        return counts, 0.0, 0.0, 0.0
    release = release_counts(
        counts=counts,
        sensitivity=plan.bound,
        epsilon=plan.epsilon * share,
        mechanism=plan.noise,
        delta=plan.release_delta * share,
        max_change=max_change,
    )
    variance = noise_variance(mechanism=release.mechanism, scale=release.scale)
    return release.noisy_counts, release.epsilon, release.delta, variance


def release_aggregates(
    data: MindData, *, ids: list[str], categories: list[str], plan: PopularityPlan | None
) -> ReleasedAggregates:
    """Daily per-article and per-topic counts as the site releases them (`plan`), or the exact
    unbounded counts when `plan` is None. Rows are positions in `ids` / `categories`."""
    clicks = daily_clicks(data, bound=None if plan is None else plan.bound)
    category_row = {c: row for row, c in enumerate(categories)}
    article_days: dict[int, dict[date, int]] = defaultdict(dict)
    topic_days: dict[int, dict[date, int]] = defaultdict(dict)
    article_noise: dict[date, float] = {}
    spent = spent_delta = 0.0
    for day, counter in sorted(clicks.items()):
        per_article = [counter.get(news_id, 0) for news_id in ids]
        per_topic = [0] * len(categories)
        for news_id, count in counter.items():
            per_topic[category_row[data.news[news_id].category]] += count
        if plan is not None:
            # Every article has one category: both vectors have L1 sensitivity L. A reader's L
            # articles are distinct (each count moves by 1 at most: L2 sensitivity sqrt(L)) but
            # may share one topic (that count moves by L: L2 sensitivity L). As on the site,
            # both are released, each at its query's share of the day's epsilon.
            per_article, cost, cost_delta, variance = _release(
                per_article, plan=plan, share=plan.article_share, max_change=1
            )
            if variance:
                article_noise[day] = variance
            if plan.threshold:
                per_article = [c if c >= plan.threshold else 0 for c in per_article]
            per_topic, topic_cost, topic_delta, _ = _release(
                per_topic, plan=plan, share=plan.topic_share, max_change=plan.bound
            )
            spent, spent_delta = spent + cost + topic_cost, spent_delta + cost_delta + topic_delta
        for row, count in enumerate(per_article):
            # A noisy release keeps its zeros, as the site's does: each says the article
            # was released that day, with that day's noise.
            if count or day in article_noise:
                article_days[row][day] = count
        for row, count in enumerate(per_topic):
            if count:
                topic_days[row][day] = count
    return ReleasedAggregates(
        article_days=dict(article_days),
        topic_days=dict(topic_days),
        days=sorted(clicks),
        epsilon=spent,
        delta=spent_delta,
        article_noise=article_noise,
    )


def shrunk_counts(
    *, article_ids: np.ndarray, aggregates: ReleasedAggregates, reference: date, groups: np.ndarray
) -> np.ndarray | None:
    """Empirical Bayes on the released decayed counts: each moves toward its topic's mean by
    the share of their spread that is signal rather than noise, var_signal / (var_signal +
    its noise variance), var_signal = max(observed variance - mean noise variance, 0). Only
    released counts and the public noise variance go in: post-processing, no privacy cost.
    None when no count carries noise or there are too few articles to estimate a spread.
    Returns raw decayed counts, for `_scaled`."""
    if not aggregates.article_noise or len(article_ids) < SHRINK_MIN_ARTICLES:
        return None
    counts, noise = decayed_with_noise(
        article_ids=article_ids, aggregates=aggregates, reference=reference
    )
    if not noise.any():
        return None
    mean = np.full(len(counts), counts.mean())
    signal = np.full(len(counts), max(counts.var() - noise.mean(), 0.0))
    for group in np.unique(groups):
        members = groups == group
        if group >= 0 and members.sum() >= SHRINK_MIN_ARTICLES:
            mean[members] = counts[members].mean()
            signal[members] = max(counts[members].var() - noise[members].mean(), 0.0)
    total = signal + noise
    keep = np.divide(signal, total, out=np.ones_like(total), where=total > 0)
    return mean + keep * (counts - mean)


def _article_prior(
    aggregates: ReleasedAggregates, *, count: int, reference: date, groups: np.ndarray | None
) -> np.ndarray:
    """Training's popularity prior of every article, or with `groups` (each article's topic)
    the shrunk counts on the same scale."""
    ids = np.arange(count)
    shrunk = (
        None
        if groups is None
        else shrunk_counts(
            article_ids=ids, aggregates=aggregates, reference=reference, groups=groups
        )
    )
    if shrunk is not None:
        return _scaled(shrunk).astype(np.float64)
    return popularity_prior(article_ids=ids, aggregates=aggregates, reference=reference).astype(
        np.float64
    )


def _topic_prior(aggregates: Aggregates, *, category_rows: np.ndarray, reference: date):
    topics = int(category_rows.max()) + 1 if len(category_rows) else 0
    raw = np.array(
        [_decayed(aggregates.topic_days.get(t, {}), reference=reference) for t in range(topics)]
    )
    return _scaled(raw).astype(np.float64)[category_rows]


# --- The model and the two protocols -----------------------------------------------------


def news_text(item: News) -> str:
    # As training reads an article: the title, then the body (here MIND's abstract); the
    # category names are words too, tying stories of one section together.
    return article_text(
        title=item.title, summary=f"{item.category} {item.subcategory}", body=item.abstract
    )


@dataclass
class EvaluationReport:
    news: int
    impressions: int
    users: int
    epsilon: float
    bound: int
    popularity_source: str
    threshold: int
    shrink: bool
    noise: str
    delta: float  # per day's release; 0 with Laplace noise or exact counts
    # Summed over the released days: each day, the article and topic queries' shares.
    epsilon_spent: float
    delta_spent: float  # likewise (basic composition)
    unknown_history: int
    unknown_candidates: int
    weights: dict  # the blend for leave-one-out (tuned on the last released day, or given)
    leave_one_out: dict = field(default_factory=dict)  # evaluated, metrics
    impressions_protocol: dict = field(default_factory=dict)  # evaluated, skipped, metrics

    def as_dict(self) -> dict:
        result = asdict(self)
        # JSON has no infinity: epsilon inf is written as the string "inf".
        result["epsilon"] = "inf" if math.isinf(self.epsilon) else self.epsilon
        return result


class _Model:
    """The recommender's offline twin: text vectors fitted by the training code, each
    reader's profile from their history, and popularity from the released counts."""

    def __init__(
        self,
        data: MindData,
        *,
        plan: PopularityPlan,
        seed: int,
        weights: dict[str, float],
        tune: bool,
    ):
        self.ids = list(data.news)
        self.row_of = {news_id: row for row, news_id in enumerate(self.ids)}
        self.categories = sorted({item.category for item in data.news.values()})
        category_row = {c: row for row, c in enumerate(self.categories)}
        self.category_rows = np.array(
            [category_row[data.news[n].category] for n in self.ids], dtype=np.int64
        )
        _, self.vectors = fit_text_model(
            [news_text(data.news[n]) for n in self.ids],
            max_features=settings.RECOMMENDER_MAX_FEATURES,
            svd_components=settings.RECOMMENDER_SVD_COMPONENTS,
            seed=seed,
        )
        self.centroids = normalise_rows(
            np.stack(
                [
                    self.vectors[self.category_rows == row].mean(axis=0)
                    for row in range(len(self.categories))
                ]
            )
        )
        self.plan = plan
        self.weights = weights
        # Per-topic counts alone release no article count to tune on.
        self.tune = tune and plan.source != "topic"
        self.private = release_aggregates(data, ids=self.ids, categories=self.categories, plan=plan)
        self.exact = release_aggregates(data, ids=self.ids, categories=self.categories, plan=None)
        self._cache: dict[tuple[str, date], np.ndarray] = {}
        self._blends: dict[date, dict[str, float]] = {}

    def released_from(self, data: MindData) -> _Model:
        """The same text model, its popularity released from `data` instead (a new draw of
        noise, as a site that had seen only those clicks would have released)."""
        twin = copy.copy(self)
        twin.private = release_aggregates(
            data, ids=self.ids, categories=self.categories, plan=self.plan
        )
        twin.exact = release_aggregates(data, ids=self.ids, categories=self.categories, plan=None)
        twin._cache, twin._blends = {}, {}
        return twin

    def blend(self, reference: date) -> dict[str, float]:
        """The weights training would use on `reference`: tuned on the last released days
        before it, each against the days before it (every article live, freshness unknown),
        then the caller's overrides."""
        if reference not in self._blends:
            tuned = dict(DEFAULT_WEIGHTS)
            before = [day for day in self.private.days if day < reference]
            if self.tune and before:
                everything = np.arange(len(self.ids))
                tuned, _ = blend_choose(
                    [
                        blend_scores(
                            article_ids=everything,
                            groups=self.category_rows,
                            vectors=self.vectors,
                            centroids=self.centroids,
                            live=everything,
                            prior=self.popularity(private=True, reference=day),
                            fresh=np.zeros(len(self.ids)),
                            aggregates=self.private,
                            held_out=day,
                        )
                        for day in before[-HELD_OUT_DAYS:]
                    ]
                )
            self._blends[reference] = tuned | self.weights
        return self._blends[reference]

    def popularity(self, *, private: bool, reference: date) -> np.ndarray:
        """Decayed popularity of every article from the days before `reference`, 0..1."""
        key = ("private" if private else "exact", reference)
        if key not in self._cache:
            aggregates = self.private if private else self.exact
            source = self.plan.source if private else "article"
            parts = []
            if source in {"article", "both"}:
                groups = self.category_rows if private and self.plan.shrink else None
                parts.append(
                    _article_prior(
                        aggregates, count=len(self.ids), reference=reference, groups=groups
                    )
                )
            if source in {"topic", "both"}:
                parts.append(
                    _topic_prior(aggregates, category_rows=self.category_rows, reference=reference)
                )
            self._cache[key] = np.mean(parts, axis=0)
        return self._cache[key]

    def recommender(self, history: np.ndarray, candidates: np.ndarray, reference: date):
        """The live feed's blend for a reader whose reads are `history`: the share of their
        reads in each candidate's topic, content similarity to their reads (later reads count
        more, as in the live profile) and DP popularity."""
        weights = self.blend(reference)
        scores = (
            weights["popularity"] * self.popularity(private=True, reference=reference)[candidates]
        )
        if len(history):
            recency = np.linspace(0.5, 1.0, len(history))[:, None]
            profile = (self.vectors[history] * recency).sum(axis=0)
            norm = np.linalg.norm(profile)
            if norm > 0:
                # Every article at once, then the candidates: indexing the product is far
                # cheaper than copying the candidates' vectors (nearly all, in leave-one-out).
                closeness = np.clip((self.vectors @ (profile / norm))[candidates], 0, 1)
                scores = scores + weights["content"] * closeness
            shares = np.bincount(self.category_rows[history], minlength=len(self.categories))
            scores = scores + weights["topic"] * shares[self.category_rows[candidates]] / len(
                history
            )
        return scores


def reader_clicks(data: MindData, row_of: dict[str, int]) -> dict[str, list[int]]:
    """Each reader's distinct clicked articles: history first, then clicked impressions, in
    file order, their rows merged."""
    clicks: dict[str, list[int]] = {}
    seen: dict[str, set[int]] = defaultdict(set)
    for impression in data.impressions:
        mine = clicks.setdefault(impression.user_id, [])
        clicked = [
            n for n, label in zip(impression.candidates, impression.labels, strict=True) if label
        ]
        for news_id in (*impression.history, *clicked):
            row = row_of[news_id]
            if row not in seen[impression.user_id]:
                seen[impression.user_id].add(row)
                mine.append(row)
    return clicks


def without_held_out(data: MindData, held_out: dict[str, str]) -> MindData:
    """The behaviours training may see in leave-one-out: each reader's held-out story
    (`held_out`, reader -> news id) is no click of theirs, wherever they clicked it. Counted,
    it would tell popularity the answer: on a sparse catalogue one click is much of a
    story's count."""
    impressions = []
    for impression in data.impressions:
        held = held_out.get(impression.user_id)
        if held is not None and held in impression.candidates:
            labels = tuple(
                0 if news_id == held else label
                for news_id, label in zip(impression.candidates, impression.labels, strict=True)
            )
            impression = replace(impression, labels=labels)
        impressions.append(impression)
    return replace(data, impressions=impressions)


def _means(totals: dict[str, dict[str, float]], count: int) -> dict[str, dict[str, float]]:
    return {
        method: {m: (v / count if count else float("nan")) for m, v in values.items()}
        for method, values in totals.items()
    }


def evaluate(
    data: MindData,
    *,
    plan: PopularityPlan | None = None,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
    weights: dict[str, float] | None = None,
    tune: bool = True,
) -> EvaluationReport:
    """Both protocols for the recommender (popularity released by `plan`), exact unbounded
    popularity and a random ranking seeded by `seed`. `progress` gets the number of users and
    impressions done so far. The blend is tuned as training tunes it (`tune`; False keeps
    the default weights); `weights` replaces some of its weights, to measure another blend."""
    plan = plan or PopularityPlan()
    model = _Model(data, plan=plan, seed=seed, weights=weights or {}, tune=tune)
    rng = np.random.default_rng(seed)
    count = len(model.ids)
    days = model.exact.days
    # Leave-one-out ranks on the day after the last, so popularity counts every day, but
    # only the training clicks: every held-out story is taken out of the counts (for the
    # model and exact popularity alike). The impressions protocol sees the days before the
    # impression's.
    after_last = (days[-1] + timedelta(days=1)) if days else date.max - timedelta(days=1)
    clicks = reader_clicks(data, model.row_of)
    held_out = {
        user: model.ids[user_clicks[-1]]
        for user, user_clicks in clicks.items()
        if len(user_clicks) >= 2
    }
    loo_model = model.released_from(without_held_out(data, held_out))
    done = 0

    loo = {method: dict.fromkeys(LOO_METRICS[:3], 0.0) for method in METHODS}
    tops: dict[str, list[np.ndarray]] = {method: [] for method in METHODS}
    loo_users = 0
    for user_clicks in clicks.values():
        done += 1
        if len(user_clicks) >= 2:
            held, history = user_clicks[-1], np.array(user_clicks[:-1])
            allowed = np.ones(count, dtype=bool)
            allowed[history] = False
            candidates = np.flatnonzero(allowed)
            target = int(np.searchsorted(candidates, held))
            scores = {
                "recommender": loo_model.recommender(history, candidates, after_last),
                "popularity": loo_model.popularity(private=False, reference=after_last)[candidates],
                "random": rng.random(len(candidates)),
            }
            loo_users += 1
            for method, method_scores in scores.items():
                rank = hit_rank(method_scores, target)
                loo[method]["hr@10"] += rank <= TOP_K
                loo[method]["ndcg@10"] += 1 / math.log2(rank + 1) if rank <= TOP_K else 0.0
                loo[method]["mrr"] += 1 / rank
                tops[method].append(candidates[_order(method_scores)[:TOP_K]])
        if progress is not None:
            progress(done)
    loo_metrics = _means(loo, loo_users)
    for method in METHODS:
        loo_metrics[method]["coverage"] = catalogue_coverage(tops[method], count)
        loo_metrics[method]["diversity"] = intra_list_diversity(tops[method], model.vectors)

    totals = {method: dict.fromkeys(METRICS, 0.0) for method in METHODS}
    evaluated = 0
    for impression in data.impressions:
        done += 1
        labels = np.array(impression.labels)
        if impression.history and 0 < labels.sum() < len(labels):
            evaluated += 1
            history = np.array([model.row_of[n] for n in impression.history])
            candidates = np.array([model.row_of[n] for n in impression.candidates])
            day = impression.time.date()
            scores = {
                "recommender": model.recommender(history, candidates, day),
                "popularity": model.popularity(private=False, reference=day)[candidates],
                "random": rng.random(len(candidates)),
            }
            for method, method_scores in scores.items():
                for metric, value in impression_metrics(labels, method_scores).items():
                    totals[method][metric] += value
        if progress is not None:
            progress(done)

    return EvaluationReport(
        news=count,
        impressions=len(data.impressions),
        users=len(clicks),
        epsilon=plan.epsilon,
        bound=plan.bound,
        popularity_source=plan.source,
        threshold=plan.threshold,
        shrink=plan.shrink,
        noise=plan.noise,
        delta=plan.release_delta,
        epsilon_spent=round(model.private.epsilon, 6),
        delta_spent=model.private.delta,
        unknown_history=data.unknown_history,
        unknown_candidates=data.unknown_candidates,
        weights=loo_model.blend(after_last),
        leave_one_out={"evaluated": loo_users, "metrics": loo_metrics},
        impressions_protocol={
            "evaluated": evaluated,
            "skipped": len(data.impressions) - evaluated,
            "metrics": _means(totals, evaluated),
        },
    )
