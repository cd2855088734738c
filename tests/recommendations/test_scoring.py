"""One scoring path: the live feed, training's tuning and the offline evaluation rank with
`feed.scoring.score`; and every reason names the signal that placed the story."""

import ast
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from accounts.models import Preferences
from accounts.selectors import reader_profile
from news.models import Article
from privacy.browser_signals import NO_SIGNALS
from privacy.selectors import history_reads_for_user
from recommendations import explanations
from recommendations.active import active_model
from recommendations.feed.page import feed_page, feed_scores
from recommendations.feed.pool import candidate_pool, pool_freshness
from recommendations.feed.scoring import score
from recommendations.offline.protocols import offline_reader
from recommendations.services import model_retrain
from tests.factories import TopicFactory

from .conftest import follow, story

pytestmark = pytest.mark.django_db
APP = Path(score.__code__.co_filename).resolve().parents[1]
Level = Preferences.Level


def test_the_offline_ranking_and_the_live_feeds_agree(newsroom, reader, record_read, settings):
    settings.RECOMMENDER_DIVERSITY = 0.0  # the page in plain score order
    settings.RECOMMENDER_TOPIC_CAP = 100
    model_retrain()
    follow(reader, newsroom.topics["space"], newsroom.topics["food"], level=Level.TOPICS_HISTORY)
    for article in (newsroom.stories["sport"][0], newsroom.stories["food"][1]):
        record_read(user=reader, article=article, signals=NO_SIGNALS)
    now = timezone.now()
    pool = candidate_pool(loaded=active_model(), now=now)
    profile = reader_profile(user=reader)
    reads = history_reads_for_user(user=reader, limit=50)  # newest first
    live = feed_scores(pool=pool, profile=profile, reads=reads, now=now).relevance

    # The evaluation's reader: the same reads (oldest first, as it keeps them), the same
    # followed topics, the same candidates and model.
    rows = pool.rows_of(np.array([r.article_id for r in reversed(reads)], dtype=np.int64))
    offline = score(
        candidates=pool.candidates,
        reader=offline_reader(
            vectors=pool.vectors,
            topic_matrix=pool.topic_matrix,
            topic_ids=pool.topic_ids,
            rows=rows,
            follow="none",
            topic_weights=profile.topic_weights,
        ),
        weights=pool.loaded.model.weights,
        freshness=pool_freshness(pool, now=now),
        pick=(pool.pick_until > now.timestamp()).astype(float),
    ).relevance
    np.testing.assert_array_equal(live, offline)
    unread = np.setdiff1d(np.arange(len(pool.ids)), rows)
    by_offline = [int(pool.ids[i]) for i in unread[np.argsort(-offline[unread], kind="stable")]]
    page = feed_page(user=reader, page_size=len(unread), now=now)
    assert [item.article.pk for item in page] == by_offline


def test_training_tuning_and_evaluation_import_the_one_scoring_function():
    for module in ("training.py", "feed/page.py", "offline/protocols.py"):
        tree = ast.parse((APP / module).read_text())
        imported = {
            (node.module, alias.name)
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
        }
        assert ("scoring", "score") in imported or ("feed.scoring", "score") in imported, module
    # The evaluation builds no twin of the blend: it scores through `score` only.
    assert "def recommender(" not in (APP / "offline" / "protocols.py").read_text()


def _reasons(page) -> dict:
    return {item.article: item.reason for item in page}


def test_a_story_in_a_followed_topic_says_so(newsroom, reader):
    model_retrain()
    follow(reader, newsroom.topics["food"])
    reasons = _reasons(feed_page(user=reader))
    for article in newsroom.stories["food"]:
        assert reasons[article].kind == explanations.ReasonKind.TOPIC
        assert reasons[article].sentence == "Because you follow Food"


def test_a_story_placed_by_a_read_names_that_read_which_shares_its_topic(
    newsroom, reader, record_read
):
    # Every story equally fresh: what places one is the reader's topics or reads.
    Article.objects.update(published_at=timezone.now() - timedelta(days=1))
    model_retrain()
    follow(reader, newsroom.topics["sport"], level=Level.TOPICS_HISTORY)
    read = newsroom.stories["food"][1]
    record_read(user=reader, article=read, signals=NO_SIGNALS)
    later = timezone.now() + timedelta(days=2)
    history = [
        (article, reason)
        for article, reason in _reasons(feed_page(user=reader, now=later)).items()
        if reason.kind == explanations.ReasonKind.HISTORY
    ]
    assert history
    for article, reason in history:
        assert reason.sentence.startswith(f"Because you read '{read.title}'")
        assert set(article.topics.all()) & set(read.topics.all())


def test_related_to_names_a_followed_topic_only_for_a_story_outside_it(newsroom, reader):
    model_retrain()
    follow(reader, newsroom.topics["space"])
    for article, reason in _reasons(feed_page(user=reader)).items():
        if reason.kind == explanations.ReasonKind.RELATED_TOPIC:
            assert reason.sentence == "Related to Space, which you follow"
            assert newsroom.topics["space"] not in set(article.topics.all())


def test_popular_pick_and_fresh_reasons(newsroom):
    assert explanations.popular_today().sentence == "Popular today"
    assert explanations.editors_pick(signed_in=False).sentence == "Editor's pick"
    assert explanations.just_in(signed_in=True).sentence == "One of the newest stories"
    parts = {"topic": 0.0, "related": 0.0, "history": 0.0, "pick": 0.0, "freshness": 0.1}
    kind = explanations.reason_kind
    assert kind(**parts, popularity=0.5, popularity_share=1.0) == "popular"
    # Below half the top story's popularity a story is not called popular.
    assert kind(**parts, popularity=0.5, popularity_share=0.4) == "fresh"
    assert kind(**parts | {"pick": 0.6}, popularity=0.5, popularity_share=1.0) == "pick"
    assert kind(**parts | {"history": 0.7}, popularity=0.5, popularity_share=1.0) == "history"


def test_a_pick_in_the_anonymous_feed_says_editors_pick(newsroom, client):
    pick = story(
        title="Editors chose this one",
        body="A story the editors put first.",
        topics=[TopicFactory(name="Culture", slug="culture")],
        editors_pick_until=timezone.now() + timedelta(days=1),
    )
    model_retrain()
    reasons = _reasons(feed_page(user=AnonymousUser()))
    assert reasons[pick].sentence == "Editor's pick"
