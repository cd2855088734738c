"""Federated tuning in the recommender: the parts a browser differentiates are the score's own
(the score is their weighted sum), the pairwise loss's gradient is its derivative, and
training adopts a step along the browsers' released average only when it ranks the held-out
days better than the weights training tuned itself, saying which won and why."""

import ast
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pytest
from django.utils import timezone

from news.models import Article
from privacy.models import FederatedRelease
from recommendations import federated, training
from recommendations.feed.scoring import Candidates, Reader, score
from recommendations.models import ModelVersion
from recommendations.services import model_retrain
from recommendations.weights import DEFAULT_WEIGHTS, FEDERATED_WEIGHTS

from .conftest import release_counts

pytestmark = pytest.mark.django_db


def _candidates(rng: np.random.Generator, count: int = 40) -> Candidates:
    vectors = rng.normal(size=(count, 8))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    centroids = rng.normal(size=(3, 8))
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    topic_matrix = np.zeros((count, 3), dtype=bool)
    topic_matrix[np.arange(count), rng.integers(0, 3, size=count)] = True
    topic_matrix[::7, 1] = True  # some stories in two topics
    return Candidates(
        vectors=vectors,
        topic_ids=np.array([11, 12, 13]),
        topic_matrix=topic_matrix,
        popularity=rng.random(count),
        centroid_closeness=vectors @ centroids.T,
        model_topic_ids=np.array([11, 12, 13]),
        topic_centroids=centroids,
        topic_affinity=np.array([[1, 0.6, 0.1], [0.6, 1, 0.3], [0.1, 0.3, 1]]),
    )


def _reader(candidates: Candidates, reads: list[int]) -> Reader:
    pair_reads, pair_columns = np.nonzero(candidates.topic_matrix[reads])
    return Reader(
        topic_weights={11: 1.0, 13: 0.5},
        read_vectors=candidates.vectors[reads],
        pair_reads=pair_reads,
        pair_columns=pair_columns,
    )


def test_the_parts_are_the_scores_derivatives_along_each_weight():
    rng = np.random.default_rng(5)
    candidates = _candidates(rng)
    fresh, no_pick = rng.random(40), np.zeros(40)
    for reader in (_reader(candidates, [3, 9, 17]), Reader(topic_weights={12: 1.0}), None):
        features = federated.part_features(
            candidates=candidates, reader=reader, freshness=fresh, pick=no_pick
        )
        assert features.shape == (40, len(FEDERATED_WEIGHTS))
        for _ in range(5):
            weights = dict(zip(FEDERATED_WEIGHTS, rng.uniform(0.1, 3, 4), strict=True))
            relevance = score(
                candidates=candidates,
                reader=reader,
                weights=weights,
                freshness=fresh,
                pick=no_pick,
            ).relevance
            assert features @ federated.weight_vector(weights) == pytest.approx(
                relevance, rel=1e-5, abs=1e-6
            )


def test_the_gradient_is_the_pairwise_losss_derivative():
    rng = np.random.default_rng(8)
    features = rng.normal(size=(30, 4))
    w = np.array([1.0, 0.8, 0.3, 0.3])
    others = np.arange(1, 30)

    def loss(at):
        return np.mean(np.log1p(np.exp(-((features[0] - features[others]) @ at))))

    step = 1e-6
    numeric = [(loss(w + step * e) - loss(w - step * e)) / (2 * step) for e in np.eye(4)]
    got = federated.read_gradient(features=features, read=0, others=others, w=w)
    assert got == pytest.approx(numeric, rel=1e-5, abs=1e-8)
    assert (
        federated.read_gradient(features=features, read=0, others=np.array([], int), w=w).tolist()
        == [0.0] * 4
    )


def test_an_update_is_clipped_to_its_bound_and_keeps_its_direction():
    assert federated.clip(np.array([3.0, 4.0]), bound=1.0).tolist() == pytest.approx([0.6, 0.8])
    assert federated.clip(np.array([0.3, 0.4]), bound=1.0).tolist() == [0.3, 0.4]


def test_a_step_changes_the_order_only_never_a_weight_below_zero_nor_topic_to_nothing():
    weights = dict(DEFAULT_WEIGHTS)
    w = federated.weight_vector(weights)
    # Along the weights themselves: a rescaling, which orders nothing differently.
    assert federated.weights_stepped(weights, average=w, share=1.0) is None
    moved = federated.weights_stepped(weights, average=np.array([5.0, 0, -1, 0]), share=2.0)
    vector = federated.weight_vector(moved)
    assert (vector >= 0).all() and moved["topic"] >= federated.MIN_TOPIC_WEIGHT
    assert moved["popularity"] > weights["popularity"] and moved["pick"] == weights["pick"]


# --- Training adopts a step only when it does better on the held-out days -----------------

TODAY = date(2026, 11, 27)
BEFORE, HELD_OUT = date(2026, 11, 25), date(2026, 11, 26)


def _two_topics(held_out_counts: dict[int, int]) -> dict:
    """Four stories as in test_training's `_two_topics`: 0 and 1 in a topic with most reads
    the day before (story 0 the hit, reading little like its topic), 2 and 3 in another."""
    published = timezone.make_aware(datetime.combine(HELD_OUT, time(6)))
    corpus = training.Corpus(
        article_ids=np.arange(4),
        texts=[""] * 4,
        published_at=[published] * 4,
        topics={0: [0, 1], 1: [2, 3]},
    )
    aggregates = training.Aggregates(
        article_days={
            row: {BEFORE: count, HELD_OUT: held_out_counts.get(row, 0)}
            for row, count in enumerate([6, 2, 1, 1])
        },
        topic_days={},
        days=[BEFORE, HELD_OUT],
        epsilon=2.0,
    )
    return {
        "corpus": corpus,
        "aggregates": aggregates,
        "vectors": np.array([[0.25, 0], [1, 0], [0, 1], [0, 1]], np.float32),
        "centroids": np.eye(2, dtype=np.float32),
        "groups": np.array([0, 0, 1, 1]),
        "own_share": training.OWN_TOPIC_SHARE,
    }


