"""Private mode's federated tuning of the blend weights, on the server: the noise each browser
adds to its update (the Gaussian mechanism's sigma for the stated local epsilon and delta,
worked out by OpenDP), the checks on one update, and a closed day's average with its ledger
line. Which weight each number moves is the recommender's to say
(recommendations.weights.FEDERATED_WEIGHTS); here an update is a vector of a given length.

The server never sees a read: each browser clips its update's L2 norm to FEDERATED_CLIP and adds
the noise itself before sending, without cookie or identifier. An update is kept as its day
and its numbers until the day is averaged, then deleted.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from opendp.combinators import make_fix_delta, make_zCDP_to_approxDP
from opendp.domains import atom_domain, vector_domain
from opendp.measurements import make_gaussian
from opendp.metrics import l2_distance
from opendp.mod import Measurement, binary_search_param, enable_features
from scipy.stats import chi2

from .aggregation import day_awaits_release
from .models import FederatedRelease, FederatedUpdate, PrivacyBudgetLedger

enable_features("contrib")

FEDERATED_QUERY = "federated_blend_update"
FEDERATED_MECHANISM = "Gaussian (local)"
# One update a browser a day.
FEDERATED_CONTRIBUTION_BOUND = 1
# An update may name the day before today (its bundle was built before midnight, or its send
# time fell after); days before that are closed.
LATE_DAYS = 1
# An honest update's norm passes `plausible_norm` but once in this many: its clipped part is
# at most the clip, its noise's squared norm is sigma^2 times a chi-square draw.
FALSE_REFUSAL = 1e-9


def _gaussian(sigma: float, delta: float) -> Measurement:
    """Gaussian noise on a float vector (zCDP), read as (epsilon, delta)-DP."""
    space = vector_domain(atom_domain(T=float, nan=False)), l2_distance(T=float)
    zcdp = make_gaussian(*space, scale=sigma)
    return make_fix_delta(make_zCDP_to_approxDP(zcdp), delta)


@functools.lru_cache(maxsize=16)
def noise_sigma(*, epsilon: float, delta: float, clip: float) -> float:
    """The standard deviation of the noise a browser adds to each number of its update, for
    (epsilon, delta) local DP. Local, so any two updates a browser could send are neighbours:
    both clipped to `clip`, they differ by at most 2 x clip in L2 norm."""
    if not (math.isfinite(epsilon) and epsilon > 0 and 0 < delta < 1 and clip > 0):
        raise ValueError(
            f"Noise needs a positive epsilon, a delta in (0, 1) and a positive clip, not "
            f"{epsilon}, {delta} and {clip}."
        )
    return float(
        binary_search_param(
            lambda sigma: _gaussian(sigma, delta),
            d_in=2.0 * clip,
            d_out=(epsilon, delta),
            T=float,
        )
    )


def plausible_norm(*, clip: float, sigma: float, size: int) -> float:
    """The largest L2 norm an honest update of `size` numbers plausibly has (FALSE_REFUSAL)."""
    return clip + sigma * math.sqrt(chi2.isf(FALSE_REFUSAL, size))


@dataclass(frozen=True)
class Offer:
    """What a browser needs to send an update: the clip, the noise and the privacy it buys."""

    epsilon: float
    delta: float
    clip: float
    sigma: float


def offer_current() -> Offer | None:
    """The settings' offer; None when federated tuning is off for the whole site."""
    epsilon = settings.FEDERATED_EPSILON
    if epsilon <= 0:
        return None
    delta, clip = settings.FEDERATED_DELTA, settings.FEDERATED_CLIP
    return Offer(
        epsilon=epsilon,
        delta=delta,
        clip=clip,
        sigma=noise_sigma(epsilon=epsilon, delta=delta, clip=clip),
    )


class UpdateRefused(ValueError):
    """An update the server does not keep; the message says why (and nothing was stored)."""


