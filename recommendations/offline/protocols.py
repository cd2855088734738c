"""The two offline protocols on MIND-format data (or synthetic readers): leave-one-out over
each reader's reads (protocol v2: HR@10, nDCG@10, MRR, coverage, diversity) and MIND's
impressions (AUC, MRR, nDCG@5/10). The recommender is built with training's own code (text
model, popularity prior, topic affinity, tuned blend) from the site's daily DP releases of
the reads, and ranks with the feed's own scoring function (`feed.scoring.score`); against
exact popularity (undecayed, decayed as the site decays, within the reader's categories)
and a seeded random ranking. Each seed is a new draw of the releases' noise."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

import numpy as np
from django.conf import settings

from ..feed.scoring import Candidates, Reader, score
from ..training import (
    OWN_TOPIC_SHARE,
    blend_choose,
    blend_scores,
    judging_days,
    reader_loyalty,
    topic_affinity,
)
from ..vectors import fit_text_model, normalise_rows
from ..weights import DEFAULT_WEIGHTS
from .metrics import (
    catalogue_coverage,
    hit_rank,
    impression_metrics,
    intra_list_diversity,
    order,
)
from .mind import MindData, Read, news_text, reader_reads
from .release import (
    PopularityPlan,
    ReleasedAggregates,
    article_prior,
    exact_totals,
    release_aggregates,
    topic_prior,
)

METRICS = ("auc", "mrr", "ndcg@5", "ndcg@10")
LOO_METRICS = ("hr@10", "ndcg@10", "mrr", "coverage", "diversity")
METHODS = ("recommender", "popularity", "random")
# Exact popularity too, decayed as the site decays its counts, and within the reader's
# categories (their categories' stories first, each group by exact popularity).
BASELINES = ("popularity_decayed", "popularity_in_categories")
TOP_K = 10
DEFAULT_SEEDS = 5
# Which of MIND's labels are the site's topics of an article: its category, or its category
# and subcategory (a story then has two topics, as a site's story may).
TOPIC_LEVELS = ("category", "subcategory")
DEFAULT_TOPIC_LEVEL = "category"
# What a MIND reader follows, as the feed's profile: the topics of their reads, each weighted
# by its share of them (the largest 1), or nothing (the reads alone personalise).
FOLLOWS = ("read_topics", "none")
DEFAULT_FOLLOW = "read_topics"


@dataclass
class EvaluationReport:
    news: int
    impressions: int
    users: int
    reads: int
    epsilon: float
    bound: int
    popularity_source: str
    threshold: int
    shrink: bool
    noise: str
    delta: float  # per day's release; 0 with Laplace noise or exact counts
    seeds: int
    # Summed over the released days (of one seed): each day, the article, topic and followed-
    # topic queries'.
    epsilon_spent: float
    delta_spent: float  # likewise (basic composition)
    released_days: int
    unknown_history: int
    unknown_candidates: int
    weights: dict  # the blend for leave-one-out (tuned on the last released days, or given)
    # How loyal to their topics training took readers to be in that tuning (`reader_loyalty`,
    # from the released reads in followed topics).
    own_topic_share: float = OWN_TOPIC_SHARE
    topics: str = DEFAULT_TOPIC_LEVEL
    follow: str = DEFAULT_FOLLOW
    protocol: str = "v2"
    # evaluated, metrics (mean over seeds), metrics_sd (their standard deviation)
    leave_one_out: dict = field(default_factory=dict)
    impressions_protocol: dict = field(default_factory=dict)  # likewise, and skipped

    def as_dict(self) -> dict:
        result = asdict(self)
        # JSON has no infinity: epsilon inf is written as the string "inf".
        result["epsilon"] = "inf" if math.isinf(self.epsilon) else self.epsilon
        return result


class Catalogue:
    """The articles as training sees them: text vectors fitted by the training code, each
    article's topics (MIND's labels) and the topics' centroids. The same for every seed."""

    def __init__(self, data: MindData, *, seed: int, topics: str):
        self.ids = list(data.news)
        self.row_of = {news_id: row for row, news_id in enumerate(self.ids)}
        items = [data.news[n] for n in self.ids]
        labels = [(item.category,) for item in items]
        if topics == "subcategory":
            labels = [(item.category, f"{item.category}/{item.subcategory}") for item in items]
        names = sorted({name for article in labels for name in article})
        topic_row = {name: row for row, name in enumerate(names)}
        self.topics_of = [tuple(topic_row[name] for name in article) for article in labels]
        self.topic_count = len(names)
        # Each article's first topic (its category): popularity's and tuning's group.
        self.primary = np.array([t[0] for t in self.topics_of], dtype=np.int64)
        self.topic_matrix = np.zeros((len(self.ids), self.topic_count), dtype=bool)
        for row, article in enumerate(self.topics_of):
            self.topic_matrix[row, list(article)] = True
        _, self.vectors = fit_text_model(
            [news_text(item) for item in items],
            max_features=settings.RECOMMENDER_MAX_FEATURES,
            svd_components=settings.RECOMMENDER_SVD_COMPONENTS,
            seed=seed,
        )
        self.centroids = normalise_rows(
            np.stack(
                [self.vectors[self.topic_matrix[:, t]].mean(axis=0) for t in range(len(names))]
            )
        )
        self.closeness = self.vectors @ self.centroids.T
        self.topic_ids = np.arange(self.topic_count, dtype=np.int64)
        self.members = [np.flatnonzero(self.topic_matrix[:, t]) for t in range(len(names))]
        self.member_vectors = [np.ascontiguousarray(self.vectors[m]) for m in self.members]


