"""What the site's differentially private releases are, in public terms: their queries, their
mechanisms and how far their noise moves a count. Nothing here touches personal data, so
training and the editors' dashboard may read it."""

import math

ARTICLE_QUERY = "reads_per_article"
TOPIC_QUERY = "reads_per_topic"
LIST_TYPE_QUERY = "reads_per_list_type"
LEVEL_QUERY = "readers_per_level"
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
