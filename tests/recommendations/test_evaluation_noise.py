"""`evaluate_recommender`'s noise options (Laplace or Gaussian, delta) and its sparse MIND-like
synthetic catalogue (--articles)."""

import dataclasses
import json
import math
import re
from collections import Counter
from datetime import date, timedelta

import numpy as np
import pytest
from django.core.management import CommandError

from privacy.aggregation import ARTICLE_SHARE, TOPIC_SHARE, release_counts
from recommendations import training
from recommendations.offline.mind import mind_load, reader_reads
from recommendations.offline.release import (
    PopularityPlan,
    ReleasedAggregates,
    daily_reads,
    release_aggregates,
    shrunk_counts,
)
from recommendations.synthetic import (
    SPARSE_SHOWN,
    demo_news,
    sparse_catalogue,
    synthetic_data,
    synthetic_readers,
)

from .conftest import TINY, run, tables


def released_by_category(data, *, plan):
    """The site's releases of protocol v2's reads, each article in its MIND category."""
    ids = list(data.news)
    categories = sorted({n.category for n in data.news.values()})
    return release_aggregates(
        reader_reads(data),
        ids=ids,
        topics_of=[(categories.index(data.news[n].category),) for n in ids],
        topic_count=len(categories),
        plan=plan,
    )


def run_json(*args) -> dict:
    return json.loads(run(*args, "--json"))


def test_the_json_report_names_the_noise_and_the_delta_it_spent():
    # The tiny fixture's reads span four days (history reads one a day before the first
    # impression); each releases per-article, per-topic and followed-topic counts at the
    # site's shares of the day's budget, 0.9 + 0.05 + 0.005 (the rest is the site's
    # click-through and readership queries).
    gaussian = run_json("--mind", str(TINY), "--noise", "gaussian", "--delta", "1e-5")
    assert (gaussian["noise"], gaussian["delta"]) == ("gaussian", 1e-5)
    assert gaussian["delta_spent"] == pytest.approx(3.82e-5)
    assert 3.8 < gaussian["epsilon_spent"] <= 3.82

    laplace = run_json("--mind", str(TINY))
    assert (laplace["noise"], laplace["delta"], laplace["delta_spent"]) == ("laplace", 0.0, 0.0)
    assert laplace["epsilon_spent"] == pytest.approx(3.82)


def test_exact_counts_spend_nothing_whatever_the_noise():
    laplace = run_json("--mind", str(TINY), "--epsilon", "inf")
    gaussian = run_json("--mind", str(TINY), "--epsilon", "inf", "--noise", "gaussian")
    assert (gaussian["delta"], gaussian["delta_spent"], gaussian["epsilon_spent"]) == (0, 0, 0)
    assert gaussian["leave_one_out"] == laplace["leave_one_out"]
    assert gaussian["impressions_protocol"] == laplace["impressions_protocol"]


@pytest.mark.django_db
def test_with_gaussian_noise_the_summary_says_so():
    output = run("--mind", str(TINY), "--noise", "gaussian", "--seeds", "1")
    assert tables(output)["loo recommender"][0] == 1.0
    assert "at epsilon 1, delta 1e-06 per day, L=1, article counts, gaussian noise" in output


