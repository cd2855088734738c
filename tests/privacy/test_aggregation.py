"""Daily DP aggregation: bounded contributions, honest noise, a truthful ledger, and raw reads
that disappear once (and only once) their counts are safely released."""

import math
import statistics
from datetime import datetime, time, timedelta
from io import StringIO

import opendp.prelude as dp
import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from news.models import Article
from privacy import aggregation, releases
from privacy.models import (
    AggregateSignal,
    DailySalt,
    FollowedTopicRelease,
    LevelCountRelease,
    PrivacyBudgetLedger,
    SignalEvent,
)
from privacy.selectors import display_count
from privacy.tasks import aggregate_pending
from tests.factories import (
    ArticleFactory,
    EditorFactory,
    ReaderFactory,
    TopicFactory,
    reader_choices,
)

pytestmark = pytest.mark.django_db

# So large a budget that the noise is 0 with overwhelming probability: exact counts show through.
NO_NOISE = 1e6
PSEUDONYMS = ["p1", "p2", "p3", "p4", "p5"]


def days_ago(n: int):
    return timezone.localdate() - timedelta(days=n)


def live_article(**kwargs) -> Article:
    # Published well before any day the tests aggregate, so it is in every day's catalogue.
    kwargs.setdefault("published_at", timezone.now() - timedelta(days=30))
    return ArticleFactory(**kwargs)


def read(*, day, pseudonym: str, articles, list_type: str = "", followed=None) -> None:
    SignalEvent.objects.bulk_create(
        SignalEvent(
            day=day,
            pseudonym=pseudonym,
            article=article,
            list_type=list_type,
            in_followed_topic=followed,
        )
        for article in articles
    )


def released(*, day, kind) -> dict[int, int]:
    rows = AggregateSignal.objects.filter(day=day, kind=kind)
    key = "article_id" if kind == AggregateSignal.Kind.ARTICLE else "topic_id"
    return dict(rows.values_list(key, "noisy_count"))


@pytest.fixture
def article(topic):
    return live_article(topics=[topic])


@pytest.fixture
def catalogue():
    """Six live articles, each in exactly two of four topics."""
    topics = TopicFactory.create_batch(4)
    return [live_article(topics=[topics[i % 4], topics[(i + 1) % 4]]) for i in range(6)]


@hypothesis_settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    reads=st.dictionaries(
        keys=st.sampled_from(PSEUDONYMS),
        values=st.lists(st.integers(min_value=0, max_value=5), unique=True, max_size=6),
    ),
    bound=st.integers(min_value=1, max_value=4),
)
def test_each_reader_counts_for_at_most_the_bound(catalogue, reads, bound):
    day = days_ago(1)
    with transaction.atomic():
        for pseudonym, indexes in reads.items():
            read(day=day, pseudonym=pseudonym, articles=[catalogue[i] for i in indexes])

        aggregation.aggregate_day(day=day, epsilon=NO_NOISE, contribution_bound=bound)

        expected = sum(min(len(indexes), bound) for indexes in reads.values())
        per_article = released(day=day, kind=AggregateSignal.Kind.ARTICLE)
        assert sum(per_article.values()) == expected
        for position, article in enumerate(catalogue):
            readers = sum(position in indexes for indexes in reads.values())
            assert 0 <= per_article[article.pk] <= readers
        # Every kept read counts once for each of its article's two topics.
        assert sum(released(day=day, kind=AggregateSignal.Kind.TOPIC).values()) == 2 * expected
        transaction.set_rollback(True)


def test_the_read_kept_under_the_bound_is_drawn_not_the_days_first(catalogue):
    # Forty readers each read the same two stories, in the same order: kept by arrival, only
    # the first would ever count.
    first, second = catalogue[0], catalogue[1]
    day = days_ago(1)
    for number in range(40):
        read(day=day, pseudonym=f"reader-{number}", articles=[first, second])

    aggregation.aggregate_day(day=day, epsilon=NO_NOISE, contribution_bound=1)

    per_article = released(day=day, kind=AggregateSignal.Kind.ARTICLE)
    assert per_article[first.pk] + per_article[second.pk] == 40
    assert per_article[first.pk] > 0 and per_article[second.pk] > 0


