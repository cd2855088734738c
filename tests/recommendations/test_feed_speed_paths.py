"""The feed's faster paths give exactly what the plain computations give: the same scores to the
last bit, the same order, the same reasons, on seeded random catalogues shaped like the live
pool (most stories in one topic, some in several or none, some without a vector), and the
same pages at the site's own size of pool."""

import numpy as np
import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from accounts.models import Preferences
from accounts.selectors import reader_profile
from privacy.browser_signals import NO_SIGNALS
from privacy.selectors import history_reads_for_user
from recommendations import explanations, ranking
from recommendations.active import active_model
from recommendations.feed import scoring
from recommendations.feed.page import REASON_PARTS, feed_page, feed_scores
from recommendations.feed.pool import candidate_pool
from recommendations.feed.scoring import (
    NEAREST,
    Candidates,
    Ranked,
    Reader,
    Scores,
    history_similarity,
    only_columns,
    score,
)
from recommendations.services import model_retrain
from recommendations.weights import HISTORY_SHARE, PERSONAL_PICK_SHARE, RELATED_TOPIC_SHARE

from .conftest import follow

Level = Preferences.Level
PARTS = ("topic", "related", "history", "popularity", "freshness", "pick")


def _catalogue(rng, *, count=2_000, topics=12, dimensions=16, with_only_column=True):
    vectors = rng.standard_normal((count, dimensions)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors[rng.random(count) < 0.03] = 0  # no vector (yet)
    topic_matrix = np.zeros((count, topics), dtype=bool)
    topic_matrix[np.arange(count), rng.integers(0, topics, count)] = True
    several = rng.random(count) < 0.1
    topic_matrix[several, rng.integers(0, topics, several.sum())] = True
    topic_matrix[rng.random(count) < 0.02] = False  # in no topic
    centroids = rng.standard_normal((topics, dimensions)).astype(np.float32)
    affinity = rng.random((topics, topics))
    topic_ids = np.arange(101, 101 + topics, dtype=np.int64)
    return Candidates(
        vectors=vectors,
        topic_ids=topic_ids,
        topic_matrix=topic_matrix,
        popularity=rng.random(count) * (rng.random(count) < 0.5),
        centroid_closeness=vectors @ centroids.T,
        model_topic_ids=topic_ids,
        topic_centroids=centroids,
        topic_affinity=affinity,
        only_column=only_columns(topic_matrix) if with_only_column else None,
    )


def _reader(rng, candidates, *, reads=50):
    topic_ids = [int(t) for t in candidates.topic_ids]
    chosen = rng.choice(topic_ids, size=int(rng.integers(1, 5)), replace=False)
    # Equal weights (ties between followed topics), a zero and a negative one, and a topic
    # the catalogue does not have.
    weights = {int(t): float(rng.choice([1.0, 1.0, 0.5, 0.0, -0.5])) for t in chosen}
    weights[999] = 1.0
    rows = rng.choice(len(candidates.popularity), size=reads, replace=False)
    read_vectors = candidates.vectors[rows].copy()
    older = rng.random(reads) < 0.1  # a read older than the model: not a candidate
    read_vectors[older] = 0
    pair_reads, pair_columns = np.nonzero(candidates.topic_matrix[rows])
    return Reader(
        topic_weights=weights,
        read_vectors=read_vectors,
        pair_reads=pair_reads.astype(np.int64),
        pair_columns=pair_columns.astype(np.int64),
        read_rows=np.where(older, -1, rows),
    )


def _plain_topic_parts(reader, candidates):
    """The topic parts as the plain loops over each topic's stories compute them."""
    count = len(candidates.popularity)
    topic, related = np.zeros(count), np.zeros(count)
    followed_topic = np.full(count, -1, dtype=np.int64)
    related_topic = np.full(count, -1, dtype=np.int64)
    members = [
        np.flatnonzero(candidates.topic_matrix[:, c]) for c in range(len(candidates.topic_ids))
    ]
    columns = {int(t): c for c, t in enumerate(candidates.topic_ids)}
    rows = {int(t): r for r, t in enumerate(candidates.model_topic_ids)}
    for topic_id, weight in reader.topic_weights.items():
        if topic_id in columns and weight > 0:
            stronger = members[columns[topic_id]][weight > topic[members[columns[topic_id]]]]
            topic[stronger], followed_topic[stronger] = weight, topic_id
    followed = [(t, w) for t, w in reader.topic_weights.items() if t in rows and w > 0]
    for column, topic_id in enumerate(int(t) for t in candidates.topic_ids):
        if topic_id in reader.topic_weights:
            continue
        lent, lender = 0.0, -1
        for source, weight in followed:
            share = (
                RELATED_TOPIC_SHARE
                * weight
                * float(candidates.topic_affinity[rows[source], rows[topic_id]])
            )
            if share > lent:
                lent, lender = share, source
        if lent > 0:
            stronger = members[column][lent > related[members[column]]]
            related[stronger], related_topic[stronger] = lent, lender
    related = np.where(related > topic, related, 0.0)
    related_topic = np.where(related > 0, related_topic, -1)
    return topic, followed_topic, related, related_topic


def _plain_history(reader, candidates):
    """Each story's best read among those it shares a topic with, by argmax per story."""
    count = len(candidates.popularity)
    best, source = np.zeros(count, dtype=np.float32), np.full(count, -1, dtype=np.int64)
    usable = np.linalg.norm(reader.read_vectors, axis=1) > 0
    keep = usable[reader.pair_reads]
    pair_reads, pair_columns = reader.pair_reads[keep], reader.pair_columns[keep]
    for column in np.unique(pair_columns):
        positions = pair_reads[pair_columns == column]
        members = np.flatnonzero(candidates.topic_matrix[:, column])
        similarity = candidates.topic_vectors[column] @ reader.read_vectors[positions].T
        nearest = similarity.argmax(axis=1)
        value = similarity[np.arange(len(members)), nearest]
        better = value > best[members]
        best[members[better]] = value[better]
        source[members[better]] = positions[nearest[better]]
    return best, source


def _plain_relevance(reader, candidates, w, *, freshness, pick):
    """The blend as one expression, from the plain parts (the history part last)."""
    topic, _, related, _ = _plain_topic_parts(reader, candidates)
    similarity, source = _plain_history(reader, candidates)
    history = np.clip(similarity, 0, 1) * HISTORY_SHARE
    share = 1 - HISTORY_SHARE if (source >= 0).any() else 1.0
    chosen = [t for t, wt in reader.topic_weights.items() if t in candidates.model_rows and wt > 0]
    if chosen:
        chosen_rows = [candidates.model_rows[t] for t in chosen]
        weights = np.array([reader.topic_weights[t] for t in chosen], np.float32)
        profile = (weights[:, None] * candidates.topic_centroids[chosen_rows]).sum(axis=0)
        norm = np.linalg.norm(profile)
        closeness = candidates.centroid_closeness[:, chosen_rows] @ (weights / norm)
        lift = w["content"] / w["topic"] * (np.clip(closeness, 0, 1) * share)
        in_followed = topic > 0
        topic, related = topic + lift * in_followed, related + lift * ~in_followed
    return (
        w["topic"] * (topic + related)
        + w["popularity"] * candidates.popularity
        + w["freshness"] * freshness
        + PERSONAL_PICK_SHARE * w["pick"] * pick
        + w["content"] * history
    )


def _same_scores(a: Scores, b: Scores):
    for name in ("relevance", "history_source", "followed_topic", "related_topic", *PARTS):
        x, y = np.asarray(getattr(a, name)), np.asarray(getattr(b, name))
        assert x.dtype == y.dtype, name
        assert x.tobytes() == y.tobytes(), name


@pytest.mark.parametrize("seed", range(6))
def test_scores_equal_the_plain_computation_to_the_last_bit(seed):
    rng = np.random.default_rng(20261202 + seed)
    fast = _catalogue(rng)
    plain = _catalogue(np.random.default_rng(20261202 + seed), with_only_column=False)
    w = {"topic": 1.0, "content": 0.8, "popularity": 0.3, "freshness": 1.5, "pick": 0.4}
    freshness, pick = rng.random(2_000), (rng.random(2_000) < 0.01).astype(float)
    for reads in (0, 1, 2, 50, 200):
        reader = _reader(rng, fast, reads=max(reads, 1))
        if not reads:
            reader = Reader(topic_weights=reader.topic_weights)
        for who in (None, reader):
            by_lookup = score(
                candidates=fast, reader=who, weights=w, freshness=freshness, pick=pick
            )
            by_topic = score(
                candidates=plain, reader=who, weights=w, freshness=freshness, pick=pick
            )
            _same_scores(by_lookup, by_topic)
        # And the personal scores against the plain computation written out above.
        if reads:
            expected = _plain_relevance(reader, plain, w, freshness=freshness, pick=pick)
            assert by_lookup.relevance.tobytes() == expected.tobytes()
            best, source = history_similarity(candidates=fast, reader=reader)
            plain_best, plain_source = _plain_history(reader, plain)
            assert best.tobytes() == plain_best.tobytes()
            np.testing.assert_array_equal(source, plain_source)
        _, followed_topic, related, related_topic = _plain_topic_parts(reader, plain)
        np.testing.assert_array_equal(by_lookup.followed_topic, followed_topic)
        named = np.where(by_lookup.related_topic == NEAREST, -1, by_lookup.related_topic)
        np.testing.assert_array_equal(named, related_topic)


@pytest.mark.parametrize("copies", [1, 2, 3, 5])
def test_a_story_read_again_is_named_by_its_newest_read(copies):
    """The same story read `copies` times (so every read ties for every story): the "Because
    you read" reason names the newest read, whichever way a topic's reads are reduced."""
    rng = np.random.default_rng(20261203 + copies)
    catalogue = _catalogue(rng)
    plain = _catalogue(np.random.default_rng(20261203 + copies), with_only_column=False)
    row = int(np.flatnonzero(catalogue.topic_matrix.sum(axis=1) == 1)[0])
    reader = Reader(
        topic_weights={int(catalogue.topic_ids[0]): 1.0},
        read_vectors=np.repeat(catalogue.vectors[[row]], copies, axis=0),
        pair_reads=np.arange(copies, dtype=np.int64),
        pair_columns=np.full(copies, int(np.flatnonzero(catalogue.topic_matrix[row])[0])),
    )
    best, source = history_similarity(candidates=catalogue, reader=reader)
    plain_best, plain_source = _plain_history(reader, plain)
    assert best.tobytes() == plain_best.tobytes()
    np.testing.assert_array_equal(source, plain_source)
    source = np.asarray(source)
    assert set(source[source >= 0].tolist()) == {0}  # the newest read
    assert (best > 0).sum() > 1


@pytest.mark.parametrize("seed", range(3))
def test_the_read_a_story_came_from_is_the_same_asked_one_by_one(seed):
    """A page asks which read each of its stories came from, one story at a time: the same
    read as the plain computation names, whether a topic lists its stories in order (the
    pool's) or not (another caller's), ties to the newest read, and -1 for a story no read
    is like. Small whole numbers as vectors, so every product is exact in any order and
    many stories tie."""
    rng = np.random.default_rng(20261204 + seed)
    catalogue = _catalogue(rng)
    whole = rng.integers(-2, 3, catalogue.vectors.shape).astype(np.float32)

    def with_members(members):
        fields = ("topic_ids", "topic_matrix", "popularity", "centroid_closeness")
        return Candidates(
            vectors=whole,
            **{name: getattr(catalogue, name) for name in fields},
            model_topic_ids=catalogue.model_topic_ids,
            topic_centroids=catalogue.topic_centroids,
            topic_members=members,
        )

    in_order = with_members(catalogue.topic_members)
    shuffled = with_members([rng.permutation(m) for m in catalogue.topic_members])
    read_rows = rng.choice(len(whole), size=40, replace=False)
    pair_reads, pair_columns = np.nonzero(catalogue.topic_matrix[read_rows])
    reader = Reader(
        topic_weights={},
        read_vectors=whole[read_rows],
        pair_reads=pair_reads.astype(np.int64),
        pair_columns=pair_columns.astype(np.int64),
    )
    plain_best, plain_source = _plain_history(reader, in_order)
    rows = rng.permutation(len(whole))[:400]
    for candidates in (in_order, shuffled):
        best, source = history_similarity(candidates=candidates, reader=reader)
        assert best.tobytes() == plain_best.tobytes()
        assert [source[int(row)] for row in rows] == plain_source[rows].tolist()
        np.testing.assert_array_equal(source[rows], plain_source[rows])
    assert (plain_source == -1).any() and (plain_source >= 0).any()


def test_a_catalogue_without_topics_scores_as_without_the_lookup():
    # The pool keeps one empty topic column when no story has a topic.
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((50, 4)).astype(np.float32)
    arguments = {
        "vectors": vectors,
        "topic_ids": np.zeros(0, dtype=np.int64),
        "topic_matrix": np.zeros((50, 1), dtype=bool),
        "popularity": rng.random(50),
        "centroid_closeness": np.zeros((50, 0), np.float32),
        "model_topic_ids": np.zeros(0, dtype=np.int64),
        "topic_centroids": np.zeros((0, 4), np.float32),
    }
    fast = Candidates(**arguments, only_column=only_columns(arguments["topic_matrix"]))
    reader = Reader(
        topic_weights={5: 1.0},
        read_vectors=vectors[:3],
        pair_reads=np.zeros(0, int),
        pair_columns=np.zeros(0, int),
    )
    for who in (reader, None):
        kept = {"weights": None, "freshness": rng.random(50), "pick": np.zeros(50)}
        _same_scores(
            score(candidates=fast, reader=who, **kept),
            score(candidates=Candidates(**arguments), reader=who, **kept),
        )


def _plain_rank(*, relevance, vectors, topic_matrix, rows, diversity, topic_cap, page_size, stop):
    """Maximal marginal relevance over the whole sorted list, one story at a time."""
    stop = min(stop, len(relevance))
    size = max(stop * ranking.POOL_PER_ITEM, ranking.MIN_POOL)
    pool = np.argsort(-relevance, kind="stable")[:size]
    scores = (
        relevance[pool] / relevance[pool].max() if relevance[pool].max() > 0 else relevance[pool]
    )
    content, topics = vectors[rows[pool]], topic_matrix[rows[pool]].astype(np.float32)
    has_content = np.linalg.norm(content, axis=1) > 0
    topics = topics / np.maximum(np.linalg.norm(topics, axis=1, keepdims=True), 1e-30)
    placed, nearest, order = np.zeros(len(pool), bool), np.zeros(len(pool)), []
    for position in range(stop):
        if position % page_size == 0:
            counts = np.zeros(topic_matrix.shape[1], dtype=int)
        value = (1 - diversity) * scores - diversity * nearest
        value[placed] = -np.inf
        capped = topic_matrix[rows[pool]][:, counts >= topic_cap].any(axis=1)
        allowed = np.where(capped, -np.inf, value)
        choice = int(np.argmax(allowed if allowed.max() > -np.inf else value))
        order.append(int(pool[choice]))
        placed[choice] = True
        similarity = np.where(
            has_content & has_content[choice], content @ content[choice], topics @ topics[choice]
        )
        nearest = np.maximum(nearest, similarity)
        counts[topic_matrix[rows[pool[choice]]]] += 1
    return order


@pytest.mark.parametrize("seed", range(40))
def test_ranking_equals_the_plain_greedy_selection(seed):
    rng = np.random.default_rng(seed)
    count = int(rng.integers(1, 900))
    vectors = rng.standard_normal((count, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors[rng.random(count) < rng.choice([0.0, 0.2])] = 0
    topic_matrix = rng.random((count, int(rng.integers(1, 6)))) < rng.choice([0.2, 0.5])
    relevance = rng.random(count)
    if seed % 2:  # rounded: some stories tie
        relevance = np.round(relevance, int(rng.integers(2, 6)))
    rows = rng.permutation(count)[: int(rng.integers(1, count + 1))]
    arguments = {
        "relevance": relevance[rows],
        "vectors": vectors,
        "topic_matrix": topic_matrix,
        "rows": rows,
        "diversity": float(rng.choice([0.0, 0.3, 1.0])),
        "topic_cap": int(rng.choice([1, 2, 6])),
        "page_size": int(rng.choice([3, 20])),
        "stop": int(rng.integers(1, 70)),
    }
    # The plain selection sorts every story; `rank` sorts only the best it needs, and takes
    # stories that tie where it cuts in the same order (as the browser's ranking does).
    assert ranking.rank(**arguments) == _plain_rank(**arguments)


def _stable_first(relevance, size):
    return np.argsort(-relevance, kind="stable")[:size]


@pytest.mark.parametrize("seed", range(12))
def test_the_most_relevant_are_the_first_of_a_stable_sort(seed):
    """The stories MMR chooses from: whether the cut guessed from a sample holds, keeps too
    few (the sampled values are the best), or far too many (everything ties), the same
    stories in the same order as sorting them all, ties in index order."""
    rng = np.random.default_rng(seed)
    count = int(rng.choice([301, 2_000, 20_000]))
    size = int(rng.choice([300, 400]))
    shapes = {
        "random": rng.random(count),
        "rounded": np.round(rng.random(count), 2),
        "all tie": np.full(count, 0.5),
        "sampled ones best": np.where(np.arange(count) % ranking.SAMPLE_STEP == 0, 2.0, 1.0)
        + rng.random(count) * 0.1,
        "a few ahead": np.where(rng.random(count) < 0.01, 5.0, rng.random(count)),
        # A damaged part (NaN) never pushes a story up, however many there are.
        "a few unknown": np.where(rng.random(count) < 0.01, np.nan, rng.random(count)),
        "mostly unknown": np.where(rng.random(count) < 0.9, np.nan, rng.random(count)),
    }
    for name, relevance in shapes.items():
        chosen = ranking.most_relevant(relevance, size)
        assert chosen.tolist() == _stable_first(relevance, size).tolist(), name


@pytest.mark.parametrize("seed", range(5))
def test_reasons_chosen_at_once_equal_one_by_one(seed):
    rng = np.random.default_rng(seed)
    count = 300

    def part():  # zeros, ties and float32 (the history part)
        return np.round(rng.random(count) * (rng.random(count) < 0.6), 2)

    parts = {
        "topic": part(),
        "related": part(),
        "history": part().astype(np.float32),
        "popularity": part(),
        "pick": part(),
        "freshness": part() * (rng.random(count) < 0.5),
        "popularity_share": rng.random(count),
    }
    at_once = explanations.reason_kinds(**parts)
    one_by_one = [
        explanations.reason_kind(**{k: v[i] for k, v in parts.items()}) for i in range(count)
    ]
    assert at_once == one_by_one


def _history_reader_scored(newsroom, reader, record_read, *, now):
    """A reader following Space and Food at "Topics + reading history", who read a sport and
    a food story; the pool, their plain scores over all of it and the rows they may see."""
    model_retrain()
    follow(reader, newsroom.topics["space"], newsroom.topics["food"], level=Level.TOPICS_HISTORY)
    for article in (newsroom.stories["sport"][0], newsroom.stories["food"][1]):
        record_read(user=reader, article=article, signals=NO_SIGNALS)
    pool = candidate_pool(loaded=active_model(), now=now)
    reads = history_reads_for_user(user=reader, limit=50)
    scores = feed_scores(pool=pool, profile=reader_profile(user=reader), reads=reads, now=now)
    read_rows = pool.rows_of(np.array([r.article_id for r in reads], dtype=np.int64))
    return pool, scores, np.setdiff1d(np.arange(len(pool.ids)), read_rows)


def _plain_order(pool, scores, visible, **arguments) -> list[int]:
    """The story ids `ranking.rank` places, from these scores of the rows they may see."""
    order = ranking.rank(
        relevance=scores.relevance[visible],
        vectors=pool.vectors,
        topic_matrix=pool.topic_matrix,
        rows=visible,
        **arguments,
    )
    return [int(pool.ids[visible[i]]) for i in order]


@pytest.mark.django_db
def test_the_live_page_is_the_plain_ranking_of_the_plain_scores(
    newsroom, reader, record_read, settings
):
    """At the site's diversity and caps, a history reader's first two pages are what ranking
    the plain scores (`score` over the pool, `feed_scores`) of the rows they may see gives."""
    settings.RECOMMENDER_TOPIC_CAP = 2
    now = timezone.now()
    pool, scores, visible = _history_reader_scored(newsroom, reader, record_read, now=now)
    expected = _plain_order(
        pool,
        scores,
        visible,
        diversity=settings.RECOMMENDER_DIVERSITY,
        topic_cap=2,
        page_size=3,
        stop=6,
    )
    pages = [feed_page(user=reader, page_number=n, page_size=3, now=now) for n in (1, 2)]
    assert [item.article.pk for page in pages for item in page] == expected
    # And the anonymous visitor's page is the non-personal one, with its reasons.
    assert all(item.reason.kind != "history" for item in feed_page(user=AnonymousUser(), now=now))


def _ranked_both_ways(candidates, reader, *, visible, stop, rng):
    """The scores made exact only where the first `stop` stories are ranked from, and the
    scores of every story; with the ranking of each."""
    kept = {
        "weights": {"topic": 1.0, "content": 0.8, "popularity": 0.3, "freshness": 1.5},
        "freshness": rng.random(len(visible) and len(candidates.popularity)),
        "pick": (rng.random(len(candidates.popularity)) < 0.01).astype(float),
    }
    full = score(candidates=candidates, reader=reader, **kept)
    bounded = score(
        candidates=candidates,
        reader=reader,
        **kept,
        ranked=Ranked(rows=visible, size=ranking.pool_size(stop)),
    )
    arguments = {
        "vectors": candidates.vectors,
        "topic_matrix": candidates.topic_matrix,
        "rows": visible,
        "diversity": 0.3,
        "topic_cap": 2,
        "page_size": 20,
        "stop": stop,
    }
    # The bounded ranking looks only at the stories its scores said could be the best.
    among = None
    if bounded.contenders is not None:
        assert np.isin(bounded.contenders, visible).all()
        among = np.searchsorted(visible, bounded.contenders)
    orders = [
        ranking.rank(relevance=bounded.relevance[visible], among=among, **arguments),
        ranking.rank(relevance=full.relevance[visible], **arguments),
    ]
    return bounded, full, orders


@pytest.mark.parametrize("seed", range(8))
def test_scores_made_exact_only_where_the_ranking_looks_give_the_same_pages(seed):
    """A page ranks the best few hundred of 20,000: the history part is worked out only for
    the stories that can be among them. The same pages, the same best stories in the same
    order with the same scores (to the float32 rounding of the similarities, now products of
    a few stories instead of a whole topic's), the same reads named and the same reasons;
    every other story scores no higher than it would, and far fewer are compared."""
    rng = np.random.default_rng(20261205 + seed)
    candidates = _catalogue(rng, count=8_000)
    count = len(candidates.popularity)
    if seed % 4 == 3:  # damaged popularity (NaN) for a few: they never take a place
        candidates.popularity[rng.random(count) < 0.01] = np.nan
    for reads in (1, 2, 50, 200):
        reader = _reader(rng, candidates, reads=reads)
        hidden = rng.random(count) < 0.05  # blocked topics, not yet published...
        hidden[reader.read_rows[reader.read_rows >= 0]] = True  # ...and what they read
        visible = np.flatnonzero(~hidden)
        for stop in (20, 40):
            bounded, full, (order, full_order) = _ranked_both_ways(
                candidates, reader, visible=visible, stop=stop, rng=rng
            )
            assert order == full_order
            if reads >= 50:  # few contenders, the ranking took from them
                assert bounded.contenders is not None
                assert len(bounded.contenders) < len(visible) / 2
            size = ranking.pool_size(stop)
            best = ranking.most_relevant(full.relevance[visible], size)
            assert ranking.most_relevant(bounded.relevance[visible], size).tolist() == (
                best.tolist()
            )
            np.testing.assert_allclose(
                bounded.relevance[visible[best]], full.relevance[visible[best]], rtol=1e-6
            )
            known = ~np.isnan(full.relevance)
            assert (bounded.relevance[known] <= full.relevance[known] + 1e-6).all()
            shown = visible[order]
            assert bounded.history_source[shown].tolist() == full.history_source[shown].tolist()
            kinds = [
                explanations.reason_kinds(
                    **{part: s.part(part, shown) for part in REASON_PARTS},
                    popularity_share=np.zeros(len(shown)),
                )
                for s in (bounded, full)
            ]
            assert kinds[0] == kinds[1]
            # A story compared has its history part; with many reads, most stories are
            # like one, and most are not compared.
            with_part = [np.count_nonzero(s.unweighted["history"][1]) for s in (bounded, full)]
            assert with_part[0] <= with_part[1]
            if reads >= 50:
                assert with_part[0] < with_part[1] / 2


def test_without_a_read_among_the_candidates_every_story_is_compared():
    """No read is a candidate (all older than the window): whether any story is like a read
    is not known without comparing them all, so all are, to the last bit as without bounds."""
    rng = np.random.default_rng(20261206)
    candidates = _catalogue(rng)
    reader = _reader(rng, candidates, reads=30)
    reader = Reader(
        topic_weights=reader.topic_weights,
        read_vectors=reader.read_vectors,
        pair_reads=reader.pair_reads,
        pair_columns=reader.pair_columns,
        read_rows=np.full(30, -1),
    )
    visible = np.arange(len(candidates.popularity))
    bounded, full, orders = _ranked_both_ways(candidates, reader, visible=visible, stop=20, rng=rng)
    _same_scores(bounded, full)
    assert orders[0] == orders[1]


@pytest.mark.django_db
def test_a_page_ranked_from_few_stories_is_the_plain_ranking_of_the_plain_scores(
    newsroom, reader, record_read, settings, monkeypatch
):
    """The live feed with a ranking that takes as few stories as it places (so the history
    part is worked out for few of them, page 1 here): each page, a page past the last and a
    page number that is not one are what ranking every story's plain scores gives."""
    monkeypatch.setattr(ranking, "POOL_PER_ITEM", 1)
    monkeypatch.setattr(ranking, "MIN_POOL", 1)
    # Bounded whatever it costs: at this size comparing every story would cost less.
    monkeypatch.setattr(scoring, "_few_reach", lambda *args: True)
    compared = []
    where_it_ranks = scoring._history_where_it_ranks
    monkeypatch.setattr(
        scoring,
        "_history_where_it_ranks",
        lambda **kwargs: compared.append(kwargs["ranked"].size) or where_it_ranks(**kwargs),
    )
    now = timezone.now()
    pool, scores, visible = _history_reader_scored(newsroom, reader, record_read, now=now)

    def expected(number):  # one story a page: the ranking up to it, its last story
        return _plain_order(
            pool,
            scores,
            visible,
            diversity=settings.RECOMMENDER_DIVERSITY,
            topic_cap=settings.RECOMMENDER_TOPIC_CAP,
            page_size=1,
            stop=number,
        )[-1:]

    def page(number):
        served = feed_page(user=reader, page_number=number, page_size=1, now=now)
        return [item.article.pk for item in served]

    assert len(visible) > 4  # so page 1 takes few enough
    assert page(1) == expected(1)
    assert compared == [1]  # page 1 compared only what could be its one story
    assert page("not a number") == expected(1)
    assert page(2) == expected(2)
    assert page(999) == page(len(visible)) == expected(len(visible))


@pytest.mark.parametrize("seed", range(3))
def test_stories_compared_where_they_rank_name_the_read_the_plain_computation_names(seed):
    """Small whole numbers as vectors, so every product is exact however it is made and many
    reads tie for a story, in one topic or several: each story among the best is named by
    the same read as the plain computation names, with the same score to the last bit."""
    rng = np.random.default_rng(20261207 + seed)
    catalogue = _catalogue(rng)
    whole = rng.integers(-2, 3, catalogue.vectors.shape).astype(np.float32)
    fields = ("topic_ids", "topic_matrix", "popularity", "centroid_closeness")
    candidates = Candidates(
        vectors=whole,
        **{name: getattr(catalogue, name) for name in fields},
        model_topic_ids=catalogue.model_topic_ids,
        topic_centroids=catalogue.topic_centroids,
    )
    read_rows = rng.choice(len(whole), size=40, replace=False)
    pair_reads, pair_columns = np.nonzero(candidates.topic_matrix[read_rows])
    reader = Reader(
        topic_weights={int(candidates.topic_ids[0]): 1.0, int(candidates.topic_ids[1]): 0.5},
        read_vectors=whole[read_rows],
        pair_reads=pair_reads.astype(np.int64),
        pair_columns=pair_columns.astype(np.int64),
        read_rows=read_rows,
    )
    visible = np.setdiff1d(np.arange(len(whole)), read_rows)
    bounded, full, orders = _ranked_both_ways(candidates, reader, visible=visible, stop=20, rng=rng)
    assert orders[0] == orders[1]
    best = visible[ranking.most_relevant(full.relevance[visible], ranking.pool_size(20))]
    assert bounded.relevance[best].tobytes() == full.relevance[best].tobytes()
    _, plain_source = _plain_history(reader, candidates)
    assert bounded.history_source[best].tolist() == plain_source[best].tolist()
    several = best[candidates.topic_matrix[best].sum(axis=1) > 1]
    assert len(several) and (plain_source[best] >= 0).sum() > len(best) // 2


def test_a_reader_of_the_topics_they_follow_has_every_story_of_them_compared(monkeypatch):
    """Reads in the two topics the reader follows, whose stories score alike: every one of
    them could reach the best, so they are compared topic by topic as without bounds
    (cheaper than each with every read), to the last bit."""
    rng = np.random.default_rng(20261208)
    candidates = _catalogue(rng)
    candidates.centroid_closeness[:] = 0  # no story closer in content than another
    followed = candidates.topic_ids[:2]
    only_followed = candidates.topic_matrix[:, :2].sum(axis=1) == 1
    in_followed = np.flatnonzero(only_followed & (candidates.topic_matrix.sum(axis=1) == 1))
    read_rows = rng.choice(in_followed, size=50, replace=False)
    pair_reads, pair_columns = np.nonzero(candidates.topic_matrix[read_rows])
    reader = Reader(
        topic_weights={int(t): 1.0 for t in followed},
        read_vectors=candidates.vectors[read_rows],
        pair_reads=pair_reads.astype(np.int64),
        pair_columns=pair_columns.astype(np.int64),
        read_rows=read_rows,
    )
    candidates.popularity[:] = 0
    visible = np.setdiff1d(np.arange(len(candidates.popularity)), read_rows)
    kept = {"weights": None, "freshness": np.full(len(candidates.popularity), 0.5), "pick": None}
    kept["pick"] = np.zeros(len(candidates.popularity))
    compared_with_every_read = []
    some = scoring._similarity_of_some
    monkeypatch.setattr(
        scoring,
        "_similarity_of_some",
        lambda **kwargs: compared_with_every_read.append(1) or some(**kwargs),
    )
    full = score(candidates=candidates, reader=reader, **kept)
    bounded = score(
        candidates=candidates, reader=reader, **kept, ranked=Ranked(rows=visible, size=300)
    )
    _same_scores(bounded, full)
    assert not compared_with_every_read
