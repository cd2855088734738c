"""Unbiased estimates from randomized answers (k-ary randomized response), with their
variance and 95% intervals: how many readers gave each answer, and the mean comfort.

For n answers randomized with keep probability p and other probability q (trust.survey), the
number c_j of stored answers j has expectation n_j p + (n - n_j) q, so

    n̂_j = (c_j - n q) / (p - q)

is unbiased for n_j, the number who really gave answer j. Treating the true answers as fixed,
the stored answers are independent draws, and

    Var(n̂_j)       = n q(1-q) / (p-q)² + n_j (1-p-q) / (p-q)
    Cov(n̂_j, n̂_l) = -(n q² + (n_j + n_l) q (p-q)) / (p-q)²      (j ≠ l)

(Wang et al., "Locally differentially private protocols for frequency estimation", 2017),
estimated by putting n̂ (clipped to [0, n]) in place of the unknown n_j. Answers randomized
with different ε are estimated group by group and added: sums of independent unbiased parts.

The mean comfort M = Σ s_j n_j / Σ n_j over the five scale answers (s_j = 1..5, "prefer not
to say" left out) is a ratio of two such sums; its variance comes from the delta method:
Var(M̂) ≈ aᵀ Σ a / T̂², with a_j = s_j - M̂ and T̂ = Σ n̂_j. Intervals are normal: ±1.96 σ.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .survey import ANSWERS, keep_probability, other_probability

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float

    @property
    def margin(self) -> float:
        return (self.high - self.low) / 2


@dataclass(frozen=True)
class Estimate:
    """Estimated true counts of each answer (in the answers' order), their covariance, and
    the number of answers they rest on."""

    n: int
    counts: tuple[float, ...]
    covariance: tuple[tuple[float, ...], ...]

    def count(self, index: int) -> Interval:
        sd = math.sqrt(max(self.covariance[index][index], 0.0))
        value = self.counts[index]
        return Interval(value, value - Z95 * sd, value + Z95 * sd)

    def share(self, index: int) -> Interval:
        """The share of all answers that were answer `index`: a count over the known n."""
        whole = self.count(index)
        n = self.n or 1
        return Interval(whole.estimate / n, whole.low / n, whole.high / n)

    def mean_comfort(self) -> Interval | None:
        """The mean on the 1-5 scale of those who answered on it, or None when the estimated
        number of them is not above zero (the ratio means nothing then)."""
        scale = [(i, answer.score) for i, answer in enumerate(ANSWERS) if answer.score]
        total = sum(self.counts[i] for i, _ in scale)
        if total <= 0:
            return None
        mean = sum(score * self.counts[i] for i, score in scale) / total
        weights = {i: score - mean for i, score in scale}
        variance = sum(
            weights[i] * weights[j] * self.covariance[i][j] for i in weights for j in weights
        ) / (total * total)
        sd = math.sqrt(max(variance, 0.0))
        return Interval(mean, mean - Z95 * sd, mean + Z95 * sd)


def _group(observed: Sequence[int], epsilon: float) -> tuple[list[float], list[list[float]]]:
    k = len(observed)
    n = sum(observed)
    p, q = keep_probability(epsilon, k), other_probability(epsilon, k)
    gap = p - q
    counts = [(c - n * q) / gap for c in observed]
    plugged = [min(max(c, 0.0), n) for c in counts]
    covariance = [
        [
            n * q * (1 - q) / gap**2 + plugged[j] * (1 - p - q) / gap
            if j == m
            else -(n * q * q + (plugged[j] + plugged[m]) * q * gap) / gap**2
            for m in range(k)
        ]
        for j in range(k)
    ]
    return counts, covariance


def estimate(observed_by_epsilon: Mapping[float, Sequence[int]]) -> Estimate:
    """`observed_by_epsilon`: for each ε, the stored counts of each answer (answers' order)."""
    k = len(ANSWERS)
    counts = [0.0] * k
    covariance = [[0.0] * k for _ in range(k)]
    n = 0
    for epsilon, observed in observed_by_epsilon.items():
        if len(observed) != k:
            raise ValueError(f"Expected {k} counts, got {len(observed)}.")
        if not sum(observed):
            continue
        group_counts, group_covariance = _group(observed, epsilon)
        n += sum(observed)
        for j in range(k):
            counts[j] += group_counts[j]
            for m in range(k):
                covariance[j][m] += group_covariance[j][m]
    return Estimate(n=n, counts=tuple(counts), covariance=tuple(tuple(row) for row in covariance))
