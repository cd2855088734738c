"""Federated tuning of the blend weights: what a private-mode browser computes from its own
reads (the gradient of a pairwise ranking loss, static/privatemode/federated.js mirrors
`read_gradient`), and how training weighs the day's released average against the weights it
tuned itself, adopting a step along it only when that does better on the held-out days.

The score is linear in the blend's weights, so each weight's part of a story's score,
unweighted (its "feature"), is the score's derivative along it; the loss of a read r over a
story n it was chosen over is log(1 + exp(-(w.f_r - w.f_n))), averaged per read over the
stories published by then that the reader never opened, then over reads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np
from django.conf import settings
from django.utils import timezone

from privacy.models import FederatedRelease

# A module import, not names: training calls back into this module while it loads.
from . import training
from .feed.scoring import Candidates, Reader, score
from .weights import DEFAULT_WEIGHTS, FEDERATED_WEIGHTS, POPULARITY_SHARES

# The weights that isolate each part's feature: with content 0 the topic part is the topic
# membership alone; with content 1 the rest of it and the history part are content's.
_WITHOUT_CONTENT = {"topic": 1.0, "content": 0.0, "popularity": 1.0, "freshness": 1.0, "pick": 1.0}
_WITH_CONTENT = _WITHOUT_CONTENT | {"content": 1.0}
# How far training tries stepping along the averaged update, as shares of the weights' norm:
# the update's direction is what the browsers agree on; its length is mostly their noise.
# From a nudge to a move as large as the weights themselves twice over: training's own grid
# spans popularity and freshness from 0.5 to 12, and the held-out days judge every step.
STEP_SHARES = (0.1, 0.25, 0.5, 1.0, 2.0)
# A released day older than this is not applied: it was measured at weights long replaced.
RELEASE_MAX_AGE_DAYS = 3
# The topic weight divides the content part in `score`: a step never takes it below this.
MIN_TOPIC_WEIGHT = 0.05


def part_features(
    *, candidates: Candidates, reader: Reader | None, freshness: np.ndarray, pick: np.ndarray
) -> np.ndarray:
    """Per candidate, the score's derivative along each weight of FEDERATED_WEIGHTS (stories x
    weights, in that order): two calls of the one scoring function, at weights that keep the
    parts apart."""
    plain = score(
        candidates=candidates,
        reader=reader,
        weights=_WITHOUT_CONTENT,
        freshness=freshness,
        pick=pick,
    )
    content = score(
        candidates=candidates, reader=reader, weights=_WITH_CONTENT, freshness=freshness, pick=pick
    )
    topic = plain.topic + plain.related
    parts = {
        "topic": topic,
        "content": (content.topic + content.related - topic) + content.history,
        "popularity": plain.popularity,
        "freshness": plain.freshness,
    }
    return np.column_stack(
        [np.asarray(parts[name], dtype=np.float64) for name in FEDERATED_WEIGHTS]
    )


def weight_vector(weights: dict[str, float]) -> np.ndarray:
    """The blend's federated weights as a vector, in FEDERATED_WEIGHTS order."""
    full = DEFAULT_WEIGHTS | weights
    return np.array([full[name] for name in FEDERATED_WEIGHTS], dtype=np.float64)


def read_gradient(*, features: np.ndarray, read: int, others: np.ndarray, w: np.ndarray):
    """The gradient, at weights `w`, of one read's pairwise logistic loss, averaged over the
    `others` rows (the stories it was chosen over); zeros when there is none."""
    if not len(others):
        return np.zeros(len(w))
    difference = features[read] - features[others]  # others x weights
    margin = difference @ w
    # d/dw log(1 + exp(-m)) = -sigmoid(-m) dm/dw, written to stay finite for any margin.
    pull = 0.5 * (1.0 - np.tanh(margin / 2.0))
    return -(pull[:, None] * difference).mean(axis=0)


def clip(update: np.ndarray, *, bound: float) -> np.ndarray:
    """The update scaled down to an L2 norm of at most `bound`."""
    norm = float(np.linalg.norm(update))
    return update * (bound / norm) if norm > bound else update


# --- Training: adopting the average ----------------------------------------------------------


@dataclass(frozen=True)
class FederatedCandidate:
    """A released average, and the weights a step of each share along it gives."""

    day: date
    updates: int
    steps: dict[float, dict[str, float]]


def weights_stepped(
    weights: dict[str, float], *, average: np.ndarray, share: float
) -> dict[str, float] | None:
    """`weights` moved against an averaged update (its descent direction), less the update's
    part along the weights themselves (which only rescales them and reorders nothing), by
    `share` of the weights' norm; none negative, topic at least MIN_TOPIC_WEIGHT. None when
    the update has no other part."""
    w = weight_vector(weights)
    direction = -np.asarray(average, dtype=np.float64)
    direction -= (direction @ w) / (w @ w) * w
    length = float(np.linalg.norm(direction))
    if length == 0:
        return None
    moved = np.maximum(w + share * float(np.linalg.norm(w)) / length * direction, 0.0)
    topic = FEDERATED_WEIGHTS.index("topic")
    moved[topic] = max(moved[topic], MIN_TOPIC_WEIGHT)
    return weights | {
        name: round(float(v), 4) for name, v in zip(FEDERATED_WEIGHTS, moved, strict=True)
    }


