"""The evaluation's parts on hand-made inputs: ranks, coverage, diversity, the bounded and
released click counts, and the synthetic readers of the demo corpus."""

import math
from collections import Counter
from datetime import date

import numpy as np
import pytest

from recommendations.evaluation import (
    PopularityPlan,
    _draw,
    catalogue_coverage,
    daily_clicks,
    evaluate,
    hit_rank,
    intra_list_diversity,
    mind_load,
    release_aggregates,
)
from recommendations.synthetic import demo_news, synthetic_readers
from tests.recommendations.test_evaluation import TINY

DAY1, DAY2 = date(2019, 11, 14), date(2019, 11, 15)


def test_hit_rank_breaks_ties_in_candidate_order():
    scores = np.array([0.5, 0.9, 0.5, 0.1])
    assert hit_rank(scores, 1) == 1
    assert hit_rank(scores, 0) == 2  # tied with candidate 2, which comes later
    assert hit_rank(scores, 2) == 3
    assert hit_rank(scores, 3) == 4


def test_coverage_and_diversity_by_hand():
    # Two lists over a catalogue of 5: {0, 1} and {1, 2} show 3 of 5 articles.
    assert catalogue_coverage([np.array([0, 1]), np.array([1, 2])], 5) == pytest.approx(0.6)
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    # List {0, 1}: orthogonal, distance 1. List {0, 2}: identical, distance 0. Mean 0.5.
    assert intra_list_diversity([np.array([0, 1]), np.array([0, 2])], vectors) == 0.5
    # List {0, 1, 2}: pairs (0,1) 1, (0,2) 0, (1,2) 1 -> 2/3.
    assert intra_list_diversity([np.array([0, 1, 2])], vectors) == pytest.approx(2 / 3)


def test_daily_clicks_bound_each_reader_per_day():
    data = mind_load(TINY)
    assert daily_clicks(data, bound=None) == {DAY1: {"N3": 1, "N6": 1}, DAY2: {"N8": 1, "N1": 1}}
    two_clicks = data.impressions[0].__class__(
        "5", "U1", data.impressions[0].time, (), ("N4", "N5", "N6"), (1, 1, 1)
    )
    data.impressions.append(two_clicks)
    # U1 on 11/14: N3 (first row), then N4, N5, N6; bound 2 keeps the two the draw puts
    # first, as the site's aggregation does, not the first two clicked. U2 keeps its N6.
    drawn = sorted(["N3", "N4", "N5", "N6"], key=lambda news_id: _draw("U1", DAY1, news_id))
    bounded = daily_clicks(data, bound=2)[DAY1]
    assert sum(bounded.values()) == 3
    assert bounded == Counter(drawn[:2]) + Counter({"N6": 1})
    assert daily_clicks(data, bound=None)[DAY1] == {"N3": 1, "N6": 2, "N4": 1, "N5": 1}


@pytest.mark.parametrize("source", ["article", "topic", "both"])
def test_epsilon_inf_releases_the_exact_counts(source):
    data = mind_load(TINY)
    ids, categories = list(data.news), ["food", "space", "sports"]
    exact = release_aggregates(data, ids=ids, categories=categories, plan=None)
    plan = PopularityPlan(epsilon=math.inf, bound=10, source=source)
    private = release_aggregates(data, ids=ids, categories=categories, plan=plan)
    assert private == exact
    assert exact.article_days == {2: {DAY1: 1}, 5: {DAY1: 1}, 7: {DAY2: 1}, 0: {DAY2: 1}}
    assert exact.topic_days == {1: {DAY1: 1, DAY2: 1}, 0: {DAY1: 1}, 2: {DAY2: 1}}


def test_a_finite_epsilon_adds_noise_of_the_promised_scale():
    # OpenDP noise cannot be seeded: check its spread over many counts, not its values.
    news = demo_news()
    data = synthetic_readers(news, readers=50, seed=1)
    ids = list(news)
    categories = sorted({n.category for n in news.values()})
    plan = PopularityPlan(epsilon=0.5, bound=2, source="article")
    exact = release_aggregates(
        data,
        ids=ids,
        categories=categories,
        plan=PopularityPlan(epsilon=math.inf, bound=2, source="article"),
    )
    noisy = release_aggregates(data, ids=ids, categories=categories, plan=plan)
    differences = [
        noisy.article_days.get(row, {}).get(day, 0) - exact.article_days.get(row, {}).get(day, 0)
        for row in range(len(ids))
        for day in exact.days
    ]
    # The article query gets 0.9 of the day's epsilon, as on the site: discrete Laplace with
    # scale L / (0.9 epsilon) = 4.4, standard deviation about 6.3 over 924 counts; the chance
    # of a spread outside 3.5..9 is negligible.
    assert 3.5 < np.std(differences) < 9
    # Each day also releases per-topic counts, at 0.05 of its epsilon.
    assert noisy.epsilon == pytest.approx(0.5 * 0.95 * len(exact.days))


def test_synthetic_readers_are_seeded_and_prefer_their_topics():
    news = demo_news()
    assert len(news) == 132 and len({n.category for n in news.values()}) == 12
    first = synthetic_readers(news, readers=30, seed=3)
    again = synthetic_readers(news, readers=30, seed=3)
    assert first.impressions == again.impressions
    clicked = sum(sum(i.labels) for i in first.impressions)
    in_topics = sum(
        label
        for i in first.impressions
        for n, label in zip(i.candidates, i.labels, strict=True)
        if news[n].category in {news[h].category for h in i.history}
    )
    assert clicked and in_topics / clicked > 0.6


def test_on_synthetic_readers_the_model_beats_exact_popularity_and_random():
    data = synthetic_readers(demo_news(), readers=120, seed=0)
    report = evaluate(data, plan=PopularityPlan(epsilon=math.inf), seed=0)
    loo = report.leave_one_out["metrics"]
    shown = report.impressions_protocol["metrics"]
    assert report.leave_one_out["evaluated"] == 120
    for metric in ("hr@10", "ndcg@10", "mrr"):
        assert loo["recommender"][metric] > loo["popularity"][metric] > loo["random"][metric]
    for metric in ("auc", "mrr", "ndcg@10"):
        assert shown["recommender"][metric] > shown["popularity"][metric]
    # Popularity shows everyone the same few stories; the model covers the catalogue.
    assert loo["recommender"]["coverage"] > loo["popularity"]["coverage"]
