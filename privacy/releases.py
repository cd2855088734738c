"""What the site's differentially private releases are, in public terms: their queries, their
mechanisms and how far their noise moves a count. Nothing here touches personal data, so
training and the editors' dashboard may read it."""

import math
from dataclasses import dataclass

ARTICLE_QUERY = "reads_per_article"
TOPIC_QUERY = "reads_per_topic"
LIST_TYPE_QUERY = "reads_per_list_type"
LEVEL_QUERY = "readers_per_level"
PURPOSE_QUERY = "readers_per_purpose"
CONSENT_CHANGE_QUERY = "consent_changes"
FOLLOWED_TOPIC_QUERY = "reads_in_followed_topics"
MECHANISM = "discrete Laplace"
GAUSSIAN_MECHANISM = "discrete Gaussian"
# The names `release_counts` takes, and the mechanism each one records in the ledger.
MECHANISMS = {"laplace": MECHANISM, "gaussian": GAUSSIAN_MECHANISM}


def noise_variance(*, mechanism: str, scale: float) -> float:
    """Variance of the noise on one released count, from the mechanism and its scale."""
    if mechanism == MECHANISMS["laplace"]:
        # Discrete Laplace, P(k) proportional to exp(-|k| / scale).
        tail = math.exp(-1.0 / scale)
        return 2 * tail / (1 - tail) ** 2
    if mechanism == MECHANISMS["gaussian"]:
        return scale**2  # the discrete Gaussian's variance is at most its scale squared
    raise ValueError(f"No known noise variance for the mechanism {mechanism!r}.")


def noise_margin(variance: float) -> int:
    """How far noise of this (summed) variance moves a number, 19 times in 20: two standard
    deviations, as people are told it."""
    return round(2 * math.sqrt(variance))


# Two-sided 95% normal quantile: the intervals below are estimate ± Z95 standard deviations.
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Estimate:
    """A number worked out from released counts, with the half-width of its 95% interval."""

    value: float
    margin: float

    @property
    def low(self) -> float:
        return self.value - self.margin

    @property
    def high(self) -> float:
        return self.value + self.margin

    def includes(self, x: float) -> bool:
        return self.low <= x <= self.high


def ratio_estimate(
    *,
    numerator: float,
    denominator: float,
    numerator_variance: float,
    denominator_variance: float,
    covariance: float = 0.0,
) -> Estimate | None:
    """numerator / denominator, two noisy counts, with its 95% interval by the delta method:
    Var(N/D) ~ (Var N - 2 (N/D) Cov(N, D) + (N/D)^2 Var D) / D^2. None when the denominator
    is not positive (noise alone, nothing to divide by)."""
    if denominator <= 0:
        return None
    ratio = numerator / denominator
    variance = (
        numerator_variance - 2 * ratio * covariance + ratio**2 * denominator_variance
    ) / denominator**2
    return Estimate(value=ratio, margin=Z95 * math.sqrt(max(variance, 0.0)))


def share_estimate(*, part: float, rest: float, part_variance: float, rest_variance: float):
    """The share part / (part + rest) of a whole released as independently noised pieces
    (readers at some levels out of readers at every level): the delta method with the part
    counted in the whole, Cov(part, whole) = Var(part)."""
    return ratio_estimate(
        numerator=part,
        denominator=part + rest,
        numerator_variance=part_variance,
        denominator_variance=part_variance + rest_variance,
        covariance=part_variance,
    )


def rate_estimate(*, clicks: float, clicks_variance: float, shown: int) -> Estimate | None:
    """Click-through: noisy reads from cards over the (exact) cards shown, with an interval
    for both the binomial spread of clicks and the noise added to them,
    Var = p (1 - p) / n + Var(noise) / n^2. None with no card shown."""
    if shown <= 0:
        return None
    rate = clicks / shown
    bounded = min(max(rate, 0.0), 1.0)
    variance = bounded * (1 - bounded) / shown + clicks_variance / shown**2
    return Estimate(value=rate, margin=Z95 * math.sqrt(variance))


def difference_estimate(first: Estimate, second: Estimate) -> Estimate:
    """first - second, two independent estimates: the variances add."""
    return Estimate(
        value=first.value - second.value,
        margin=math.hypot(first.margin, second.margin),
    )


@dataclass(frozen=True)
class Relative:
    """first / second with its 95% interval; `low` and `high` are None when the interval is
    unbounded (the second is not clearly above zero: too little data to say)."""

    value: float
    low: float | None
    high: float | None


def relative_estimate(first: Estimate, second: Estimate) -> Relative | None:
    """first / second, two independent estimates, with Fieller's 95% interval: the ratios r
    with (a - r b)^2 <= z^2 (Var a + r^2 Var b). Unlike the delta method it stays right when
    the second is noisy, and when bounded it contains 1 exactly when the interval of
    first - second contains 0. None unless the second is positive."""
    a, b = first.value, second.value
    if b <= 0:
        return None
    va, vb = (first.margin / Z95) ** 2, (second.margin / Z95) ** 2
    z2 = Z95**2
    curvature = b * b - z2 * vb
    discriminant = (a * b) ** 2 - curvature * (a * a - z2 * va)
    if curvature <= 0 or discriminant < 0:
        return Relative(value=a / b, low=None, high=None)
    root = math.sqrt(discriminant)
    return Relative(value=a / b, low=(a * b - root) / curvature, high=(a * b + root) / curvature)
