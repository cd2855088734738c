"""Private mode's federated updates on the server: the noise each browser is told to add gives
the stated (epsilon, delta) by the analytic Gaussian mechanism (Balle and Wang, 2018) as well
as by OpenDP; an update is kept as its day and numbers only, and anything else is refused with
nothing stored; a closed day is averaged only with enough updates, once, with its ledger line,
and only after the day's central release."""

import math
from datetime import timedelta

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone
from scipy.optimize import brentq
from scipy.stats import norm

from privacy import federated
from privacy.federated import (
    FEDERATED_QUERY,
    UpdateRefused,
    day_release,
    federated_release_pending,
    noise_sigma,
    plausible_norm,
    update_add,
)
from privacy.models import DailySalt, FederatedRelease, FederatedUpdate, PrivacyBudgetLedger
from privacy.selectors import LOCAL_QUERIES, ledger_summary
from privacy.tasks import federated_release_pending as federated_release_task

pytestmark = pytest.mark.django_db
SIZE = 4


def _analytic_delta(sigma: float, *, epsilon: float, sensitivity: float) -> float:
    """The exact delta of the Gaussian mechanism at (sigma, epsilon), Balle and Wang's
    Theorem 8: Phi(D / 2s - e s / D) - exp(e) Phi(-D / 2s - e s / D)."""
    a, b = sensitivity / (2 * sigma), epsilon * sigma / sensitivity
    return norm.cdf(a - b) - math.exp(epsilon) * norm.cdf(-a - b)


@pytest.mark.parametrize(
    ("epsilon", "delta", "clip"), [(1.0, 1e-6, 1.0), (0.5, 1e-6, 2.0), (4.0, 1e-4, 0.5)]
)
def test_the_noise_gives_the_stated_privacy_by_the_analytic_gaussian(epsilon, delta, clip):
    sigma = noise_sigma(epsilon=epsilon, delta=delta, clip=clip)
    # Local DP: two updates a browser could send differ by up to twice the clip.
    sensitivity = 2 * clip
    assert _analytic_delta(sigma, epsilon=epsilon, sensitivity=sensitivity) <= delta
    tightest = brentq(
        lambda s: _analytic_delta(s, epsilon=epsilon, sensitivity=sensitivity) - delta,
        1e-3 * clip,
        1e3 * clip,
    )
    # OpenDP reads the Gaussian through zCDP: a little more noise than the tightest, no less.
    assert tightest <= sigma <= 1.1 * tightest


def test_the_noise_grows_with_the_clip_and_shrinks_with_epsilon():
    base = noise_sigma(epsilon=1.0, delta=1e-6, clip=1.0)
    assert noise_sigma(epsilon=1.0, delta=1e-6, clip=3.0) == pytest.approx(3 * base, rel=1e-3)
    assert noise_sigma(epsilon=2.0, delta=1e-6, clip=1.0) < base


def test_an_honest_update_passes_the_norm_check_and_a_scaled_one_does_not():
    sigma = noise_sigma(epsilon=1.0, delta=1e-6, clip=1.0)
    rng = np.random.default_rng(3)
    honest = rng.normal(0, sigma, size=(10_000, SIZE)) + np.array([1.0, 0, 0, 0])
    most = plausible_norm(clip=1.0, sigma=sigma, size=SIZE)
    assert (np.linalg.norm(honest, axis=1) <= most).all()
    assert most < 10 * sigma


def _update(scale: float = 1.0) -> list[float]:
    return [0.5 * scale, -1.25 * scale, 3.0 * scale, 0.0]


def test_an_update_is_kept_as_its_day_and_numbers_only():
    today = timezone.localdate()
    update_add(day=today.isoformat(), vector=_update(), size=SIZE)
    update_add(day=(today - timedelta(days=1)).isoformat(), vector=[1, 2, 3, 4], size=SIZE)

    rows = list(FederatedUpdate.objects.order_by("day").values("day", "vector"))
    assert rows == [
        {"day": today - timedelta(days=1), "vector": [1.0, 2.0, 3.0, 4.0]},
        {"day": today, "vector": _update()},
    ]
    # Nothing that could hold an address, a time or an id beside them.
    assert {f.name for f in FederatedUpdate._meta.get_fields()} == {"id", "day", "vector"}


def _bad_updates():
    today = timezone.localdate()
    return {
        "not a date": ("yesterday", _update(), "YYYY-MM-DD"),
        "a closed day": ((today - timedelta(days=2)).isoformat(), _update(), "today or yesterday"),
        "tomorrow": ((today + timedelta(days=1)).isoformat(), _update(), "today or yesterday"),
        "too short": (today.isoformat(), [1.0, 2.0], f"list of {SIZE} numbers"),
        "not a list": (today.isoformat(), {"topic": 1}, f"list of {SIZE} numbers"),
        "a string": (today.isoformat(), ["1", 0, 0, 0], "finite"),
        "a boolean": (today.isoformat(), [True, 0, 0, 0], "finite"),
        "not a number": (today.isoformat(), [math.nan, 0, 0, 0], "finite"),
        "infinite": (today.isoformat(), [math.inf, 0, 0, 0], "finite"),
        "far too long": (today.isoformat(), _update(scale=100), "norm"),
    }


