"""Local differential privacy in public terms: optimized unary encoding (OUE, Wang et al.,
"Locally Differentially Private Protocols for Frequency Estimation", USENIX Security 2017),
as private mode's browsers randomize their daily report (static/privatemode/ldp.js), its
unbiased estimator and variance, the reports' wire format, and how a local estimate joins a
central one. Nothing here touches personal data, so training may read it.

A report is one bit per candidate story: the bit of the story read is kept at 1 with
probability p = 1/2, every other bit is set with probability q = 1 / (e^epsilon + 1). With n
reports and `ones` of them setting a story's bit, its read count is estimated by
(ones - n q) / (p - q), whose variance is n q (1 - q) / (p - q)^2 (the paper's approximation,
exact for a story nobody read; it is 4 n e^epsilon / (e^epsilon - 1)^2 for OUE).
"""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass

import numpy as np

LOCAL_ARTICLE_QUERY = "local_reads_per_article"
LOCAL_MECHANISM = "optimized unary encoding (local)"
# One report a browser a day, of one read: each browser counts for at most one story.
LOCAL_CONTRIBUTION_BOUND = 1
# A report setting more bits than its randomization gives this many standard deviations
# above their expected number is refused: one report then moves no count by more than an
# honest report could, where one with every bit set would add to every story's count.
PLAUSIBLE_ONES_DEVIATIONS = 8.0
# A day's central readers (the sum of its noisy counts) give the central counts a scale only
# above this many standard deviations of the noise summed into them.
SCALE_CLEARANCE = 2.0


@dataclass(frozen=True)
class Oue:
    """Optimized unary encoding's two probabilities at one epsilon."""

    epsilon: float
    p: float
    q: float

    @property
    def spread(self) -> float:
        return self.p - self.q


def oue(epsilon: float) -> Oue:
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise ValueError(f"Epsilon must be a positive number, not {epsilon}.")
    return Oue(epsilon=epsilon, p=0.5, q=1.0 / (math.exp(epsilon) + 1.0))


def oue_estimate(*, ones: np.ndarray, reports: int | np.ndarray, epsilon: float) -> np.ndarray:
    """The unbiased estimate of each position's count from the sums of `reports` reports."""
    params = oue(epsilon)
    return (np.asarray(ones, dtype=np.float64) - np.asarray(reports) * params.q) / params.spread


def oue_variance(*, reports: int | np.ndarray, epsilon: float) -> np.ndarray | float:
    """The variance of one position's estimate from `reports` reports."""
    params = oue(epsilon)
    return np.asarray(reports) * params.q * (1 - params.q) / params.spread**2


def oue_perturb(index: int, *, size: int, epsilon: float, rng: np.random.Generator) -> np.ndarray:
    """One randomized report of `index` among `size` positions (as the browser draws it), for
    tests and simulations."""
    params = oue(epsilon)
    bits = (rng.random(size) < params.q).astype(np.uint8)
    bits[index] = 1 if rng.random() < params.p else 0
    return bits


def most_ones(*, size: int, epsilon: float) -> int:
    """The most bits an honest report of `size` positions plausibly sets (see
    PLAUSIBLE_ONES_DEVIATIONS): its one kept bit plus q (size - 1), and the margin."""
    q = oue(epsilon).q
    spread = math.sqrt(max(size - 1, 0) * q * (1 - q) + 0.25)
    return math.ceil(0.5 + (size - 1) * q + PLAUSIBLE_ONES_DEVIATIONS * spread)


# --- The wire format ----------------------------------------------------------------------
# Bit i of a report is bit (i % 8) of byte i // 8, least significant first; the bits past the
# last position are 0; the bytes are sent as standard base64.


def bits_pack(bits: np.ndarray) -> str:
    packed = np.packbits(np.asarray(bits, dtype=np.uint8), bitorder="little")
    return base64.b64encode(packed.tobytes()).decode("ascii")


class MalformedReport(ValueError):
    """A report that is not `size` bits in the wire format; the message says what is wrong."""


def bits_unpack(text: str, *, size: int) -> np.ndarray:
    """The report's bits (uint8 0/1, `size` of them); MalformedReport when it is anything else."""
    expected = (size + 7) // 8
    if not isinstance(text, str) or len(text) != 4 * math.ceil(expected / 3):
        raise MalformedReport(
            f"The report must be {size} bits: {expected} bytes in base64, "
            f"{4 * math.ceil(expected / 3)} characters."
        )
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedReport("The report is not valid base64.") from None
    if len(raw) != expected:
        raise MalformedReport(f"The report must be {expected} bytes, not {len(raw)}.")
    bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), bitorder="little")
    if bits[size:].any():
        raise MalformedReport("The report sets bits past its last position.")
    return bits[:size]


# --- Joining a local estimate to a central one --------------------------------------------


def inverse_variance_combine(
    *,
    central: float | None,
    central_variance: float,
    central_readers: float,
    central_readers_variance: float = 0.0,
    local: float | None,
    local_variance: float,
    local_reports: int,
) -> tuple[float, float]:
    """One story's count for one day from both releases, and its variance.

    The two count different people (readers who count their reads toward popular; private
    mode's reporting browsers), one story a person a day in both, so each estimates the
    share of its population that read the story: central / readers, local / reports. The
    shares are averaged weighted by the inverse of their variances and given back as a count
    of both populations (readers + reports).

    The central readers are known only as the sum of the day's noisy counts (variance
    `central_readers_variance`); while that sum does not stand clear of its noise the shares
    cannot be put side by side, and the central count is kept alone. Without a local
    estimate, too, the central count and its variance come back unchanged; a day with no
    central release gives the local estimate alone; a central count with no noise (a day
    released before the ledger kept it) is taken as exact."""
    if local is None or local_reports <= 0:
        return (central or 0.0), central_variance
    total = max(central_readers, 0.0) + local_reports
    local_share = local / local_reports
    local_share_variance = local_variance / local_reports**2
    if central is None:
        return local_share * total, local_share_variance * total**2
    if central_readers <= SCALE_CLEARANCE * math.sqrt(central_readers_variance):
        return central, central_variance
    central_share = central / central_readers
    if central_variance <= 0:
        return central_share * total, 0.0
    central_share_variance = central_variance / central_readers**2
    central_weight = 1.0 / central_share_variance
    local_weight = 1.0 / local_share_variance
    share = (central_weight * central_share + local_weight * local_share) / (
        central_weight + local_weight
    )
    return share * total, total**2 / (central_weight + local_weight)
