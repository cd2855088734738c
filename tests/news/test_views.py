"""Public news pages as a visitor sees them."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from news.models import Article, Topic
from tests.factories import ArticleFactory, TopicFactory

pytestmark = pytest.mark.django_db


def test_home_lists_published_articles_newest_first_and_hides_the_rest(client):
    older = ArticleFactory(title="Older story", published_at=timezone.now() - timedelta(days=2))
    newer = ArticleFactory(title="Newer story", published_at=timezone.now() - timedelta(hours=1))
    ArticleFactory(title="Secret draft", status=Article.Status.DRAFT, published_at=None)
    ArticleFactory(
        title="Future story",
        status=Article.Status.SCHEDULED,
        published_at=timezone.now() + timedelta(days=1),
    )

    html = client.get(reverse("news:home")).content.decode()
    assert html.index(newer.title) < html.index(older.title)
    assert "Secret draft" not in html
    assert "Future story" not in html


def test_home_page_query_count_does_not_grow_with_articles(client, django_assert_max_num_queries):
    topic = TopicFactory()
    ArticleFactory.create_batch(15, topics=[topic])
    # Two of them add the page's cards to the day's impression counter (one upsert, after
    # turning off the wait for the disk flush of that commit).
    with django_assert_max_num_queries(8):
        assert client.get(reverse("news:home")).status_code == 200


def test_home_is_paginated(client, settings):
    settings.NEWS_PAGE_SIZE = 5
    ArticleFactory.create_batch(12)
    page_three = client.get(reverse("news:home"), {"page": 3}).content.decode()
    assert "Page 3 of 3" in page_three and 'rel="next"' not in page_three
    assert page_three.count('<article class="card">') == 2
    # A nonsense page number falls back to a valid page instead of failing.
    assert client.get(reverse("news:home"), {"page": "abc"}).status_code == 200


def test_article_page_shows_the_story_with_its_topics(client, article, topic):
    response = client.get(article.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert article.title in html
    assert "Second paragraph with more detail." in html
    assert topic.get_absolute_url() in html


def test_a_draft_is_not_found_by_readers(client, reader):
    draft = ArticleFactory(status=Article.Status.DRAFT, published_at=None)
    assert client.get(draft.get_absolute_url()).status_code == 404
    client.force_login(reader)
    assert client.get(draft.get_absolute_url()).status_code == 404


def test_an_editor_can_preview_a_draft(client, editor):
    draft = ArticleFactory(status=Article.Status.DRAFT, published_at=None)
    client.force_login(editor)
    response = client.get(draft.get_absolute_url())
    assert response.status_code == 200
    assert "Preview: this article is draft" in response.content.decode()


def test_topic_page_lists_only_that_topics_articles(client):
    science, sport = TopicFactory(name="Science"), TopicFactory(name="Sport")
    ArticleFactory(title="Comet seen", topics=[science])
    ArticleFactory(title="Cup final", topics=[sport])
    html = client.get(science.get_absolute_url()).content.decode()
    assert "Comet seen" in html
    assert "Cup final" not in html
    assert client.get(reverse("news:topic", args=["no-such-topic"])).status_code == 404


def test_search_finds_words_in_title_and_body(client):
    ArticleFactory(title="Harbour bridge reopens", body="Engineers finished the repair.")
    ArticleFactory(title="Orchard harvest", body="Apples and pears this year.")
    ArticleFactory(title="Hidden draft bridge", status=Article.Status.DRAFT, published_at=None)

    by_title = client.get(reverse("news:search"), {"q": "bridge"}).content.decode()
    assert "Harbour <mark>bridge</mark> reopens" in by_title
    assert "Orchard harvest" not in by_title
    assert "Hidden draft bridge" not in by_title

    by_body = client.get(reverse("news:search"), {"q": "apples"}).content.decode()
    assert "Orchard harvest" in by_body


def test_empty_or_odd_search_input_is_answered_plainly(client):
    assert "Type a few words" in client.get(reverse("news:search")).content.decode()
    odd = client.get(reverse("news:search"), {"q": "\"' OR 1=1 --  & | ! :*"})
    assert odd.status_code == 200
    assert odd.context["page"].paginator.count == 0
    assert "Nothing matched" in odd.content.decode()


def test_unknown_page_gets_the_sites_404(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "There is nothing at this address." in response.content.decode()


def test_health_check_answers(client):
    assert client.get("/healthz").content == b"ok"


def test_the_topic_navigation_follows_topics_without_asking_the_cache_on_every_page(client):
    from django.core.cache import cache

    from common.sitewide import sitewide_forget_all_in_process
    from news.context_processors import NAV_TOPICS_KEY

    def nav(html: str) -> list[str]:
        section = html.split('aria-label="Topics"', 1)[1].split("</nav>", 1)[0]
        return re.findall(r">([^<]+)</a>", section)

    Topic.objects.create(name="Science", slug="science")
    assert nav(client.get("/").content.decode()) == ["Science"]
    # A topic added through the site: shown at once.
    Topic.objects.create(name="Culture", slug="culture")
    assert nav(client.get("/").content.decode()) == ["Culture", "Science"]

    # Kept in this process for a few seconds: a page does not go to the shared cache for it.
    cache.delete(NAV_TOPICS_KEY)
    Topic.objects.filter(slug="culture").update(name="Arts")  # no signal: nobody forgets it
    assert nav(client.get("/").content.decode()) == ["Culture", "Science"]
    sitewide_forget_all_in_process()  # what a few seconds do
    assert nav(client.get("/").content.decode()) == ["Arts", "Science"]


def test_a_renamed_topic_shows_its_new_name_on_every_card_at_once(client):
    space = Topic.objects.create(name="Space", slug="space")
    ArticleFactory.create_batch(2, topics=[space])

    def tags() -> list[str]:
        return re.findall(
            r'<a class="tag" href="[^"]+">([^<]+)</a>', client.get("/").content.decode()
        )

    assert tags() == ["Space", "Space"]
    assert tags() == ["Space", "Space"]  # the page and its cards now come from the cache
    space.name = "Astronomy"
    space.save()
    assert tags() == ["Astronomy", "Astronomy"]


def test_paragraphs_typed_in_a_browser_form_stay_paragraphs_on_the_article_page(client):
    # A browser posts "\r\n" line endings; the body's blank lines must still split it.
    article = ArticleFactory(body="First paragraph.\r\n\r\nSecond paragraph.\r\n \r\nThird.")
    html = client.get(article.get_absolute_url()).content.decode()
    for text in ("First paragraph.", "Second paragraph.", "Third."):
        assert f"<p>{text}</p>" in html
