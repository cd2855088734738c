"""A story's short address by id (what private mode's bundle links to): one permanent
redirect to the story's own address, for the stories readers may open and no others."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from news import services
from news.models import Article
from privacy.models import SignalEvent
from tests.factories import ArticleFactory, ReaderFactory, reader_choices

pytestmark = pytest.mark.django_db
Status = Article.Status


def _short(article_id: int) -> str:
    return reverse("news:article_short", kwargs={"pk": article_id})


def test_a_published_story_is_one_permanent_redirect_away_and_keeps_one_address(client):
    story = ArticleFactory(slug="harbour-plan-approved")
    assert _short(story.pk) == f"/a/{story.pk}/"

    response = client.get(_short(story.pk))

    assert response.status_code == 301
    assert response["Location"] == "/articles/harbour-plan-approved/"
    page = client.get(response["Location"])
    assert page.status_code == 200
    # The story's own address stays the canonical one: the short one is never shown.
    assert f"/a/{story.pk}/" not in page.content.decode()


def test_a_renamed_story_redirects_to_its_current_address(client):
    story = ArticleFactory(slug="old-name")
    story.slug = "new-name"
    story.save(update_fields=["slug"])
    assert client.get(_short(story.pk))["Location"] == "/articles/new-name/"


def test_an_archived_story_stays_reachable_as_at_its_own_address(client, editor):
    story = ArticleFactory()
    services.article_archive(article=story, changed_by=editor.email)
    response = client.get(_short(story.pk))
    assert response.status_code == 301
    assert client.get(response["Location"]).status_code == 200


def test_no_address_for_what_readers_may_not_open(client, editor):
    draft = ArticleFactory(status=Status.DRAFT, published_at=None)
    scheduled = ArticleFactory(published_at=timezone.now() + timedelta(hours=2))
    withdrawn = ArticleFactory()
    services.article_unpublish(article=withdrawn, changed_by=editor.email)
    client.force_login(editor)  # not even for an editor: previews keep their own address
    for story in (draft, scheduled, withdrawn):
        response = client.get(_short(story.pk))
        assert response.status_code == 404, story
        assert story.slug not in response.get("Location", "")
    assert client.get(_short(999_999)).status_code == 404
    assert client.get(f"/a/{draft.slug}/").status_code == 404


def test_the_redirect_records_no_read_the_story_page_does_as_always(
    client, read_page, django_capture_on_commit_callbacks
):
    reader = reader_choices(ReaderFactory(), level="topics", counting=True)
    client.force_login(reader)
    story = ArticleFactory()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(_short(story.pk))

    assert response.status_code == 301
    assert not SignalEvent.objects.exists()
    read_page(client, story)
    assert SignalEvent.objects.count() == 1
    assert client.post(_short(story.pk)).status_code == 405
