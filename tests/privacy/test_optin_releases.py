"""The opt-in rate: each night releases, with OpenDP noise and a ledger line, how many readers
have each optional purpose on and how many turned each on or off that day; the shares and
their noise margins are worked out from those releases alone, and the margins are honest."""

from datetime import datetime, time, timedelta

import numpy as np
import pytest
import time_machine
from django.utils import timezone

from privacy import aggregation, releases, services
from privacy.browser_signals import NO_SIGNALS
from privacy.models import (
    LevelCountRelease,
    PolicyVersion,
    PrivacyBudgetLedger,
    PurposeCountRelease,
)
from privacy.purposes import DIGEST, POPULAR_COUNTING, READING_HISTORY, REGION
from privacy.selectors import optin_rates
from tests.factories import EditorFactory, ReaderFactory

pytestmark = pytest.mark.django_db

# So large a budget that the noise is 0 with overwhelming probability: exact counts show through.
NO_NOISE = 1e6


def days_ago(n: int):
    return timezone.localdate() - timedelta(days=n)


def at(day, hour: int) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def choose(user, purpose, granted=True, *, when):
    with time_machine.travel(when, tick=False):
        services.consent_set(
            user=user,
            purpose=purpose.key,
            granted=granted,
            source="preferences",
            signals=NO_SIGNALS,
        )


def released(day) -> dict[tuple[str, str], int]:
    rows = PurposeCountRelease.objects.filter(day=day)
    return {(row.purpose, row.kind): row.noisy_count for row in rows}


def test_each_night_releases_who_has_each_purpose_on_and_who_changed_it(settings):
    yesterday, before = days_ago(1), days_ago(2)
    alice, bob, carol = ReaderFactory(), ReaderFactory(), ReaderFactory()
    choose(alice, POPULAR_COUNTING, when=at(before, 12))
    choose(alice, DIGEST, when=at(before, 12))
    choose(bob, DIGEST, when=at(before, 13))
    # Yesterday Alice switched the digest off, on and off again: once each way in the changes.
    choose(alice, DIGEST, False, when=at(yesterday, 9))
    choose(alice, DIGEST, when=at(yesterday, 10))
    choose(alice, DIGEST, False, when=at(yesterday, 11))
    choose(bob, REGION, when=at(yesterday, 15))
    # Staff are not readers; a choice made today is not part of yesterday.
    choose(EditorFactory(), DIGEST, when=at(yesterday, 12))
    choose(carol, POPULAR_COUNTING, when=timezone.now())

    result = aggregation.aggregate_day(day=yesterday, epsilon=NO_NOISE)

    assert result.purposes_released == 4
    assert released(yesterday) == {
        (READING_HISTORY.key, "on"): 0,
        (POPULAR_COUNTING.key, "on"): 1,
        (DIGEST.key, "on"): 1,
        (REGION.key, "on"): 1,
        (READING_HISTORY.key, "granted"): 0,
        (READING_HISTORY.key, "withdrawn"): 0,
        (POPULAR_COUNTING.key, "granted"): 0,
        (POPULAR_COUNTING.key, "withdrawn"): 0,
        (DIGEST.key, "granted"): 1,
        (DIGEST.key, "withdrawn"): 1,
        (REGION.key, "granted"): 1,
        (REGION.key, "withdrawn"): 0,
    }
    lines = {line.query: line for line in PrivacyBudgetLedger.objects.filter(day=yesterday)}
    # One reader moves the four "on" counts by 1 each, and the eight change counts by 1 each.
    purposes, changes = lines["readers_per_purpose"], lines["consent_changes"]
    assert purposes.noise_scale == pytest.approx(4 / (NO_NOISE * 0.01), rel=1e-6)
    assert changes.noise_scale == pytest.approx(8 / (NO_NOISE * 0.005), rel=1e-6)
    assert (purposes.contribution_bound, changes.contribution_bound) == (1, 1)
    assert (purposes.mechanism, purposes.delta) == ("discrete Laplace", 0.0)


def test_a_grant_a_policy_change_lapsed_is_not_counted_as_on(settings):
    yesterday, before = days_ago(1), days_ago(2)
    reader = ReaderFactory()
    choose(reader, POPULAR_COUNTING, when=at(before, 12))
    # A version that rewrites the popular-counting notice takes effect yesterday morning.
    settings.PRIVACY_SIGNAL_RETENTION_HOURS = 24
    with time_machine.travel(at(yesterday, 8), tick=False):
        draft = services.policy_draft_save(
            draft=PolicyVersion(
                version="2099-01-01", summary_of_changes="Sooner.", full_text="The policy."
            )
        )
        services.policy_publish(policy=draft)

    aggregation.aggregate_day(day=before, epsilon=NO_NOISE)
    aggregation.aggregate_day(day=yesterday, epsilon=NO_NOISE)

    assert released(before)[POPULAR_COUNTING.key, "on"] == 1
    assert released(yesterday)[POPULAR_COUNTING.key, "on"] == 0


