"""Whether personalization helps: click-through of the personalized feed against the holdout
(causal) and the non-personal feed (observational), from DP counts, with intervals that count
both the binomial spread and the noise; and the opt-in rates beside it, on the dashboard and
on the public transparency page."""

from datetime import timedelta
from html import unescape

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from privacy import releases
from privacy.models import AggregateSignal, LevelCountRelease, PrivacyBudgetLedger
from recommendations.models import FeedImpressionCount

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("news:editor_dashboard")
TRANSPARENCY = reverse("privacy:transparency")
NO_EVIDENCE = "the interval includes zero: no evidence personalization changes clicks yet."


def discrete_laplace(rng, scale: float, size) -> np.ndarray:
    # What OpenDP adds, from a seeded generator: the difference of two geometric variables.
    p = 1 - np.exp(-1 / scale)
    return rng.geometric(p, size) - rng.geometric(p, size)


# --- The estimator on simulated answers ---------------------------------------------------


def simulate(rng, *, rate: float, shown: int, days: int, scale: float, trials: int):
    """Each trial: `days` days of binomial clicks on `shown` cards a day, each day's count
    noised at `scale` as the nightly release does, summed over the days."""
    clicks = rng.binomial(shown, rate, (trials, days))
    return (clicks + discrete_laplace(rng, scale, (trials, days))).sum(axis=1)


def test_the_uplift_is_unbiased_and_its_interval_covers_with_noise_and_sampling():
    # 30 days, 20,000 cards a day in each group, 5% against 4.5%, noised at the scale the
    # default budget gives the list types (20 / 0.015 = 1,333): noise is most of the spread.
    rng = np.random.default_rng(7)
    days, shown, scale, trials = 30, 20_000, 20 / 0.015, 3000
    variance = days * releases.noise_variance(mechanism="discrete Laplace", scale=scale)
    personal = simulate(rng, rate=0.05, shown=shown, days=days, scale=scale, trials=trials)
    holdout = simulate(rng, rate=0.045, shown=shown, days=days, scale=scale, trials=trials)

    uplifts, ratios, narrow = [], [], []
    for p, h in zip(personal, holdout, strict=True):
        first = releases.rate_estimate(clicks=p, clicks_variance=variance, shown=days * shown)
        second = releases.rate_estimate(clicks=h, clicks_variance=variance, shown=days * shown)
        uplifts.append(releases.difference_estimate(first, second))
        ratios.append(releases.relative_estimate(first, second))
        # The same interval without the noise's variance: what ignoring it would claim.
        no_noise = [
            releases.rate_estimate(clicks=c, clicks_variance=0.0, shown=days * shown)
            for c in (p, h)
        ]
        narrow.append(releases.difference_estimate(*no_noise))

    truth = 0.005
    values = np.array([u.value for u in uplifts])
    # 3,000 trials: the coverage's standard error is 0.4 points.
    assert abs(values.mean() - truth) < 0.1 * np.mean([u.margin for u in uplifts])
    assert 0.935 <= np.mean([u.includes(truth) for u in uplifts]) <= 0.965
    assert np.mean([u.margin for u in uplifts]) == pytest.approx(1.96 * values.std(), rel=0.05)

    # Fieller's interval for the ratio covers as promised too, and agrees with the
    # difference's: it holds 1 exactly when the difference's holds 0.
    # (A noisy holdout rate at or under zero gives no ratio: no bound either way.)
    def holds(ratio, x: float) -> bool:
        return ratio is None or ratio.low is None or ratio.low <= x <= ratio.high

    # At this much noise it errs a little wide (97%), never narrow: an unbounded interval
    # holds everything.
    assert 0.935 <= np.mean([holds(r, 0.05 / 0.045) for r in ratios]) <= 0.98
    for uplift, ratio in zip(uplifts, ratios, strict=True):
        if ratio is not None and ratio.low is not None:
            assert holds(ratio, 1.0) == uplift.includes(0.0)
    # Leaving the noise out would cover the truth far less often than promised.
    assert np.mean([u.includes(truth) for u in narrow]) < 0.5


def test_without_noise_the_interval_is_the_binomial_one():
    rng = np.random.default_rng(8)
    clicks = rng.binomial(50_000, 0.08, 4000)
    estimates = [
        releases.rate_estimate(clicks=c, clicks_variance=0.0, shown=50_000) for c in clicks
    ]

    assert 0.935 <= np.mean([e.includes(0.08) for e in estimates]) <= 0.965
    assert releases.rate_estimate(clicks=3, clicks_variance=1.0, shown=0) is None


# --- The dashboard and the transparency page ----------------------------------------------


def days_ago(n: int):
    return timezone.localdate() - timedelta(days=n)


def feed(list_type: str, *, clicks: int, shown: int, day: int = 1) -> None:
    AggregateSignal.objects.create(
        day=days_ago(day),
        kind=AggregateSignal.Kind.LIST_TYPE,
        list_type=list_type,
        noisy_count=clicks,
    )
    FeedImpressionCount.objects.create(day=days_ago(day), list_type=list_type, count=shown)


def list_types_released(*, day: int = 1, scale: float = 10.0) -> None:
    PrivacyBudgetLedger.objects.create(
        day=days_ago(day),
        query="reads_per_list_type",
        epsilon=0.015,
        mechanism="discrete Laplace",
        contribution_bound=20,
        noise_scale=scale,
    )


