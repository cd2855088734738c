"""`news.selectors.articles_live_by_id`, which every feed page asks for its stories: the
instances it builds carry the same values as the ORM's, to the microsecond."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db.models.signals import post_init
from django.utils import timezone

from news.models import Article
from news.selectors import LISTED_COLUMNS, articles_live_by_id
from tests.factories import ArticleFactory, TopicFactory

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


def test_listed_stories_behave_as_the_orms_instances():
    """Made without `Model.__init__`, a listed story is still a loaded instance: equal to the
    ORM's, its body read when asked for, its topics reachable, saved as an update."""
    story = ArticleFactory(body="<p>The whole story.</p>", topics=[TopicFactory(name="Ports")])
    got = articles_live_by_id(ids=[story.pk])[story.pk]
    assert got == Article.objects.get(pk=story.pk)
    assert got._state.adding is False and got._state.db == "default"
    assert [t.name for t in got.topics.all()] == ["Ports"]
    assert got.body == "<p>The whole story.</p>"  # deferred: read now
    got.title = "A new headline"
    got.save(update_fields=["title"])
    assert Article.objects.get(pk=story.pk).title == "A new headline"
    assert Article.objects.count() == 1


def test_something_listening_to_a_story_being_made_hears_every_listed_one():
    made = []

    def heard(sender, instance, **kwargs):
        made.append(instance.pk)

    stories = ArticleFactory.create_batch(3)
    post_init.connect(heard, sender=Article)
    try:
        listed = articles_live_by_id(ids=[s.pk for s in stories])
    finally:
        post_init.disconnect(heard, sender=Article)
    assert sorted(set(made)) == sorted(listed) == sorted(s.pk for s in stories)


def test_only_live_stories_are_listed():
    now = timezone.now()
    live = ArticleFactory()
    draft = ArticleFactory(status=Article.Status.DRAFT)
    scheduled = ArticleFactory(published_at=now + timedelta(minutes=5))
    listed = articles_live_by_id(ids=[live.pk, draft.pk, scheduled.pk, 10**9], now=now)
    assert list(listed) == [live.pk]
    assert articles_live_by_id(ids=[]) == {}


def test_rows_listed_under_a_marker_are_served_again_without_a_query(
    django_assert_num_queries,
):
    now = timezone.now()
    stories = ArticleFactory.create_batch(3)
    with django_assert_num_queries(1):
        first = articles_live_by_id(ids=[s.pk for s in stories], now=now, kept_under="m1")
    with django_assert_num_queries(0):
        again = articles_live_by_id(ids=[s.pk for s in stories], now=now, kept_under="m1")
    assert sorted(again) == sorted(first) == sorted(s.pk for s in stories)
    for pk, story in again.items():
        assert story is not first[pk]  # each caller's own instance
        for name in LISTED_NAMES:
            assert getattr(story, name) == getattr(first[pk], name), name
        assert "body" in story.get_deferred_fields()
    # One more story: only it is asked for.
    extra = ArticleFactory()
    with django_assert_num_queries(1):
        more = articles_live_by_id(ids=[stories[0].pk, extra.pk], now=now, kept_under="m1")
    assert sorted(more) == sorted([stories[0].pk, extra.pk])


def test_a_new_marker_lists_the_stories_afresh():
    now = timezone.now()
    story = ArticleFactory(title="Harbour reopens")
    articles_live_by_id(ids=[story.pk], now=now, kept_under="before")
    # Changed behind the site's back (no save signal, so no new marker): the caller's next
    # marker is what makes the new title show.
    Article.objects.filter(pk=story.pk).update(title="Harbour reopens at dawn")
    listed = articles_live_by_id(ids=[story.pk], now=now, kept_under="after")
    assert listed[story.pk].title == "Harbour reopens at dawn"
    # Without a marker nothing is kept or reused.
    Article.objects.filter(pk=story.pk).update(title="Harbour reopens at noon")
    assert articles_live_by_id(ids=[story.pk], now=now)[story.pk].title == "Harbour reopens at noon"


def test_a_kept_row_is_listed_only_for_moments_when_the_story_is_live():
    now = timezone.now()
    story = ArticleFactory(published_at=now - timedelta(hours=1))
    assert story.pk in articles_live_by_id(ids=[story.pk], now=now, kept_under="m")
    earlier = now - timedelta(hours=2)
    assert articles_live_by_id(ids=[story.pk], now=earlier, kept_under="m") == {}
    assert story.pk in articles_live_by_id(ids=[story.pk], now=now, kept_under="m")