def test_gaussian_per_article_noise_pays_for_sqrt_l_and_per_topic_noise_for_l():
    # OpenDP noise cannot be seeded: the spread over many counts, not the values.
    news = demo_news()
    data = synthetic_readers(news, readers=50, seed=1)
    ids, categories = list(news), sorted({n.category for n in news.values()})

    def noise(source: str, *, epsilon: float) -> list[int]:
        plan = PopularityPlan(epsilon=epsilon, bound=4, source=source, noise="gaussian")
        released = released_by_category(data, plan=plan)
        exact = released_by_category(data, plan=PopularityPlan(epsilon=math.inf, bound=4))
        rows = len(ids) if source == "article" else len(categories)
        key = "article_days" if source == "article" else "topic_days"
        noisy, true = getattr(released, key), getattr(exact, key)
        return [
            noisy.get(row, {}).get(day, 0) - true.get(row, {}).get(day, 0)
            for row in range(rows)
            for day in exact.days
        ]

    def scale_for_sqrt_l(share: float) -> float:
        # Each query spends its share of the day's epsilon and delta, as on the site.
        return release_counts(
            counts=[0],
            sensitivity=4,
            max_change=1,
            epsilon=share,
            mechanism="gaussian",
            delta=1e-6 * share,
        ).scale

    # Four distinct articles a reader: L2 distance 2 over articles, but up to 4 on one topic.
    article_scale = scale_for_sqrt_l(ARTICLE_SHARE)
    assert np.std(noise("article", epsilon=1.0)) == pytest.approx(article_scale, rel=0.2)
    # 84 topic counts only, so a wider tolerance: twice the noise sqrt(L) would cost there.
    topic_scale = 2 * scale_for_sqrt_l(TOPIC_SHARE)
    assert np.std(noise("topic", epsilon=1.0)) == pytest.approx(topic_scale, rel=0.35)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--noise", "gaussian", "--delta", "0"], "Delta must be between 0 and 1"),
        (["--noise", "gaussian", "--delta", "1"], "Delta must be between 0 and 1"),
        (["--noise", "gaussian", "--delta", "nan"], "Delta must be between 0 and 1"),
        (["--noise", "exponential"], "invalid choice: 'exponential'"),
        (["--articles", "100"], "--articles only applies to --synthetic"),
    ],
)
def test_bad_noise_options_are_refused_and_write_nothing(tmp_path, args, message):
    report = tmp_path / "r.json"
    with pytest.raises(CommandError, match=re.escape(message)):
        run("--mind", str(TINY), *args, "--output", str(report))
    assert not report.exists()


def test_a_catalogue_of_no_articles_is_refused():
    with pytest.raises(CommandError, match="--articles must be at least 1"):
        run("--synthetic", "--articles", "0")


def test_the_sparse_catalogue_is_seeded_and_keeps_each_topics_words():
    news = demo_news()
    catalogue = sparse_catalogue(news, articles=400, seed=2)
    assert catalogue == sparse_catalogue(news, articles=400, seed=2)
    assert catalogue != sparse_catalogue(news, articles=400, seed=3)
    assert len(catalogue) == 400 and len(set(catalogue)) == 400
    topic_text: dict[str, str] = {}
    for item in news.values():
        words = f"{item.title}. {item.abstract} "
        topic_text[item.category] = topic_text.get(item.category, "") + words
    # Every generated story's abstract is made of sentences of its own topic's demo articles,
    # so content similarity follows topics as in the demo corpus.
    for story in catalogue.values():
        sentences = re.split(r"(?<=[.!?])\s+", story.abstract)
        assert all(sentence in topic_text[story.category] for sentence in sentences)
        assert story.title.split()[0] in topic_text[story.category]
    # Topics keep roughly their demo shares (each is 1/12 of the demo corpus give or take).
    shares = Counter(item.category for item in catalogue.values())
    assert set(shares) == set(topic_text)
    assert max(shares.values()) < 3 * min(shares.values())


def test_sparse_readers_click_a_long_tail_with_few_clicks_per_article():
    data = synthetic_data(readers=400, articles=1000, seed=0)
    assert data == synthetic_data(readers=400, articles=1000, seed=0)
    assert {len(i.candidates) for i in data.impressions} == {SPARSE_SHOWN}
    per_day = daily_reads(reader_reads(data), bound=None)
    # Most clicked stories get one or two clicks on a day: per-article counts are small.
    daily = [n for counter in per_day.values() for n in counter.values()]
    assert sum(n <= 2 for n in daily) / len(daily) > 0.8
    # Zipf appeal: the top 2% of stories draw more clicks than the bottom half together.
    totals = sorted(sum(per_day.values(), Counter()).values(), reverse=True)
    totals += [0] * (1000 - len(totals))
    assert sum(totals[:20]) > sum(totals[500:])


def test_the_command_evaluates_a_sparse_catalogue_deterministically_at_epsilon_inf(tmp_path):
    args = [
        "--synthetic",
        "--articles",
        "300",
        "--readers",
        "80",
        "--epsilon",
        "inf",
        "--seeds",
        "1",
    ]
    first, again = run_json(*args), run_json(*args)
    assert first == again
    assert first["news"] == 300 and first["users"] == 80
    assert first["impressions"] == sum(
        1 for _ in synthetic_data(readers=80, articles=300).impressions
    )
    assert first["epsilon_spent"] == 0.0
    # The demo corpus is something else entirely.
    demo = run_json("--synthetic", "--readers", "80", "--epsilon", "inf", "--seeds", "1")
    assert demo["news"] == 132


