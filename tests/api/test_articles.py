"""Articles, topics and the feed through the API: public reads, filters, search, pagination,
the reason for every feed story, and the error format on bad input."""

import pytest

from accounts.services import preferences_set_level, preferences_set_topics
from privacy.browser_signals import NO_SIGNALS
from tests.factories import ArticleFactory, TopicFactory

from .conftest import assert_error

pytestmark = pytest.mark.django_db


def test_articles_list_is_public_newest_first_and_paginated(api, settings):
    settings.NEWS_PAGE_SIZE = 2
    ArticleFactory.create_batch(3)
    ArticleFactory(status="draft", slug="a-draft")
    response = api.get("/api/v1/articles/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"]
    assert "a-draft" not in {a["slug"] for a in body["results"]}
    second = api.get("/api/v1/articles/", {"page": 2}).json()
    assert len(second["results"]) == 1


def test_articles_filtered_by_topic(api):
    science, sport = TopicFactory(slug="science"), TopicFactory(slug="sport")
    ArticleFactory(slug="in-science", topics=[science])
    ArticleFactory(slug="in-sport", topics=[sport])
    body = api.get("/api/v1/articles/", {"topic": "science"}).json()
    assert [a["slug"] for a in body["results"]] == ["in-science"]
    assert body["results"][0]["topics"][0]["slug"] == "science"


def test_unknown_topic_is_a_field_error(api):
    error = assert_error(api.get("/api/v1/articles/", {"topic": "nope"}), 400, "invalid")
    assert "topic" in error["fields"]


def test_search_finds_words_in_titles(api):
    ArticleFactory(slug="salmon", title="Salmon return to the river")
    ArticleFactory(slug="budget", title="Budget talks stall")
    body = api.get("/api/v1/articles/", {"q": "salmon"}).json()
    assert [a["slug"] for a in body["results"]] == ["salmon"]


def test_search_within_a_topic(api):
    science = TopicFactory(slug="science")
    ArticleFactory(slug="salmon-science", title="Salmon genes decoded", topics=[science])
    ArticleFactory(slug="salmon-food", title="Salmon recipes for winter")
    body = api.get("/api/v1/articles/", {"q": "salmon", "topic": "science"}).json()
    assert [a["slug"] for a in body["results"]] == ["salmon-science"]


def test_page_past_the_end_is_a_json_404(api):
    ArticleFactory()
    assert_error(api.get("/api/v1/articles/", {"page": 9}), 404, "not_found")


def test_article_detail_has_the_body(api, article):
    body = api.get(f"/api/v1/articles/{article.slug}/").json()
    assert body["slug"] == article.slug
    assert body["body"] == article.body
    assert body["url"] == article.get_absolute_url()


def test_draft_and_unknown_articles_are_404(api):
    ArticleFactory(slug="secret-draft", status="draft")
    assert_error(api.get("/api/v1/articles/secret-draft/"), 404, "not_found")
    assert_error(api.get("/api/v1/articles/no-such-story/"), 404, "not_found")


def test_reading_an_article_through_the_api_records_nothing(token_api, article):
    from privacy.models import ReadingHistoryEntry, SignalEvent

    assert token_api.get(f"/api/v1/articles/{article.slug}/").status_code == 200
    assert not ReadingHistoryEntry.objects.exists()
    assert not SignalEvent.objects.exists()


def test_topics_list(api):
    TopicFactory(name="Science", slug="science")
    body = api.get("/api/v1/topics/").json()
    assert {"slug": "science", "name": "Science"}.items() <= body[0].items()


def test_anonymous_feed_is_not_personal_and_explains_each_story(api):
    ArticleFactory.create_batch(2)
    body = api.get("/api/v1/feed/").json()
    assert body["personalized"] is False
    assert body["count"] == 2
    for item in body["results"]:
        assert item["reason"]["sentence"]
        assert item["reason"]["kind"] in {"pick", "popular", "fresh"}


def test_readers_feed_follows_their_topics_and_says_why(token_api):
    science = TopicFactory(name="Science", slug="science")
    ArticleFactory(slug="science-story", topics=[science])
    ArticleFactory(slug="other-story", topics=[TopicFactory()])
    reader = token_api.user
    preferences_set_topics(user=reader, topic_ids=[science.pk])
    preferences_set_level(user=reader, level="topics", source="preferences", signals=NO_SIGNALS)
    body = token_api.get("/api/v1/feed/").json()
    assert body["personalized"] is True
    first = body["results"][0]
    assert first["article"]["slug"] == "science-story"
    assert first["reason"] == {"kind": "topic", "sentence": "Because you follow Science"}


def test_feed_page_must_be_a_positive_number(api):
    error = assert_error(api.get("/api/v1/feed/", {"page": "zero"}), 400)
    assert "page" in error["fields"]


def test_unknown_api_path_is_a_json_404(api):
    assert_error(api.get("/api/v1/nothing-here/"), 404, "not_found")


def test_wrong_method_is_a_json_405(api):
    assert_error(api.delete("/api/v1/topics/"), 405, "method_not_allowed")


def test_site_error_handlers_answer_json_under_api_and_html_elsewhere(rf):
    from common import api_errors

    api_response = api_errors.server_error(rf.get("/api/v1/articles/"))
    assert api_response.status_code == 500
    assert api_response["Content-Type"] == "application/json"
    assert b'"code": "server_error"' in api_response.content
    denied = api_errors.permission_denied(rf.get("/api/v1/feed/"), None)
    assert denied.status_code == 403 and denied["Content-Type"] == "application/json"
    page = api_errors.page_not_found(rf.get("/no-such-page/"), None)
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
