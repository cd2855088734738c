"""Stable addresses: a renamed story's old address leads to the new one for good, archived
stories stay readable (with a notice) but leave every list, and the bulk "Schedule" and
"Archive" actions go through the workflow."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from news import revisions, services
from news.models import Article, ArticleSlugRedirect
from tests.factories import ArticleFactory, TopicFactory
from tests.news.admin_forms import admin_form, story

pytestmark = pytest.mark.django_db
Status = Article.Status


def _rename(client, article, slug: str):
    article.refresh_from_db()
    response = client.post(
        reverse("admin:news_article_change", args=[article.pk]), admin_form(article, slug=slug)
    )
    article.refresh_from_db()
    return response


def test_a_renamed_story_answers_its_old_address_with_a_permanent_redirect(client, editor):
    article = story(slug="bridge-closes")
    client.force_login(editor)
    assert _rename(client, article, "bridge-closes-for-repairs").status_code == 302
    client.logout()
    response = client.get("/articles/bridge-closes/")
    assert response.status_code == 301
    assert response["Location"] == "/articles/bridge-closes-for-repairs/"
    assert client.get(response["Location"]).status_code == 200


def test_a_chain_of_renames_ends_at_the_current_address_in_one_step(client, editor):
    article = story(slug="first")
    client.force_login(editor)
    for slug in ("second", "third", "fourth"):
        assert _rename(client, article, slug).status_code == 302
    client.logout()
    for old in ("first", "second", "third"):
        response = client.get(f"/articles/{old}/")
        assert (response.status_code, response["Location"]) == (301, "/articles/fourth/")


def test_renaming_back_drops_the_loop(client, editor):
    article = story(slug="original")
    client.force_login(editor)
    _rename(client, article, "renamed")
    _rename(client, article, "original")
    client.logout()
    assert client.get("/articles/original/").status_code == 200
    assert client.get("/articles/renamed/")["Location"] == "/articles/original/"


def test_a_draft_renamed_before_publication_leaves_no_old_address(client, editor):
    draft = ArticleFactory(slug="working-title", status=Status.DRAFT, published_at=None)
    client.force_login(editor)
    response = client.post(
        reverse("admin:news_article_change", args=[draft.pk]),
        {**admin_form(draft, slug="final-title"), "published_at_0": "", "published_at_1": ""},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert not ArticleSlugRedirect.objects.exists()


def test_an_old_address_never_shadows_a_current_one(client):
    """The rule: a current slug (of any story, in any status) always wins over an old one."""
    renamed = story(slug="harbour")
    before = revisions.snapshot(renamed)
    renamed.slug = "harbour-renamed"
    renamed.save()
    services.article_revision_record(article=renamed, before=before, changed_by="Ada")
    # Another story takes the free slug (by a path that does not check old addresses, as a
    # feed import might): readers get that story, never a redirect away from it.
    newcomer = story(slug="harbour", title="The newcomer")
    response = client.get("/articles/harbour/")
    assert response.status_code == 200 and "The newcomer" in response.content.decode()

    # A draft holding the slug is not found by readers, and not redirected elsewhere either.
    newcomer.status = Status.DRAFT
    newcomer.save()
    assert client.get("/articles/harbour/").status_code == 404


def test_the_admin_refuses_a_slug_that_is_another_storys_old_address(client, editor):
    renamed = story(slug="old-address", title="The renamed story")
    client.force_login(editor)
    _rename(client, renamed, "new-address")
    other = story(slug="other")
    response = _rename(client, other, "old-address")
    assert response.status_code == 200
    assert (
        "was used by &#x27;The renamed story&#x27; until it was renamed"
        in response.content.decode()
    )
    other.refresh_from_db()
    assert other.slug == "other"


def test_the_old_address_of_a_story_taken_off_the_site_is_not_found(client, editor):
    article = story(slug="was-live")
    client.force_login(editor)
    _rename(client, article, "now-draft")
    services.article_unpublish(article=article, changed_by="Ada")
    client.logout()
    assert client.get("/articles/was-live/").status_code == 404
    # An editor previewing follows it, temporarily: it is not the story's final state.
    client.force_login(editor)
    assert client.get("/articles/was-live/").status_code == 302


# --- Archived stories ---------------------------------------------------------------------


def test_an_archived_story_stays_readable_with_a_notice(client, reader):
    topic = TopicFactory()
    article = ArticleFactory(title="Old election results", topics=[topic])
    services.article_archive(article=article, changed_by="Ada")
    for who in (None, reader):
        if who:
            client.force_login(who)
        response = client.get(article.get_absolute_url())
        assert response.status_code == 200
        html = response.content.decode()
        assert "Old election results" in html
        assert "<strong>Archived.</strong>" in html
        assert "Preview:" not in html


def test_archived_stories_leave_the_home_topic_search_pages_feeds_and_sitemap(client):
    topic = TopicFactory(slug="politics")
    current = ArticleFactory(title="Current harbour story", slug="current", topics=[topic])
    archived = ArticleFactory(title="Archived harbour story", slug="archived", topics=[topic])
    services.article_archive(article=archived, changed_by="Ada")
    pages = [
        reverse("news:home"),
        topic.get_absolute_url(),
        reverse("news:search") + "?q=harbour",
        reverse("news:feed_rss"),
        reverse("news:feed_atom"),
        reverse("news:topic_feed_rss", args=[topic.slug]),
        "/sitemap.xml",
    ]
    for url in pages:
        body = client.get(url).content.decode()
        # By address: search marks the matched words inside the titles.
        assert archived.get_absolute_url() not in body, url
        assert current.get_absolute_url() in body, url


@pytest.mark.parametrize("status", [Status.DRAFT, Status.SCHEDULED])
def test_drafts_and_scheduled_stories_stay_not_found(client, status):
    when = timezone.now() + timedelta(days=1) if status == Status.SCHEDULED else None
    article = ArticleFactory(status=status, published_at=when)
    assert client.get(article.get_absolute_url()).status_code == 404


def test_the_api_still_answers_only_live_stories(client):
    article = ArticleFactory()
    services.article_archive(article=article, changed_by="Ada")
    assert client.get(f"/api/v1/articles/{article.slug}/").status_code == 404


# --- Bulk "Schedule" and "Archive" ------------------------------------------------------------


def _action(client, action: str, articles, **extra):
    return client.post(
        reverse("admin:news_article_changelist"),
        {"action": action, "_selected_action": [a.pk for a in articles], **extra},
        follow=True,
    )


def test_bulk_archive_goes_through_the_workflow(client, editor):
    live = ArticleFactory(title="Live one")
    draft = ArticleFactory(title="Just a draft", status=Status.DRAFT, published_at=None)
    client.force_login(editor)
    html = _action(client, "archive_selected", [live, draft]).content.decode()
    assert "Archived 1 article" in html
    assert (
        "Not changed &#x27;Just a draft&#x27;: An article that is draft cannot become archived."
        in html
    )
    live.refresh_from_db()
    draft.refresh_from_db()
    assert (live.status, draft.status) == (Status.ARCHIVED, Status.DRAFT)
    assert live.revisions.get().changes["status"] == {"old": "published", "new": "archived"}


def test_bulk_schedule_asks_for_the_time_then_schedules(client, editor):
    drafts = ArticleFactory.create_batch(2, status=Status.DRAFT, published_at=None)
    live = ArticleFactory(title="Already live")
    client.force_login(editor)
    form = _action(client, "schedule_selected", [*drafts, live])
    html = form.content.decode()
    assert 'type="datetime-local"' in html and "Publish at" in html
    assert all(a.title in html for a in drafts)
    assert Article.objects.filter(status=Status.SCHEDULED).count() == 0  # nothing yet

    when = (timezone.localtime() + timedelta(days=1)).replace(second=0, microsecond=0)
    done = _action(
        client,
        "schedule_selected",
        [*drafts, live],
        apply="1",
        publish_at=when.strftime("%Y-%m-%dT%H:%M"),
    ).content.decode()
    assert "Scheduled 2 article" in done
    assert "Not changed &#x27;Already live&#x27;" in done
    for draft in drafts:
        draft.refresh_from_db()
        assert (draft.status, draft.published_at) == (Status.SCHEDULED, when)
        assert draft.revisions.get().changed_by == editor.get_short_name()
    live.refresh_from_db()
    assert live.status == Status.PUBLISHED


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Give the date and time to publish them at."),
        ("tomorrow", "Give the date and time as in"),
        ("2001-01-01T10:00", "has already passed: a scheduled time must be in the future"),
    ],
)
def test_bulk_schedule_refuses_a_missing_or_past_time_and_changes_nothing(
    client, editor, value, message
):
    draft = ArticleFactory(status=Status.DRAFT, published_at=None)
    client.force_login(editor)
    response = _action(client, "schedule_selected", [draft], apply="1", publish_at=value)
    assert message in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == Status.DRAFT and not draft.revisions.exists()


def test_a_scheduled_story_can_be_moved_to_another_time():
    draft = ArticleFactory(status=Status.DRAFT, published_at=None)
    first, second = timezone.now() + timedelta(hours=1), timezone.now() + timedelta(hours=5)
    services.article_schedule(article=draft, publish_at=first, changed_by="Ada")
    services.article_schedule(article=draft, publish_at=second, changed_by="Ada")
    draft.refresh_from_db()
    assert (draft.status, draft.published_at) == (Status.SCHEDULED, second)