@pytest.mark.parametrize("bound", [1, 2])
def test_reads_in_followed_topics_are_released_under_the_popularity_bound(catalogue, bound):
    day = days_ago(1)
    # Two loyal readers read three stories each in their topics, one strays, and one who
    # follows no topic is in no count of the pair (nothing to be loyal to).
    read(day=day, pseudonym="loyal-1", articles=catalogue[:3], followed=True)
    read(day=day, pseudonym="loyal-2", articles=catalogue[3:], followed=True)
    read(day=day, pseudonym="stray", articles=catalogue[:1], followed=False)
    read(day=day, pseudonym="no-topics", articles=catalogue[1:3], followed=None)

    aggregation.aggregate_day(day=day, epsilon=NO_NOISE, contribution_bound=bound)

    release = FollowedTopicRelease.objects.get(day=day)
    # The same reads as the popularity counts keep: at most L a reader.
    assert (release.in_followed, release.elsewhere) == (2 * bound, 1)
    line = PrivacyBudgetLedger.objects.get(day=day, query=releases.FOLLOWED_TOPIC_QUERY)
    assert line.contribution_bound == bound
    assert line.epsilon == pytest.approx(NO_NOISE * aggregation.FOLLOWED_TOPIC_SHARE)
    assert line.noise_scale == pytest.approx(
        bound / (NO_NOISE * aggregation.FOLLOWED_TOPIC_SHARE), rel=1e-6
    )
    # The flags go with the events they were on: nothing of the day is left to link.
    assert not SignalEvent.objects.filter(day=day).exists()


def test_reads_in_followed_topics_are_released_on_a_day_without_any():
    day = days_ago(1)
    DailySalt.objects.create(day=day, salt=b"s" * 32)

    aggregation.aggregate_day(day=day, epsilon=NO_NOISE)

    # Released like every other count, zeros included: whether anyone read says nothing.
    release = FollowedTopicRelease.objects.get(day=day)
    assert (release.in_followed, release.elsewhere) == (0, 0)


def test_click_through_counts_have_their_own_wider_bound(catalogue):
    day = days_ago(1)
    read(day=day, pseudonym="avid", articles=catalogue[:5], list_type="personal")

    aggregation.aggregate_day(
        day=day, epsilon=NO_NOISE, contribution_bound=1, click_through_bound=20
    )

    assert sum(released(day=day, kind=AggregateSignal.Kind.ARTICLE).values()) == 1
    from_cards = AggregateSignal.objects.get(
        day=day, kind=AggregateSignal.Kind.LIST_TYPE, list_type="personal"
    )
    assert from_cards.noisy_count == 5


def test_released_noise_has_the_scale_the_mechanism_promises():
    """OpenDP draws from the OS's secure generator and cannot be seeded, so the test takes
    20,000 draws: the standard error of either statistic is under 1%, the tolerance 5%."""
    samples = 20_000
    release = aggregation.release_counts(counts=[0] * samples, sensitivity=20, epsilon=0.5)
    assert release.scale == pytest.approx(40.0)
    assert release.epsilon == pytest.approx(0.5)

    # Discrete Laplace with scale s: P(k) is proportional to a^|k|, with a = exp(-1/s).
    a = math.exp(-1 / release.scale)
    expected_mad = 2 * a / (1 - a * a)
    expected_std = math.sqrt(2 * a) / (1 - a)
    noise = release.noisy_counts
    assert statistics.fmean(abs(x) for x in noise) == pytest.approx(expected_mad, rel=0.05)
    assert statistics.pstdev(noise) == pytest.approx(expected_std, rel=0.05)
    assert abs(statistics.fmean(noise)) < 5 * expected_std / math.sqrt(samples)


def gaussian(**kwargs) -> aggregation.Release:
    kwargs.setdefault("counts", [3, 0, 12])
    kwargs.setdefault("sensitivity", 1)
    kwargs.setdefault("epsilon", 1.0)
    return aggregation.release_counts(mechanism="gaussian", delta=1e-6, **kwargs)


