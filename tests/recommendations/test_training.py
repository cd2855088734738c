"""Training learns from article content and DP aggregates only, and records what it used."""

import ast
import re
import stat
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from news.models import Article
from privacy.browser_signals import NO_SIGNALS
from privacy.models import (
    FollowedTopicRelease,
    PrivacyBudgetLedger,
    ReadingHistoryEntry,
    SignalEvent,
)
from privacy.releases import FOLLOWED_TOPIC_QUERY, noise_variance
from recommendations import training
from recommendations.models import ModelVersion
from recommendations.services import model_retrain
from recommendations.weights import POPULARITY_AND_FRESHNESS, POPULARITY_AND_FRESHNESS_TOTALS
from tests.conftest import models_relating_to_user
from tests.factories import reader_choices

from .conftest import release_counts

pytestmark = pytest.mark.django_db

APP = Path(training.__file__).resolve().parent
# The modules that build a model: none of them may even name a reader's data.
TRAINING_MODULES = ("training.py", "vectors.py", "artifacts.py")
ALLOWED_PRIVACY_NAMES = {
    "AggregateSignal",
    "PrivacyBudgetLedger",
    "LocalReportRelease",
    "FollowedTopicRelease",
}


def _imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) for every import in a file; name is '' for `import module`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = ("." * node.level) + (node.module or "")
            found += [(module, alias.name) for alias in node.names]
    return found


@pytest.mark.parametrize("module", TRAINING_MODULES)
def test_training_code_imports_no_per_user_model(module):
    for imported, name in _imports(APP / module):
        assert not imported.startswith(("accounts", "django.contrib.auth")), (module, imported)
        # The aggregation reads raw signal events; the public description of its releases
        # (privacy.releases) is all training may know of it.
        assert imported not in {
            "privacy.selectors",
            "privacy.services",
            "privacy.crypto",
            "privacy.aggregation",
        }
        if imported == "privacy.models":
            assert name in ALLOWED_PRIVACY_NAMES, f"{module} imports privacy.models.{name}"
        assert imported not in {"privacy", "recommendations.selectors"}, (module, imported)
    source = (APP / "training.py").read_text()
    assert "history_for_user" not in source and "get_user_model" not in source


def test_training_reads_only_article_content_and_dp_aggregates(newsroom, reader, record_read):
    # Real personal data in the database: an encrypted history and a signal event.
    reader_choices(reader, counting=True)
    record_read(user=reader, article=newsroom.stories["space"][0], signals=NO_SIGNALS)
    assert ReadingHistoryEntry.objects.exists() and SignalEvent.objects.exists()
    release_counts(
        day=timezone.localdate() - timedelta(days=1), counts={newsroom.stories["food"][0]: 40}
    )

    with CaptureQueriesContext(connection) as queries:
        training.build_model(version=1, now=timezone.now())

    personal = {m._meta.db_table for m in models_relating_to_user()}
    personal |= {"privacy_signalevent", "privacy_dailysalt", "privacy_userdatakey"}
    touched = {
        table
        for query in queries.captured_queries
        for table in re.findall(r'(?:FROM|JOIN)\s+"?(\w+)"?', query["sql"])
    }
    allowed = {
        "news_article",
        "news_article_topics",
        "privacy_aggregatesignal",
        "privacy_privacybudgetledger",
        "privacy_localreportrelease",
        "privacy_followedtopicrelease",
        "privacy_federatedrelease",
    }
    assert touched and touched <= allowed, touched
    assert not touched & personal


def test_popularity_prior_favours_recent_dp_counts(newsroom):
    fresh, stale, unread = (newsroom.stories["sport"][i] for i in range(3))
    today = timezone.localdate()
    release_counts(day=today - timedelta(days=1), counts={fresh: 30, stale: 0, unread: -3})
    release_counts(day=today - timedelta(days=9), counts={fresh: 0, stale: 30, unread: 0})

    model = training.build_model(version=1, now=timezone.now()).model
    popularity = dict(zip(model.article_ids.tolist(), model.popularity.tolist(), strict=True))
    assert popularity[fresh.pk] > popularity[stale.pk] > popularity[unread.pk] == 0.0
    assert max(popularity.values()) == pytest.approx(1.0)


