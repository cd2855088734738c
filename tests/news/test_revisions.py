"""Article revision history: every save through the services and the admin is recorded, and
editors (only editors) can see what changed as a diff from the article's admin page."""

import pytest
from django.urls import reverse

from news import services
from news.models import Article, ArticleRevision
from tests.factories import ArticleFactory, EditorFactory, TopicFactory
from tests.news.admin_forms import admin_form, story

pytestmark = pytest.mark.django_db
Status = Article.Status


def test_a_workflow_change_records_who_when_and_what():
    draft = ArticleFactory(status=Status.DRAFT, published_at=None)
    services.article_publish(article=draft, changed_by="Ada")
    revision = draft.revisions.get()
    assert revision.changed_by == "Ada"
    assert revision.origin == ArticleRevision.Origin.EDITOR
    assert revision.changes["status"] == {"old": "draft", "new": "published"}
    assert revision.changes["published_at"]["old"] is None


def test_a_refused_change_records_nothing():
    draft = ArticleFactory(status=Status.DRAFT, published_at=None)
    with pytest.raises(Exception, match="cannot become archived"):
        services.article_archive(article=draft, changed_by="Ada")
    assert not ArticleRevision.objects.exists()


def test_scheduled_publishing_is_recorded_as_the_scheduler(article):
    from datetime import timedelta

    from django.utils import timezone

    draft = ArticleFactory(status=Status.DRAFT, published_at=None)
    services.article_schedule(
        article=draft, publish_at=timezone.now() + timedelta(minutes=5), changed_by="Ada"
    )
    services.articles_publish_due(now=timezone.now() + timedelta(minutes=6))
    latest = draft.revisions.first()
    assert latest.changed_by == services.SCHEDULER_LABEL
    assert latest.changes == {"status": {"old": "scheduled", "new": "published"}}