def test_gaussian_release_spends_no_more_than_its_budget_as_opendp_accounts_it():
    release = gaussian(counts=list(range(50)), sensitivity=5, max_change=1, epsilon=0.5)
    assert release.mechanism == "discrete Gaussian"
    assert len(release.noisy_counts) == 50
    assert all(type(count) is int for count in release.noisy_counts)
    assert release.epsilon <= 0.5 and release.delta <= 1e-6

    # Rebuilt independently at the reported scale, OpenDP's own map for one reader (5 distinct
    # articles: L2 distance sqrt(5)) stays within (0.5, 1e-6); a 1% smaller scale would not, so
    # the noise is no larger than the budget needs.
    def chain(scale):
        space = dp.vector_domain(dp.atom_domain(T=int)), dp.l2_distance(T=float)
        zcdp = dp.m.make_gaussian(*space, scale=scale)
        return dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(zcdp), 1e-6)

    epsilon, delta = chain(release.scale).map(math.sqrt(5))
    assert epsilon <= 0.5 and delta <= 1e-6
    assert chain(release.scale * 0.99).map(math.sqrt(5))[0] > 0.5


def test_gaussian_noise_pays_for_the_l2_sensitivity_of_distinct_articles():
    # Four distinct articles a reader: L2 distance 2, so twice the noise of one article, where
    # Laplace (L1 distance 4) needs four times as much.
    one = gaussian(sensitivity=1, max_change=1).scale
    four = gaussian(sensitivity=4, max_change=1).scale
    assert four == pytest.approx(2 * one, rel=1e-3)
    laplace = [
        aggregation.release_counts(counts=[1], sensitivity=n, epsilon=1.0).scale for n in (1, 4)
    ]
    assert laplace == pytest.approx([1.0, 4.0])
    # All four reads on one topic's count: the L2 distance is the full 4, no advantage.
    assert gaussian(sensitivity=4).scale == pytest.approx(4 * one, rel=1e-3)


def test_gaussian_scale_shrinks_as_the_budget_grows():
    scales = [gaussian(epsilon=epsilon).scale for epsilon in (0.1, 0.5, 1.0, 4.0)]
    assert scales == sorted(scales, reverse=True)
    assert len(set(scales)) == 4


def test_gaussian_noise_has_the_spread_of_its_scale():
    """20,000 draws: the standard error of the standard deviation is under 1%, the tolerance
    5%; a discrete Gaussian of scale s >> 1 has a standard deviation of s."""
    samples = 20_000
    release = gaussian(counts=[0] * samples, sensitivity=20, max_change=1, epsilon=0.5)
    assert statistics.pstdev(release.noisy_counts) == pytest.approx(release.scale, rel=0.05)
    assert abs(statistics.fmean(release.noisy_counts)) < 5 * release.scale / math.sqrt(samples)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mechanism": "gaussian", "delta": 0.0}, "Gaussian noise needs a delta between 0 and 1"),
        ({"mechanism": "gaussian", "delta": 1.0}, "Gaussian noise needs a delta between 0 and 1"),
        ({"mechanism": "laplace", "delta": 1e-6}, "Laplace noise is pure epsilon-DP"),
        ({"mechanism": "exponential"}, "The mechanism must be one of laplace, gaussian"),
        ({"epsilon": 0.0}, "Epsilon must be a positive number"),
        ({"epsilon": math.inf}, "Epsilon must be a positive number"),
        ({"max_change": 3}, "between 1 and the sensitivity 2"),
    ],
)
def test_a_release_with_impossible_parameters_is_refused(kwargs, message):
    arguments = {"counts": [1, 2], "sensitivity": 2, "epsilon": 1.0} | kwargs
    with pytest.raises(ValueError, match=message):
        aggregation.release_counts(**arguments)


def test_the_ledger_records_the_mechanism_and_a_zero_delta_for_laplace(article):
    read(day=days_ago(1), pseudonym="p1", articles=[article])
    aggregation.aggregate_day(day=days_ago(1), epsilon=1.0)
    entries = PrivacyBudgetLedger.objects.filter(day=days_ago(1))
    assert {(e.mechanism, e.delta) for e in entries} == {("discrete Laplace", 0.0)}