def test_a_version_records_what_it_learned_from(newsroom):
    # Live before the released days, so the last day can be held out to tune the blend.
    Article.objects.update(published_at=timezone.now() - timedelta(days=4))
    today = timezone.localdate()
    release_counts(day=today - timedelta(days=1), counts={newsroom.stories["space"][0]: 12})
    release_counts(day=today - timedelta(days=2), counts={newsroom.stories["space"][1]: 7})

    result = model_retrain()

    version = ModelVersion.objects.get(version=result.version)
    assert version.status == ModelVersion.Status.READY
    assert version.article_count == 9
    assert version.aggregate_days == 2
    assert version.epsilon == pytest.approx(1.0)
    assert {
        "topic_agreement",
        "dimensions",
        "dimensions_setting",
        "vocabulary",
        "holdout_ndcg@10",
        "holdout_popularity_and_freshness",
    } <= set(version.metrics)
    artifact = Path(settings.RECOMMENDER_ARTIFACT_DIR) / version.artifact_name
    assert artifact.is_file()
    # Private storage: readable by the site's own user only, and outside anything served.
    assert stat.S_IMODE(artifact.stat().st_mode) == 0o600
    assert not str(artifact).startswith(str(settings.STATIC_ROOT))


def test_stories_of_one_topic_read_alike(newsroom):
    model = training.build_model(version=1, now=timezone.now()).model
    rows = model.rows_for(np.array([a.pk for a in newsroom.all()]))
    vectors = model.vectors[rows]
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -1)
    names = [name for name, items in newsroom.stories.items() for _ in items]
    nearest = [names[i] for i in similarity.argmax(axis=1)]
    assert sum(a == b for a, b in zip(names, nearest, strict=True)) >= 8
    assert model.metadata["metrics"]["topic_agreement"] >= 0.8


def test_topics_whose_dp_counts_move_together_are_related(newsroom):
    from privacy.models import AggregateSignal

    today = timezone.localdate()
    space, food, sport = (newsroom.topics[n] for n in ("space", "food", "sport"))
    daily = {space: [5, 40, 8, 35, 6], food: [6, 42, 9, 33, 5], sport: [30, 4, 28, 7, 31]}
    AggregateSignal.objects.bulk_create(
        AggregateSignal(
            day=today - timedelta(days=1 + i), kind="topic", topic=topic, noisy_count=count
        )
        for topic, counts in daily.items()
        for i, count in enumerate(counts)
    )
    model = training.build_model(version=1, now=timezone.now()).model
    rows = model.topic_rows()
    affinity = model.topic_affinity
    assert affinity[rows[space.pk], rows[food.pk]] > affinity[rows[space.pk], rows[sport.pk]]


def test_training_reads_each_days_topic_noise_from_the_ledger(newsroom, settings):
    from privacy.aggregation import aggregate_day

    settings.DP_EPSILON_PER_DAY, settings.DP_CONTRIBUTION_BOUND = 1.0, 1
    day = timezone.localdate() - timedelta(days=1)
    aggregate_day(day=day)

    aggregates = training.aggregates_load(now=timezone.now())
    # One topic a story: topic counts of scale 1 / (0.05 x 1) = 20, variance
    # 2e^(-1/20) / (1 - e^(-1/20))^2 = 799.8.
    assert aggregates.topic_noise == {day: pytest.approx(799.83, abs=0.01)}


