"""Outgoing RSS/Atom feeds and the sitemap, as a feed reader, a crawler and a reader see them."""

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from frontpage.feeds import FEED_LENGTH
from news import revisions, services
from news.models import Article
from tests.factories import ArticleFactory, ReaderFactory, TopicFactory, reader_choices

pytestmark = pytest.mark.django_db
Status = Article.Status
ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def _rss_items(response) -> list[dict]:
    root = ET.fromstring(response.content)
    return [
        {child.tag: child.text for child in item}
        | {"categories": [c.text for c in item.iter("category")]}
        for item in root.iter("item")
    ]


def _mixed_stories():
    now = timezone.now()
    science, sport = (
        TopicFactory(name="Science", slug="science"),
        TopicFactory(name="Sport", slug="sport"),
    )
    older = ArticleFactory(
        title="Older comet", topics=[science], published_at=now - timedelta(days=2)
    )
    newer = ArticleFactory(
        title="Newer comet", topics=[science], published_at=now - timedelta(hours=1)
    )
    ArticleFactory(title="Cup final", topics=[sport], published_at=now - timedelta(hours=3))
    ArticleFactory(title="Secret draft", topics=[science], status=Status.DRAFT, published_at=None)
    ArticleFactory(
        title="Future story",
        topics=[science],
        status=Status.SCHEDULED,
        published_at=now + timedelta(days=1),
    )
    archived = ArticleFactory(title="Archived comet", topics=[science])
    services.article_archive(article=archived, changed_by="Ada")
    return science, older, newer


def test_the_site_rss_feed_lists_published_stories_newest_first(client):
    _, older, newer = _mixed_stories()
    response = client.get(reverse("news:feed_rss"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/rss+xml")
    items = _rss_items(response)
    assert [item["title"] for item in items] == ["Newer comet", "Cup final", "Older comet"]
    first = items[0]
    assert first["link"] == f"http://testserver{newer.get_absolute_url()}"
    assert first["description"] == newer.summary
    assert first["categories"] == ["Science"]
    assert first["guid"] == f"urn:newsite:article:{newer.pk}"


def test_the_site_atom_feed_says_the_same_with_update_times(client):
    _, older, newer = _mixed_stories()
    before = revisions.snapshot(newer)
    newer.title = "Newer comet, corrected"
    newer.save()
    services.article_revision_record(article=newer, before=before, changed_by="Ada")
    newer.refresh_from_db()

    response = client.get(reverse("news:feed_atom"))
    assert response["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)
    entries = root.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [
        "Newer comet, corrected",
        "Cup final",
        "Older comet",
    ]
    updated = entries[0].findtext(f"{ATOM}updated")
    assert updated.startswith(newer.content_updated_at.strftime("%Y-%m-%dT%H:%M:%S"))


def test_a_topic_feed_lists_only_that_topics_published_stories(client):
    science, _, _ = _mixed_stories()
    for name in ("news:topic_feed_rss", "news:topic_feed_atom"):
        body = client.get(reverse(name, args=[science.slug])).content.decode()
        assert "Newer comet" in body and "Older comet" in body
        for absent in ("Cup final", "Secret draft", "Future story", "Archived comet"):
            assert absent not in body, (name, absent)
    assert client.get(reverse("news:topic_feed_rss", args=["no-such-topic"])).status_code == 404


def test_feeds_are_bounded_and_their_queries_do_not_grow(client, django_assert_max_num_queries):
    topic = TopicFactory()
    ArticleFactory.create_batch(FEED_LENGTH + 5, topics=[topic])
    with django_assert_max_num_queries(3):
        response = client.get(reverse("news:feed_rss"))
    assert len(_rss_items(response)) == FEED_LENGTH


def test_feeds_are_the_same_for_everyone_and_cacheable(client):
    _mixed_stories()
    anonymous = client.get(reverse("news:feed_rss"))
    assert "public" in anonymous["Cache-Control"] and "max-age=300" in anonymous["Cache-Control"]
    assert not anonymous.cookies

    reader = reader_choices(ReaderFactory())
    client.force_login(reader)
    signed_in = client.get(reverse("news:feed_rss"))
    assert _rss_items(signed_in) == _rss_items(anonymous)
    assert reader.email.encode() not in signed_in.content
    assert reader.display_name.encode() not in signed_in.content


def test_feed_text_is_escaped(client):
    ArticleFactory(title="Tags <script>alert(1)</script> & more", summary="<b>bold</b>")
    body = client.get(reverse("news:feed_rss")).content.decode()
    assert "<script>" not in body and "&lt;script&gt;" in body
    assert [i["title"] for i in _rss_items(client.get(reverse("news:feed_rss")))] == [
        "Tags <script>alert(1)</script> & more"
    ]


def test_pages_point_feed_readers_at_the_feeds(client):
    topic = TopicFactory(name="Science", slug="science")
    home = client.get(reverse("news:home")).content.decode()
    assert '<link rel="alternate" type="application/rss+xml"' in home
    assert f'href="{reverse("news:feed_rss")}"' in home
    assert f'href="{reverse("news:feed_atom")}"' in home

    page = client.get(topic.get_absolute_url()).content.decode()
    head = page.split("</head>", 1)[0]
    assert f'href="{reverse("news:topic_feed_rss", args=["science"])}"' in head
    assert f'href="{reverse("news:topic_feed_atom", args=["science"])}"' in head
    body = page.split("</head>", 1)[1]
    assert f'<a href="{reverse("news:topic_feed_rss", args=["science"])}">RSS</a>' in body


# --- Sitemap and robots.txt ---------------------------------------------------------------


def test_the_sitemap_lists_the_front_page_topics_and_published_stories(client):
    science, older, newer = _mixed_stories()
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    assert "public" in response["Cache-Control"]
    root = ET.fromstring(response.content)
    locations = {url.findtext(f"{SITEMAP}loc"): url for url in root.iter(f"{SITEMAP}url")}
    base = "http://testserver"
    assert f"{base}/" in locations
    assert f"{base}{science.get_absolute_url()}" in locations
    assert f"{base}{newer.get_absolute_url()}" in locations
    assert f"{base}{older.get_absolute_url()}" in locations
    stories = [loc for loc in locations if "/articles/" in loc]
    assert len(stories) == 3  # not the draft, the scheduled or the archived story
    lastmod = locations[f"{base}{newer.get_absolute_url()}"].findtext(f"{SITEMAP}lastmod")
    assert lastmod == newer.published_at.date().isoformat()


def test_robots_txt_points_to_the_sitemap(client):
    response = client.get("/robots.txt")
    assert response["Content-Type"].startswith("text/plain")
    lines = response.content.decode().splitlines()
    assert "Sitemap: http://testserver/sitemap.xml" in lines
    assert "Disallow: /admin/" in lines
