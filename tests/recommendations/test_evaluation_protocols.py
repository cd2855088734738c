"""The evaluation's parts on hand-made inputs: ranks, coverage, diversity, the bounded and
released click counts, and the synthetic readers of the demo corpus."""

import math
from collections import Counter
from datetime import date

import numpy as np
import pytest

from recommendations.offline.metrics import catalogue_coverage, hit_rank, intra_list_diversity
from recommendations.offline.mind import Read, mind_load, reader_reads
from recommendations.offline.protocols import evaluate
from recommendations.offline.release import (
    PopularityPlan,
    daily_reads,
    followed_flags,
    read_draw,
    release_aggregates,
)
from recommendations.synthetic import demo_news, synthetic_readers

from .conftest import TINY

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


DAY0 = date(2019, 11, 12)
DAY_BEFORE = date(2019, 11, 13)


def test_daily_reads_bound_each_reader_per_day():
    reads = reader_reads(mind_load(TINY))
    assert daily_reads(reads, bound=None)[DAY1] == {"N3": 1, "N6": 1, "N7": 1}
    reads["U1"] += [Read("N4", DAY1), Read("N5", DAY1)]
    # U1 on 11/14: N3, N4, N5; bound 2 keeps the two the draw puts first, as the site's
    # aggregation does, not the first two read. U2 keeps its N6, U3 its N7.
    drawn = sorted(["N3", "N4", "N5"], key=lambda news_id: read_draw("U1", DAY1, news_id))
    bounded = daily_reads(reads, bound=2)[DAY1]
    assert sum(bounded.values()) == 4
    assert bounded == Counter(drawn[:2]) + Counter({"N6": 1, "N7": 1})


def _release(data, plan, reads=None):
    ids, categories = list(data.news), ["food", "space", "sports"]
    return release_aggregates(
        reader_reads(data) if reads is None else reads,
        ids=ids,
        topics_of=[(categories.index(data.news[n].category),) for n in ids],
        topic_count=3,
        plan=plan,
    )


@pytest.mark.parametrize("source", ["article", "topic", "both"])
def test_epsilon_inf_releases_the_exact_counts(source):
    data = mind_load(TINY)
    exact = _release(data, None)
    private = _release(data, PopularityPlan(epsilon=math.inf, bound=10, source=source))
    assert private == exact
    # Rows follow news.tsv (N1 is row 0); every read on its day.
    assert exact.article_days == {
        0: {DAY0: 1, DAY2: 1},
        1: {DAY_BEFORE: 1},
        2: {DAY1: 1},
        3: {DAY0: 1},
        4: {DAY_BEFORE: 1},
        5: {DAY1: 1},
        6: {DAY1: 1},
        7: {DAY2: 1},
    }
    # Topics: food 0, space 1, sports 2.
    assert exact.topic_days == {
        0: {DAY0: 1, DAY_BEFORE: 1, DAY1: 1},
        1: {DAY0: 1, DAY_BEFORE: 1, DAY1: 1, DAY2: 1},
        2: {DAY1: 1, DAY2: 1},
    }
    assert exact.days == [DAY0, DAY_BEFORE, DAY1, DAY2]


def test_a_mind_reader_follows_the_topics_of_their_earlier_reads():
    data = mind_load(TINY)
    reads = reader_reads(data)
    # U1 read space stories on 11/12-11/14 (N1, N2, N3); then a food story on 11/15.
    reads["U1"].append(Read("N4", DAY2))
    flags = followed_flags(reads, topics_of={n: (data.news[n].category,) for n in data.news})
    # At a first read they follow nothing yet: neither loyal nor not.
    assert [flags["U1", n] for n in ("N1", "N2", "N3", "N4")] == [None, True, True, False]
    assert flags["U4", "N1"] is None
    # Released per day as the site counts them: (in a followed topic, elsewhere).
    assert _release(data, None, reads).followed_days == {
        DAY0: (0, 0),
        DAY_BEFORE: (2, 0),  # U1's N2 and U2's N5
        DAY1: (2, 0),  # U1's N3, U2's N6 (U3's N7 is their first)
        DAY2: (1, 1),  # U3's N8 in sports; U1's N4 out of space (U4's N1 is a first)
    }


def test_the_followed_topic_counts_keep_the_reads_the_popularity_counts_keep():
    data = mind_load(TINY)
    reads = reader_reads(data)
    # On 11/14 U1 also reads a food story: with L = 1 only the one the draw keeps counts.
    reads["U1"].append(Read("N4", DAY1))
    kept = min(["N3", "N4"], key=lambda news_id: read_draw("U1", DAY1, news_id))
    released = _release(data, PopularityPlan(epsilon=math.inf, bound=1), reads)
    assert released.followed_days[DAY1] == ((2, 0) if kept == "N3" else (1, 1))


def test_the_evaluation_tunes_for_the_loyalty_the_released_counts_tell():
    # Leave-one-out's training reads: U1's N2 and U2's N5 follow an earlier read's topic, and
    # nobody's strays: with exact counts, readers stay in their topics every time.
    report = evaluate(mind_load(TINY), plan=PopularityPlan(epsilon=math.inf), impressions=False)
    assert report.own_topic_share == 1.0
    assert report.as_dict()["own_topic_share"] == 1.0


def test_a_finite_epsilon_adds_noise_of_the_promised_scale():
    # OpenDP noise cannot be seeded: check its spread over many counts, not its values.
    news = demo_news()
    data = synthetic_readers(news, readers=50, seed=1)
    ids = list(news)
    categories = sorted({n.category for n in news.values()})

    def released(plan):
        return release_aggregates(
            reader_reads(data),
            ids=ids,
            topics_of=[(categories.index(news[n].category),) for n in ids],
            topic_count=len(categories),
            plan=plan,
        )

    exact = released(PopularityPlan(epsilon=math.inf, bound=2, source="article"))
    noisy = released(PopularityPlan(epsilon=0.5, bound=2, source="article"))
    differences = [
        noisy.article_days.get(row, {}).get(day, 0) - exact.article_days.get(row, {}).get(day, 0)
        for row in range(len(ids))
        for day in exact.days
    ]
    # The article query gets 0.9 of the day's epsilon, as on the site: discrete Laplace with
    # scale L / (0.9 epsilon) = 4.4, standard deviation about 6.3; the chance of a spread
    # outside 3.5..9 over this many counts is negligible.
    assert 3.5 < np.std(differences) < 9
    # Each day also releases per-topic counts, at 0.05 of its epsilon, and the reads in
    # followed topics, at 0.005.
    assert noisy.epsilon == pytest.approx(0.5 * 0.955 * len(exact.days))


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
    report = evaluate(data, plan=PopularityPlan(epsilon=math.inf), seed=0, seeds=1)
    loo = report.leave_one_out["metrics"]
    shown = report.impressions_protocol["metrics"]
    assert report.leave_one_out["evaluated"] == 120
    for metric in ("hr@10", "ndcg@10", "mrr"):
        assert loo["recommender"][metric] > loo["popularity"][metric] > loo["random"][metric]
    for metric in ("auc", "mrr", "ndcg@10"):
        assert shown["recommender"][metric] > shown["popularity"][metric]
    # Popularity shows everyone the same few stories; the model covers the catalogue.
    assert loo["recommender"]["coverage"] > loo["popularity"]["coverage"]