def test_training_reads_each_days_spread_of_article_counts_with_them(newsroom):
    today = timezone.localdate()
    stories = [s for group in newsroom.stories.values() for s in group]
    busy, quiet = today - timedelta(days=2), today - timedelta(days=1)
    release_counts(
        day=busy, counts={s: 40 * (i % 2) for i, s in enumerate(stories)}, noise_scale=1.0
    )
    release_counts(day=quiet, counts={s: (-1) ** i for i, s in enumerate(stories)}, noise_scale=1.0)

    aggregates = training.aggregates_load(now=timezone.now())
    # Gathered while the rows load, the same as worked out from the counts afterwards: how
    # far a day weighs in popularity costs training no other pass over them.
    assert aggregates.article_spread == training.article_spread(aggregates.article_days)
    assert set(aggregates.article_spread) == {busy, quiet}
    # Half the stories read by 40 readers stand far clear of noise of scale 1; counts of
    # 1 and -1 spread no more than the noise (variance 2e/(e-1)^2 = 1.84).
    assert training.day_reliability(aggregates, before=today) == {busy: 1.0, quiet: 0.0}


def test_a_story_is_popular_only_where_its_counts_stand_clear_of_their_noise(settings):
    settings.RECOMMENDER_POPULARITY_HALF_LIFE_DAYS = 2.0
    reference = date(2026, 11, 27)
    days = [reference - timedelta(days=2), reference - timedelta(days=1)]
    aggregates = training.Aggregates(
        article_days={
            1: dict(zip(days, [20, 30], strict=True)),  # read every day
            2: dict(zip(days, [4, 3], strict=True)),  # within the noise
            3: dict(zip(days, [-5, 2], strict=True)),  # noise around nothing
            4: {days[0]: 5},  # released before the ledger kept its noise
        },
        topic_days={},
        days=days,
        epsilon=2.0,
        article_noise={days[1]: 8.0},
    )
    clear = training.popular_beyond_noise(
        article_ids=np.array([1, 2, 3, 4, 5]), aggregates=aggregates, reference=reference
    )
    # Story 2: 4/2 + 3/sqrt(2) = 4.1 against 2 x sqrt(8 / 2) = 4; story 3's unclipped sum is
    # negative; story 4's day has no known noise, story 5 was never released.
    assert clear.tolist() == [True, True, False, True, False]
    aggregates.article_noise[days[1]] = 9.0  # 2 x sqrt(9 / 2) = 4.24: story 2 drops out
    clear = training.popular_beyond_noise(
        article_ids=np.array([1, 2]), aggregates=aggregates, reference=reference
    )
    assert clear.tolist() == [True, False]


def test_a_version_trained_before_popularity_was_checked_against_noise_still_serves(newsroom):
    model = training.build_model(version=1, now=timezone.now()).model
    del model.popular_clear  # as a version pickled before the field existed
    rows = np.array([0, -1, 1])
    assert model.popular_rows(rows).tolist() == [True, False, True]


def test_topic_counts_that_move_no_more_than_their_noise_relate_topics_by_content_alone():
    days = [date(2026, 11, 20) + timedelta(days=i) for i in range(6)]
    centroids = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]], np.float32)
    content = np.clip(centroids @ centroids.T, 0, 1)
    # Topics 0 and 1 rise and fall together, topic 2 against them.
    counts = {0: [5, 40, 8, 35, 6, 38], 1: [6, 42, 9, 33, 5, 41], 2: [30, 4, 28, 7, 31, 5]}

    def affinity(noise_variance: float) -> np.ndarray:
        aggregates = training.Aggregates(
            article_days={},
            topic_days={t: dict(zip(days, c, strict=True)) for t, c in counts.items()},
            days=days,
            epsilon=6.0,
            topic_noise=dict.fromkeys(days, noise_variance),
        )
        return training.topic_affinity(
            topic_ids=np.arange(3), centroids=centroids, aggregates=aggregates
        )

    # Small noise (variance 2, against a spread of 150-266 over the days): co-movement counts.
    clear = affinity(2.0)
    assert clear[0, 1] > content[0, 1] + 0.15 and clear[0, 2] < content[0, 2] + 0.01
    # Noise larger than the whole spread: the same numbers say nothing, content decides.
    drowned = affinity(400.0)
    assert drowned == pytest.approx(np.where(np.eye(3) > 0, 1.0, content), abs=1e-6)


