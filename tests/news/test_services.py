"""The editorial workflow and the demo-content loader."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from news import services
from news.models import Article, Topic
from tests.factories import ArticleFactory

pytestmark = pytest.mark.django_db
Status = Article.Status


def test_publishing_a_draft_makes_it_live_now():
    draft = ArticleFactory(status=Status.DRAFT, published_at=None)
    services.article_publish(article=draft)
    draft.refresh_from_db()
    assert draft.is_live
    assert timezone.now() - draft.published_at < timedelta(seconds=5)


def test_republishing_keeps_the_original_date():
    first_date = timezone.now() - timedelta(days=3)
    article = ArticleFactory(status=Status.ARCHIVED, published_at=first_date)
    services.article_publish(article=article)
    article.refresh_from_db()
    assert article.published_at == first_date


def test_unpublish_takes_an_article_off_the_site():
    article = ArticleFactory()
    services.article_unpublish(article=article)
    article.refresh_from_db()
    assert article.status == Status.DRAFT
    assert not Article.objects.published().filter(pk=article.pk).exists()


def test_a_draft_cannot_be_archived_and_nothing_changes():
    draft = ArticleFactory(status=Status.DRAFT, published_at=None)
    with pytest.raises(ValidationError, match="draft cannot become archived"):
        services.article_archive(article=draft)
    draft.refresh_from_db()
    assert draft.status == Status.DRAFT


def test_scheduling_in_the_past_is_refused():
    draft = ArticleFactory(status=Status.DRAFT, published_at=None)
    with pytest.raises(ValidationError, match="future"):
        services.article_schedule(article=draft, publish_at=timezone.now() - timedelta(minutes=1))
    draft.refresh_from_db()
    assert draft.status == Status.DRAFT


def test_scheduled_articles_go_live_when_due_and_not_before():
    due = ArticleFactory(status=Status.DRAFT, published_at=None)
    later = ArticleFactory(status=Status.DRAFT, published_at=None)
    services.article_schedule(article=due, publish_at=timezone.now() + timedelta(minutes=5))
    services.article_schedule(article=later, publish_at=timezone.now() + timedelta(hours=5))

    assert not Article.objects.published().exists()
    published = services.articles_publish_due(now=timezone.now() + timedelta(minutes=10))
    assert published == 1
    # Running again publishes nothing more.
    assert services.articles_publish_due(now=timezone.now() + timedelta(minutes=10)) == 0
    due.refresh_from_db()
    later.refresh_from_db()
    assert due.status == Status.PUBLISHED
    assert later.status == Status.SCHEDULED


DEMO = {
    "topics": [{"slug": "science", "name": "Science", "description": "Discoveries."}],
    "articles": [
        {
            "slug": "river-otters-return",
            "title": "River otters return",
            "summary": "Otters are back.",
            "body": "One.\n\nTwo.",
            "author": "A. Writer",
            "topics": ["science"],
            "days_ago": 1.5,
            "editors_pick": True,
        }
    ],
}


def test_demo_content_loads_once_and_a_second_load_changes_nothing():
    first = services.demo_content_load(data=DEMO)
    assert (first.topics_created, first.articles_created) == (1, 1)
    article = Article.objects.get(slug="river-otters-return")
    assert article.is_live
    assert article.editors_pick_until is not None
    before = (article.published_at, article.updated_at)

    second = services.demo_content_load(data=DEMO)
    assert (second.topics_created, second.articles_created, second.articles_skipped) == (0, 0, 1)
    article.refresh_from_db()
    assert (article.published_at, article.updated_at) == before


def test_demo_content_with_an_unknown_topic_writes_nothing():
    bad = {
        "topics": DEMO["topics"],
        "articles": [DEMO["articles"][0], {**DEMO["articles"][0], "slug": "x", "topics": ["nope"]}],
    }
    with pytest.raises(ValidationError, match="unknown topics: nope"):
        services.demo_content_load(data=bad)
    assert not Article.objects.exists()
    assert not Topic.objects.exists()


def test_demo_content_missing_fields_is_refused_with_the_position():
    with pytest.raises(ValidationError, match="#1 lacks title"):
        services.demo_content_load(data={"articles": [{"slug": "a", "body": "b", "topics": ["s"]}]})


# --- Every workflow transition, allowed and refused ------------------------------------------

ALL = [Status.DRAFT, Status.SCHEDULED, Status.PUBLISHED, Status.ARCHIVED]


def _move(article: Article, to: str) -> None:
    if to == Status.PUBLISHED:
        services.article_publish(article=article, changed_by="Ada")
    elif to == Status.SCHEDULED:
        services.article_schedule(
            article=article, publish_at=timezone.now() + timedelta(hours=2), changed_by="Ada"
        )
    elif to == Status.DRAFT:
        services.article_unpublish(article=article, changed_by="Ada")
    else:
        services.article_archive(article=article, changed_by="Ada")


def _article_in(status: str) -> Article:
    published_at = {
        Status.DRAFT: None,
        Status.SCHEDULED: timezone.now() + timedelta(hours=1),
    }.get(status, timezone.now() - timedelta(days=1))
    return ArticleFactory(status=status, published_at=published_at)


@pytest.mark.parametrize(
    "current, to",
    [(c, t) for c in ALL for t in ALL if t in services.ALLOWED_TRANSITIONS[c]],
)
def test_every_allowed_transition_succeeds_and_is_recorded(current, to):
    article = _article_in(current)
    _move(article, to)
    article.refresh_from_db()
    assert article.status == to
    changes = article.revisions.get().changes
    if current == to:  # a scheduled story moved to another time
        assert set(changes) == {"published_at"}
    else:
        assert changes["status"] == {"old": current, "new": to}


@pytest.mark.parametrize(
    "current, to",
    [(c, t) for c in ALL for t in ALL if t not in services.ALLOWED_TRANSITIONS[c]],
)
def test_every_refused_transition_changes_nothing(current, to):
    article = _article_in(current)
    before = (article.status, article.published_at)
    with pytest.raises(ValidationError, match="cannot become"):
        _move(article, to)
    article.refresh_from_db()
    assert (article.status, article.published_at) == before
    assert not article.revisions.exists()


def test_the_transition_table_covers_all_sixteen_pairs():
    allowed = sum(len(targets) for targets in services.ALLOWED_TRANSITIONS.values())
    assert (allowed, 16 - allowed) == (9, 7)


def test_a_pin_lasts_24_hours_and_needs_a_live_or_scheduled_article():
    now = timezone.now()
    live = ArticleFactory()
    services.article_pin(article=live, changed_by="Ada", now=now)
    live.refresh_from_db()
    assert live.editors_pick_until == now + timedelta(hours=24)
    archived = ArticleFactory(status=Status.ARCHIVED)
    with pytest.raises(ValidationError, match="Only published or scheduled"):
        services.article_pin(article=archived, changed_by="Ada")