def test_an_edit_in_the_admin_records_a_revision_with_the_editors_name(client):
    editor = EditorFactory(display_name="Grace Hopper")
    science = TopicFactory(name="Science")
    article = story(title="Old headline", body="First.\n\nSecond.", topics=[science])
    client.force_login(editor)
    space = TopicFactory(name="Space")
    response = client.post(
        reverse("admin:news_article_change", args=[article.pk]),
        admin_form(
            article,
            title="New headline",
            body="First.\n\nSecond, corrected.",
            topics=[science.pk, space.pk],
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    revision = article.revisions.get()
    assert revision.changed_by == "Grace Hopper"
    assert revision.changes["title"] == {"old": "Old headline", "new": "New headline"}
    assert revision.changes["topics"] == {"old": ["Science"], "new": ["Science", "Space"]}
    assert set(revision.changes) == {"title", "body", "topics"}


def test_saving_the_admin_form_unchanged_records_nothing(client, editor):
    article = story()
    client.force_login(editor)
    client.post(reverse("admin:news_article_change", args=[article.pk]), admin_form(article))
    assert not article.revisions.exists()


def test_editors_see_the_diff_from_the_article_page(client):
    editor = EditorFactory(display_name="Grace")
    article = story(title="Otters <b>return</b>", body="One.\n\nTwo.")
    client.force_login(editor)
    client.post(
        reverse("admin:news_article_change", args=[article.pk]),
        admin_form(article, body="One.\n\nTwo and a half."),
    )
    change_page = client.get(reverse("admin:news_article_change", args=[article.pk]))
    history_url = reverse("admin:news_article_revisions", args=[article.pk])
    assert f'href="{history_url}"' in change_page.content.decode()

    page = client.get(history_url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Grace" in html
    assert '<span class="removed">- Two.</span>' in html
    assert '<span class="added">+ Two and a half.</span>' in html
    assert '<span class="same">  One.</span>' in html
    assert "Otters &lt;b&gt;return&lt;/b&gt;" in html  # text, never markup


def test_readers_cannot_open_the_revision_history(client, reader, article):
    client.force_login(reader)
    response = client.get(reverse("admin:news_article_revisions", args=[article.pk]))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_anonymous_visitors_cannot_open_the_revision_history(client, article):
    response = client.get(reverse("admin:news_article_revisions", args=[article.pk]))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_without_the_editors_role_get_403(client, article):
    from tests.factories import ReaderFactory

    staff = ReaderFactory(is_staff=True)
    client.force_login(staff)
    response = client.get(reverse("admin:news_article_revisions", args=[article.pk]))
    assert response.status_code == 403


# --- Comparing any two versions and restoring one ----------------------------------------


def _edits(client, article, *versions: dict) -> list[ArticleRevision]:
    """Save each version through the admin, one after the other; the revisions, oldest first."""
    for changes in versions:
        article.refresh_from_db()
        response = client.post(
            reverse("admin:news_article_change", args=[article.pk]), admin_form(article, **changes)
        )
        assert response.status_code == 302, response.content.decode()[:2000]
    return list(article.revisions.order_by("created_at", "id"))


def test_editors_compare_any_two_versions_word_by_word(client):
    editor = EditorFactory(display_name="Grace")
    article = story(title="Otters return", body="The otters came back in May.\n\nAll is well.")
    client.force_login(editor)
    first, _, third = _edits(
        client,
        article,
        {"body": "The otters came back in June.\n\nAll is well."},
        {"title": "Otters return to the river"},
        {"body": "The <b>otters</b> came back in July.\n\nAll is well."},
    )
    url = reverse("admin:news_article_revisions_compare", args=[article.pk])
    # Asked for newest first: still read from the earlier version to the later one.
    page = client.get(url, {"older": third.pk, "newer": first.pk})
    assert page.status_code == 200
    html = page.content.decode()
    assert "The <del>otters</del><ins>&lt;b&gt;otters&lt;/b&gt;</ins> came" in html  # text only
    assert "came back in <del>June.</del><ins>July.</ins>" in html
    assert "Otters return<ins> to the river</ins>" in html
    assert "All is well." in html


def test_the_history_page_offers_the_comparison_and_the_restore(client, editor):
    article = story(title="One")
    client.force_login(editor)
    first, second = _edits(client, article, {"title": "Two"}, {"title": "Three"})
    html = client.get(reverse("admin:news_article_revisions", args=[article.pk])).content.decode()
    assert reverse("admin:news_article_revisions_compare", args=[article.pk]) in html
    assert f'<option value="{first.pk}" selected>' in html
    assert f'<option value="{second.pk}" selected>' in html
    assert reverse("admin:news_article_revision_restore", args=[article.pk, first.pk]) in html


def test_comparing_without_two_versions_says_so_and_changes_nothing(client, editor):
    article = story()
    other = story()
    client.force_login(editor)
    (revision,) = _edits(client, article, {"title": "Changed"})
    (elsewhere,) = _edits(client, other, {"title": "Elsewhere"})
    url = reverse("admin:news_article_revisions_compare", args=[article.pk])
    for params in (
        {},
        {"older": "x", "newer": revision.pk},
        {"older": elsewhere.pk, "newer": revision.pk},
    ):
        response = client.get(url, params, follow=True)
        assert "Choose two versions of this article to compare." in response.content.decode()


def test_restoring_an_earlier_version_adds_a_revision_and_keeps_the_history(client):
    editor = EditorFactory(display_name="Grace")
    science, space = TopicFactory(name="Science"), TopicFactory(name="Space")
    article = story(title="Comet seen", body="A comet.\n\nBright.", topics=[science])
    client.force_login(editor)
    first, second = _edits(
        client,
        article,
        {"title": "Comet seen at dawn", "topics": [science.pk, space.pk]},
        {"body": "A comet, wrongly described.\n\nDim.", "topics": [space.pk]},
    )
    restore_url = reverse("admin:news_article_revision_restore", args=[article.pk, first.pk])
    preview = client.get(restore_url).content.decode()
    assert "Restore this version" in preview
    assert "A <del>comet, wrongly described.</del><ins>comet.</ins>" in preview
    assert "<h2>Body</h2>" in preview and "<h2>Title</h2>" not in preview  # same title

    response = client.post(restore_url, follow=True)
    assert "Restored the version of" in response.content.decode()
    article.refresh_from_db()
    assert article.title == "Comet seen at dawn"
    assert article.body == "A comet.\n\nBright."
    assert sorted(t.name for t in article.topics.all()) == ["Science", "Space"]
    latest = article.revisions.first()
    assert latest.restored_from == first and latest.changed_by == "Grace"
    assert set(latest.changes) == {"body", "topics"}
    # Nothing rewritten: every earlier revision is still there, as it was.
    assert list(article.revisions.order_by("created_at", "id"))[:2] == [first, second]
    assert article.revisions.count() == 3


def test_restore_leaves_status_and_dates_to_the_workflow(client, editor):
    article = story(title="Live story")
    client.force_login(editor)
    (renamed,) = _edits(client, article, {"title": "Renamed story"})
    services.article_unpublish(article=article, changed_by="Ada")
    client.post(reverse("admin:news_article_revision_restore", args=[article.pk, renamed.pk]))
    article.refresh_from_db()
    assert article.status == Status.DRAFT  # as it is now, not as it was then


def test_restoring_the_version_it_already_has_changes_nothing(client, editor):
    article = story(title="Same")
    client.force_login(editor)
    (only,) = _edits(client, article, {"title": "Other"})
    response = client.post(
        reverse("admin:news_article_revision_restore", args=[article.pk, only.pk]), follow=True
    )
    assert "nothing changed" in response.content.decode()
    assert article.revisions.count() == 1


def test_a_restore_that_would_take_another_storys_slug_is_refused(client, editor):
    article = story(slug="harbour-news")
    client.force_login(editor)
    (first,) = _edits(client, article, {"title": "Harbour news today"})
    _edits(client, article, {"slug": "harbour-news-today"})
    story(slug="harbour-news", title="Another harbour story")  # took the free slug meanwhile
    response = client.post(
        reverse("admin:news_article_revision_restore", args=[article.pk, first.pk]), follow=True
    )
    assert "Not restored" in response.content.decode()
    article.refresh_from_db()
    assert article.slug == "harbour-news-today"
    assert article.revisions.count() == 2


def test_versions_recorded_before_snapshots_are_worked_out_from_the_newer_ones(client, editor):
    article = story(title="One", body="Alpha.")
    client.force_login(editor)
    first, second = _edits(client, article, {"title": "Two"}, {"body": "Beta."})
    ArticleRevision.objects.filter(pk__in=[first.pk, second.pk]).update(snapshot={})
    client.post(reverse("admin:news_article_revision_restore", args=[article.pk, first.pk]))
    article.refresh_from_db()
    assert (article.title, article.body) == ("Two", "Alpha.")


def test_readers_and_staff_without_the_role_cannot_compare_or_restore(client, reader, article):
    from tests.factories import ReaderFactory

    revision = ArticleRevision.objects.create(article=article, changed_by="Ada", changes={})
    compare = reverse("admin:news_article_revisions_compare", args=[article.pk])
    restore = reverse("admin:news_article_revision_restore", args=[article.pk, revision.pk])
    client.force_login(reader)
    assert "/admin/login/" in client.get(compare)["Location"]
    assert "/admin/login/" in client.post(restore)["Location"]
    client.force_login(ReaderFactory(is_staff=True))
    assert client.get(compare, {"older": revision.pk, "newer": revision.pk}).status_code == 403
    assert client.post(restore).status_code == 403


def test_a_restore_says_which_deleted_topics_it_could_not_bring_back(client, editor):
    gone, kept = TopicFactory(name="Gone"), TopicFactory(name="Kept")
    article = story(topics=[gone, kept])
    client.force_login(editor)
    (first,) = _edits(client, article, {"title": "Retitled"})
    _edits(client, article, {"topics": [kept.pk]})
    gone.delete()
    response = client.post(
        reverse("admin:news_article_revision_restore", args=[article.pk, first.pk]), follow=True
    )
    assert (
        "Not brought back, as they no longer exist: the topics Gone." in response.content.decode()
    )
    assert [t.name for t in article.topics.all()] == ["Kept"]