def test_a_threshold_reads_small_released_article_counts_as_zero():
    data = mind_load(TINY)
    exact = released_by_category(data, plan=None)

    def released(threshold: int):
        plan = PopularityPlan(epsilon=math.inf, bound=10, source="both", threshold=threshold)
        return released_by_category(data, plan=plan)

    # Every article has 1 read a day on the fixture: a floor of 1 keeps them, 2 drops them
    # all; topic counts are left alone.
    assert released(1).article_days == exact.article_days
    assert released(2).article_days == {}
    assert released(2).topic_days == exact.topic_days
    report = run_json("--mind", str(TINY), "--epsilon", "inf", "--threshold", "2")
    assert report["threshold"] == 2
    # No popularity left to rank by: the model still ranks each reader's topic first.
    assert report["leave_one_out"]["metrics"]["recommender"]["hr@10"] == 1.0


def test_the_evaluation_weighs_each_noisy_day_as_training_would_from_its_rows():
    # The releases carry each day's spread of article counts; training would work it out
    # from the same counts, so the days weigh the same in the evaluation as on the site.
    data = synthetic_readers(demo_news(), readers=60, seed=2)
    released = released_by_category(data, plan=PopularityPlan(epsilon=1.0))
    assert set(released.article_spread) == set(released.article_noise) == set(released.days)
    from_rows = training.article_spread(released.article_days)
    assert released.article_spread == from_rows
    after = released.days[-1] + timedelta(days=1)
    recomputed = dataclasses.replace(released, article_spread={})
    assert training.day_reliability(released, before=after) == pytest.approx(
        training.day_reliability(recomputed, before=after)
    )
    # Exact counts carry no noise: every day weighs fully.
    exact = released_by_category(data, plan=PopularityPlan(epsilon=math.inf))
    assert exact.article_spread == {}
    assert training.day_reliability(exact, before=after) == {}


def test_a_negative_threshold_is_refused():
    with pytest.raises(CommandError, match="The threshold must be 0 or more, not -1"):
        run("--mind", str(TINY), "--threshold", "-1")


def test_another_split_of_the_days_epsilon_can_be_measured_and_a_bad_one_is_refused():
    news = demo_news()
    data = synthetic_readers(news, readers=20, seed=1)
    plan = PopularityPlan(epsilon=1.0, article_share=1 / 3, topic_share=1 / 3)
    released = released_by_category(data, plan=plan)
    # Two thirds of each day's epsilon, and the followed-topic counts' 0.005: the rest would
    # be the site's click-through and readership queries.
    assert released.epsilon == pytest.approx((2 / 3 + 0.005) * len(released.days))
    for shares in [(0, 0.5), (0.8, 0.3), (1.5, 0.1), (0.9, 0.1)]:
        with pytest.raises(ValueError, match="must be above 0 and add up to at most 1"):
            PopularityPlan(article_share=shares[0], topic_share=shares[1])


def test_shrinkage_pulls_a_lone_noisy_count_to_its_topic_and_leaves_a_clear_one_alone():
    # One released day, a day before the reference: decay 2^-1/2 (half-life 2 days), so each
    # count's noise variance 2.0 becomes 1.0 in the decayed count.
    day = date(2019, 11, 14)
    counts = [4] + [0] * 19 + [10 * j for j in range(20)]
    aggregates = ReleasedAggregates(
        article_days={row: {day: count} for row, count in enumerate(counts)},
        topic_days={},
        days=[day],
        epsilon=1.0,
        article_noise={day: 2.0},
    )
    decay = 2**-0.5
    shrunk = shrunk_counts(
        article_ids=np.arange(40),
        aggregates=aggregates,
        reference=day + timedelta(days=1),
        groups=np.array([0] * 20 + [1] * 20),
    )
    # Topic 0: the spread of its counts (variance 0.38) is less than the noise (1.0), so all
    # of it reads as noise: the lone 4 becomes the topic's mean, 4 x decay / 20.
    assert shrunk[:20] == pytest.approx([4 * decay / 20] * 20)
    # Topic 1: variance 1662.5 against noise 1.0, so its counts keep 1661.5 / 1662.5 of their
    # distance from the mean (95 x decay): the 190 barely moves.
    assert shrunk[39] == pytest.approx(95 * decay * (1 + 1661.5 / 1662.5))
    assert shrunk[39] == pytest.approx(190 * decay, rel=1e-3)
    assert list(np.argsort(shrunk[20:])) == list(range(20))