def test_each_query_is_noised_for_its_own_sensitivity_with_its_share_of_the_budget(
    monkeypatch, settings
):
    settings.DP_EPSILON_PER_DAY = 1.0
    settings.DP_CONTRIBUTION_BOUND = 2
    settings.DP_CLICK_THROUGH_CONTRIBUTION_BOUND = 20
    topics = TopicFactory.create_batch(3)
    live_article(topics=topics)
    live_article(topics=topics[:1])
    calls = []
    real_release = aggregation.release_counts

    def spy(**kwargs):
        calls.append((kwargs["sensitivity"], kwargs["epsilon"]))
        return real_release(**kwargs)

    monkeypatch.setattr(aggregation, "release_counts", spy)
    aggregation.aggregate_day(day=days_ago(1))

    # Per article: one reader moves the vector by at most 2; per topic by 2 x 3 topics; the
    # reads in a followed topic and elsewhere by 2 (each kept read is in one of the two); per
    # personalization level by 2 (a reader changing level leaves one, joins one); per purpose
    # by 4 (on or off in each of the four); in the day's consent changes by 8 (once per
    # purpose and direction); per list type by the click-through bound, 20 (each read came
    # from one kind of feed card, or none).
    assert [sensitivity for sensitivity, _ in calls] == [2, 6, 2, 2, 4, 8, 20]
    # Most of the day's budget goes to the per-article counts, the noisiest relative to
    # their size; the large sums make do with a few hundredths or thousandths each.
    assert [epsilon for _, epsilon in calls] == pytest.approx(
        [0.9, 0.05, 0.005, 0.02, 0.01, 0.005, 0.01]
    )
    assert sum(epsilon for _, epsilon in calls) <= 1.0


def test_the_ledger_adds_up_to_the_configured_epsilon_per_day(settings, article):
    settings.DP_EPSILON_PER_DAY = 0.7
    settings.DP_CONTRIBUTION_BOUND = 3
    settings.DP_CLICK_THROUGH_CONTRIBUTION_BOUND = 12
    day = days_ago(1)
    read(day=day, pseudonym="p1", articles=[article])

    result = aggregation.aggregate_day(day=day)

    entries = PrivacyBudgetLedger.objects.filter(day=day)
    assert sorted(entries.values_list("query", flat=True)) == [
        "consent_changes",
        "readers_per_level",
        "readers_per_purpose",
        "reads_in_followed_topics",
        "reads_per_article",
        "reads_per_list_type",
        "reads_per_topic",
    ]
    total = sum(entry.epsilon for entry in entries)
    assert total == pytest.approx(0.7) and total <= 0.7
    assert result.epsilon_spent == pytest.approx(total)
    for entry in entries:
        assert entry.delta == 0
        assert entry.mechanism == "discrete Laplace"
    assert dict(entries.values_list("query", "contribution_bound")) == {
        "reads_per_article": 3,
        "reads_per_topic": 3,
        "reads_per_list_type": 12,
        "reads_in_followed_topics": 3,
        "readers_per_level": 1,
        "readers_per_purpose": 1,
        "consent_changes": 1,
    }
    # Each line keeps its noise scale, sensitivity / epsilon, for the editors' dashboard: the
    # one article has one topic, so topic counts move by 3 too.
    assert dict(entries.values_list("query", "noise_scale")) == pytest.approx(
        {
            "reads_per_article": 3 / (0.9 * 0.7),
            "reads_per_topic": 3 / (0.05 * 0.7),
            "reads_per_list_type": 12 / (0.01 * 0.7),
            "reads_in_followed_topics": 3 / (0.005 * 0.7),
            "readers_per_level": 2 / (0.02 * 0.7),
            "readers_per_purpose": 4 / (0.01 * 0.7),
            "consent_changes": 8 / (0.005 * 0.7),
        },
        rel=1e-6,
    )


def test_the_noise_variance_of_a_scale_is_what_released_counts_spread_by():
    # OpenDP noise cannot be seeded: the spread of 20,000 counts, not their values.
    release = aggregation.release_counts(counts=[0] * 20_000, sensitivity=1, epsilon=0.5)
    expected = releases.noise_variance(mechanism=release.mechanism, scale=release.scale)
    # Discrete Laplace at scale 2: 2e^(-1/2) / (1 - e^(-1/2))^2 = 7.835, just under 2 x 2^2.
    assert expected == pytest.approx(7.835, abs=1e-3)
    assert statistics.pvariance(release.noisy_counts) == pytest.approx(expected, rel=0.1)
    with pytest.raises(ValueError, match="No known noise variance"):
        releases.noise_variance(mechanism="coin flips", scale=1.0)


def test_raw_events_and_the_salt_are_gone_after_aggregation(article):
    day, today = days_ago(1), timezone.localdate()
    DailySalt.objects.create(day=day, salt=b"s" * 32)
    DailySalt.objects.create(day=today, salt=b"t" * 32)
    read(day=day, pseudonym="p1", articles=[article])
    read(day=today, pseudonym="q1", articles=[article])

    aggregation.aggregate_day(day=day)

    assert not SignalEvent.objects.filter(day=day).exists()
    assert not DailySalt.objects.filter(day=day).exists()
    # Today is still open: its reads and salt are untouched.
    assert SignalEvent.objects.filter(day=today).count() == 1
    assert DailySalt.objects.filter(day=today).exists()


