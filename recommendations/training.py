"""Build one model version from published articles and differentially private counts only
(design flow 3). Nothing here may read a reader's data: no accounts, no history, no raw signal
events; a test checks the imports and the tables every training query touches."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import numpy as np
from django.conf import settings
from django.utils import timezone

from news.models import Article
from privacy.ldp import inverse_variance_combine
from privacy.models import (
    AggregateSignal,
    FollowedTopicRelease,
    LocalReportRelease,
    PrivacyBudgetLedger,
)
from privacy.releases import (
    ARTICLE_QUERY,
    FOLLOWED_TOPIC_QUERY,
    TOPIC_QUERY,
    Z95,
    noise_variance,
    share_estimate,
)

from . import federated
from .feed.scoring import Candidates, Reader, score
from .vectors import RecommenderModel, article_text, fit_text_model, normalise_rows
from .weights import (
    DEFAULT_WEIGHTS,
    POPULARITY_AND_FRESHNESS,
    POPULARITY_AND_FRESHNESS_TOTALS,
    POPULARITY_SHARES,
)

# The chance that a stand-in reader's next read is one of their topic's stories rather than
# anyone's (`blend_scores`) before anything is known: the mean of a uniform prior on 0..1.
# Training learns it from the released reads in followed topics (`reader_loyalty`), shrunk
# toward this by the prior's variance, 1/12, as far as the counts are noisy.
OWN_TOPIC_SHARE = 0.5
OWN_TOPIC_SHARE_PRIOR_VARIANCE = 1 / 12
# A count stands clear of its noise above this many standard deviations of it.
NOISE_CLEARANCE = 2.0

# The weight is judged on each of the last few released days (each against the days before
# it), criterion averaged: one day's noisy counts alone swung it between 1 and 3; three days
# still picked 1.5-3 on the demo corpus one draw in eight, where about 1 serves (bench/README.md).
HELD_OUT_DAYS = 5
# Those days are the newest that can judge among the last few released: a day whose reads do
# not stand clear of its noise (a quiet day at epsilon 1) would pick a weight by chance.
HELD_OUT_LOOKBACK = 7
# Transforming a stored article's text again must give back its stored vector, or fresh
# articles vectorised on publish would not be comparable with the rest.
REPRODUCTION_MIN_COSINE = 0.99
CHECK_SAMPLE = 200


@dataclass(frozen=True)
class Corpus:
    article_ids: np.ndarray
    texts: list[str]
    published_at: list[datetime]
    topics: dict[int, list[int]]  # topic id -> article rows


def corpus_load(*, now: datetime) -> Corpus:
    """The newest published articles (at most the configured number), oldest id first."""
    rows = list(
        Article.objects.published(now=now)
        .order_by("-published_at", "-id")
        .values_list("id", "title", "summary", "body", "published_at")[
            : settings.RECOMMENDER_TRAINING_MAX_ARTICLES
        ]
    )
    rows.sort(key=lambda row: row[0])
    ids = np.array([row[0] for row in rows], dtype=np.int64)
    position = {int(article_id): i for i, article_id in enumerate(ids)}
    topics: dict[int, list[int]] = defaultdict(list)
    through = Article.topics.through.objects.filter(
        article__status=Article.Status.PUBLISHED, article__published_at__lte=now
    ).values_list("article_id", "topic_id")
    for article_id, topic_id in through.iterator(chunk_size=10_000):
        row = position.get(article_id)
        if row is not None:
            topics[topic_id].append(row)
    return Corpus(
        article_ids=ids,
        texts=[article_text(title=r[1], summary=r[2], body=r[3]) for r in rows],
        published_at=[r[4] for r in rows],
        topics=dict(topics),
    )


def decay_weight(day: date, *, reference: date) -> float:
    # A day's counts halve in weight every RECOMMENDER_POPULARITY_HALF_LIFE_DAYS.
    return 0.5 ** ((reference - day).days / settings.RECOMMENDER_POPULARITY_HALF_LIFE_DAYS)


def decayed_total(counts: dict[date, int], *, reference: date) -> float:
    return sum(
        max(count, 0) * decay_weight(day, reference=reference)
        for day, count in counts.items()
        if day < reference
    )


def log_scaled(raw: np.ndarray) -> np.ndarray:
    """Counts to 0..1 on a log scale, so one viral story does not flatten the rest."""
    logged = np.log1p(np.maximum(raw, 0.0))
    top = logged.max() if len(logged) else 0.0
    return (logged / top).astype(np.float32) if top > 0 else np.zeros(len(raw), np.float32)


@dataclass(frozen=True)
class Aggregates:
    article_days: dict[int, dict[date, int]]  # article id -> day -> noisy count
    topic_days: dict[int, dict[date, int]]
    days: list[date]
    epsilon: float
    # Day -> the variance of the noise on each article or topic count (public: the ledger's
    # noise scale); days released before the ledger kept it are missing.
    article_noise: dict[date, float] = field(default_factory=dict)
    topic_noise: dict[date, float] = field(default_factory=dict)
    # Private mode's local DP estimates: article id -> day -> (estimate, variance, reports),
    # and each day's readers in the central counts (their sum: one story a reader a day).
    local_days: dict[int, dict[date, tuple[float, float, int]]] = field(default_factory=dict)
    readers: dict[date, float] = field(default_factory=dict)
    readers_noise: dict[date, float] = field(default_factory=dict)  # the variance of that sum
    # Day -> the released (reads in a topic their reader follows, reads elsewhere), and the
    # variance of the noise on each of the two (days released with exact counts: none).
    followed_days: dict[date, tuple[int, int]] = field(default_factory=dict)
    followed_noise: dict[date, float] = field(default_factory=dict)
    # Day -> (articles released, the sum of their counts, the sum of their squares), for
    # `day_reliability`; worked out from `article_days` when not given.
    article_spread: dict[date, tuple[int, float, float]] = field(default_factory=dict)


def aggregates_load(*, now: datetime) -> Aggregates:
    """The released DP counts of the last N closed days, and the epsilon they cost."""
    today = timezone.localdate(now)
    since = today - timedelta(days=settings.RECOMMENDER_POPULARITY_DAYS)
    article_days: dict[int, dict[date, int]] = defaultdict(dict)
    topic_days: dict[int, dict[date, int]] = defaultdict(dict)
    days: set[date] = set()
    released = AggregateSignal.objects.filter(day__gte=since, day__lt=today).values_list(
        "kind", "article_id", "topic_id", "day", "noisy_count"
    )
    readers: dict[date, float] = defaultdict(float)
    released_articles: dict[date, int] = defaultdict(int)
    squares: dict[date, float] = defaultdict(float)
    for kind, article_id, topic_id, day, count in released.iterator(chunk_size=10_000):
        days.add(day)
        if kind == AggregateSignal.Kind.ARTICLE and article_id is not None:
            article_days[article_id][day] = count
            readers[day] += count
            released_articles[day] += 1
            squares[day] += count * count
        elif kind == AggregateSignal.Kind.TOPIC and topic_id is not None:
            topic_days[topic_id][day] = count
    followed_days = {
        day: (in_followed, elsewhere)
        for day, in_followed, elsewhere in FollowedTopicRelease.objects.filter(
            day__gte=since, day__lt=today
        ).values_list("day", "in_followed", "elsewhere")
    }
    epsilon = 0.0
    noise: dict[str, dict[date, float]] = {
        ARTICLE_QUERY: {},
        TOPIC_QUERY: {},
        FOLLOWED_TOPIC_QUERY: {},
    }
    ledger = PrivacyBudgetLedger.objects.filter(day__in=days).values_list(
        "day", "query", "epsilon", "mechanism", "noise_scale"
    )
    for day, query, spent, mechanism, scale in ledger:
        epsilon += spent
        if query in noise and scale is not None:
            noise[query][day] = noise_variance(mechanism=mechanism, scale=scale)
    local_days: dict[int, dict[date, tuple[float, float, int]]] = defaultdict(dict)
    local = LocalReportRelease.objects.filter(day__gte=since, day__lt=today).values_list(
        "article_id", "day", "estimate", "variance", "reports"
    )
    for article_id, day, estimate, variance, reports in local.iterator(chunk_size=10_000):
        local_days[article_id][day] = (estimate, variance, reports)
    return Aggregates(
        article_days=dict(article_days),
        topic_days=dict(topic_days),
        days=sorted(days),
        epsilon=float(epsilon),
        article_noise=noise[ARTICLE_QUERY],
        topic_noise=noise[TOPIC_QUERY],
        local_days=dict(local_days),
        readers=dict(readers),
        readers_noise={
            day: n * noise[ARTICLE_QUERY][day]
            for day, n in released_articles.items()
            if day in noise[ARTICLE_QUERY]
        },
        followed_days=followed_days,
        followed_noise=noise[FOLLOWED_TOPIC_QUERY],
        article_spread={
            day: (n, readers[day], squares[day]) for day, n in released_articles.items()
        },
    )


def reader_loyalty(aggregates: Aggregates, *, before: date | None = None) -> float:
    """How loyal readers are to the topics they follow: the share of counted reads (of readers
    who follow a topic) that fell in one of them, from the released counts of the days before
    `before` (all of them by default), ratio of sums. Shrunk toward the prior's
    `OWN_TOPIC_SHARE` by precision: the released ratio's variance (delta method, the noise's
    variance public from the ledger) against the prior's, `OWN_TOPIC_SHARE_PRIOR_VARIANCE`;
    where the counts are all noise it stays at the prior, where they are clear of it, it is
    their ratio. Post-processing of public numbers: no privacy cost."""
    days = [day for day in aggregates.followed_days if before is None or day < before]
    in_followed = sum(aggregates.followed_days[day][0] for day in days)
    elsewhere = sum(aggregates.followed_days[day][1] for day in days)
    variance = sum(aggregates.followed_noise.get(day, 0.0) for day in days)
    estimate = share_estimate(
        part=in_followed, rest=elsewhere, part_variance=variance, rest_variance=variance
    )
    if estimate is None:  # no reads clear of the noise, or none released
        return OWN_TOPIC_SHARE
    share = min(max(estimate.value, 0.0), 1.0)
    share_variance = (estimate.margin / Z95) ** 2
    prior = OWN_TOPIC_SHARE_PRIOR_VARIANCE
    return float((share * prior + OWN_TOPIC_SHARE * share_variance) / (prior + share_variance))


def popularity_prior(
    *, article_ids: np.ndarray, aggregates: Aggregates, reference: date
) -> np.ndarray:
    """Each article's decayed DP count as far as it stands clear of its noise (less
    `NOISE_CLEARANCE` standard deviations of the noise summed into it, floored at 0), on
    `log_scaled`'s 0..1. Post-processing of public numbers, so free. Clipped day by day
    instead, every unread story kept the noise's positive half: at epsilon 1 on 2,000 real
    stories a day, a fifth of the top story's score, so popularity had to weigh twice as much
    to tell hits from nothing (bench/README.md, "Real readers")."""
    counts, variances = decayed_with_noise(
        article_ids=article_ids, aggregates=aggregates, reference=reference
    )
    return log_scaled(np.maximum(counts - NOISE_CLEARANCE * np.sqrt(variances), 0.0))


def article_spread(
    article_days: dict[int, dict[date, int]],
) -> dict[date, tuple[int, float, float]]:
    """Per day: the articles released, the sum of their counts and of their squares."""
    spread: dict[date, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for days in article_days.values():
        for day, count in days.items():
            row = spread[day]
            row[0] += 1
            row[1] += count
            row[2] += count * count
    return {day: (int(n), total, squares) for day, (n, total, squares) in spread.items()}


def day_reliability(aggregates: Aggregates, *, before: date) -> dict[date, float]:
    """How far each released day before `before` counts in popularity, 0..1: the share of the
    spread of its article counts that is the reads' rather than the noise's (their variance
    across the day's released stories less the noise's, public from the ledger), relative to
    the day where that share is largest. A day of a few reads at epsilon 1 is all noise and
    drops out instead of weighing most for being newest; on a site whose every day stands
    clear of its noise every day counts fully. Days without known noise count fully, and so
    does every day when none has a spread beyond the noise. Post-processing: free."""
    spread = aggregates.article_spread or article_spread(aggregates.article_days)
    shares = {}
    for day, (n, total, squares) in spread.items():
        if day >= before or day not in aggregates.article_noise or not n:
            continue
        noise = aggregates.article_noise[day]
        signal = max(squares / n - (total / n) ** 2 - noise, 0.0)
        shares[day] = signal / (signal + noise) if signal + noise > 0 else 1.0
    top = max(shares.values(), default=0.0)
    return {day: share / top for day, share in shares.items()} if top > 0 else {}


def decayed_with_noise(
    *, article_ids: np.ndarray, aggregates: Aggregates, reference: date
) -> tuple[np.ndarray, np.ndarray]:
    """Each article's decayed DP count, not clipped at 0 day by day (the noise is centred, so
    the sum stays unbiased), and the variance of the noise summed into it (public, from the
    ledger; days whose noise it did not keep count as exact). Each day weighs its decay times
    its `day_reliability`. A day with a local DP estimate of the article joins it to the
    central count weighted by their variances (`privacy.ldp.inverse_variance_combine`)."""
    # Each day's decay weight and the noise variance it carries, worked out once per day.
    weights: dict[date, tuple[float, float]] = {}
    local_only = {day for days in aggregates.local_days.values() for day in days}
    reliable = day_reliability(aggregates, before=reference)
    for day in sorted(set(aggregates.days) | local_only):
        if day < reference:
            weight = decay_weight(day, reference=reference) * reliable.get(day, 1.0)
            weights[day] = (weight, weight**2 * aggregates.article_noise.get(day, 0.0))
    counts = np.zeros(len(article_ids))
    variances = np.zeros(len(article_ids))
    for row, article_id in enumerate(article_ids):
        central = aggregates.article_days.get(int(article_id), {})
        for day, count in central.items():
            if day in weights and day not in aggregates.local_days.get(int(article_id), {}):
                weight, noise = weights[day]
                counts[row] += weight * count
                variances[row] += noise
        for day, (estimate, variance, reports) in aggregates.local_days.get(
            int(article_id), {}
        ).items():
            if day in weights:
                weight, _ = weights[day]
                count, day_variance = inverse_variance_combine(
                    central=central.get(day),
                    central_variance=aggregates.article_noise.get(day, 0.0),
                    central_readers=aggregates.readers.get(day, 0.0),
                    central_readers_variance=aggregates.readers_noise.get(day, 0.0),
                    local=estimate,
                    local_variance=variance,
                    local_reports=reports,
                )
                counts[row] += weight * count
                variances[row] += weight**2 * day_variance
    return counts, variances


def popular_beyond_noise(
    *, article_ids: np.ndarray, aggregates: Aggregates, reference: date
) -> np.ndarray:
    """Whether each article's decayed DP count stands clear of its noise: above two standard
    deviations of the noise summed into it, so that "Popular today" is never said of a story
    that only noise lifted."""
    counts, variances = decayed_with_noise(
        article_ids=article_ids, aggregates=aggregates, reference=reference
    )
    return (counts > 0) & (counts > NOISE_CLEARANCE * np.sqrt(variances))


def topic_affinity(
    *, topic_ids: np.ndarray, centroids: np.ndarray, aggregates: Aggregates
) -> np.ndarray:
    """How related two topics are: half how alike their articles read, half how their DP
    daily counts rise and fall together (when there are enough days to tell, and as far as
    their rise and fall is more than the noise's)."""
    content = np.clip(centroids @ centroids.T, 0.0, 1.0) if len(topic_ids) else np.zeros((0, 0))
    days = aggregates.days
    if len(days) < 3 or len(topic_ids) < 2:
        affinity = content
    else:
        series = np.array(
            [[aggregates.topic_days.get(int(t), {}).get(d, 0) for d in days] for t in topic_ids],
            dtype=np.float64,
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            together = np.nan_to_num(np.corrcoef(series), nan=0.0)
        trust = _co_movement_trust(series, noise=[aggregates.topic_noise.get(d, 0.0) for d in days])
        affinity = content * (1 - 0.5 * trust) + 0.5 * trust * np.clip(together, 0.0, 1.0)
    if len(topic_ids):
        np.fill_diagonal(affinity, 1.0)
    return affinity.astype(np.float32)


def _co_movement_trust(series: np.ndarray, *, noise: list[float]) -> np.ndarray:
    """How far two topics' day-to-day co-movement can be trusted, 0..1: the share of each
    series' spread over the days that is not the noise's (whose variance is public), the
    geometric mean of the pair's. Pure noise correlates by chance; on a small site that is all
    a topic count is, and its topics are then related by content alone."""
    spread = series.var(axis=1)
    signal = np.clip(spread - float(np.mean(noise)), 0.0, None)
    share = np.divide(signal, spread, out=np.zeros_like(spread), where=spread > 0)
    return np.sqrt(np.outer(share, share))


def freshness(*, published_at: list[datetime], at: datetime) -> np.ndarray:
    half_life = settings.RECOMMENDER_FRESHNESS_HALF_LIFE_HOURS
    hours = np.array([max((at - p).total_seconds() / 3600, 0.0) for p in published_at])
    return (0.5 ** (hours / half_life)).astype(np.float32)


def topic_groups(*, corpus: Corpus, topic_ids: np.ndarray) -> np.ndarray:
    """Each article's row in `topic_ids` (its first topic), -1 for an article with none."""
    groups = np.full(len(corpus.article_ids), -1, dtype=np.int64)
    for position in reversed(range(len(topic_ids))):  # the lowest topic id wins
        groups[corpus.topics[int(topic_ids[position])]] = position
    return groups


def blend_scores(
    *,
    article_ids: np.ndarray,
    groups: np.ndarray,
    vectors: np.ndarray,
    centroids: np.ndarray,
    live: np.ndarray,
    prior: np.ndarray,
    fresh: np.ndarray,
    aggregates: Aggregates,
    held_out: date,
    totals: tuple[float, ...] = POPULARITY_AND_FRESHNESS_TOTALS,
    own_share: float = OWN_TOPIC_SHARE,
    k: int = 10,
) -> dict[tuple[float, float], float]:
    """For every (total, share) of the grid, how well a blend with popularity and freshness
    weighing `total` together, split `share` to popularity, ranks the `live` rows (popularity
    `prior` from the days before `held_out`, freshness `fresh`) against the DP counts of the
    day `held_out`; empty when the day cannot judge (no day before it, under two live
    stories, no reads that stand clear of the day's noise). `groups` is each article's row
    in `centroids` (its topic), -1 for none. `blend_choose` picks from one or more days'
    scores.

    The blend ranks for one reader, but a day's counts add up every reader's clicks, and the
    topic and content parts weigh nothing in a ranking that is the same for everyone. So the
    criterion stands in one reader per topic: they follow it (topic part 1), their profile
    its centroid, and each counts by the topic's share of the reads of the days before. Their
    next read is one of the day's: with chance `own_share` (how loyal readers are to their
    topics, `reader_loyalty`) one of their topic's stories, by its share of the topic's
    reads, else anyone's, by its share of all the day's reads; the criterion is the expected
    DCG@k of that read over the best possible. Real readers read
    outside their topics (on MIND, 4 in 5 last reads fall outside the category a reader read
    most), and a criterion that counted only their topic's stories rewarded the topic part
    for outranking the day's hits. How far it may outrank them is then the counts' to say:
    where a few stories take most of a day's reads, popularity wins; where reads spread
    thin, the reader's topic does. Ties go to an even split, then to the usual total."""
    if not any(day < held_out for day in aggregates.days) or len(live) < 2:
        return {}
    ids = article_ids[live]
    # Not clipped at 0: the noise is centred and the criterion adds counts up, so it stays
    # unbiased; clipped, noise alone would lift thousands of unread stories over the rest.
    counts = np.array(
        [aggregates.article_days.get(int(a), {}).get(held_out, 0) for a in ids], float
    )
    # The day's total against the noise summed over its stories (public, from the ledger).
    noise = aggregates.article_noise.get(held_out, 0.0)
    if counts.sum() <= NOISE_CLEARANCE * math.sqrt(noise * len(counts)):
        return {}
    reads = np.zeros(len(centroids))
    for row, article_id in enumerate(article_ids):
        if groups[row] >= 0:
            days = aggregates.article_days.get(int(article_id), {})
            reads[groups[row]] += sum(c for day, c in days.items() if day < held_out)
    topic_share = reads / reads[reads > 0].sum() if (reads > 0).any() else reads
    live_groups = groups[live]
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    readers = []
    for group in np.flatnonzero(reads > 0):
        # Each story's chance to be their next read, times the day's total: anyone's read at
        # (1 - own_share), their topic's stories own_share / (the topic's share) more.
        gains = counts * (
            np.where(live_groups == group, own_share / topic_share[group], 0.0) + 1 - own_share
        )
        # The best top k of these gains: a constant per reader and day, so noise in it only
        # weighs readers and days, never favours a blend.
        best = float(np.sort(np.clip(gains, 0, None))[::-1][:k] @ discounts[: min(k, len(gains))])
        if best > 0:
            readers.append((int(group), float(reads[group]), gains, best))
    if not readers:
        return {}
    # The live stories as the feed scores them: one topic column per group, its reader
    # following it alone (no affinity lent, no reads).
    topic_matrix = np.zeros((len(live), len(centroids)), dtype=bool)
    grouped = np.flatnonzero(live_groups >= 0)
    topic_matrix[grouped, live_groups[grouped]] = True
    labels = np.arange(len(centroids), dtype=np.int64)
    candidates = Candidates(
        vectors=vectors[live],
        topic_ids=labels,
        topic_matrix=topic_matrix,
        popularity=prior,
        centroid_closeness=vectors[live] @ centroids.T,
        model_topic_ids=labels,
        topic_centroids=centroids,
    )
    no_pick = np.zeros(len(live))
    weight = sum(read for _, read, _, _ in readers)

    def judged(total: float, share: float) -> float:
        weights = {"popularity": total * share, "freshness": total * (1 - share)}
        value = 0.0
        for group, read, gains, best in readers:
            ranked = score(
                candidates=candidates,
                reader=Reader(topic_weights={group: 1.0}),
                weights=weights,
                freshness=fresh,
                pick=no_pick,
            ).relevance
            top = np.argsort(-ranked, kind="stable")[:k]
            value += read * float(gains[top] @ discounts[: len(top)]) / best
        return value / weight

    return {(total, share): judged(total, share) for total in totals for share in POPULARITY_SHARES}


def judging_days(
    days: list[date], judge: Callable[[date], dict[tuple[float, float], float]]
) -> list[dict[tuple[float, float], float]]:
    """`judge` (a day's `blend_scores`) of the newest `days` first, until `HELD_OUT_DAYS`
    of them could judge or `HELD_OUT_LOOKBACK` were tried."""
    found = []
    for day in reversed(days[-HELD_OUT_LOOKBACK:]):
        scores = judge(day)
        if scores:
            found.append(scores)
            if len(found) == HELD_OUT_DAYS:
                break
    return found


def blend_choose(
    days: list[dict[tuple[float, float], float]], *, k: int = 10
) -> tuple[dict[str, float], dict[str, float]]:
    """The (total, share) with the best `blend_scores` criterion averaged over the held-out
    `days` that could judge; ties go to an even split, then to the usual total."""
    weights = dict(DEFAULT_WEIGHTS)
    days = [day for day in days if day]
    if not days:
        return weights, {}
    results = {pair: sum(day[pair] for day in days) / len(days) for pair in days[0]}
    total, share = max(
        results,
        key=lambda pair: (
            round(results[pair], 6),
            pair[1] == 0.5,
            pair[0] == POPULARITY_AND_FRESHNESS,
        ),
    )
    weights["popularity"] = round(total * share, 4)
    weights["freshness"] = round(total * (1 - share), 4)
    metrics = {
        f"holdout_ndcg@{k}": round(results[total, share], 4),
        f"holdout_ndcg@{k}_freshness_only": round(results[total, 0.0], 4),
        "holdout_popularity_and_freshness": total,
        "holdout_days": len(days),
    }
    return weights, metrics


def tune_blend(
    *,
    corpus: Corpus,
    aggregates: Aggregates,
    vectors: np.ndarray,
    centroids: np.ndarray,
    groups: np.ndarray,
    totals: tuple[float, ...] = POPULARITY_AND_FRESHNESS_TOTALS,
    own_share: float = OWN_TOPIC_SHARE,
    k: int = 10,
) -> tuple[dict[str, float], dict[str, float]]:
    """`blend_choose` over the last `HELD_OUT_DAYS` released days that can judge
    (`judging_days`), each with the stories live that day and popularity from the days
    before it, stand-in readers as loyal to their topic as `own_share`. Returns the weights
    and the held-out metrics."""
    window = timedelta(days=settings.RECOMMENDER_CANDIDATE_DAYS)

    def judge(held_out: date) -> dict[tuple[float, float], float]:
        day_end = timezone.make_aware(datetime.combine(held_out + timedelta(days=1), time.min))
        live = np.array(
            [
                row
                for row, published in enumerate(corpus.published_at)
                if day_end - window <= published < day_end
            ],
            dtype=np.int64,
        )
        return blend_scores(
            article_ids=corpus.article_ids,
            groups=groups,
            vectors=vectors,
            centroids=centroids,
            live=live,
            prior=popularity_prior(
                article_ids=corpus.article_ids[live], aggregates=aggregates, reference=held_out
            ),
            fresh=freshness(published_at=[corpus.published_at[r] for r in live], at=day_end),
            aggregates=aggregates,
            held_out=held_out,
            totals=totals,
            own_share=own_share,
            k=k,
        )

    days = judging_days(aggregates.days[1:], judge)
    return blend_choose(days, k=k)


def topic_agreement(*, vectors: np.ndarray, corpus: Corpus, seed: int = 0) -> float:
    """Share of sampled articles whose nearest other article shares a topic with them."""
    if len(vectors) < 2 or not corpus.topics:
        return 0.0
    topics_of: dict[int, set[int]] = defaultdict(set)
    for topic_id, rows in corpus.topics.items():
        for row in rows:
            topics_of[row].add(topic_id)
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(vectors), size=min(CHECK_SAMPLE, len(vectors)), replace=False)
    sims = vectors[sample] @ vectors.T
    sims[np.arange(len(sample)), sample] = -np.inf
    nearest = np.argmax(sims, axis=1)
    agree = [
        bool(topics_of[int(s)] & topics_of[int(n)]) for s, n in zip(sample, nearest, strict=True)
    ]
    return float(np.mean(agree))


@dataclass(frozen=True)
class Training:
    model: RecommenderModel
    problems: list[str]  # why the offline checks refuse it; empty when it may serve


def build_model(*, version: int, now: datetime, seed: int = 0) -> Training:
    corpus = corpus_load(now=now)
    if not len(corpus.article_ids):
        raise ValueError("There is no published article to learn from.")
    text_model, vectors = fit_text_model(
        corpus.texts,
        max_features=settings.RECOMMENDER_MAX_FEATURES,
        svd_components=settings.RECOMMENDER_SVD_COMPONENTS,
        seed=seed,
    )
    topic_ids = np.array(sorted(corpus.topics), dtype=np.int64)
    centroids = (
        normalise_rows(np.stack([vectors[corpus.topics[int(t)]].mean(axis=0) for t in topic_ids]))
        if len(topic_ids)
        else np.zeros((0, vectors.shape[1]), np.float32)
    )
    aggregates = aggregates_load(now=now)
    today = timezone.localdate(now)
    groups = topic_groups(corpus=corpus, topic_ids=topic_ids)
    popularity = popularity_prior(
        article_ids=corpus.article_ids, aggregates=aggregates, reference=today
    )
    topic_raw = np.array(
        [decayed_total(aggregates.topic_days.get(int(t), {}), reference=today) for t in topic_ids]
    )
    loyalty = reader_loyalty(aggregates)
    weights, holdout = tune_blend(
        corpus=corpus,
        aggregates=aggregates,
        vectors=vectors,
        centroids=centroids,
        groups=groups,
        own_share=loyalty,
    )
    weights, holdout = federated.federated_adopt(
        weights=weights,
        metrics=holdout,
        corpus=corpus,
        aggregates=aggregates,
        vectors=vectors,
        centroids=centroids,
        groups=groups,
        own_share=loyalty,
        today=today,
    )
    metrics = {
        **holdout,
        "own_topic_share": round(loyalty, 4),
        "topic_agreement": round(topic_agreement(vectors=vectors, corpus=corpus, seed=seed), 4),
        "dimensions": int(vectors.shape[1]),
        # What the operator asked for; a small corpus gets fewer (the gate compares these).
        "dimensions_setting": int(settings.RECOMMENDER_SVD_COMPONENTS),
        "vocabulary": len(text_model.vectorizer.vocabulary_),
    }
    model = RecommenderModel(
        version=version,
        trained_at=now,
        text_model=text_model,
        article_ids=corpus.article_ids,
        vectors=vectors,
        popularity=popularity,
        topic_ids=topic_ids,
        topic_centroids=centroids,
        topic_affinity=topic_affinity(
            topic_ids=topic_ids, centroids=centroids, aggregates=aggregates
        ),
        topic_popularity=log_scaled(topic_raw),
        popular_clear=popular_beyond_noise(
            article_ids=corpus.article_ids, aggregates=aggregates, reference=today
        ),
        weights=weights,
        metadata={
            "version": version,
            "trained_at": now.isoformat(),
            "article_count": len(corpus.article_ids),
            "aggregate_days": len(aggregates.days),
            "epsilon": aggregates.epsilon,
            "metrics": metrics,
        },
    )
    return Training(model=model, problems=offline_checks(model, texts=corpus.texts))


def offline_checks(model: RecommenderModel, *, texts: list[str] | None = None) -> list[str]:
    """Reasons not to activate this model; empty when it may serve."""
    problems = []
    if not len(model.article_ids):
        problems.append("The model knows no article.")
    if not np.isfinite(model.vectors).all() or not np.isfinite(model.popularity).all():
        problems.append("The model holds values that are not numbers.")
    if len(model.vectors) != len(model.article_ids) or len(model.popularity) != len(
        model.article_ids
    ):
        problems.append("Article vectors and ids do not line up.")
    if texts:
        sample = list(range(0, len(texts), max(1, math.ceil(len(texts) / CHECK_SAMPLE))))
        again = model.vectorise([texts[i] for i in sample])
        agreement = np.sum(again * model.vectors[sample], axis=1)
        has_words = np.linalg.norm(model.vectors[sample], axis=1) > 0
        if has_words.any() and agreement[has_words].min() < REPRODUCTION_MIN_COSINE:
            problems.append("Vectorising a known article does not reproduce its vector.")
    return problems
