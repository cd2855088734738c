"""Private mode's local DP reports on the server: the OUE estimator against an independent
implementation (pure-ldp), the variance it publishes against the spread it really has, the
nightly release with its ledger line and transparency entry, and training joining the local
estimates to the central counts by their variances."""

import random
from datetime import timedelta

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone
from pure_ldp.frequency_oracles.unary_encoding import UEClient, UEServer

from privacy import ldp
from privacy.local_reports import (
    day_release,
    local_reports_release_pending,
    report_add,
    tally_open,
)
from privacy.models import (
    AggregateSignal,
    DailySalt,
    LocalReportRelease,
    LocalReportTally,
    PrivacyBudgetLedger,
)
from privacy.selectors import ledger_summary
from recommendations import training
from tests.factories import ArticleFactory

EPSILON = 1.0


def _reports(true_positions: np.ndarray, *, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.array(
        [ldp.oue_perturb(int(i), size=size, epsilon=EPSILON, rng=rng) for i in true_positions]
    )


def test_our_estimates_equal_pure_ldps_oue_server_on_the_same_reports():
    rng = np.random.default_rng(11)
    size, n = 40, 3_000
    weights = 1 / np.arange(1, size + 1)
    truth = rng.choice(size, size=n, p=weights / weights.sum())
    reports = _reports(truth, size=size, rng=rng)

    theirs = UEServer(epsilon=EPSILON, d=size, use_oue=True, index_mapper=lambda x: x)
    for report in reports:
        theirs.aggregate(report)
    expected = [theirs.estimate(i, suppress_warnings=True) for i in range(size)]
    ours = ldp.oue_estimate(ones=reports.sum(axis=0), reports=n, epsilon=EPSILON)

    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-9)
    # And both are near the truth, within four of the standard deviations we publish.
    sd = float(np.sqrt(ldp.oue_variance(reports=n, epsilon=EPSILON)))
    assert np.all(np.abs(ours - np.bincount(truth, minlength=size)) < 4 * sd)


def test_pure_ldps_own_oue_client_randomizes_with_our_probabilities():
    client = UEClient(epsilon=EPSILON, d=30, use_oue=True, index_mapper=lambda x: x)
    ours = ldp.oue(EPSILON)
    assert (client.p, client.q) == pytest.approx((ours.p, ours.q))
    # Its reports, read by our estimator, give its server's estimates.
    np.random.seed(5)
    random.seed(5)
    server = UEServer(epsilon=EPSILON, d=30, use_oue=True, index_mapper=lambda x: x)
    reports = np.array([client.privatise(i % 7) for i in range(2_000)])
    for report in reports:
        server.aggregate(report)
    np.testing.assert_allclose(
        ldp.oue_estimate(ones=reports.sum(axis=0), reports=2_000, epsilon=EPSILON),
        [server.estimate(i, suppress_warnings=True) for i in range(30)],
    )


def test_the_published_variance_is_the_spread_estimates_really_have():
    rng = np.random.default_rng(3)
    n, runs = 500, 2_000
    q = ldp.oue(EPSILON).q
    # Position 0 is nobody's read: each report sets it with probability q.
    ones = rng.binomial(n, q, size=runs)
    estimates = ldp.oue_estimate(ones=ones, reports=n, epsilon=EPSILON)
    assert estimates.mean() == pytest.approx(0.0, abs=3.0)
    assert estimates.var() == pytest.approx(ldp.oue_variance(reports=n, epsilon=EPSILON), rel=0.1)
    # The formula as the paper states it for OUE.
    e = np.exp(EPSILON)
    assert ldp.oue_variance(reports=n, epsilon=EPSILON) == pytest.approx(4 * n * e / (e - 1) ** 2)


def test_the_wire_format_round_trips_and_refuses_anything_else():
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 2, size=13).astype(np.uint8)
    assert ldp.bits_unpack(ldp.bits_pack(bits), size=13).tolist() == bits.tolist()
    with pytest.raises(ldp.MalformedReport, match="2 bytes"):
        ldp.bits_unpack(ldp.bits_pack(bits[:8]), size=13)
    with pytest.raises(ldp.MalformedReport, match="13 bits"):
        ldp.bits_unpack(ldp.bits_pack(np.ones(40, np.uint8)), size=13)
    with pytest.raises(ldp.MalformedReport, match="past its last position"):
        ldp.bits_unpack(ldp.bits_pack(np.ones(16, np.uint8)), size=13)
    with pytest.raises(ldp.MalformedReport, match="base64"):
        ldp.bits_unpack("!!!!", size=13)


# --- The nightly release ------------------------------------------------------------------


