"""The browser ranks the front page as the server would: static/privatemode/ranking.js, run by
node on a bundle built from the fixture newsroom, against the recommender's own Python
scoring on the same bundle (`bundle_feed`: `score`, `rank` and the reasons), reader by
reader; and against the live server's feed, with its float vectors, for signed-in readers
following the same topics and reading the same stories."""

import json
import subprocess
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import Preferences
from privacy.browser_signals import NO_SIGNALS
from privacy.services import read_store
from privatemode.bundle import bundle_decode, bundle_feed
from privatemode.services import bundle_build
from recommendations.feed.page import feed_page
from tests.factories import ReaderFactory

from .conftest import RANKING_JS, RUNNER, browser_ranking, node_or_skip, topic_ids

pytestmark = pytest.mark.django_db
HOUR = 3600


def _browser_decoded(bundle: dict) -> dict:
    """The bundle as ranking.js decodes it (node), array by array."""
    completed = subprocess.run(
        [node_or_skip(), str(RUNNER), RANKING_JS.as_uri()],
        input=json.dumps({"bundle": bundle}),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def _as_tuples(stories):
    return [(s.id, s.kind, s.sentence) for s in stories]


def _from_browser(stories):
    return [(s["id"], s["kind"], s["sentence"]) for s in stories]


def test_the_browser_ranks_every_fixture_reader_exactly_as_python_scores_the_bundle(newsroom):
    built_at = timezone.now()
    bundle = bundle_build(now=built_at)
    decoded = bundle_decode(bundle)
    now = built_at.timestamp() + 600
    ids = [int(i) for i in decoded.ids]  # newest first
    space, food, sport, politics = (newsroom[n] for n in ("Space", "Food", "Sport", "Politics"))
    weather = newsroom["Space"].__class__.objects.get(slug="weather")
    readers = {
        "anonymous, nothing kept": ([], [], []),
        "follows Space": (topic_ids(space), [], []),
        "follows Food and Sport, read three": (
            topic_ids(food, sport),
            [(ids[2], now - HOUR), (ids[7], now - 30 * HOUR), (ids[11], now - 80 * HOUR)],
            [],
        ),
        "follows Politics, blocks Food, read many": (
            topic_ids(politics),
            [(ids[k], now - (k + 1) * 7 * HOUR) for k in (0, 1, 4, 5, 9, 13, 14, 20, 22, 25)],
            [food.pk],
        ),
        "follows every topic and one without stories": (
            topic_ids(space, food, sport, politics, weather),
            [(ids[k], now - k * 20 * HOUR) for k in (3, 6, 8, 12)],
            [],
        ),
        "reads but follows nothing: the page everyone gets": (
            [],
            [(ids[1], now - HOUR)],
            [],
        ),
    }
    cases = [
        {
            "topics": [list(t) for t in topics],
            "reads": [list(r) for r in reads],
            "blocked": blocked,
            "now": now,
            "stop": len(ids),
        }
        for topics, reads, blocked in readers.values()
    ]

    in_browser = browser_ranking(bundle, cases)

    for (name, (topics, reads, blocked)), ranked in zip(readers.items(), in_browser, strict=True):
        expected = bundle_feed(
            decoded, topics=topics, reads=reads, blocked=blocked, now=now, stop=len(ids)
        )
        assert _from_browser(ranked) == _as_tuples(expected), name
    kinds = {story["kind"] for ranked in in_browser for story in ranked}
    # Not a trivial agreement: every kind of reason was reached on both sides.
    assert {"topic", "related_topic", "history", "popular", "pick", "fresh"} <= kinds
    sentences = {story["sentence"] for ranked in in_browser for story in ranked}
    assert "Because you follow Space" in sentences
    assert any(s.startswith("Because you read '") for s in sentences)


def _signed_in(topics, level):
    reader = ReaderFactory()
    accounts_services.preferences_set_topics(user=reader, topic_ids=[t.pk for t in topics])
    accounts_services.preferences_set_level(
        user=reader, level=level, source="preferences", signals=NO_SIGNALS
    )
    return reader


def test_the_browser_shows_a_reader_the_page_the_server_would_rank_for_them(newsroom):
    """The bundle's int8 vectors against the server's float ones, for a reader at "Topics
    only" and one whose reads the server keeps, over every candidate: the same first ten
    stories in the same order, at least 18 of the same 20 on the first page, and every story
    with the same reason in the same words. (Not always the very same place further down:
    int8 moves a similarity by about 1e-3, which decides between two stories whose
    diversity-adjusted scores are that close; bench/bundle.py measures how often.)"""
    now_dt = timezone.now()
    bundle = bundle_build(now=now_dt)
    ids = [row[0] for row in bundle["articles"]]
    space, sport = newsroom["Space"], newsroom["Sport"]
    topics_only = _signed_in([space, sport], Preferences.Level.TOPICS)
    with_history = _signed_in([sport], Preferences.Level.TOPICS_HISTORY)
    read_times = {ids[k]: now_dt - timedelta(hours=2 * k + 1) for k in (1, 2, 6)}
    for article_id, read_at in sorted(read_times.items(), key=lambda item: item[1]):
        read_store(user_id=with_history.pk, article_id=article_id, read_at=read_at.isoformat())
    newest_first = sorted(read_times.items(), key=lambda item: item[1], reverse=True)
    cases = [
        {"topics": [list(t) for t in topic_ids(space, sport)], "reads": [], "blocked": []},
        {
            "topics": [list(t) for t in topic_ids(sport)],
            "reads": [[a, at.timestamp()] for a, at in newest_first],
            "blocked": [],
        },
    ]
    for case in cases:
        case.update(now=now_dt.timestamp(), stop=len(ids))

    in_browser = browser_ranking(bundle, cases)

    for reader, ranked in zip((topics_only, with_history), in_browser, strict=True):
        # Two pages of the site's size (the topic caps are per page), as the browser ranks.
        on_server = [
            (item.article.pk, item.reason.kind, item.reason.sentence)
            for number in (1, 2)
            for item in feed_page(user=reader, page_number=number, page_size=20, now=now_dt)
        ]
        here = _from_browser(ranked)
        assert here[:10] == on_server[:10]
        first_page = {story[0] for story in here[:20]} & {story[0] for story in on_server[:20]}
        assert len(first_page) >= 18
        # Every story, wherever it lands, for the same reason in the same words.
        assert sorted(here) == sorted(on_server)
    assert any(story["kind"] == "history" for story in in_browser[1])


def test_a_read_on_another_day_is_named_with_its_day_in_the_sites_time_zone(newsroom, settings):
    settings.TIME_ZONE = "America/New_York"
    tomorrow = (timezone.now() + timedelta(days=1)).astimezone(UTC).date()
    built_at = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 15, 0, tzinfo=UTC)
    bundle = bundle_build(now=timezone.now())
    decoded = bundle_decode(bundle)
    ids = [int(i) for i in decoded.ids]
    sport = newsroom["Sport"]
    now = built_at.timestamp()
    # 03:30 UTC on the 2nd is still the 1st in New York: "yesterday", not "today".
    reads = [(ids[k], now - 11.5 * HOUR - k) for k in range(8)]
    case = {
        "topics": [list(t) for t in topic_ids(sport)],
        "reads": [list(r) for r in reads],
        "blocked": [],
        "now": now,
        "stop": len(ids),
    }
    bundle["time_zone"] = settings.TIME_ZONE
    in_browser = browser_ranking(bundle, [case])[0]
    expected = bundle_feed(decoded, topics=topic_ids(sport), reads=reads, now=now, stop=len(ids))
    assert _from_browser(in_browser) == _as_tuples(expected)
    history = [s["sentence"] for s in in_browser if s["kind"] == "history"]
    assert history and all(s.endswith(" yesterday") for s in history)


def test_the_browser_decodes_every_number_of_the_bundle_to_the_same_double(newsroom):
    """Times as gaps, popularity as integers and unit vectors without scales are rebuilt by
    arithmetic: both sides must land on the very same float64, not a nearby one."""
    bundle = bundle_build(now=timezone.now())
    assert "scale" not in bundle["vectors"]
    decoded = bundle_decode(bundle)

    in_browser = _browser_decoded(bundle)

    candidates = decoded.candidates
    assert in_browser["ids"] == decoded.ids.tolist()
    assert in_browser["published"] == decoded.published.tolist()
    assert in_browser["popularity"] == candidates.popularity.tolist()
    assert in_browser["vectors"] == candidates.vectors.ravel().tolist()
    assert in_browser["centroids"] == candidates.topic_centroids.ravel().tolist()
    # Dot products of those: BLAS may add in another order, so the last bit may differ.
    assert np.allclose(
        np.array(in_browser["closeness"]).reshape(candidates.centroid_closeness.shape),
        candidates.centroid_closeness,
        rtol=0,
        atol=1e-14,
    )
