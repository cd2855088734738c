"""With Redis stopped (cache and broker), every page still answers and nothing is lost."""

import pytest
from django.urls import reverse

from privacy.models import ReadingHistoryEntry
from tests.factories import DEFAULT_PASSWORD, ArticleFactory, reader_choices, verified_reader

pytestmark = pytest.mark.django_db
DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def redis_down(settings, broker_down):
    """The production cache configuration, pointed at a Redis that is not there."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": DEAD_REDIS,
            "OPTIONS": {
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
            },
        }
    }


def test_every_page_is_served_while_redis_is_down(client, redis_down, caplog):
    reader = reader_choices(verified_reader())
    article = ArticleFactory(topics=[reader.preferences.topics.first()])
    for url in ["/", article.get_absolute_url(), reverse("news:search") + "?q=story"]:
        assert client.get(url).status_code == 200, url
    assert client.get(reverse("account_login")).status_code == 200
    # Sign-in attempts are rate limited through the cache. Without it they are refused, not
    # let through unthrottled: a deliberate choice, with a page that says what happened.
    response = client.post(
        reverse("account_login"), {"login": reader.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 429
    # Readers already signed in (sessions live in the database) use the whole site.
    client.force_login(reader)
    for name in ["news:home", "privacy:center", "privacy:history", "accounts:preferences"]:
        assert client.get(reverse(name)).status_code == 200, name


def test_a_read_is_not_lost_while_redis_is_down(
    client, redis_down, django_capture_on_commit_callbacks
):
    reader = reader_choices(verified_reader())
    article = ArticleFactory()
    client.force_login(reader)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(article.get_absolute_url()).status_code == 200
    assert ReadingHistoryEntry.objects.filter(user=reader).count() == 1


def test_the_cached_pages_are_computed_while_redis_is_down(
    client, redis_down, django_capture_on_commit_callbacks
):
    reader = reader_choices(verified_reader())
    topic = reader.preferences.topics.first()
    first, second = ArticleFactory(topics=[topic]), ArticleFactory(topics=[topic])
    # The shared feed and "More like this", for anonymous visitors, twice: no stale copy.
    for _ in range(2):
        assert first.title in client.get("/").content.decode()
        assert client.get(first.get_absolute_url()).status_code == 200
    # A reader's own feed, and everything that would forget their cached copy.
    client.force_login(reader)
    html = client.get(reverse("news:home")).content.decode()
    assert "Your front page" in html and f"Because you follow {topic.name}" in html
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(first.get_absolute_url()).status_code == 200
        response = client.post(reverse("recommendations:show_less"), {"topic": topic.pk})
    assert response.status_code == 302
    html = client.get(reverse("news:home")).content.decode()
    assert "Your front page" in html and second.title in html