def test_re_running_a_day_changes_nothing(article):
    day = days_ago(1)
    read(day=day, pseudonym="p1", articles=[article])
    first = aggregation.aggregate_day(day=day)
    counts = released(day=day, kind=AggregateSignal.Kind.ARTICLE)
    ledger = list(PrivacyBudgetLedger.objects.values_list("pk", "epsilon"))

    again = aggregation.aggregate_day(day=day)

    assert not first.already_done and again.already_done
    assert released(day=day, kind=AggregateSignal.Kind.ARTICLE) == counts
    assert list(PrivacyBudgetLedger.objects.values_list("pk", "epsilon")) == ledger


def test_a_failed_run_writes_nothing_and_keeps_the_raw_events(monkeypatch, article):
    day = days_ago(1)
    DailySalt.objects.create(day=day, salt=b"s" * 32)
    read(day=day, pseudonym="p1", articles=[article])
    real_release = aggregation.release_counts
    calls = []

    def fail_on_the_second_release(**kwargs):
        # The per-article counts are already counted and noised when this fails.
        calls.append(kwargs)
        if len(calls) == 2:
            raise RuntimeError("noise source unavailable")
        return real_release(**kwargs)

    monkeypatch.setattr(aggregation, "release_counts", fail_on_the_second_release)
    with pytest.raises(RuntimeError, match="noise source unavailable"):
        aggregation.aggregate_day(day=day)

    assert not AggregateSignal.objects.exists()
    assert not PrivacyBudgetLedger.objects.exists()
    assert SignalEvent.objects.filter(day=day).count() == 1
    assert DailySalt.objects.filter(day=day).exists()

    # The next run picks the day up as if nothing had happened.
    monkeypatch.setattr(aggregation, "release_counts", real_release)
    assert not aggregation.aggregate_day(day=day).already_done
    assert not SignalEvent.objects.exists()


def test_articles_and_topics_nobody_read_are_released_too():
    read_topic, quiet_topic = TopicFactory(), TopicFactory()
    popular = live_article(topics=[read_topic])
    unread = live_article(topics=[quiet_topic])
    draft = ArticleFactory(status=Article.Status.DRAFT, published_at=None)
    day = days_ago(1)
    next_day = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    published_later = live_article(published_at=next_day + timedelta(minutes=1))
    read(day=day, pseudonym="p1", articles=[popular])
    read(day=day, pseudonym="p2", articles=[popular])

    aggregation.aggregate_day(day=day, epsilon=NO_NOISE)

    # The list of counts comes from the public catalogue of that day, never from the reads.
    per_article = released(day=day, kind=AggregateSignal.Kind.ARTICLE)
    assert per_article == {popular.pk: 2, unread.pk: 0}
    assert draft.pk not in per_article and published_later.pk not in per_article
    assert released(day=day, kind=AggregateSignal.Kind.TOPIC) == {
        read_topic.pk: 2,
        quiet_topic.pk: 0,
    }


@pytest.mark.parametrize("offset", [0, -1])
def test_a_day_that_is_not_over_is_refused(article, offset):
    day = days_ago(offset)
    read(day=day, pseudonym="p1", articles=[article])

    with pytest.raises(ValueError, match="is not over yet"):
        aggregation.aggregate_day(day=day)

    assert SignalEvent.objects.count() == 1
    assert not PrivacyBudgetLedger.objects.exists()


def test_pending_days_are_caught_up_oldest_first(article):
    two_days_ago, three_days_ago, today = days_ago(2), days_ago(3), timezone.localdate()
    read(day=two_days_ago, pseudonym="p1", articles=[article])
    # A salt without reads: the day still gets its (all-noise) release, then the salt goes.
    DailySalt.objects.create(day=three_days_ago, salt=b"s" * 32)
    read(day=today, pseudonym="q1", articles=[article])

    results = aggregation.aggregate_pending()

    assert [result.day for result in results] == [three_days_ago, two_days_ago]
    assert set(PrivacyBudgetLedger.objects.values_list("day", flat=True)) == {
        three_days_ago,
        two_days_ago,
    }
    assert list(SignalEvent.objects.values_list("day", flat=True)) == [today]
    assert not DailySalt.objects.exists()
    assert aggregation.aggregate_pending() == []