def test_nothing_published_means_a_failed_run_not_a_model(db):
    result = model_retrain()
    assert result.status == ModelVersion.Status.FAILED
    assert "no published article" in ModelVersion.objects.get().error


def _two_topics(held_out_counts: dict[int, int], *, hit_prior: float = 1.0, **options) -> dict:
    """Four stories: 0 and 1 in a topic with 80% of the reads the day before, 2 and 3 in one
    with 20%. Story 0 was that day's hit (prior `hit_prior`, the others 0) but reads little
    like its topic (closeness 0.25 to the centroid), story 1 reads just like it (1.0), and so
    do 2 and 3 like theirs. All as fresh."""
    before, held_out = date(2026, 11, 25), date(2026, 11, 26)
    aggregates = training.Aggregates(
        article_days={
            row: {before: count, held_out: held_out_counts.get(row, 0)}
            for row, count in enumerate([6, 2, 1, 1])
        },
        topic_days={},
        days=[before, held_out],
        epsilon=2.0,
    )
    return {
        "article_ids": np.arange(4),
        "groups": np.array([0, 0, 1, 1]),
        "vectors": np.array([[0.25, 0], [1, 0], [0, 1], [0, 1]], np.float32),
        "centroids": np.eye(2, dtype=np.float32),
        "live": np.arange(4),
        "prior": np.array([hit_prior, 0.0, 0.0, 0.0]),
        "fresh": np.full(4, 0.5),
        "aggregates": aggregates,
        "held_out": held_out,
        **options,
    }


def _chosen(*days: dict) -> tuple[dict, dict]:
    return training.blend_choose([training.blend_scores(**day) if day else {} for day in days])


def test_training_weighs_popularity_more_when_the_held_out_day_follows_it():
    # The hit was read again, by far the day's most read story. Each topic's stand-in reader
    # reads anyone's story half the time: for the second topic's reader, story 0 (popularity
    # 1, not their topic) must outrank their own stories (1 + 0.8): popularity over 1.8.
    # Freshness ties every story, so the split stays at half: 4 in all, 2 each.
    weights, metrics = _chosen(_two_topics({0: 9, 1: 1}))
    assert (weights["popularity"], weights["freshness"]) == (2.0, 2.0)
    assert metrics["holdout_popularity_and_freshness"] == 4.0
    assert metrics["holdout_ndcg@10"] > metrics["holdout_ndcg@10_freshness_only"]
    assert (weights["topic"], weights["content"]) == (1.0, 0.8)


def test_training_keeps_the_default_blend_when_the_held_out_day_follows_content():
    # The story that reads like its topic was read most: the usual 0.3 + 0.3 ranks the day
    # as well as any blend, and a ranking no better does not move the weights.
    weights, metrics = _chosen(_two_topics({0: 1, 1: 9, 2: 2}))
    assert (weights["popularity"], weights["freshness"]) == (0.3, 0.3)
    assert metrics["holdout_popularity_and_freshness"] == 0.6


def test_training_judges_the_weight_on_several_days_so_one_odd_day_does_not_decide():
    hit, odd = _two_topics({0: 9, 1: 1}), _two_topics({0: 1, 1: 9, 2: 2})
    weights, metrics = _chosen(hit, odd, hit)
    assert (weights["popularity"], weights["freshness"]) == (2.0, 2.0)
    assert metrics["holdout_days"] == 3
    # Two odd days out of three keep the usual total; a day that cannot judge is not counted.
    weights, metrics = _chosen(odd, {}, odd, hit)
    assert (weights["popularity"], weights["freshness"]) == (0.3, 0.3)
    assert metrics["holdout_days"] == 3


def test_popularity_weighs_more_when_the_days_reads_leave_their_topics():
    # The same hit, the same prior. On one day the second topic's stories were read (its
    # readers stayed in their topic); on the other nobody read them and the hit took those
    # reads: the second topic's reader is then best served by the hit, over their own.
    within, _ = _chosen(_two_topics({0: 9, 1: 1, 2: 3}))
    spread, _ = _chosen(_two_topics({0: 12, 1: 1}))
    assert within["popularity"] == 0.75
    assert spread["popularity"] == 2.0


