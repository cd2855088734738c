"""Paging through the API as a client does: `page` and `page_size` on the feed and on the
article list, within the documented bounds (1 to 100 items, the site's page size by default);
anything else is a 400 naming the parameter, never a silently different page."""

import pytest

from common.api_pagination import MAX_PAGE_SIZE
from tests.factories import ArticleFactory, TopicFactory

from .conftest import assert_error

pytestmark = pytest.mark.django_db

FEED = "/api/v1/feed/"
ARTICLES = "/api/v1/articles/"
BAD_PAGE_SIZES = ["0", "-3", str(MAX_PAGE_SIZE + 1), "many", "2.5"]


def _slugs(body) -> list[str]:
    return [item["article"]["slug"] for item in body["results"]]


def test_the_feed_gives_the_page_size_asked_for_and_pages_through_every_story(api):
    ArticleFactory.create_batch(5)

    pages = [api.get(FEED, {"page_size": 2, "page": n}).json() for n in (1, 2, 3)]

    assert [len(page["results"]) for page in pages] == [2, 2, 1]
    assert all(page["page_size"] == 2 and page["num_pages"] == 3 for page in pages)
    assert [page["page"] for page in pages] == [1, 2, 3]
    every = [slug for page in pages for slug in _slugs(page)]
    assert len(set(every)) == len(every) == 5


def test_the_feed_uses_the_sites_page_size_when_none_is_asked_for(api, settings):
    settings.NEWS_PAGE_SIZE = 3
    ArticleFactory.create_batch(4)

    body = api.get(FEED).json()

    assert body["page_size"] == 3
    assert len(body["results"]) == 3 and body["num_pages"] == 2
    # A blank field (a form sent as it was) counts as left out, on both lists.
    assert api.get(FEED, {"page_size": ""}).json()["page_size"] == 3
    assert len(api.get(ARTICLES, {"page_size": ""}).json()["results"]) == 3


def test_the_largest_page_size_is_allowed(api):
    ArticleFactory.create_batch(3)

    body = api.get(FEED, {"page_size": MAX_PAGE_SIZE}).json()

    assert body["page_size"] == MAX_PAGE_SIZE
    assert body["num_pages"] == 1 and len(body["results"]) == 3


@pytest.mark.parametrize("page_size", BAD_PAGE_SIZES)
def test_a_bad_page_size_on_the_feed_is_a_400_naming_it(api, page_size):
    ArticleFactory.create_batch(2)

    error = assert_error(api.get(FEED, {"page_size": page_size}), 400, "invalid")

    assert list(error["fields"]) == ["page_size"]


@pytest.mark.parametrize("page_size", BAD_PAGE_SIZES)
def test_a_bad_page_size_on_the_article_list_is_a_400_too(api, page_size):
    ArticleFactory.create_batch(2)

    error = assert_error(api.get(ARTICLES, {"page_size": page_size}), 400, "invalid")

    assert list(error["fields"]) == ["page_size"]


def test_the_article_list_gives_the_page_size_asked_for(api):
    topic = TopicFactory(slug="science")
    ArticleFactory.create_batch(5, topics=[topic])

    first = api.get(ARTICLES, {"page_size": 2, "topic": "science"}).json()
    last = api.get(ARTICLES, {"page_size": 2, "topic": "science", "page": 3}).json()

    assert first["count"] == 5 and len(first["results"]) == 2
    assert "page_size=2" in first["next"]
    assert len(last["results"]) == 1 and last["next"] is None


def test_the_schema_documents_the_paging_of_both_lists(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    for path in (FEED, ARTICLES):
        parameters = {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}
        assert parameters["page"]["schema"]["minimum"] == 1, path
        size = parameters["page_size"]
        assert size["schema"] == {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}
        assert "the site's page size when left out" in size["description"]
    feed = schema["paths"][FEED]["get"]
    assert "page_size" in feed["description"]
    output = feed["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert "page_size" in schema["components"]["schemas"][output.rsplit("/", 1)[1]]["properties"]