@pytest.mark.parametrize("case", list(_bad_updates()))
def test_anything_but_an_update_is_refused_and_nothing_is_stored(case):
    day, vector, message = _bad_updates()[case]
    with pytest.raises(UpdateRefused, match=message):
        update_add(day=day, vector=vector, size=SIZE)
    assert not FederatedUpdate.objects.exists()


def test_nothing_is_taken_when_federated_tuning_is_off(settings):
    settings.FEDERATED_EPSILON = 0
    with pytest.raises(UpdateRefused, match="off"):
        update_add(day=timezone.localdate().isoformat(), vector=_update(), size=SIZE)
    assert not FederatedUpdate.objects.exists()


def _arrive(day, vectors):
    FederatedUpdate.objects.bulk_create(FederatedUpdate(day=day, vector=v) for v in vectors)


def test_a_day_with_fewer_updates_than_k_releases_nothing_and_keeps_nothing(settings):
    settings.FEDERATED_MIN_UPDATES = 5
    day = timezone.localdate() - timedelta(days=2)
    _arrive(day, [_update()] * 4)

    result = day_release(day=day)

    assert (result.released, result.updates) == (False, 4)
    assert not FederatedRelease.objects.exists()
    assert not PrivacyBudgetLedger.objects.filter(query=FEDERATED_QUERY).exists()
    assert not FederatedUpdate.objects.exists()


def test_a_day_with_k_updates_releases_their_average_once_with_its_ledger_line(settings):
    settings.FEDERATED_MIN_UPDATES = 5
    day = timezone.localdate() - timedelta(days=2)
    rng = np.random.default_rng(11)
    vectors = rng.normal(size=(6, SIZE)).round(6).tolist()
    _arrive(day, vectors)
    # Updates from before the weights tuned changed length are left out of the average.
    _arrive(day, [[1.0, 2.0, 3.0]])

    first = day_release(day=day)
    again = day_release(day=day)

    assert (first.released, first.updates, again.already_done) == (True, 6, True)
    release = FederatedRelease.objects.get()
    assert release.day == day and release.updates == 6
    assert release.average == pytest.approx(np.mean(vectors, axis=0).tolist())
    sigma = noise_sigma(epsilon=1.0, delta=1e-6, clip=0.25)
    assert (release.epsilon, release.delta, release.clip, release.sigma) == (1.0, 1e-6, 0.25, sigma)
    line = PrivacyBudgetLedger.objects.get(query=FEDERATED_QUERY)
    assert (line.day, line.epsilon, line.delta, line.contribution_bound) == (day, 1.0, 1e-6, 1)
    assert line.mechanism == federated.FEDERATED_MECHANISM
    assert not FederatedUpdate.objects.exists()
    # A late update of a released day changes nothing.
    _arrive(day, [_update()])
    assert day_release(day=day).already_done
    assert FederatedRelease.objects.count() == 1 and not FederatedUpdate.objects.exists()


def test_the_nightly_task_waits_for_the_days_central_release_and_for_late_updates(settings):
    settings.FEDERATED_MIN_UPDATES = 2
    today = timezone.localdate()
    waiting, closed, late = (today - timedelta(days=n) for n in (3, 2, 1))
    for day in (waiting, closed, late):
        _arrive(day, [_update(), _update(scale=-1)])
    # The central release of `waiting` is still to come (its salt is still there).
    DailySalt.objects.create(day=waiting, salt=b"s" * 32)

    assert federated_release_task() == 1
    assert list(FederatedRelease.objects.values_list("day", flat=True)) == [closed]
    assert set(FederatedUpdate.objects.values_list("day", flat=True)) == {waiting, late}
    assert [r.already_done for r in federated_release_pending()] == []


def test_the_transparency_page_states_the_release_as_each_browsers_own_spending(settings, client):
    settings.FEDERATED_MIN_UPDATES = 2
    day = timezone.localdate() - timedelta(days=2)
    PrivacyBudgetLedger.objects.create(
        day=day,
        query="reads_per_article",
        epsilon=0.9,
        mechanism="discrete Laplace",
        contribution_bound=1,
        noise_scale=1 / 0.9,
    )
    PrivacyBudgetLedger.objects.create(
        day=day,
        query="local_reads_per_article",
        epsilon=1.0,
        mechanism="optimized unary encoding (local)",
        contribution_bound=1,
    )
    _arrive(day, [_update(), _update(scale=-1)])
    day_release(day=day)

    (entry,) = [e for e in ledger_summary() if e.day == day]
    # The central release alone makes the day's total; a browser that sent both a report and
    # an update spent both on its own device.
    assert (entry.total_epsilon, entry.local_epsilon) == (0.9, 2.0)
    assert FEDERATED_QUERY in LOCAL_QUERIES
    page = client.get(reverse("privacy:transparency")).content.decode()
    assert "updates of the front page&#x27;s weights" in page