def test_the_nightly_task_releases_pending_days(article, settings):
    read(day=days_ago(1), pseudonym="p1", articles=[article])

    assert aggregate_pending.delay().get() == 1

    assert PrivacyBudgetLedger.objects.filter(day=days_ago(1)).count() == 7
    beat = settings.CELERY_BEAT_SCHEDULE["aggregate-popularity-signals"]
    assert beat["task"] == "privacy.tasks.aggregate_pending"


def test_the_command_aggregates_one_day_and_says_so(article):
    day = days_ago(1)
    read(day=day, pseudonym="p1", articles=[article])
    out = StringIO()

    call_command("aggregate_signals", "--day", day.isoformat(), stdout=out)
    call_command("aggregate_signals", "--day", day.isoformat(), stdout=out)

    first, second = out.getvalue().splitlines()
    assert first.startswith(f"{day.isoformat()}: released 1 per-article and 1 per-topic counts")
    assert second == f"{day.isoformat()}: already released, nothing changed."


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("21/11/2026", "must be a date as YYYY-MM-DD"),
        ("2026-02-30", "must be a date as YYYY-MM-DD"),
    ],
)
def test_the_command_refuses_a_bad_day(article, value, message):
    read(day=days_ago(1), pseudonym="p1", articles=[article])

    with pytest.raises(CommandError, match=message):
        call_command("aggregate_signals", "--day", value, stdout=StringIO())

    assert SignalEvent.objects.count() == 1


def test_the_command_refuses_a_day_with_nothing_to_release(article):
    read(day=days_ago(1), pseudonym="p1", articles=[article])

    with pytest.raises(CommandError, match="would publish noise alone"):
        call_command("aggregate_signals", "--day", days_ago(400).isoformat(), stdout=StringIO())

    assert not PrivacyBudgetLedger.objects.exists()
    assert SignalEvent.objects.count() == 1


def test_the_command_refuses_today():
    with pytest.raises(CommandError, match="is not over yet"):
        call_command("aggregate_signals", "--day", timezone.localdate().isoformat())


def test_small_counts_are_shown_as_below_the_threshold(settings):
    settings.DP_SUPPRESSION_THRESHOLD = 10
    assert display_count(3, 10) == "<10"
    assert display_count(-4, 10) == "<10"
    assert display_count(10, 10) == "10"
    assert display_count(9) == "<10"
    assert display_count(250) == "250"


def test_reads_from_feed_cards_are_released_per_list_type(catalogue):
    day = days_ago(1)
    read(day=day, pseudonym="p1", articles=catalogue[:3], list_type="personal")
    read(day=day, pseudonym="p2", articles=catalogue[:1], list_type="editorial")
    read(day=day, pseudonym="p2", articles=catalogue[1:2], list_type="editorial")
    # Opened from a topic page or a link: counted per article, not per list type.
    read(day=day, pseudonym="p3", articles=catalogue[:2])

    aggregation.aggregate_day(
        day=day, epsilon=NO_NOISE, contribution_bound=2, click_through_bound=2
    )

    rows = AggregateSignal.objects.filter(day=day, kind=AggregateSignal.Kind.LIST_TYPE)
    # One of p1's three reads is past the bound of 2, in this query as in the others.
    # Every list type is released, the holdout's too (0 while it is off): the shape of a
    # release says nothing.
    assert dict(rows.values_list("list_type", "noisy_count")) == {
        "personal": 2,
        "editorial": 2,
        "holdout": 0,
    }
    assert sum(released(day=day, kind=AggregateSignal.Kind.ARTICLE).values()) == 6


# --- Readers per personalization level ----------------------------------------------------


def readers_at(*levels: str) -> None:
    for level in levels:
        reader_choices(ReaderFactory(), level=level)


