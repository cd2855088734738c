"""The site's daily differentially private releases, replayed on offline reads: every read
counted on its day under the site's per-reader daily bound, each query released at the site's
share of the day's epsilon by the site's own release code (`privacy.aggregation`): reads per
article, per topic, and in a topic their reader follows or elsewhere."""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from privacy.aggregation import (
    ARTICLE_SHARE,
    FOLLOWED_TOPIC_SHARE,
    TOPIC_SHARE,
    release_counts,
)
from privacy.releases import noise_variance

from ..training import Aggregates, decayed_total, decayed_with_noise, log_scaled, popularity_prior
from .mind import Read

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
# The site's DP_CONTRIBUTION_BOUND: each reader counts for 1 drawn article a day.
DEFAULT_BOUND = 1
DEFAULT_SOURCE = "article"


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
    # The shares of the day's epsilon (and delta) the three queries get: the site's by
    # default; others only to measure another split.
    article_share: float = ARTICLE_SHARE
    topic_share: float = TOPIC_SHARE
    followed_share: float = FOLLOWED_TOPIC_SHARE

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
        shares = (self.article_share, self.topic_share, self.followed_share)
        if not all(0 < share <= 1 for share in shares) or sum(shares) > 1:
            raise ValueError(
                f"The article, topic and followed-topic shares of the day's epsilon must be "
                f"above 0 and add up to at most 1, not {self.article_share}, "
                f"{self.topic_share} and {self.followed_share}."
            )

    @property
    def release_delta(self) -> float:
        """Delta each day's release may spend: none with Laplace noise or exact counts."""
        return self.delta if self.noise == "gaussian" and math.isfinite(self.epsilon) else 0.0


def read_draw(user_id: str, day: date, news_id: str) -> str:
    # The site keeps the reads whose MD5 of (the day's pseudonym, article) comes first
    # (privacy.aggregation, in SQL): a per-reader, per-day order that does not favour the
    # first read. The reader id stands in for the day's pseudonym.
    return hashlib.md5(
        f"{user_id}:{day.isoformat()}:{news_id}".encode(), usedforsecurity=False
    ).hexdigest()


def _kept_reads(
    reads: Mapping[str, list[Read]], *, bound: int | None
) -> dict[tuple[str, date], list[str]]:
    """Each reader's counted articles of each day: distinct, at most `bound` of them (None =
    no bound), drawn as the site draws them."""
    by_reader_day: dict[tuple[str, date], set[str]] = defaultdict(set)
    for user_id, user_reads in reads.items():
        for read in user_reads:
            by_reader_day[user_id, read.day].add(read.news_id)
    kept = {}
    for (user_id, day), news_ids in by_reader_day.items():
        drawn = sorted(news_ids, key=lambda news_id: read_draw(user_id, day, news_id))
        kept[user_id, day] = drawn if bound is None else drawn[:bound]
    return kept


def daily_reads(reads: Mapping[str, list[Read]], *, bound: int | None) -> dict[date, Counter[str]]:
    """Reads per day and article, each reader counted once per article and day and for at
    most `bound` distinct articles a day, drawn as the site draws them; None = no bound."""
    per_day: dict[date, Counter[str]] = defaultdict(Counter)
    for (_, day), news_ids in _kept_reads(reads, bound=bound).items():
        per_day[day].update(news_ids)
    return dict(per_day)


def followed_flags(
    reads: Mapping[str, list[Read]], *, topics_of: Mapping[str, tuple[int, ...]]
) -> dict[tuple[str, str], bool | None]:
    """(reader, article) -> whether the read was in a topic the reader followed when they read
    it; None when they followed none. Protocol v2's reader follows the topics of their reads
    (`protocols.offline_reader`), so at a read they follow those of their reads before it:
    at their first, none; a read is in a followed topic when it shares one with an earlier
    read. The held-out read of leave-one-out is judged the same way (its reader follows the
    topics of all their other reads)."""
    flags: dict[tuple[str, str], bool | None] = {}
    for user_id, user_reads in reads.items():
        followed: set[int] = set()
        for read in user_reads:
            topics = topics_of[read.news_id]
            flags[user_id, read.news_id] = bool(followed & set(topics)) if followed else None
            followed.update(topics)
    return flags


def daily_followed_reads(
    reads: Mapping[str, list[Read]],
    *,
    bound: int | None,
    topics_of: Mapping[str, tuple[int, ...]],
) -> dict[date, tuple[int, int]]:
    """Per day, the counted reads (as `daily_reads` keeps them) of readers who followed a
    topic when they read: (in a topic they followed, elsewhere), as the site counts them."""
    flags = followed_flags(reads, topics_of=topics_of)
    per_day: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for (user_id, day), news_ids in _kept_reads(reads, bound=bound).items():
        for news_id in news_ids:
            flag = flags[user_id, news_id]
            if flag is not None:
                per_day[day][0 if flag else 1] += 1
    return {day: (counts[0], counts[1]) for day, counts in per_day.items()}


@dataclass(frozen=True)
class ReleasedAggregates(Aggregates):
    """Aggregates as training reads them (`article_noise`: no entry for exact counts), plus
    the delta their release spent."""

    delta: float = 0.0


# Below this many articles a topic's spread says too little to tell signal from noise: its
# articles shrink toward the whole catalogue's mean instead (or not at all, under this in all).
SHRINK_MIN_ARTICLES = 20