def _finite_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def update_add(*, day: str, vector: list, size: int, today: date | None = None) -> None:
    """Keep one browser's noised update for its day. UpdateRefused, with nothing stored, for
    anything else: federated tuning off, another day than today or yesterday, not exactly
    `size` finite numbers, or a norm no clipped and noised update plausibly has."""
    offer = offer_current()
    if offer is None:
        raise UpdateRefused("Federated tuning is off on this site.")
    today = today or timezone.localdate()
    try:
        named = date.fromisoformat(day) if isinstance(day, str) else None
    except ValueError:
        named = None
    if named is None:
        raise UpdateRefused("The day must be a date written YYYY-MM-DD.")
    if not today - timedelta(days=LATE_DAYS) <= named <= today:
        raise UpdateRefused(
            f"An update is for today or yesterday ({today.isoformat()} or "
            f"{(today - timedelta(days=LATE_DAYS)).isoformat()}), not {day}."
        )
    if not isinstance(vector, list) or len(vector) != size:
        raise UpdateRefused(f"The update must be a list of {size} numbers.")
    if not all(_finite_number(value) for value in vector):
        raise UpdateRefused("Every number of the update must be finite.")
    most = plausible_norm(clip=offer.clip, sigma=offer.sigma, size=size)
    if float(np.linalg.norm(np.asarray(vector, dtype=np.float64))) > most:
        raise UpdateRefused(
            f"The update's norm is over {most:.3g}, more than a clipped and noised update has."
        )
    FederatedUpdate.objects.create(day=named, vector=[float(value) for value in vector])


@dataclass(frozen=True)
class FederatedDay:
    day: date
    already_done: bool
    updates: int = 0
    released: bool = False


def day_release(*, day: date, min_updates: int | None = None) -> FederatedDay:
    """Average one closed day's updates into a release with its ledger line, when at least
    `min_updates` (FEDERATED_MIN_UPDATES) arrived; then delete them. With fewer, nothing is
    released: an average of a handful of updates is mostly their noise, and says more about
    each sender than a large one. Idempotent: a released day is left alone."""
    min_updates = settings.FEDERATED_MIN_UPDATES if min_updates is None else min_updates
    with transaction.atomic():
        if PrivacyBudgetLedger.objects.filter(day=day, query=FEDERATED_QUERY).exists():
            FederatedUpdate.objects.filter(day=day).delete()
            return FederatedDay(day=day, already_done=True)
        vectors = [
            row.vector for row in FederatedUpdate.objects.select_for_update().filter(day=day)
        ]
        # Every update of a day has the same length unless the weights tuned changed during
        # it: the most common length is the one the recommender now reads.
        length = Counter(len(v) for v in vectors).most_common(1)[0][0] if vectors else 0
        kept = np.array([v for v in vectors if len(v) == length], dtype=np.float64)
        offer = offer_current()
        released = offer is not None and len(kept) >= min_updates
        if released:
            FederatedRelease.objects.create(
                day=day,
                average=kept.mean(axis=0).tolist(),
                updates=len(kept),
                clip=offer.clip,
                sigma=offer.sigma,
                epsilon=offer.epsilon,
                delta=offer.delta,
            )
            PrivacyBudgetLedger.objects.create(
                day=day,
                query=FEDERATED_QUERY,
                epsilon=offer.epsilon,
                delta=offer.delta,
                mechanism=FEDERATED_MECHANISM,
                contribution_bound=FEDERATED_CONTRIBUTION_BOUND,
                # Each browser noised its own update; the average is post-processing. Its
                # sigma is on the release row, not a count's noise scale.
                noise_scale=None,
            )
        FederatedUpdate.objects.filter(day=day).delete()
    return FederatedDay(day=day, already_done=False, updates=len(kept), released=released)


def federated_release_pending(*, today: date | None = None) -> list[FederatedDay]:
    """Average every day no update can still arrive for (before yesterday), oldest first.

    A day whose central release is still to come waits for it: that release treats a day
    with any ledger line as done, so this line must not come first."""
    today = today or timezone.localdate()
    closed = today - timedelta(days=LATE_DAYS)
    days = sorted(set(FederatedUpdate.objects.filter(day__lt=closed).values_list("day", flat=True)))
    return [day_release(day=day) for day in days if not day_awaits_release(day=day)]


def federated_latest(*, before: date | None = None) -> FederatedRelease | None:
    """The newest released day's average (before `before`, when given)."""
    releases = FederatedRelease.objects.order_by("-day")
    if before is not None:
        releases = releases.filter(day__lt=before)
    return releases.first()
