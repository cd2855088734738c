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
from privacy.models import ReadingHistoryEntry, SignalEvent
from recommendations import training
from recommendations.models import ModelVersion
from recommendations.services import model_retrain
from tests.conftest import models_relating_to_user
from tests.factories import reader_choices

from .conftest import release_counts

pytestmark = pytest.mark.django_db

APP = Path(training.__file__).resolve().parent
# The modules that build a model: none of them may even name a reader's data.
TRAINING_MODULES = ("training.py", "vectors.py", "artifacts.py")
ALLOWED_PRIVACY_NAMES = {"AggregateSignal", "PrivacyBudgetLedger"}


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


def _two_topics(held_out_counts: dict[int, int]) -> dict:
    """Four stories: 0 and 1 in a topic with 80% of the reads the day before, 2 and 3 in one
    with 20%. Story 0 was that day's hit (prior 1, the others 0) but reads little like its
    topic (closeness 0.25 to the centroid), story 1 reads just like it (1.0). All as fresh."""
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
        "prior": np.array([1.0, 0.0, 0.0, 0.0]),
        "fresh": np.full(4, 0.5),
        "aggregates": aggregates,
        "held_out": held_out,
    }


def test_training_weighs_popularity_more_when_the_held_out_day_follows_it():
    # The hit was read again, more than the story that reads like its topic. For that topic's
    # reader story 0 scores 1 + 0.8 x 0.25 + p and story 1 scores 1 + 0.8: popularity p must
    # weigh over 0.6. Freshness ties every story, so the split stays at half and the smallest
    # total that does it wins: 1.5, 0.75 each.
    weights, metrics = training.blend_choose([training.blend_scores(**_two_topics({0: 9, 1: 1}))])
    assert (weights["popularity"], weights["freshness"]) == (0.75, 0.75)
    assert metrics["holdout_popularity_and_freshness"] == 1.5
    assert metrics["holdout_ndcg@10"] == 1.0
    assert (weights["topic"], weights["content"]) == (1.0, 0.8)


def test_training_keeps_the_default_blend_when_the_held_out_day_follows_content():
    # The story that reads like its topic was read most: the usual 0.3 + 0.3 already ranks
    # the day perfectly, and a ranking no better does not move the weights.
    weights, metrics = training.blend_choose(
        [training.blend_scores(**_two_topics({0: 1, 1: 9, 2: 2}))]
    )
    assert (weights["popularity"], weights["freshness"]) == (0.3, 0.3)
    assert metrics["holdout_popularity_and_freshness"] == 0.6
    assert metrics["holdout_ndcg@10"] == 1.0


def test_training_judges_the_weight_on_several_days_so_one_odd_day_does_not_decide():
    # Two held-out days follow the hit, a third follows content: alone that day keeps 0.6
    # (test above). Averaged, 1.5 split evenly ranks the two hit days perfectly and the odd
    # one at 0.7735, (1 + 1 + 0.7735) / 3 = 0.9245, over 0.6's (0.7168 x 2 + 1) / 3 = 0.8112.
    hit = training.blend_scores(**_two_topics({0: 9, 1: 1}))
    odd = training.blend_scores(**_two_topics({0: 1, 1: 9, 2: 2}))
    assert training.blend_choose([odd])[1]["holdout_popularity_and_freshness"] == 0.6
    weights, metrics = training.blend_choose([hit, odd, hit])
    assert (weights["popularity"], weights["freshness"]) == (0.75, 0.75)
    assert (metrics["holdout_ndcg@10"], metrics["holdout_ndcg@10_freshness_only"]) == (
        0.9245,
        0.8112,
    )
    assert metrics["holdout_days"] == 3
    # Two odd days out of three keep the usual total; a day that cannot judge is not counted.
    weights, metrics = training.blend_choose([odd, {}, odd, hit])
    assert (weights["popularity"], weights["freshness"]) == (0.3, 0.3)
    assert metrics["holdout_days"] == 3