def test_the_counts_are_noised_through_opendp_and_released_once(settings):
    settings.DP_EPSILON_PER_DAY = 1.0
    for _ in range(30):
        choose(ReaderFactory(), DIGEST, when=at(days_ago(1), 12))

    aggregation.aggregate_day(day=days_ago(1))
    first = sorted(PurposeCountRelease.objects.values_list("pk", "purpose", "kind", "noisy_count"))
    aggregation.aggregate_day(day=days_ago(1))  # already released: nothing changes

    assert (
        sorted(PurposeCountRelease.objects.values_list("pk", "purpose", "kind", "noisy_count"))
        == first
    )
    # At epsilon 0.01 and sensitivity 4 the scale is 400: an exact 30 would be a miracle.
    line = PrivacyBudgetLedger.objects.get(day=days_ago(1), query=releases.PURPOSE_QUERY)
    assert line.noise_scale == pytest.approx(400, rel=1e-6)
    assert PurposeCountRelease.objects.count() == 12


# --- The shares and their margins -------------------------------------------------------


def discrete_laplace(rng, scale: float, size) -> np.ndarray:
    """What OpenDP adds, drawn from a seeded generator: the difference of two geometric
    variables is discrete Laplace, P(k) proportional to exp(-|k| / scale)."""
    p = 1 - np.exp(-1 / scale)
    return rng.geometric(p, size) - rng.geometric(p, size)


def test_the_simulated_noise_is_the_noise_the_margins_assume():
    rng = np.random.default_rng(0)
    noise = discrete_laplace(rng, 100.0, 200_000)
    expected = releases.noise_variance(mechanism="discrete Laplace", scale=100.0)
    assert noise.var() == pytest.approx(expected, rel=0.02)


def test_the_share_of_personalized_readers_is_unbiased_and_its_interval_covers():
    # 30 days of four level counts (2,000 readers, 30% personalized by the site), each noised
    # at the levels' scale on the default budget (100), pooled as the selector pools them.
    rng = np.random.default_rng(1)
    scale, days, trials = 100.0, 30, 4000
    truth = np.array([1000, 400, 200, 400])  # off, topics, topics + history, device
    share = (truth[1] + truth[2]) / truth.sum()
    variance = releases.noise_variance(mechanism="discrete Laplace", scale=scale)
    noisy = truth + discrete_laplace(rng, scale, (trials, days, 4))
    part = noisy[:, :, 1:3].sum(axis=(1, 2))
    rest = noisy[:, :, [0, 3]].sum(axis=(1, 2))
    estimates = [
        releases.share_estimate(
            part=p, rest=r, part_variance=2 * days * variance, rest_variance=2 * days * variance
        )
        for p, r in zip(part, rest, strict=True)
    ]

    values = np.array([e.value for e in estimates])
    coverage = np.mean([e.includes(share) for e in estimates])
    # Unbiased to well within a tenth of one interval, and 95% intervals cover 95% of the time
    # (4,000 trials: a binomial standard error of 0.34 points).
    assert abs(values.mean() - share) < 0.1 * np.mean([e.margin for e in estimates])
    assert 0.935 <= coverage <= 0.965
    # The margin is the spread the estimates really have.
    assert np.mean([e.margin for e in estimates]) == pytest.approx(1.96 * values.std(), rel=0.05)


def test_a_purpose_share_over_the_level_total_covers_with_both_noises():
    # 40% of 2,000 readers with a purpose on, the purpose counts at their own scale (400), the
    # total from the four level counts (100 each): two independent releases.
    rng = np.random.default_rng(2)
    days, trials = 30, 4000
    on, levels = 800, np.array([1000, 400, 200, 400])
    v_purpose = releases.noise_variance(mechanism="discrete Laplace", scale=400.0)
    v_level = releases.noise_variance(mechanism="discrete Laplace", scale=100.0)
    noisy_on = (on + discrete_laplace(rng, 400.0, (trials, days))).sum(axis=1)
    noisy_total = (levels + discrete_laplace(rng, 100.0, (trials, days, 4))).sum(axis=(1, 2))
    estimates = [
        releases.ratio_estimate(
            numerator=n,
            denominator=d,
            numerator_variance=days * v_purpose,
            denominator_variance=4 * days * v_level,
        )
        for n, d in zip(noisy_on, noisy_total, strict=True)
    ]

    truth = on / levels.sum()
    values = np.array([e.value for e in estimates])
    assert abs(values.mean() - truth) < 0.1 * np.mean([e.margin for e in estimates])
    assert 0.935 <= np.mean([e.includes(truth) for e in estimates]) <= 0.965