@pytest.fixture
def k(settings):
    settings.DP_SUPPRESSION_THRESHOLD = 10
    return 10


def dashboard_text(client, editor) -> str:
    client.force_login(editor)
    return unescape(client.get(DASHBOARD).content.decode())


def test_the_dashboard_shows_the_causal_uplift_beside_the_observational_one(
    client, editor, k, settings
):
    settings.PERSONALIZATION_HOLDOUT_SHARE = 0.05
    feed("personal", clicks=600, shown=10_000)
    feed("holdout", clicks=500, shown=10_000)
    feed("editorial", clicks=300, shown=10_000)
    list_types_released()

    html = dashboard_text(client, editor)

    # 6% against 5%: binomial variances 5.64e-6 and 4.75e-6, noise 199 / 10,000^2 each, so
    # a margin of 1.96 x 0.00379 = 0.74 points.
    assert "Personalized against the holdout (causal)" in html
    assert "+1.00 points (95% interval +0.26 to +1.74)" in html
    assert "×1.20" in html
    assert "+3.00 points" in html  # against the non-personal feed: 6% against 3%
    assert "on each day 5 % of personalized readers see the editors' order" in html
    assert NO_EVIDENCE not in html
    assert '<svg role="img" aria-labelledby="uplift-title uplift-desc"' in html


def test_the_dashboard_says_when_the_interval_includes_zero(client, editor, k, settings):
    settings.PERSONALIZATION_HOLDOUT_SHARE = 0.05
    feed("personal", clicks=520, shown=10_000)
    feed("holdout", clicks=500, shown=10_000)
    list_types_released()

    html = dashboard_text(client, editor)

    assert f"Personalized against the holdout (causal): {NO_EVIDENCE}" in html
    # The non-personal feed has no released reads: said plainly, not computed.
    assert "Personalized against the non-personal feed (observational)" in html
    assert "not enough data" in html


def test_without_a_holdout_only_the_observational_comparison_is_shown(client, editor, k):
    feed("personal", clicks=600, shown=10_000)
    feed("editorial", clicks=300, shown=10_000)
    list_types_released()

    html = dashboard_text(client, editor)

    assert "Personalized against the holdout (causal)" not in html
    assert "No holdout is drawn (PERSONALIZATION_HOLDOUT_SHARE is 0)" in html
    assert "an association, not what personalization causes" in html


def release_levels(day: int, **counts) -> None:
    for level, n in counts.items():
        LevelCountRelease.objects.create(day=days_ago(day), level=level, noisy_count=n)
    PrivacyBudgetLedger.objects.create(
        day=days_ago(day),
        query="readers_per_level",
        epsilon=0.02,
        mechanism="discrete Laplace",
        contribution_bound=1,
        noise_scale=100.0,
    )


def test_the_opt_in_rate_is_on_the_dashboard_with_its_daily_chart(client, editor, k):
    release_levels(2, off=5000, topics=3000, topics_history=1000, device=1000)
    release_levels(1, off=6000, topics=2000, topics_history=1000, device=1000)
    release_levels(3, off=500, topics=300, topics_history=100, device=100)  # swamped by noise

    html = dashboard_text(client, editor)

    # (4,000 + 3,000 + 400) / 21,000 readers over the three days; each day's share drawn with
    # its band, but not the day whose band is wider than the chart says it shows.
    assert "Personalized by the site (Topics only or Topics + reading history)" in html
    assert "<td>35.2% ± " in html
    assert '<th scope="row">' + days_ago(3).strftime("%d %b") + "</th><td>40.0% ± " not in html
    assert '<svg role="img" aria-labelledby="optin-title optin-desc"' in html
    assert "<polygon " in html and "<polyline " in html
    assert '<th scope="row">' + days_ago(2).strftime("%d %b") + "</th><td>40.0% ± " in html


def test_before_any_release_the_dashboard_says_there_is_not_enough_data(client, editor, k):
    html = dashboard_text(client, editor)

    assert "Not enough data yet: a rate needs released counts of at least 10 readers a day" in html
    assert "No holdout is drawn" in html


def test_the_transparency_page_publishes_the_opt_in_rates(client, k):
    # Readers enough that one day's noise leaves the share known to a few points.
    release_levels(1, off=5000, topics=3000, topics_history=1000, device=1000)

    html = unescape(client.get(TRANSPARENCY).content.decode())

    assert "How many readers choose personalization" in html
    assert '<td data-label="Last 30 days">40.0% ± ' in html
    assert "On this device only (personalized in the browser" in html
    # The purposes were not released that day: said plainly.
    assert '<td data-label="Last 90 days">not enough data</td>' in html


def test_the_transparency_page_says_so_when_there_is_nothing_to_publish(client, k):
    html = unescape(client.get(TRANSPARENCY).content.decode())

    assert "Not enough data yet: a share is published once its counts reach 10 readers" in html


def test_the_transparency_page_discloses_the_holdout_only_while_it_is_on(client, settings):
    assert "see the editors’ order instead" not in client.get(TRANSPARENCY).content.decode()

    settings.PERSONALIZATION_HOLDOUT_SHARE = 0.05
    html = unescape(client.get(TRANSPARENCY).content.decode())

    assert (
        "On some days a small share of readers (5 %) see the editors’ order instead of their "
        "personal one, so we can measure whether personalization helps." in html
    )
