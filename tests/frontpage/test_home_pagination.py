"""The home page's links to the pages around it are kept per process by page number and count
of pages: each page still links where it should, and a longer feed gets its own links."""

import pytest
from django.test import Client
from django.test.utils import override_settings

from news.models import Article
from recommendations.feed.pool import candidate_pool_forget
from tests.factories import ArticleFactory

pytestmark = pytest.mark.django_db


def home(client, page=None) -> str:
    response = client.get("/" if page is None else f"/?page={page}")
    assert response.status_code == 200
    return response.content.decode()


@override_settings(NEWS_PAGE_SIZE=2, FEED_PUBLIC_CACHE_SECONDS=0)
def test_each_home_page_links_to_its_own_neighbours():
    for i in range(5):
        ArticleFactory(title=f"Story {i}")
    client = Client()
    first = home(client)
    assert "Page 1 of 3" in first and 'href="?page=2"' in first and 'rel="prev"' not in first
    second = home(client, 2)
    assert "Page 2 of 3" in second
    assert 'href="?page=1"' in second and 'href="?page=3"' in second
    last = home(client, 3)
    assert "Page 3 of 3" in last and 'rel="next"' not in last
    assert home(client) == first  # the same links again, from the kept copy

    ArticleFactory(title="Story 5")
    ArticleFactory(title="Story 6")
    candidate_pool_forget()  # as a publication does
    assert "Page 1 of 4" in home(client)
    Article.objects.all().delete()
    candidate_pool_forget()
    assert "Page 1 of" not in home(client)