def _release(average, *, day=HELD_OUT):
    FederatedRelease.objects.create(
        day=day, average=average, updates=250, clip=1.0, sigma=9.1, epsilon=1.0, delta=1e-6
    )


def _adopt(weights, **day):
    return federated.federated_adopt(
        weights=DEFAULT_WEIGHTS | weights, metrics={"holdout_days": 1}, today=TODAY, **day
    )


# The hit was read again: popularity helps (test_training's
# test_training_weighs_popularity_more_when_the_held_out_day_follows_it).
HIT_DAY = {0: 9, 1: 1}
MORE_POPULARITY = [0.0, 0.0, -1.0, 0.0]  # the loss falls as popularity grows


def test_a_blend_judged_through_its_scaled_inputs_scores_as_trainings_grid_scores_it():
    day = _two_topics(HIT_DAY)
    judge = federated._judge(
        blends={"even": {"popularity": 2.0, "freshness": 2.0}, "off": {"popularity": 0.0}},
        k=10,
        **day,
    )(HELD_OUT)
    grid = training.blend_scores(
        article_ids=day["corpus"].article_ids,
        groups=day["groups"],
        vectors=day["vectors"],
        centroids=day["centroids"],
        live=np.arange(4),
        prior=training.popularity_prior(
            article_ids=np.arange(4), aggregates=day["aggregates"], reference=HELD_OUT
        ),
        fresh=training.freshness(published_at=day["corpus"].published_at, at=_day_end()),
        aggregates=day["aggregates"],
        held_out=HELD_OUT,
        totals=(4.0, 0.3),
    )
    assert judge["even"] == pytest.approx(grid[4.0, 0.5])
    assert judge["off"] == pytest.approx(grid[0.3, 0.0])


def _day_end():
    return timezone.make_aware(datetime.combine(HELD_OUT + timedelta(days=1), time.min))


def test_a_step_that_ranks_the_held_out_day_better_is_adopted_and_said_so():
    _release(MORE_POPULARITY)
    weights, metrics = _adopt({"popularity": 0.0, "freshness": 0.6}, **_two_topics(HIT_DAY))

    assert weights["popularity"] > 0
    assert metrics["federated"].startswith(
        "adopted a step along 250 browsers' updates of 2026-11-26"
    )
    assert "against" in metrics["federated"] and metrics["holdout_days"] == 1


def test_a_step_that_ranks_it_worse_is_not_adopted():
    # Popularity already weighs what the hit day asks; the browsers' average asks for less.
    _release([-x for x in MORE_POPULARITY])
    tuned = DEFAULT_WEIGHTS | {"popularity": 2.0, "freshness": 2.0}
    weights, metrics = _adopt(tuned, **_two_topics(HIT_DAY))

    assert weights == tuned
    assert metrics["federated"].startswith("kept the tuned weights: held-out nDCG@10")


@pytest.mark.parametrize(
    "release",
    [
        None,
        {"average": MORE_POPULARITY, "day": TODAY - timedelta(days=5)},  # measured too long ago
        {"average": [0.0, -1.0], "day": HELD_OUT},  # another set of weights
    ],
)
def test_without_a_recent_release_of_these_weights_nothing_changes(release):
    if release is not None:
        _release(release["average"], day=release["day"])
    weights, metrics = _adopt({"popularity": 0.0, "freshness": 0.6}, **_two_topics(HIT_DAY))
    assert weights == DEFAULT_WEIGHTS | {"popularity": 0.0, "freshness": 0.6}
    assert metrics == {"holdout_days": 1}


def test_a_retrained_version_records_what_the_federated_average_did(newsroom):
    Article.objects.update(published_at=timezone.now() - timedelta(days=4))
    today = timezone.localdate()
    release_counts(day=today - timedelta(days=1), counts={newsroom.stories["space"][0]: 12})
    release_counts(day=today - timedelta(days=2), counts={newsroom.stories["space"][1]: 7})
    _release(MORE_POPULARITY, day=today - timedelta(days=1))

    result = model_retrain()

    metrics = ModelVersion.objects.get(version=result.version).metrics
    assert metrics["federated"].split(" ")[0] in {"adopted", "kept"}
    assert "250 browsers' updates" in metrics["federated"]


def test_the_federated_step_reads_only_released_averages():
    # Like training's own modules (test_training): no per-user model, nothing of the
    # aggregation's raw events, of the privacy models only the released averages.
    for node in ast.walk(ast.parse(Path(federated.__file__).read_text())):
        if isinstance(node, ast.ImportFrom):
            module = ("." * node.level) + (node.module or "")
            names = {alias.name for alias in node.names}
            assert not module.startswith(("accounts", "django.contrib.auth")), module
            assert module not in {
                "privacy.selectors",
                "privacy.services",
                "privacy.crypto",
                "privacy.aggregation",
                "privacy.federated",
            }, module
            if module == "privacy.models":
                assert names == {"FederatedRelease"}, names
        elif isinstance(node, ast.Import):
            assert all(not a.name.startswith(("accounts", "privacy")) for a in node.names)