class Released:
    """One seed's releases of a set of reads, and the model training would build from them
    on a given day: popularity prior, topic affinity and tuned blend."""

    def __init__(
        self,
        catalogue: Catalogue,
        reads: dict[str, list[Read]],
        *,
        plan: PopularityPlan,
        weights: dict[str, float],
        tune: bool,
    ):
        self.catalogue, self.plan, self.weights = catalogue, plan, weights
        # Per-topic counts alone release no article count to tune on.
        self.tune = tune and plan.source != "topic"
        shape = {
            "ids": catalogue.ids,
            "topics_of": catalogue.topics_of,
            "topic_count": catalogue.topic_count,
        }
        self.private: ReleasedAggregates = release_aggregates(reads, plan=plan, **shape)
        self.exact: ReleasedAggregates = release_aggregates(reads, plan=None, **shape)
        self.affinity = topic_affinity(
            topic_ids=catalogue.topic_ids, centroids=catalogue.centroids, aggregates=self.private
        )
        self._priors: dict[tuple[str, date], np.ndarray] = {}
        self._blends: dict[date, dict[str, float]] = {}
        self.loyalty: dict[date, float] = {}

    def popularity(self, *, private: bool, reference: date) -> np.ndarray:
        """Decayed popularity of every article from the days before `reference`, 0..1, as
        training computes it (from the private releases, or from the exact counts)."""
        key = ("private" if private else "exact", reference)
        if key not in self._priors:
            aggregates = self.private if private else self.exact
            source = self.plan.source if private else "article"
            count = len(self.catalogue.ids)
            parts = []
            if source in {"article", "both"}:
                groups = self.catalogue.primary if private and self.plan.shrink else None
                parts.append(
                    article_prior(aggregates, count=count, reference=reference, groups=groups)
                )
            if source in {"topic", "both"}:
                parts.append(
                    topic_prior(
                        aggregates, article_topics=self.catalogue.primary, reference=reference
                    )
                )
            self._priors[key] = np.mean(parts, axis=0)
        return self._priors[key]

    def candidates(self, reference: date) -> Candidates:
        catalogue = self.catalogue
        return Candidates(
            vectors=catalogue.vectors,
            topic_ids=catalogue.topic_ids,
            topic_matrix=catalogue.topic_matrix,
            popularity=self.popularity(private=True, reference=reference),
            centroid_closeness=catalogue.closeness,
            model_topic_ids=catalogue.topic_ids,
            topic_centroids=catalogue.centroids,
            topic_affinity=self.affinity,
            topic_members=catalogue.members,
            topic_vectors=catalogue.member_vectors,
        )

    def blend(self, reference: date) -> dict[str, float]:
        """The weights training would use on `reference`: tuned on the last released days
        before it that can judge (`judging_days`), each against the days before it (every
        article live, freshness unknown), stand-in readers as loyal to their topics as the
        released reads in followed topics of the days before it tell (`reader_loyalty`),
        then the caller's overrides."""
        if reference not in self._blends:
            tuned = dict(DEFAULT_WEIGHTS)
            before = [day for day in self.private.days if day < reference]
            loyalty = self.loyalty[reference] = reader_loyalty(self.private, before=reference)
            if self.tune and before:
                everything = np.arange(len(self.catalogue.ids))

                def judge(day: date) -> dict[tuple[float, float], float]:
                    return blend_scores(
                        article_ids=everything,
                        groups=self.catalogue.primary,
                        vectors=self.catalogue.vectors,
                        centroids=self.catalogue.centroids,
                        live=everything,
                        prior=self.popularity(private=True, reference=day),
                        fresh=np.zeros(len(everything)),
                        aggregates=self.private,
                        held_out=day,
                        own_share=loyalty,
                    )

                tuned, _ = blend_choose(judging_days(before, judge))
            self._blends[reference] = tuned | self.weights
        return self._blends[reference]


