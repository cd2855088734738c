"""The editors' admin: what editors can do, and what stays out of their reach."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from news.models import Article, Source
from tests.factories import ArticleFactory, SourceFactory

pytestmark = pytest.mark.django_db


def test_editor_sees_and_edits_articles_in_the_admin(client, editor, article):
    client.force_login(editor)
    assert client.get(reverse("admin:news_article_changelist")).status_code == 200
    assert client.get(reverse("admin:news_article_change", args=[article.pk])).status_code == 200
    assert client.get(reverse("admin:news_topic_add")).status_code == 200
    assert client.get(reverse("admin:news_source_changelist")).status_code == 200


def test_editor_filters_and_searches_articles(client, editor):
    ArticleFactory(title="Volcano wakes")
    ArticleFactory(title="Quiet draft", status=Article.Status.DRAFT, published_at=None)
    client.force_login(editor)
    url = reverse("admin:news_article_changelist")
    drafts = client.get(url, {"status__exact": "draft"}).content.decode()
    assert "Quiet draft" in drafts and "Volcano wakes" not in drafts
    found = client.get(url, {"q": "volcano"}).content.decode()
    assert "Volcano wakes" in found and "Quiet draft" not in found


def test_bulk_publish_and_unpublish(client, editor):
    drafts = ArticleFactory.create_batch(3, status=Article.Status.DRAFT, published_at=None)
    client.force_login(editor)
    url = reverse("admin:news_article_changelist")
    client.post(url, {"action": "publish_selected", "_selected_action": [a.pk for a in drafts]})
    assert Article.objects.published().count() == 3

    client.post(url, {"action": "unpublish_selected", "_selected_action": [drafts[0].pk]})
    assert Article.objects.published().count() == 2


def test_bulk_action_reports_articles_it_refused(client, editor):
    live = ArticleFactory(title="Already live")
    draft = ArticleFactory(status=Article.Status.DRAFT, published_at=None)
    before = live.published_at
    client.force_login(editor)
    response = client.post(
        reverse("admin:news_article_changelist"),
        {"action": "publish_selected", "_selected_action": [live.pk, draft.pk]},
        follow=True,
    )
    html = response.content.decode()
    assert "Published 1 article" in html
    assert "Not changed &#x27;Already live&#x27;" in html
    live.refresh_from_db()
    assert live.published_at == before


def test_admin_change_page_links_to_the_preview(client, editor):
    draft = ArticleFactory(status=Article.Status.DRAFT, published_at=None)
    client.force_login(editor)
    html = client.get(reverse("admin:news_article_change", args=[draft.pk])).content.decode()
    assert f'href="{draft.get_absolute_url()}"' in html


def _post_status_without_a_date(client, article, status: str):
    return client.post(
        reverse("admin:news_article_change", args=[article.pk]),
        {
            "title": article.title,
            "slug": article.slug,
            "summary": "",
            "body": article.body,
            "author": "",
            "status": status,
            "published_at_0": "",
            "published_at_1": "",
        },
    )


def test_publishing_with_the_date_left_empty_publishes_it_now(client, editor):
    draft = ArticleFactory(status=Article.Status.DRAFT, published_at=None)
    client.force_login(editor)
    with time_machine.travel("2026-12-02T09:30:00Z", tick=False):
        response = _post_status_without_a_date(client, draft, "published")
    assert response.status_code == 302, response.content.decode()[:2000]
    draft.refresh_from_db()
    assert draft.status == Article.Status.PUBLISHED
    assert draft.published_at.isoformat() == "2026-12-02T09:30:00+00:00"


def test_scheduling_without_a_date_says_so_in_plain_words(client, editor):
    draft = ArticleFactory(status=Article.Status.DRAFT, published_at=None)
    client.force_login(editor)
    response = _post_status_without_a_date(client, draft, "scheduled")
    assert response.status_code == 200  # the form again, with the reason
    html = response.content.decode()
    assert "Give the date and time to publish it at" in html
    assert "Constraint" not in html and "article_live_needs_published_at" not in html
    draft.refresh_from_db()
    assert draft.status == Article.Status.DRAFT


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:accounts_user_changelist",
        "admin:auth_group_changelist",
        "admin:accounts_user_add",
    ],
)
def test_editor_is_refused_people_and_roles(client, editor, url_name):
    client.force_login(editor)
    assert client.get(reverse(url_name)).status_code == 403


def test_editor_cannot_open_a_readers_account_page(client, editor, reader):
    client.force_login(editor)
    url = reverse("admin:accounts_user_change", args=[reader.pk])
    assert client.get(url).status_code == 403


def test_a_reader_cannot_enter_the_admin(client, reader):
    client.force_login(reader)
    response = client.get(reverse("admin:news_article_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_editors_hold_no_permission_on_accounts_or_privacy_data(editor):
    from privacy.registry import registered_models

    for model in registered_models():
        opts = model._meta
        for action in ("view", "change", "delete", "add"):
            assert not editor.has_perm(f"{opts.app_label}.{action}_{opts.model_name}"), (
                f"editors must not {action} {opts.label}"
            )


@pytest.mark.parametrize(
    "path", ["/admin/privacy/consentrecord/", "/admin/privacy/readinghistoryentry/"]
)
def test_personal_data_has_no_admin_page_for_editors(client, editor, path):
    client.force_login(editor)
    assert client.get(path).status_code in (403, 404)


def test_pin_as_editors_pick_for_24_hours(client, editor):
    import time_machine
    from django.utils import timezone

    live = ArticleFactory(title="Live story")
    draft = ArticleFactory(title="Unfinished", status=Article.Status.DRAFT, published_at=None)
    client.force_login(editor)
    with time_machine.travel(timezone.now(), tick=False):
        response = client.post(
            reverse("admin:news_article_changelist"),
            {"action": "pin_selected", "_selected_action": [live.pk, draft.pk]},
            follow=True,
        )
        now = timezone.now()
    html = response.content.decode()
    assert "Pinned 1 article" in html
    assert "Not changed &#x27;Unfinished&#x27;: Only published or scheduled articles" in html
    live.refresh_from_db()
    draft.refresh_from_db()
    assert live.editors_pick_until == now + timedelta(hours=24)
    assert draft.editors_pick_until is None
    assert live.revisions.get().changed_by == editor.get_short_name()


def test_the_admin_form_refuses_a_status_change_the_workflow_forbids(client, editor):
    draft = ArticleFactory(status=Article.Status.DRAFT, published_at=None)
    client.force_login(editor)
    response = client.post(
        reverse("admin:news_article_change", args=[draft.pk]),
        {
            "title": draft.title,
            "slug": draft.slug,
            "body": draft.body,
            "status": "archived",
            "published_at_0": "",
            "published_at_1": "",
        },
    )
    assert response.status_code == 200
    assert "An article that is draft cannot become archived." in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == Article.Status.DRAFT


def test_editors_read_a_sources_error_log(client, editor):
    from news import services

    source = SourceFactory(name="Harbour Gazette", kind=Source.Kind.RSS)
    services.source_error_record(
        source=source, message="The entry has no title.", entry_reference="gazette-1003"
    )
    client.force_login(editor)
    page = client.get(reverse("admin:news_source_change", args=[source.pk])).content.decode()
    assert "gazette-1003" in page and "The entry has no title." in page
    log = client.get(reverse("admin:news_sourceerror_changelist")).content.decode()
    assert "The entry has no title." in log and "Harbour Gazette" in log
    # A record: editors read it, nobody edits it.
    assert client.get(reverse("admin:news_sourceerror_add")).status_code == 403


def test_the_admin_refuses_a_feed_source_pointing_inside_our_network(client, editor, dns):
    dns["intranet.example"] = ["10.0.0.4"]
    client.force_login(editor)
    response = client.post(
        reverse("admin:news_source_add"),
        {
            "name": "Intranet",
            "kind": "rss",
            "url": "https://intranet.example/rss",
            "active": "on",
            "poll_interval_minutes": 15,
            "errors-TOTAL_FORMS": 0,
            "errors-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 200
    assert "not a public address" in response.content.decode()
    assert not Source.objects.exists()


def test_the_admin_saves_a_public_feed_source(client, editor, dns):
    dns["news.example"] = ["93.184.216.34"]
    client.force_login(editor)
    response = client.post(
        reverse("admin:news_source_add"),
        {
            "name": "Public news",
            "kind": "atom",
            "url": "https://news.example/atom",
            "active": "on",
            "poll_interval_minutes": 15,
            "errors-TOTAL_FORMS": 0,
            "errors-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302
    source = Source.objects.get()
    assert (source.poll_interval_minutes, source.auto_publish) == (15, False)


def test_scheduling_in_the_past_says_so_in_plain_words(client, editor):
    draft = ArticleFactory(status=Article.Status.DRAFT, published_at=None)
    client.force_login(editor)
    response = client.post(
        reverse("admin:news_article_change", args=[draft.pk]),
        {
            "title": draft.title,
            "slug": draft.slug,
            "body": draft.body,
            "status": "scheduled",
            "published_at_0": "2001-01-01",
            "published_at_1": "10:00:00",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert (
        "1 January 2001, 10:00 has already passed: a scheduled time must be in the future" in html
    )
    assert "Constraint" not in html
    draft.refresh_from_db()
    assert (draft.status, draft.published_at) == (Article.Status.DRAFT, None)


def test_editing_a_scheduled_story_whose_time_just_came_is_not_refused(client, editor):
    # Scheduled publishing runs every minute: the editor fixing a typo meanwhile is not
    # scheduling it in the past, and the story goes out at the next run as planned.
    when = (timezone.now() - timedelta(seconds=30)).replace(microsecond=0)
    due = ArticleFactory(status=Article.Status.SCHEDULED, published_at=when)
    client.force_login(editor)
    response = client.post(
        reverse("admin:news_article_change", args=[due.pk]),
        {
            "title": "Typo fixed",
            "slug": due.slug,
            "body": due.body,
            "status": "scheduled",
            "published_at_0": when.strftime("%Y-%m-%d"),
            "published_at_1": when.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    due.refresh_from_db()
    assert (due.title, due.status) == ("Typo fixed", Article.Status.SCHEDULED)