@pytest.fixture
def reported_day(db):
    """Three stories, 300 browsers' reports of a day two days ago (200 read the first, 100
    the second, none the third), added one by one as the endpoint adds them."""
    stories = [ArticleFactory() for _ in range(3)]
    today = timezone.localdate()
    day = today - timedelta(days=1)  # still open for reports today
    version = tally_open(day=day, epsilon=EPSILON, article_ids=[s.pk for s in stories])
    rng = np.random.default_rng(17)
    for index in [0] * 200 + [1] * 100:
        report = ldp.oue_perturb(index, size=3, epsilon=EPSILON, rng=rng)
        report_add(version=version, day=day.isoformat(), bits=ldp.bits_pack(report), today=today)
    return stories, day


def test_a_closed_day_releases_each_storys_estimate_with_its_variance_and_ledger_line(
    reported_day,
):
    stories, day = reported_day
    assert LocalReportTally.objects.get(day=day).reports == 300

    results = local_reports_release_pending(today=day + timedelta(days=2))

    assert [(r.day, r.reports, r.articles_released) for r in results] == [(day, 300, 3)]
    released = {r.article_id: r for r in LocalReportRelease.objects.filter(day=day)}
    variance = ldp.oue_variance(reports=300, epsilon=EPSILON)
    sd = variance**0.5
    for story, truth in zip(stories, [200, 100, 0], strict=True):
        assert abs(released[story.pk].estimate - truth) < 4 * sd
        assert released[story.pk].variance == pytest.approx(variance)
        assert released[story.pk].reports == 300
    line = PrivacyBudgetLedger.objects.get(day=day, query=ldp.LOCAL_ARTICLE_QUERY)
    assert (line.epsilon, line.contribution_bound) == (EPSILON, 1)
    assert "randomized on its device" in ledger_summary(days=30)[0].lines[0].what
    # The sums are gone; a second run changes nothing.
    assert not LocalReportTally.objects.exists()
    assert local_reports_release_pending(today=day + timedelta(days=2)) == []
    assert day_release(day=day).already_done


def test_yesterday_stays_open_for_late_reports(reported_day):
    _, day = reported_day
    assert local_reports_release_pending(today=day + timedelta(days=1)) == []
    assert LocalReportTally.objects.get(day=day).reports == 300


def test_a_day_waits_for_its_central_release_first(reported_day):
    # The central release takes a day with any ledger line as released: it must come first.
    _, day = reported_day
    DailySalt.objects.create(day=day, salt=b"s" * 32)
    assert local_reports_release_pending(today=day + timedelta(days=2)) == []
    assert not PrivacyBudgetLedger.objects.filter(day=day).exists()


def test_a_day_without_reports_spends_nothing(db):
    day = timezone.localdate() - timedelta(days=3)
    tally_open(day=day, epsilon=EPSILON, article_ids=[ArticleFactory().pk])
    [result] = local_reports_release_pending()
    assert result.reports == 0
    assert not PrivacyBudgetLedger.objects.exists() and not LocalReportRelease.objects.exists()


def test_the_nightly_task_releases_every_closed_day(db, settings):
    from privacy.tasks import local_reports_release_pending as task

    story = ArticleFactory()
    day = timezone.localdate() - timedelta(days=2)
    version = tally_open(day=day, epsilon=EPSILON, article_ids=[story.pk])
    report_add(
        version=version, day=day.isoformat(), bits=ldp.bits_pack(np.ones(1, np.uint8)), today=day
    )

    assert task.delay().get() == 1
    assert LocalReportRelease.objects.get(day=day, article=story).reports == 1
    assert task.delay().get() == 0
    beat = settings.CELERY_BEAT_SCHEDULE["release-local-reports"]
    assert beat["task"] == "privacy.tasks.local_reports_release_pending"


def test_the_transparency_page_states_the_local_release_and_its_noise(client, reported_day):
    _, day = reported_day
    local_reports_release_pending(today=day + timedelta(days=2))
    margin = round(2 * ldp.oue_variance(reports=300, epsilon=EPSILON) ** 0.5)

    page = client.get(reverse("privacy:transparency")).content.decode()

    assert "Reports from private mode, scrambled on each device" in page
    assert "estimates for 3 stories from up to 300 reports, ε = 1.0 on each device" in page
    assert f"less than about ±{margin} 19 times in 20" in page
    assert "randomized on its device (local differential privacy)" in page


def test_a_days_total_epsilon_is_the_central_releases_and_the_local_one_is_stated_apart(
    client, reported_day
):
    # The page promises at most the daily epsilon for the nightly release; each reporting
    # browser spends its own, on its own device: the two are never added into one total.
    _, day = reported_day
    PrivacyBudgetLedger.objects.create(
        day=day, query="reads_per_article", epsilon=0.9, mechanism="laplace", contribution_bound=3
    )
    local_reports_release_pending(today=day + timedelta(days=2))

    page = client.get(reverse("privacy:transparency")).content.decode()

    assert "ε = 0.9<span" in page
    assert "for each browser that reported, ε = 1 spent on its own device" in page
    assert "ε = 1.9" not in page