def offline_reader(
    *,
    vectors: np.ndarray,
    topic_matrix: np.ndarray,
    topic_ids: np.ndarray,
    rows: np.ndarray,
    follow: str,
    topic_weights: dict[int, float] | None = None,
) -> Reader:
    """The feed's profile of a reader whose reads are the candidate `rows` (oldest first), as
    `feed.page.reader_for` builds it: at "Topics + reading history", their reads newest first
    with the topics each is in; they follow `topic_weights`, or (`follow` "read_topics") the
    topics of their reads, each weighted by its share of them (the largest 1)."""
    newest_first = np.asarray(rows, dtype=np.int64)[::-1]
    weights = dict(topic_weights or {})
    if follow == "read_topics" and len(newest_first):
        shares = topic_matrix[newest_first].sum(axis=0).astype(float)
        top = shares.max()
        weights = {int(topic_ids[t]): float(shares[t] / top) for t in np.flatnonzero(shares)}
    pair_reads, pair_columns = np.nonzero(topic_matrix[newest_first])
    return Reader(
        topic_weights=weights,
        read_vectors=vectors[newest_first],
        pair_reads=pair_reads.astype(np.int64),
        pair_columns=pair_columns.astype(np.int64),
    )


def offline_scores(
    released: Released, rows: np.ndarray, *, reference: date, follow: str
) -> np.ndarray:
    """The recommender's score of every article for a reader whose reads are `rows`, ranked
    on `reference`: the feed's scoring function on the model training would have built."""
    catalogue = released.catalogue
    count = len(catalogue.ids)
    return score(
        candidates=released.candidates(reference),
        reader=offline_reader(
            vectors=catalogue.vectors,
            topic_matrix=catalogue.topic_matrix,
            topic_ids=catalogue.topic_ids,
            rows=rows,
            follow=follow,
        ),
        weights=released.blend(reference),
        freshness=np.zeros(count),  # MIND gives no publication time
        pick=np.zeros(count),
    ).relevance


def without_held_out(
    reads: dict[str, list[Read]], held_out: dict[str, str]
) -> dict[str, list[Read]]:
    """The reads popularity may count in leave-one-out: every reader's, but not the held-out
    ones (`held_out`, reader -> news id). Counted, they would tell popularity the answer: on
    a sparse catalogue one read is much of a story's count."""
    return {
        user: [read for read in user_reads if read.news_id != held_out.get(user)]
        for user, user_reads in reads.items()
    }


def _in_categories(catalogue: Catalogue, history: np.ndarray, totals: np.ndarray) -> np.ndarray:
    mine = np.zeros(catalogue.topic_count, dtype=bool)
    mine[catalogue.primary[history]] = True
    # Their categories first (an offset above any total), each part by exact popularity.
    return totals + mine[catalogue.primary] * (totals.max() + 1)


def _accumulate(totals: dict, method: str, rank: int) -> None:
    totals[method]["hr@10"] += rank <= TOP_K
    totals[method]["ndcg@10"] += 1 / math.log2(rank + 1) if rank <= TOP_K else 0.0
    totals[method]["mrr"] += 1 / rank