def test_readers_who_stay_in_their_topic_want_less_popularity():
    # Read as if a topic's readers read only its stories (the criterion before 2026-12-02),
    # the same day asks only that the hit outrank its own topic's story (popularity over
    # 0.6): 1.5 in all.
    loyal, _ = _chosen(_two_topics({0: 9, 1: 1}, own_share=1.0))
    mixed, _ = _chosen(_two_topics({0: 9, 1: 1}))
    assert loyal["popularity"] == 0.75 < mixed["popularity"]


def test_the_weight_grid_reaches_far_over_topic_and_content_but_no_further():
    totals = POPULARITY_AND_FRESHNESS_TOTALS
    assert min(totals) == 0.5 and max(totals) == 12.0 and POPULARITY_AND_FRESHNESS in totals
    assert list(totals) == sorted(totals)
    # A hit whose popularity is only 0.2 of the scale: to outrank the second topic's own
    # stories (1.8) popularity must weigh over 9, so all of the grid's top goes to it.
    weights, metrics = _chosen(_two_topics({0: 12, 1: 1}, hit_prior=0.2))
    assert (weights["popularity"], weights["freshness"]) == (12.0, 0.0)
    assert metrics["holdout_popularity_and_freshness"] == max(totals)


def test_the_tuning_is_deterministic():
    days = [_two_topics({0: 9, 1: 1}), _two_topics({0: 1, 1: 9, 2: 2})]
    first = [training.blend_scores(**day) for day in days]
    again = [training.blend_scores(**day) for day in days]
    assert first == again
    assert training.blend_choose(first) == training.blend_choose(again)


def test_noise_on_the_held_out_day_does_not_pass_for_reads():
    # A day whose noise sums to nothing read judges nothing; noise on unread stories is
    # counted as it was released (negative too), so it lifts no blend on average.
    assert training.blend_scores(**_two_topics({0: -2, 2: 1, 3: 1})) == {}
    noisy, _ = _chosen(_two_topics({0: 9, 1: 1, 2: -1, 3: 1}))
    assert noisy["popularity"] == 2.0


def test_popularity_is_what_stands_clear_of_the_noise(settings):
    settings.RECOMMENDER_POPULARITY_HALF_LIFE_DAYS = 2.0
    reference = date(2026, 11, 27)
    day = reference - timedelta(days=2)  # decay weight 0.5
    aggregates = training.Aggregates(
        article_days={1: {day: 60}, 2: {day: 20}, 3: {day: 6}, 4: {day: -4}},
        topic_days={},
        days=[day],
        epsilon=1.0,
        article_noise={day: 16.0},  # 0.5^2 x 16: a standard deviation of 2 after decay
    )
    prior = training.popularity_prior(
        article_ids=np.array([1, 2, 3, 4]), aggregates=aggregates, reference=reference
    )
    # 30, 10 and 3 decayed, less 2 x 2: 26 and 6 stand clear, 3 does not, nor does noise.
    assert prior[0] == pytest.approx(1.0)
    assert prior[1] == pytest.approx(np.log1p(6) / np.log1p(26))
    assert prior[2] == prior[3] == 0.0


def _two_released_days(newest: dict[int, int], *, noise: float | None = 2.5):
    # 20 stories; the older day's reads stand far clear of the noise (one story in ten read
    # by 28-30 readers), the newest day's are what the caller says.
    older, newest_day = date(2026, 11, 24), date(2026, 11, 26)
    stories = range(1, 21)
    older_counts = {1: 30, 2: 28}
    return training.Aggregates(
        article_days={
            story: {older: older_counts.get(story, 0), newest_day: newest.get(story, 0)}
            for story in stories
        },
        topic_days={},
        days=[older, newest_day],
        epsilon=2.0,
        article_noise={} if noise is None else {older: noise, newest_day: noise},
    )


