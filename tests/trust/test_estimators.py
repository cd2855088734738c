"""The trust score's estimators on simulated randomized answers (seeded): unbiased, and their
95% intervals cover the truth about 95% of the time. And the mechanism itself: OpenDP's
randomized response at the ε the question states, no more."""

import numpy as np
import pytest

from trust import estimators, survey
from trust.survey import ANSWERS, K, keep_probability

# How many readers truly gave each answer (the last is "prefer not to say").
TRUTH = np.array([60, 90, 180, 260, 210, 200])
N = int(TRUTH.sum())
SCALE = np.array([answer.score or 0 for answer in ANSWERS])
TRUE_MEAN = float((SCALE * TRUTH)[:5].sum() / TRUTH[:5].sum())


def randomized_counts(rng, truth, epsilon):
    """Stored counts after every answer went through k-ary randomized response: kept with
    probability p, otherwise one of the other answers uniformly."""
    p = keep_probability(epsilon)
    counts = np.zeros(K, dtype=int)
    for answer, how_many in enumerate(truth):
        kept = rng.binomial(how_many, p)
        counts[answer] += kept
        others = [j for j in range(K) if j != answer]
        counts[others] += rng.multinomial(how_many - kept, [1 / (K - 1)] * (K - 1))
    return counts


def trials(epsilon=1.0, runs=2000, seed=20261101):
    rng = np.random.default_rng(seed)
    return [
        estimators.estimate({epsilon: randomized_counts(rng, TRUTH, epsilon).tolist()})
        for _ in range(runs)
    ]


def test_the_count_estimates_are_unbiased():
    results = trials()
    counts = np.array([result.counts for result in results])
    sd = np.sqrt(np.array([[r.covariance[j][j] for j in range(K)] for r in results]).mean(0))
    # The average over 2,000 runs is within 4 standard errors of the truth, for every answer
    # (the raw stored counts are not: they are pulled toward 1/6 each).
    assert np.all(np.abs(counts.mean(0) - TRUTH) < 4 * sd / np.sqrt(len(results)))
    raw = randomized_counts(np.random.default_rng(1), TRUTH, 1.0)
    assert abs(raw[0] - TRUTH[0]) > 40


def test_the_mean_comfort_is_unbiased_to_well_within_its_own_interval():
    means = [result.mean_comfort() for result in trials()]
    average = np.mean([mean.estimate for mean in means])
    margin = np.mean([mean.margin for mean in means])
    # A ratio estimator's bias is of order 1/n: far below the interval's width.
    assert abs(average - TRUE_MEAN) < margin / 20


@pytest.mark.parametrize("epsilon", [1.0, 0.5])
def test_the_95_percent_intervals_cover_the_truth_about_95_percent_of_the_time(epsilon):
    results = trials(epsilon=epsilon, runs=1000, seed=7)
    for answer in range(K):
        covered = np.mean(
            [r.count(answer).low <= TRUTH[answer] <= r.count(answer).high for r in results]
        )
        # 1,000 trials: the coverage's own standard error is 0.7 points.
        assert 0.92 <= covered <= 0.98, (ANSWERS[answer].key, covered)
    covered = np.mean([r.mean_comfort().low <= TRUE_MEAN <= r.mean_comfort().high for r in results])
    assert 0.92 <= covered <= 0.98


def test_answers_randomized_at_different_epsilons_are_estimated_together():
    rng = np.random.default_rng(3)
    half = TRUTH // 2
    results = [
        estimators.estimate(
            {
                1.0: randomized_counts(rng, half, 1.0).tolist(),
                0.5: randomized_counts(rng, TRUTH - half, 0.5).tolist(),
            }
        )
        for _ in range(1000)
    ]
    assert all(result.n == N for result in results)
    counts = np.array([result.counts for result in results])
    sd = np.sqrt(np.array([[r.covariance[j][j] for j in range(K)] for r in results]).mean(0))
    assert np.all(np.abs(counts.mean(0) - TRUTH) < 4 * sd / np.sqrt(len(results)))


def test_no_answers_estimate_nothing():
    empty = estimators.estimate({})
    assert empty.n == 0 and empty.mean_comfort() is None


def test_the_mechanism_is_opendps_randomized_response_at_epsilon_one_at_most():
    measurement, guaranteed = survey._measurement()
    assert guaranteed <= survey.EPSILON == 1.0
    assert measurement.map(1) == guaranteed
    # OpenDP keeps the answer with the probability the page states, to a hair.
    assert guaranteed == pytest.approx(1.0, abs=1e-9)
    assert f"{100 * keep_probability(guaranteed):.0f}%" == "35%"
    assert survey.randomize("very") in survey.ANSWER_KEYS
    with pytest.raises(ValueError):
        survey.randomize("extremely")
