"""`news.selectors.articles_live_by_id`, which every feed page asks for its stories: the
instances it builds carry the same values as the ORM's, to the microsecond."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from news.models import Article
from news.selectors import LISTED_COLUMNS, articles_live_by_id
from tests.factories import ArticleFactory

pytestmark = pytest.mark.django_db

LISTED_NAMES = [Article._meta.get_field(column).attname for column in LISTED_COLUMNS]


def test_listed_stories_have_the_orms_values_to_the_microsecond():
    now = timezone.now()
    stories = [
        ArticleFactory(
            published_at=datetime(2026, 3, 1, 9, 30, 15, 999_999, tzinfo=UTC),
            editors_pick_until=now + timedelta(hours=5, microseconds=1),
            lead_image="lead-images/a.jpg",
            lead_image_width=1200,
            lead_image_height=800,
            lead_image_alt="A harbour at dawn",
        ),
        ArticleFactory(published_at=datetime(1999, 12, 31, 23, 59, 59, 1, tzinfo=UTC)),
        ArticleFactory(published_at=now - timedelta(microseconds=7)),
    ]
    listed = articles_live_by_id(ids=[s.pk for s in stories], now=now)
    assert sorted(listed) == sorted(s.pk for s in stories)
    for story in stories:
        expected = Article.objects.only(*LISTED_NAMES).get(pk=story.pk)
        got = listed[story.pk]
        for name in LISTED_NAMES:
            assert getattr(got, name) == getattr(expected, name), name
        assert got.published_at.tzinfo is not None
        assert got.get_deferred_fields() == expected.get_deferred_fields()
        assert "body" in got.get_deferred_fields()
        # A card's key names the story's version by this time: it must not move.
        assert got.updated_at.timestamp() == expected.updated_at.timestamp()
    assert listed[stories[0].pk].lead_image.name == "lead-images/a.jpg"
    assert listed[stories[1].pk].editors_pick_until is None


def test_only_live_stories_are_listed():
    now = timezone.now()
    live = ArticleFactory()
    draft = ArticleFactory(status=Article.Status.DRAFT)
    scheduled = ArticleFactory(published_at=now + timedelta(minutes=5))
    listed = articles_live_by_id(ids=[live.pk, draft.pk, scheduled.pk, 10**9], now=now)
    assert list(listed) == [live.pk]
    assert articles_live_by_id(ids=[]) == {}