def _leave_one_out(
    catalogue: Catalogue,
    released: Released,
    reads: dict[str, list[Read]],
    held_out: dict[str, str],
    *,
    reference: date,
    follow: str,
    rng: np.random.Generator,
) -> dict[str, dict[str, float]]:
    count = len(catalogue.ids)
    methods = (*METHODS, *BASELINES)
    totals = {method: dict.fromkeys(LOO_METRICS[:3], 0.0) for method in methods}
    tops: dict[str, list[np.ndarray]] = {method: [] for method in methods}
    exact_total = exact_totals(released.exact, count=count, reference=reference)
    decayed = released.popularity(private=False, reference=reference)
    evaluated = 0
    for user, held in held_out.items():
        history = np.array(
            [catalogue.row_of[r.news_id] for r in reads[user] if r.news_id != held], np.int64
        )
        allowed = np.ones(count, dtype=bool)
        allowed[history] = False
        candidates = np.flatnonzero(allowed)
        target = int(np.searchsorted(candidates, catalogue.row_of[held]))
        scores = {
            "recommender": offline_scores(released, history, reference=reference, follow=follow)[
                candidates
            ],
            "popularity": exact_total[candidates],
            "random": rng.random(len(candidates)),
            "popularity_decayed": decayed[candidates],
            "popularity_in_categories": _in_categories(catalogue, history, exact_total)[candidates],
        }
        evaluated += 1
        for method, method_scores in scores.items():
            _accumulate(totals, method, hit_rank(method_scores, target))
            tops[method].append(candidates[order(method_scores)[:TOP_K]])
    metrics = {
        method: {m: (v / evaluated if evaluated else float("nan")) for m, v in values.items()}
        for method, values in totals.items()
    }
    for method in methods:
        metrics[method]["coverage"] = catalogue_coverage(tops[method], count)
        metrics[method]["diversity"] = intra_list_diversity(tops[method], catalogue.vectors)
    return metrics


def _impressions(
    catalogue: Catalogue,
    released: Released,
    data: MindData,
    *,
    follow: str,
    rng: np.random.Generator,
) -> tuple[int, dict[str, dict[str, float]]]:
    totals = {method: dict.fromkeys(METRICS, 0.0) for method in METHODS}
    evaluated = 0
    for impression in data.impressions:
        labels = np.array(impression.labels)
        if not (impression.history and 0 < labels.sum() < len(labels)):
            continue
        evaluated += 1
        history = np.array([catalogue.row_of[n] for n in impression.history], np.int64)
        candidates = np.array([catalogue.row_of[n] for n in impression.candidates], np.int64)
        day = impression.time.date()
        scores = {
            "recommender": offline_scores(released, history, reference=day, follow=follow)[
                candidates
            ],
            "popularity": released.popularity(private=False, reference=day)[candidates],
            "random": rng.random(len(candidates)),
        }
        for method, method_scores in scores.items():
            for metric, value in impression_metrics(labels, method_scores).items():
                totals[method][metric] += value
    return evaluated, {
        method: {m: (v / evaluated if evaluated else float("nan")) for m, v in values.items()}
        for method, values in totals.items()
    }


def _summary(runs: list[dict[str, dict[str, float]]]) -> tuple[dict, dict]:
    """Mean and standard deviation over seeds of every method's every metric."""
    means: dict[str, dict[str, float]] = {}
    spreads: dict[str, dict[str, float]] = {}
    for method in runs[0]:
        means[method], spreads[method] = {}, {}
        for metric in runs[0][method]:
            # As plain floats: a metric can be a NumPy scalar, which statistics.stdev refuses.
            values = np.array([run[method][metric] for run in runs], dtype=np.float64)
            means[method][metric] = float(values.mean())
            spreads[method][metric] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return means, spreads


