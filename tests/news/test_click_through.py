"""Feed cards say which feed they came from, reads that follow are counted per list type, and
the cards shown are counted per day: the two halves of the editors' click-through rates."""

import re

import pytest
from django.utils import timezone

from privacy.models import SignalEvent
from recommendations.models import FeedImpressionCount
from tests.factories import ArticleFactory, ReaderFactory, reader_choices

pytestmark = pytest.mark.django_db


def card_links(response) -> list[str]:
    return re.findall(r'<h3 class="card-title"><a href="([^"]+)"', response.content.decode())


def impressions() -> dict[str, int]:
    today = timezone.localdate()
    rows = FeedImpressionCount.objects.filter(day=today)
    return dict(rows.values_list("list_type", "count"))


def test_anonymous_feed_cards_are_marked_editorial_and_counted(client):
    ArticleFactory.create_batch(3)

    links = card_links(client.get("/"))
    client.get("/")

    assert len(links) == 3
    assert all(link.endswith("?via=editorial") for link in links)
    assert impressions() == {"editorial": 6}


def test_a_personalised_feed_marks_its_cards_personal(client):
    reader = reader_choices(ReaderFactory(), level="topics")
    topic = reader.preferences.topics.first()
    ArticleFactory.create_batch(2, topics=[topic])
    client.force_login(reader)

    links = card_links(client.get("/"))

    assert links and all(link.endswith("?via=personal") for link in links)
    assert impressions() == {"personal": len(links)}


def test_topic_pages_and_search_carry_no_marker(client, article):
    topic = article.topics.first()

    links = card_links(client.get(topic.get_absolute_url()))

    assert links == [article.get_absolute_url()]
    assert impressions() == {}


@pytest.mark.parametrize(
    ("query", "stored"),
    [
        ("?via=personal", "personal"),
        ("?via=editorial", "editorial"),
        ("?via=newsletter", ""),
        ("?via=non_personal", ""),
        ("", ""),
    ],
)
def test_a_counted_read_keeps_the_feed_it_came_from(client, read_page, article, query, stored):
    reader = reader_choices(ReaderFactory(), level="topics", counting=True)
    client.force_login(reader)

    with_marker = ArticleFactory(slug=f"{article.slug}-x")
    with_marker.get_absolute_url = lambda: f"/articles/{with_marker.slug}/{query}"
    read_page(client, with_marker)

    assert list(SignalEvent.objects.values_list("list_type", flat=True)) == [stored]


def test_nothing_is_counted_per_list_type_for_a_reader_who_did_not_opt_in(
    client, read_page, article
):
    client.force_login(reader_choices(ReaderFactory(), level="topics", counting=False))
    article.get_absolute_url = lambda: f"/articles/{article.slug}/?via=personal"

    read_page(client, article)

    assert not SignalEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_cards_are_counted_when_each_page_commits_on_its_own(client):
    # As in production: no surrounding transaction, so each page's count is its own
    # statement and commit (without waiting for the disk flush on PostgreSQL).
    from recommendations.services import feed_impressions_record

    ArticleFactory.create_batch(2)
    client.get("/")
    client.get("/")
    feed_impressions_record(list_types=["personal", "editorial", "personal", "elsewhere"])

    assert impressions() == {"editorial": 5, "personal": 2}