def test_a_day_of_a_few_reads_lost_in_its_noise_does_not_reorder_popularity(settings):
    settings.RECOMMENDER_POPULARITY_HALF_LIFE_DAYS = 2.0
    reference = date(2026, 11, 27)
    # The newest day spreads no more than its noise (variance 2.5): nothing but noise, which
    # at its full decay weight would lift story 2 over story 1, read by more.
    aggregates = _two_released_days({1: -3, 2: 3, 3: 1, 4: -1, 5: 2, 6: -2})
    assert training.day_reliability(aggregates, before=reference) == {
        date(2026, 11, 24): 1.0,
        date(2026, 11, 26): 0.0,
    }
    prior = training.popularity_prior(
        article_ids=np.arange(1, 21), aggregates=aggregates, reference=reference
    )
    assert prior[0] == 1.0 and 0 < prior[1] < prior[0]
    assert not prior[2:].any()


def test_every_day_counts_fully_where_the_counts_are_exact_or_clear_of_the_noise(settings):
    settings.RECOMMENDER_POPULARITY_HALF_LIFE_DAYS = 2.0
    reference = date(2026, 11, 27)
    exact = _two_released_days({1: -3, 2: 3}, noise=None)
    assert training.day_reliability(exact, before=reference) == {}
    counts, _ = training.decayed_with_noise(
        article_ids=np.array([1, 2]), aggregates=exact, reference=reference
    )
    assert counts.tolist() == pytest.approx([30 / 2**1.5 - 3 / 2**0.5, 28 / 2**1.5 + 3 / 2**0.5])
    # A newest day as busy as the older one weighs as much against its noise.
    busy = _two_released_days({1: 28, 2: 30})
    reliability = training.day_reliability(busy, before=reference)
    assert reliability == pytest.approx({date(2026, 11, 24): 1.0, date(2026, 11, 26): 1.0})


def test_a_quiet_day_lost_in_its_noise_does_not_judge_the_weight():
    day = _two_topics({0: 9, 1: 1})
    noise = day["aggregates"].article_noise
    # 10 reads over 4 stories; noise of variance 16 sums to a standard deviation of 8 over
    # them, 2 x 8 = 16 reads could be noise alone: the day cannot tell one blend from another.
    noise[day["held_out"]] = 16.0
    assert training.blend_scores(**day) == {}
    noise[day["held_out"]] = 4.0  # 2 x 4 = 8 < 10: it can
    assert training.blend_scores(**day)


def test_training_judges_on_the_newest_days_that_can_and_looks_back_no_further_than_a_week():
    days = [date(2026, 11, 1) + timedelta(days=n) for n in range(10)]
    tried = []

    def all_but_the_newest(day):
        tried.append(day)
        return {(0.6, 0.5): 1.0} if day != days[-1] else {}

    # Five days judge: three still picked a weight by the noise one draw in eight.
    assert len(training.judging_days(days, all_but_the_newest)) == training.HELD_OUT_DAYS == 5
    assert [d.day for d in tried] == [10, 9, 8, 7, 6, 5]
    tried.clear()
    assert training.judging_days(days, lambda day: tried.append(day) or {}) == []
    assert len(tried) == training.HELD_OUT_LOOKBACK


# --- How loyal readers are to their topics ----------------------------------------------

LOYALTY_SCALE = 200.0  # L / (0.005 x epsilon 1): the site's followed-topic counts
LOYALTY_DAYS = [date(2026, 11, 1) + timedelta(days=n) for n in range(30)]


def _loyalty_releases(rng, *, in_followed: int, elsewhere: int, scale=LOYALTY_SCALE):
    """A month of released (in a followed topic, elsewhere), each day's pair noised at
    `scale` (seeded Laplace noise, as the release's in spread), and its variance."""
    noisy = rng.laplace(0.0, scale, (len(LOYALTY_DAYS), 2)).round().astype(int)
    days = {
        day: (in_followed + int(a), elsewhere + int(b))
        for day, (a, b) in zip(LOYALTY_DAYS, noisy, strict=True)
    }
    variance = noise_variance(mechanism="discrete Laplace", scale=scale)
    return training.Aggregates(
        article_days={},
        topic_days={},
        days=LOYALTY_DAYS,
        epsilon=1.0,
        followed_days=days,
        followed_noise=dict.fromkeys(LOYALTY_DAYS, variance),
    )