def evaluate(
    data: MindData,
    *,
    plan: PopularityPlan | None = None,
    seed: int = 0,
    seeds: int = 1,
    progress: Callable[[int], None] | None = None,
    weights: dict[str, float] | None = None,
    tune: bool = True,
    topics: str = DEFAULT_TOPIC_LEVEL,
    follow: str = DEFAULT_FOLLOW,
    impressions: bool = True,
) -> EvaluationReport:
    """Both protocols, `seeds` times (each a new draw of the releases' noise and of the random
    ranking, seeded from `seed`), for the recommender (popularity released by `plan`), exact
    popularity and a random ranking. `progress` gets the number of seeds done. The blend is
    tuned as training tunes it (`tune`; False keeps the default weights); `weights` replaces
    some of its weights, to measure another blend."""
    plan = plan or PopularityPlan()
    if seeds < 1:
        raise ValueError(f"At least one seed, not {seeds}.")
    if topics not in TOPIC_LEVELS:
        raise ValueError(f"Topics must be one of {', '.join(TOPIC_LEVELS)}, not {topics!r}.")
    if follow not in FOLLOWS:
        raise ValueError(f"Follow must be one of {', '.join(FOLLOWS)}, not {follow!r}.")
    catalogue = Catalogue(data, seed=seed, topics=topics)
    reads = reader_reads(data)
    held_out = {user: rs[-1].news_id for user, rs in reads.items() if len(rs) >= 2}
    training_reads = without_held_out(reads, held_out)
    days = sorted({read.day for rs in reads.values() for read in rs})
    # Leave-one-out ranks on the day after the last of the data, so popularity counts every
    # day, but only the training reads (for the model and exact popularity alike).
    reference = days[-1] + timedelta(days=1) if days else date.max - timedelta(days=1)
    loo_runs, shown_runs = [], []
    evaluated_shown = 0
    blend, spent, spent_delta, released_days = dict(DEFAULT_WEIGHTS), 0.0, 0.0, 0
    loyalty = OWN_TOPIC_SHARE
    # Exact counts (epsilon inf) draw no noise: every seed ranks with the same releases.
    exact_counts = math.isinf(plan.epsilon)
    released = everything = None
    for run in range(seeds):
        rng = np.random.default_rng(seed + run)
        if released is None or not exact_counts:
            released = Released(
                catalogue, training_reads, plan=plan, weights=weights or {}, tune=tune
            )
        loo_runs.append(
            _leave_one_out(
                catalogue,
                released,
                reads,
                held_out,
                reference=reference,
                follow=follow,
                rng=rng,
            )
        )
        if impressions:
            # The impressions protocol sees every read of the days before the impression's.
            if everything is None or not exact_counts:
                everything = Released(catalogue, reads, plan=plan, weights=weights or {}, tune=tune)
            evaluated_shown, shown = _impressions(
                catalogue, everything, data, follow=follow, rng=rng
            )
            shown_runs.append(shown)
        if run == 0:
            blend = released.blend(reference)
            loyalty = released.loyalty[reference]
            spent, spent_delta = released.private.epsilon, released.private.delta
            released_days = len(released.private.days)
        if progress is not None:
            progress(run + 1)
    loo_means, loo_sd = _summary(loo_runs)
    shown_means, shown_sd = _summary(shown_runs) if shown_runs else ({}, {})
    return EvaluationReport(
        news=len(catalogue.ids),
        impressions=len(data.impressions),
        users=len(reads),
        reads=sum(len(rs) for rs in reads.values()),
        epsilon=plan.epsilon,
        bound=plan.bound,
        popularity_source=plan.source,
        threshold=plan.threshold,
        shrink=plan.shrink,
        noise=plan.noise,
        delta=plan.release_delta,
        seeds=seeds,
        epsilon_spent=round(spent, 6),
        delta_spent=spent_delta,
        released_days=released_days,
        unknown_history=data.unknown_history,
        unknown_candidates=data.unknown_candidates,
        weights=blend,
        own_topic_share=round(loyalty, 4),
        topics=topics,
        follow=follow,
        leave_one_out={"evaluated": len(held_out), "metrics": loo_means, "metrics_sd": loo_sd},
        impressions_protocol={
            "evaluated": evaluated_shown,
            "skipped": len(data.impressions) - evaluated_shown,
            "metrics": shown_means,
            "metrics_sd": shown_sd,
        },
    )