def test_nothing_to_divide_by_gives_no_share():
    assert (
        releases.ratio_estimate(
            numerator=5, denominator=-3, numerator_variance=1, denominator_variance=1
        )
        is None
    )


# --- What editors and the public read ---------------------------------------------------


def release_levels(day, *, scale=100.0, **counts):
    for level, n in counts.items():
        LevelCountRelease.objects.create(day=day, level=level, noisy_count=n)
    PrivacyBudgetLedger.objects.create(
        day=day,
        query="readers_per_level",
        epsilon=0.02,
        mechanism="discrete Laplace",
        contribution_bound=1,
        noise_scale=scale,
    )


def release_purposes(day, *, scale=400.0, **on):
    for purpose, n in on.items():
        PurposeCountRelease.objects.create(day=day, purpose=purpose, kind="on", noisy_count=n)
    PrivacyBudgetLedger.objects.create(
        day=day,
        query="readers_per_purpose",
        epsilon=0.01,
        mechanism="discrete Laplace",
        contribution_bound=1,
        noise_scale=scale,
    )


def test_the_rates_pool_the_released_days_of_each_window(settings):
    settings.DP_SUPPRESSION_THRESHOLD = 10
    # Two days in the last 30, one more 60 days ago (in the 90-day window only).
    release_levels(days_ago(1), off=500, topics=300, topics_history=100, device=100)
    release_levels(days_ago(2), off=500, topics=300, topics_history=100, device=100)
    release_levels(days_ago(60), off=900, topics=50, topics_history=25, device=25)
    release_purposes(days_ago(1), popular_counting=250, digest=5)
    release_purposes(days_ago(2), popular_counting=350, digest=5)

    result = optin_rates()

    rates = {rate.key: rate for rate in result.rates}
    site = rates["site"].estimates
    assert site[30].value == pytest.approx(0.4)
    assert site[90].value == pytest.approx(875 / 3000)
    # Delta method, part = two levels a day, rest = two: Var(share) = ((1 - r)^2 Var(part) +
    # r^2 Var(rest)) / total^2.
    v = releases.noise_variance(mechanism="discrete Laplace", scale=100.0)
    expected = 1.96 * np.sqrt((0.6**2 * 4 * v + 0.4**2 * 4 * v) / 2000**2)
    assert site[30].margin == pytest.approx(expected, rel=1e-3)
    assert rates["topics_history"].estimates[30].value == pytest.approx(0.1)
    assert rates["device"].estimates[30].value == pytest.approx(0.1)
    assert rates["popular_counting"].estimates[30].value == pytest.approx(0.3)
    # 5 readers a day is under k: said plainly, not shown as a share.
    assert rates["digest"].text(30) == "not enough data"
    assert rates["region"].text(90) == "not enough data"
    assert rates["site"].text(30).startswith("40.0% ± ")
    assert [day.day for day in result.daily] == [days_ago(60), days_ago(2), days_ago(1)]
    assert result.days_released == 3


def test_before_any_release_there_is_not_enough_data():
    result = optin_rates()

    assert not result.any_data
    assert all(rate.text(30) == "not enough data" for rate in result.rates)


def test_a_share_the_noise_swamps_is_called_too_noisy_and_never_shown_past_100_percent(settings):
    # A small site (a few hundred readers) at the purposes' small share of the day's epsilon:
    # the released count of a purpose can exceed the readers it is a share of.
    settings.DP_SUPPRESSION_THRESHOLD = 10
    release_levels(days_ago(1), off=60, topics=150, topics_history=20, device=10, scale=400.0)
    release_purposes(days_ago(1), popular_counting=400, scale=400.0)

    rates = {rate.key: rate for rate in optin_rates().rates}

    assert rates["popular_counting"].estimates[30].value > 1  # what the noise released
    assert rates["popular_counting"].text(30).startswith("too noisy yet (± ")
    assert rates["site"].text(30).startswith("too noisy yet (± ")


def test_a_share_the_noise_pushed_past_a_bound_is_shown_at_the_bound():
    from privacy.releases import Estimate
    from privacy.selectors import OptInRate

    rate = OptInRate(key="site", label="Site", estimates={30: Estimate(value=1.04, margin=0.05)})
    assert rate.text(30) == "100.0% ± 5.0"