def federated_candidate(*, weights: dict[str, float], today: date) -> FederatedCandidate | None:
    """Steps from `weights` (`weights_stepped`, at each of STEP_SHARES) against the newest
    released average of the last few days. None when there is no usable release."""
    release = (
        FederatedRelease.objects.filter(
            day__gte=today - timedelta(days=RELEASE_MAX_AGE_DAYS), day__lt=today
        )
        .order_by("-day")
        .first()
    )
    if release is None or len(release.average) != len(FEDERATED_WEIGHTS):
        return None
    average = np.asarray(release.average, dtype=np.float64)
    if not np.isfinite(average).all():
        return None
    steps = {share: weights_stepped(weights, average=average, share=share) for share in STEP_SHARES}
    if any(moved is None for moved in steps.values()):
        return None
    return FederatedCandidate(day=release.day, updates=release.updates, steps=steps)


def _judge(
    *,
    blends: dict[str, dict[str, float]],
    corpus: training.Corpus,
    aggregates: training.Aggregates,
    vectors: np.ndarray,
    centroids: np.ndarray,
    groups: np.ndarray,
    own_share: float,
    k: int,
) -> Callable[[date], dict[str, float]]:
    """A held-out day's criterion (`training.blend_scores`, on the stories live that day and
    popularity from the days before, as `training.tune_blend` judges) for each named blend.

    `blend_scores` tries popularity and freshness at the grid's weights, topic and content at
    their defaults. Every part enters the score times its weight, and an order is the same for
    weights scaled together, so a blend is judged at the grid's even split of a total of 1 by
    scaling each part's inputs instead: popularity and freshness directly, content through
    the story vectors (its closeness is linear in them until it reaches its cap of 1, which a
    step of this size leaves to the few closest stories)."""
    window = timedelta(days=settings.RECOMMENDER_CANDIDATE_DAYS)
    even = POPULARITY_SHARES[len(POPULARITY_SHARES) // 2]

    def judge(held_out: date) -> dict[str, float]:
        day_end = timezone.make_aware(datetime.combine(held_out + timedelta(days=1), time.min))
        live = np.array(
            [
                row
                for row, published in enumerate(corpus.published_at)
                if day_end - window <= published < day_end
            ],
            dtype=np.int64,
        )
        prior = training.popularity_prior(
            article_ids=corpus.article_ids[live], aggregates=aggregates, reference=held_out
        )
        fresh = training.freshness(published_at=[corpus.published_at[r] for r in live], at=day_end)
        found = {}
        for name, weights in blends.items():
            w = DEFAULT_WEIGHTS | weights
            ratio = DEFAULT_WEIGHTS["topic"] / w["topic"]
            scores = training.blend_scores(
                article_ids=corpus.article_ids,
                groups=groups,
                vectors=vectors * (ratio * w["content"] / DEFAULT_WEIGHTS["content"]),
                centroids=centroids,
                live=live,
                prior=prior * (ratio * w["popularity"] / even),
                fresh=fresh * (ratio * w["freshness"] / (1 - even)),
                aggregates=aggregates,
                held_out=held_out,
                totals=(1.0,),
                own_share=own_share,
                k=k,
            )
            if not scores:
                return {}
            found[name] = scores[1.0, even]
        return found

    return judge


def federated_adopt(
    *,
    weights: dict[str, float],
    metrics: dict,
    corpus: training.Corpus,
    aggregates: training.Aggregates,
    vectors: np.ndarray,
    centroids: np.ndarray,
    groups: np.ndarray,
    own_share: float,
    today: date,
    k: int = 10,
) -> tuple[dict[str, float], dict]:
    """Training's weights, or a step along the browsers' newest released average when one
    does better than them on the same held-out days, by training's own criterion; the
    metrics gain a `federated` line saying which won and why (none without a release)."""
    candidate = federated_candidate(weights=weights, today=today)
    if candidate is None:
        return weights, metrics
    blends = {"tuned": weights} | {str(share): moved for share, moved in candidate.steps.items()}
    judge = _judge(
        blends=blends,
        corpus=corpus,
        aggregates=aggregates,
        vectors=vectors,
        centroids=centroids,
        groups=groups,
        own_share=own_share,
        k=k,
    )
    days = training.judging_days(aggregates.days[1:], judge)
    source = f"{candidate.updates} browsers' updates of {candidate.day.isoformat()}"
    if not days:
        return weights, metrics | {
            "federated": f"kept the tuned weights: no held-out day could judge {source}"
        }
    means = {name: sum(day[name] for day in days) / len(days) for name in blends}
    best = max((name for name in blends if name != "tuned"), key=lambda name: round(means[name], 6))
    tuned, stepped = round(means["tuned"], 4), round(means[best], 4)
    if round(means[best], 6) <= round(means["tuned"], 6):
        return weights, metrics | {
            "federated": f"kept the tuned weights: held-out nDCG@{k} {tuned}, a step along "
            f"{source} at best {stepped}"
        }
    adopted = blends[best]
    moved = ", ".join(f"{name} {adopted[name]:g}" for name in FEDERATED_WEIGHTS)
    return adopted, metrics | {
        "federated": f"adopted a step along {source} ({moved}): held-out nDCG@{k} {stepped} "
        f"against {tuned} for the tuned weights",
        f"holdout_ndcg@{k}": stepped,
    }