def _release(
    counts: list[int], *, plan: PopularityPlan, share: float, sensitivity: int, max_change: int
) -> tuple[list[int], float, float, float]:
    """Noisy counts at `share` of the day's epsilon (and delta), the epsilon and delta spent,
    and the variance of each count's noise."""
    if math.isinf(plan.epsilon):
        return counts, 0.0, 0.0, 0.0
    release = release_counts(
        counts=counts,
        sensitivity=sensitivity,
        epsilon=plan.epsilon * share,
        mechanism=plan.noise,
        delta=plan.release_delta * share,
        max_change=max_change,
    )
    variance = noise_variance(mechanism=release.mechanism, scale=release.scale)
    return release.noisy_counts, release.epsilon, release.delta, variance


def release_aggregates(
    reads: Mapping[str, list[Read]],
    *,
    ids: list[str],
    topics_of: list[tuple[int, ...]],
    topic_count: int,
    plan: PopularityPlan | None,
) -> ReleasedAggregates:
    """Daily per-article, per-topic and followed-topic counts of `reads` as the site releases
    them (`plan`), every day from the first read's to the last's (the site releases every
    day, zeros included), or the exact unbounded counts when `plan` is None. Articles are
    rows of `ids`, each in the topic rows `topics_of`."""
    bound = None if plan is None else plan.bound
    per_day = daily_reads(reads, bound=bound)
    row_of = {news_id: row for row, news_id in enumerate(ids)}
    followed_per_day = daily_followed_reads(
        reads,
        bound=bound,
        topics_of={news_id: topics_of[row] for news_id, row in row_of.items()},
    )
    days = []
    if per_day:
        first, last = min(per_day), max(per_day)
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    most_topics = max((len(t) for t in topics_of), default=1) or 1
    article_days: dict[int, dict[date, int]] = defaultdict(dict)
    topic_days: dict[int, dict[date, int]] = defaultdict(dict)
    article_noise: dict[date, float] = {}
    topic_noise: dict[date, float] = {}
    followed_days: dict[date, tuple[int, int]] = {}
    followed_noise: dict[date, float] = {}
    spread: dict[date, tuple[int, float, float]] = {}
    spent = spent_delta = 0.0
    for day in days:
        counter = per_day.get(day, Counter())
        per_article = [0] * len(ids)
        per_topic = [0] * topic_count
        for news_id, count in counter.items():
            row = row_of[news_id]
            per_article[row] = count
            for topic in topics_of[row]:
                per_topic[topic] += count
        if plan is not None:
            # As the site's aggregation: per-article counts have L1 sensitivity L (a reader's
            # L articles are distinct: no count moves by more than 1), per-topic counts
            # L x the most topics of one article (one count may move by L).
            per_article, cost, cost_delta, variance = _release(
                per_article,
                plan=plan,
                share=plan.article_share,
                sensitivity=plan.bound,
                max_change=1,
            )
            if plan.threshold:
                per_article = [c if c >= plan.threshold else 0 for c in per_article]
            if variance:
                article_noise[day] = variance
                # Every article is released on a noisy day: training's `day_reliability`.
                released = np.asarray(per_article, dtype=np.float64)
                spread[day] = (len(released), float(released.sum()), float(released @ released))
            per_topic, topic_cost, topic_delta, topic_variance = _release(
                per_topic,
                plan=plan,
                share=plan.topic_share,
                sensitivity=plan.bound * most_topics,
                max_change=plan.bound,
            )
            if topic_variance:
                topic_noise[day] = topic_variance
            # As the site's: each counted read is in one of the two, sensitivity L.
            followed, followed_cost, followed_delta, followed_variance = _release(
                list(followed_per_day.get(day, (0, 0))),
                plan=plan,
                share=plan.followed_share,
                sensitivity=plan.bound,
                max_change=plan.bound,
            )
            followed_days[day] = (followed[0], followed[1])
            if followed_variance:
                followed_noise[day] = followed_variance
            spent += cost + topic_cost + followed_cost
            spent_delta += cost_delta + topic_delta + followed_delta
        else:
            followed_days[day] = followed_per_day.get(day, (0, 0))
        for row, count in enumerate(per_article):
            # A noisy release keeps its zeros, as the site's does: each says the article
            # was released that day, with that day's noise.
            if count or day in article_noise:
                article_days[row][day] = count
        for row, count in enumerate(per_topic):
            if count or day in topic_noise:
                topic_days[row][day] = count
    return ReleasedAggregates(
        article_days=dict(article_days),
        topic_days=dict(topic_days),
        days=days,
        epsilon=spent,
        delta=spent_delta,
        article_noise=article_noise,
        topic_noise=topic_noise,
        followed_days=followed_days,
        followed_noise=followed_noise,
        article_spread=spread,
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


def article_prior(
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
        return log_scaled(shrunk).astype(np.float64)
    return popularity_prior(article_ids=ids, aggregates=aggregates, reference=reference).astype(
        np.float64
    )


def topic_prior(aggregates: Aggregates, *, article_topics: np.ndarray, reference: date):
    """Each article's share of its topic's decayed count, on training's scale."""
    topics = int(article_topics.max()) + 1 if len(article_topics) else 0
    raw = np.array(
        [
            decayed_total(aggregates.topic_days.get(t, {}), reference=reference)
            for t in range(topics)
        ]
    )
    return log_scaled(raw).astype(np.float64)[article_topics]


def exact_totals(aggregates: Aggregates, *, count: int, reference: date) -> np.ndarray:
    """Each article's undecayed total of the days before `reference` (exact counts)."""
    totals = np.zeros(count)
    for row, days in aggregates.article_days.items():
        totals[row] = sum(c for day, c in days.items() if day < reference)
    return totals