def test_loyalty_from_exact_counts_is_their_ratio_and_from_none_the_even_prior():
    exact = training.Aggregates(
        article_days={},
        topic_days={},
        days=LOYALTY_DAYS[:2],
        epsilon=0.0,
        followed_days={LOYALTY_DAYS[0]: (3, 1), LOYALTY_DAYS[1]: (6, 2)},
    )
    assert training.reader_loyalty(exact) == pytest.approx(0.75)
    # Only the days before the one asked about count.
    assert training.reader_loyalty(exact, before=LOYALTY_DAYS[1]) == pytest.approx(0.75)
    assert training.reader_loyalty(exact, before=LOYALTY_DAYS[0]) == training.OWN_TOPIC_SHARE
    empty = training.Aggregates(article_days={}, topic_days={}, days=[], epsilon=0.0)
    assert training.reader_loyalty(empty) == training.OWN_TOPIC_SHARE == 0.5


def test_loyalty_clear_of_the_noise_is_the_released_share_on_average():
    # 700 reads a day by readers who follow a topic, 70% of them in one: noise of standard
    # deviation 283 a count a day, about 0.05 on the month's ratio.
    rng = np.random.default_rng(19)
    estimates = [
        training.reader_loyalty(_loyalty_releases(rng, in_followed=490, elsewhere=210))
        for _ in range(300)
    ]
    assert np.mean(estimates) == pytest.approx(0.7, abs=0.015)
    assert 0.02 < np.std(estimates) < 0.08


def test_loyalty_lost_in_the_noise_stays_near_the_even_prior():
    # Ten such reads a day, the same 70%: the month's ratio could be anything, so training
    # keeps close to 1/2 rather than follow the noise, and never leaves 0..1.
    rng = np.random.default_rng(20)
    estimates = [
        training.reader_loyalty(_loyalty_releases(rng, in_followed=7, elsewhere=3))
        for _ in range(300)
    ]
    assert all(0.0 <= e <= 1.0 for e in estimates)
    assert np.mean(estimates) == pytest.approx(0.5, abs=0.05)
    assert np.std(estimates) < 0.1
    # In between (300 a day), part of the way: nearer 0.7 than the prior, not all of it.
    middle = np.mean(
        [
            training.reader_loyalty(_loyalty_releases(rng, in_followed=210, elsewhere=90))
            for _ in range(300)
        ]
    )
    assert 0.55 < middle < 0.7


def test_training_tunes_the_blend_for_the_loyalty_it_learned(newsroom, monkeypatch):
    Article.objects.update(published_at=timezone.now() - timedelta(days=4))
    today = timezone.localdate()
    scale = 1.0  # a big site's month in a few days: far clear of its noise
    for days_ago in (1, 2, 3):
        day = today - timedelta(days=days_ago)
        release_counts(day=day, counts={newsroom.stories["space"][0]: 12})
        FollowedTopicRelease.objects.create(day=day, in_followed=900, elsewhere=100)
        PrivacyBudgetLedger.objects.create(
            day=day,
            query=FOLLOWED_TOPIC_QUERY,
            epsilon=0.005,
            mechanism="discrete Laplace",
            contribution_bound=1,
            noise_scale=scale,
        )
    tuned_for = []
    real_tune = training.tune_blend

    def spy(**kwargs):
        tuned_for.append(kwargs["own_share"])
        return real_tune(**kwargs)

    monkeypatch.setattr(training, "tune_blend", spy)
    model = training.build_model(version=1, now=timezone.now()).model

    # Nine reads in ten in a followed topic: the stand-in readers read their own topic as
    # often, and the version records it.
    assert tuned_for == [pytest.approx(0.9, abs=0.001)]
    assert model.metadata["metrics"]["own_topic_share"] == pytest.approx(0.9, abs=0.001)