# --- Training joins them to the central counts --------------------------------------------


def test_combining_weighs_each_share_by_the_inverse_of_its_variance():
    # Both say 10% of their people read it: the combined count is 10% of both populations.
    count, variance = ldp.inverse_variance_combine(
        central=50, central_variance=4.0, central_readers=500,
        local=100, local_variance=3_000.0, local_reports=1_000,
    )  # fmt: skip
    assert count == pytest.approx(150.0)
    assert variance < 4.0 * (1_500 / 500) ** 2  # better than the central share alone, scaled
    # A precise central count outweighs a noisy local one.
    count, _ = ldp.inverse_variance_combine(
        central=50, central_variance=1.0, central_readers=500,
        local=400, local_variance=1e6, local_reports=1_000,
    )  # fmt: skip
    assert count == pytest.approx(150.0, rel=0.01)
    # While the day's central readers (a sum of noisy counts) are within their noise, the
    # central count has no scale to set the local share beside: it is kept alone.
    assert ldp.inverse_variance_combine(
        central=3, central_variance=2.5, central_readers=40, central_readers_variance=5_000.0,
        local=400, local_variance=3_000.0, local_reports=1_000,
    ) == (3, 2.5)  # fmt: skip
    # Without a local estimate, the central count and its variance as they were.
    assert ldp.inverse_variance_combine(
        central=7, central_variance=2.5, central_readers=100,
        local=None, local_variance=0.0, local_reports=0,
    ) == (7, 2.5)  # fmt: skip


def _central(day, counts: dict, scale: float = 1 / 0.9) -> None:
    AggregateSignal.objects.bulk_create(
        AggregateSignal(day=day, kind=AggregateSignal.Kind.ARTICLE, article=a, noisy_count=c)
        for a, c in counts.items()
    )
    PrivacyBudgetLedger.objects.create(
        day=day,
        query="reads_per_article",
        epsilon=0.9,
        mechanism="discrete Laplace",
        contribution_bound=1,
        noise_scale=scale,
    )


def _prior(stories, *, now) -> dict[int, float]:
    ids = np.array([s.pk for s in stories], dtype=np.int64)
    prior = training.popularity_prior(
        article_ids=ids,
        aggregates=training.aggregates_load(now=now),
        reference=timezone.localdate(now),
    )
    return dict(zip(ids.tolist(), prior.tolist(), strict=True))


@pytest.mark.django_db
def test_popularity_is_unchanged_when_no_local_release_exists():
    stories = [ArticleFactory() for _ in range(4)]
    now = timezone.now()
    today = timezone.localdate(now)
    _central(today - timedelta(days=1), dict(zip(stories, [40, 20, 3, 0], strict=True)))
    aggregates = training.aggregates_load(now=now)
    assert aggregates.local_days == {}

    counts, variances = training.decayed_with_noise(
        article_ids=np.array([s.pk for s in stories]), aggregates=aggregates, reference=today
    )

    # The central counts alone, decayed, with the noise of the ledger: as before.
    weight = training.decay_weight(today - timedelta(days=1), reference=today)
    noise = aggregates.article_noise[today - timedelta(days=1)]
    assert counts.tolist() == [weight * c for c in [40, 20, 3, 0]]
    assert variances.tolist() == [weight**2 * noise] * 4
    prior = _prior(stories, now=now)
    assert prior[stories[0].pk] > prior[stories[1].pk] > prior[stories[3].pk] == 0.0


@pytest.mark.django_db
def test_a_story_private_mode_readers_read_becomes_popular_through_their_reports():
    stories = [ArticleFactory() for _ in range(4)]
    now = timezone.now()
    yesterday = timezone.localdate(now) - timedelta(days=1)
    # The central counts (63 readers) see nobody read the last story; 5,000 reporting
    # browsers say a fifth of them read it.
    _central(yesterday, dict(zip(stories, [40, 20, 3, 0], strict=True)))
    assert _prior(stories, now=now)[stories[3].pk] == 0.0
    variance = float(ldp.oue_variance(reports=5_000, epsilon=EPSILON))
    LocalReportRelease.objects.bulk_create(
        LocalReportRelease(day=yesterday, article=s, estimate=e, variance=variance, reports=5_000)
        for s, e in zip(stories, [600.0, 200.0, 0.0, 1_000.0], strict=True)
    )

    combined = _prior(stories, now=now)

    assert combined[stories[0].pk] > combined[stories[1].pk] > combined[stories[3].pk] > 0.0
    assert combined[stories[2].pk] == 0.0  # read by 3 of 63 readers and by no reporting browser