def test_readers_per_level_are_released_with_yesterdays_counts(article):
    readers_at("off", "topics", "topics", "topics_history", "device")
    reader_choices(EditorFactory(), level="topics")  # staff are not readers
    read(day=days_ago(1), pseudonym="p1", articles=[article])

    result = aggregation.aggregate_day(day=days_ago(1), epsilon=NO_NOISE)

    assert result.levels_released == 4
    released_levels = dict(
        LevelCountRelease.objects.filter(day=days_ago(1)).values_list("level", "noisy_count")
    )
    assert released_levels == {"off": 1, "topics": 2, "topics_history": 1, "device": 1}
    line = PrivacyBudgetLedger.objects.get(day=days_ago(1), query=releases.LEVEL_QUERY)
    assert (line.mechanism, line.delta, line.contribution_bound) == ("discrete Laplace", 0.0, 1)
    assert line.epsilon == pytest.approx(NO_NOISE * aggregation.LEVEL_SHARE)
    assert line.noise_scale == pytest.approx(2 / (NO_NOISE * aggregation.LEVEL_SHARE), rel=1e-6)


def test_level_counts_are_noised_through_opendp_not_released_exactly(settings, article):
    settings.DP_EPSILON_PER_DAY = 1.0
    readers_at(*["topics"] * 30)
    read(day=days_ago(1), pseudonym="p1", articles=[article])

    aggregation.aggregate_day(day=days_ago(1))

    # At epsilon 0.02 and sensitivity 2 the noise scale is 100: an exact 30 would be a miracle
    # (P = (1 - e^-0.01) / (1 + e^-0.01), about 0.5%); the ledger says how far it moves.
    line = PrivacyBudgetLedger.objects.get(day=days_ago(1), query=releases.LEVEL_QUERY)
    assert line.noise_scale == pytest.approx(100, rel=1e-6)
    assert set(LevelCountRelease.objects.values_list("level", flat=True)) == {
        "off",
        "topics",
        "topics_history",
        "device",
    }


def test_running_the_nightly_task_twice_releases_the_levels_once(article):
    readers_at("topics", "topics_history")
    read(day=days_ago(1), pseudonym="p1", articles=[article])

    assert aggregate_pending.delay().get() == 1
    first = list(LevelCountRelease.objects.values_list("pk", "level", "noisy_count"))
    assert aggregate_pending.delay().get() == 0
    aggregation.aggregate_day(day=days_ago(1))  # and by hand: already released

    assert list(LevelCountRelease.objects.values_list("pk", "level", "noisy_count")) == first
    assert PrivacyBudgetLedger.objects.filter(query=releases.LEVEL_QUERY).count() == 1


def test_a_catch_up_releases_the_level_snapshot_once_with_the_day_just_closed(article):
    readers_at("topics")
    for days in (3, 2, 1):
        read(day=days_ago(days), pseudonym="p1", articles=[article])

    aggregation.aggregate_pending()

    # A snapshot of now describes the day just closed, not the days before it.
    assert set(LevelCountRelease.objects.values_list("day", flat=True)) == {days_ago(1)}
    assert list(
        PrivacyBudgetLedger.objects.filter(query=releases.LEVEL_QUERY).values_list("day", flat=True)
    ) == [days_ago(1)]


def test_no_day_spends_more_than_the_daily_epsilon(settings, article):
    settings.DP_EPSILON_PER_DAY = 0.8
    readers_at("off", "topics")
    for days in (3, 2, 1):
        read(day=days_ago(days), pseudonym="p1", articles=[article])

    aggregation.aggregate_pending()

    spent = {
        row["day"]: row["total"]
        for row in PrivacyBudgetLedger.objects.values("day").annotate(total=Sum("epsilon"))
    }
    assert set(spent) == {days_ago(3), days_ago(2), days_ago(1)}
    # Every day spends its whole budget and no more: without the level snapshot, the list
    # types have its share (0.01 + 0.02). The opt-in counts are read from the receipts, so
    # every day has them.
    assert all(total <= 0.8 and total == pytest.approx(0.8) for total in spent.values()), spent
    assert PrivacyBudgetLedger.objects.get(
        day=days_ago(2), query="reads_per_list_type"
    ).epsilon == pytest.approx(0.8 * 0.03)
    assert PrivacyBudgetLedger.objects.filter(query="readers_per_purpose").count() == 3


def test_privacy_reads_the_level_counts_only_through_what_accounts_registered():
    # The layering (news < privacy < accounts): privacy imports no accounts module.
    import inspect

    for module in (aggregation, releases):
        lines = [line.strip() for line in inspect.getsource(module).splitlines()]
        assert not [line for line in lines if line.startswith(("from accounts", "import accounts"))]
    from accounts.selectors import personalization_level_counts

    assert aggregation._level_counts_source == [personalization_level_counts]
