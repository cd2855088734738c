"""The personalization holdout: on a given day a configured share of personalized readers,
drawn per reader and day from a keyed hash (nothing stored), see the editors' order; their
cards say so and are counted apart, so the dashboard can compare like with like."""

import re
from datetime import date, timedelta

import pytest
from django.utils import timezone

from privacy.models import SignalEvent
from recommendations.feed.page import in_holdout
from recommendations.models import FeedImpressionCount
from tests.factories import ArticleFactory, ReaderFactory, TopicFactory, reader_choices

pytestmark = pytest.mark.django_db

DAY = date(2027, 3, 14)
# Every reader is in the holdout, short of 1 (which the setting refuses): one in 10^6 is not.
ALMOST_ALL = 0.999999


def card_links(response) -> list[str]:
    return re.findall(r'<h3 class="card-title"><a href="([^"]+)"', response.content.decode())


def reasons(response) -> list[str]:
    return re.findall(r'<span class="why-reason">(.*?)</span>', response.content.decode())


def test_the_draw_is_the_same_all_day_and_new_each_day(settings):
    settings.PERSONALIZATION_HOLDOUT_SHARE = 0.5
    today = [in_holdout(user_id=reader, day=DAY) for reader in range(200)]
    again = [in_holdout(user_id=reader, day=DAY) for reader in range(200)]
    tomorrow = [in_holdout(user_id=reader, day=DAY + timedelta(days=1)) for reader in range(200)]

    assert today == again
    # A new draw each day: about half the readers change group between two days.
    changed = sum(a != b for a, b in zip(today, tomorrow, strict=True))
    assert 70 <= changed <= 130


def test_about_the_configured_share_of_readers_is_held_out():
    drawn = sum(in_holdout(user_id=reader, day=DAY, share=0.1) for reader in range(20_000))

    # Binomial(20,000, 0.1): standard deviation 42, so 1,850 to 2,150 is over 3.5 of them.
    assert 1850 <= drawn <= 2150


def test_no_reader_is_held_out_when_it_is_off(settings):
    assert settings.PERSONALIZATION_HOLDOUT_SHARE == 0.0  # off unless configured
    assert not any(in_holdout(user_id=reader, day=DAY) for reader in range(5000))
    assert not any(in_holdout(user_id=reader, day=DAY, share=0.0) for reader in range(5000))


def test_the_draw_depends_on_the_sites_secret(settings):
    first = [in_holdout(user_id=reader, day=DAY, share=0.5) for reader in range(200)]
    settings.SECRET_KEY = "another-secret-entirely-0123456789-abcdefghijklmnopqrstuvwxyz"
    second = [in_holdout(user_id=reader, day=DAY, share=0.5) for reader in range(200)]

    assert first != second


@pytest.fixture
def front_page():
    """Stories in the reader's topic, older, and newer ones elsewhere: the reader's own order
    and the editors' order differ."""
    reader = reader_choices(ReaderFactory(), level="topics", counting=True)
    mine = reader.preferences.topics.first()
    now = timezone.now()
    for hours in (30, 31, 32):
        ArticleFactory(topics=[mine], published_at=now - timedelta(hours=hours))
    for hours in (1, 2, 3):
        ArticleFactory(topics=[TopicFactory()], published_at=now - timedelta(hours=hours))
    return reader


def test_a_held_out_reader_sees_the_editors_order_and_is_told_so(client, front_page, settings):
    settings.FEED_READER_CACHE_SECONDS = 0
    editors_order = card_links(client.get("/"))  # an anonymous visitor's page
    client.force_login(front_page)
    own_order = card_links(client.get("/"))

    settings.PERSONALIZATION_HOLDOUT_SHARE = ALMOST_ALL
    response = client.get("/")

    held_out = card_links(response)
    assert [link.split("?")[0] for link in own_order] != [
        link.split("?")[0] for link in editors_order
    ]
    assert [link.split("?")[0] for link in held_out] == [
        link.split("?")[0] for link in editors_order
    ]
    assert all(link.endswith("?via=holdout") for link in held_out)
    # No personal reason is claimed for a story the editors' order placed.
    assert set(reasons(response)) == {
        "Editor&#x27;s pick: today your page shows the editors&#x27; order, not your personal one."
    }
    assert "Because you follow" not in response.content.decode()


def test_holdout_cards_and_the_reads_they_lead_to_are_counted_apart(
    client, front_page, settings, read_page
):
    settings.PERSONALIZATION_HOLDOUT_SHARE = ALMOST_ALL
    client.force_login(front_page)

    links = card_links(client.get("/"))
    story = ArticleFactory.build()
    story.get_absolute_url = lambda: links[0]
    read_page(client, story)

    shown = FeedImpressionCount.objects.filter(day=timezone.localdate())
    assert dict(shown.values_list("list_type", "count")) == {"holdout": len(links)}
    assert list(SignalEvent.objects.values_list("list_type", flat=True)) == ["holdout"]


def test_readers_without_personalization_are_never_held_out(client, settings):
    settings.PERSONALIZATION_HOLDOUT_SHARE = ALMOST_ALL
    ArticleFactory.create_batch(2)
    client.force_login(reader_choices(ReaderFactory(), level="off"))

    links = card_links(client.get("/"))

    assert links and all(link.endswith("?via=editorial") for link in links)
