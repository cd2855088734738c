"""Article revision history: every save through the services and the admin is recorded, and
editors (only editors) can see what changed as a diff from the article's admin page."""

import pytest
from django.urls import reverse

from news import services
from news.models import Article, ArticleRevision
from tests.factories import ArticleFactory, EditorFactory, TopicFactory

pytestmark = pytest.mark.django_db
Status = Article.Status


def story(**fields) -> Article:
    """An article dated to the whole second, as the admin form shows and posts it back."""
    from datetime import timedelta

    from django.utils import timezone

    when = (timezone.now() - timedelta(hours=1)).replace(microsecond=0)
    return ArticleFactory(published_at=when, **fields)


def admin_form(article: Article, **changes) -> dict:
    data = {
        "title": article.title,
        "slug": article.slug,
        "summary": article.summary,
        "body": article.body,
        "author": article.author,
        "topics": [t.pk for t in article.topics.all()],
        "status": article.status,
        "published_at_0": article.published_at.strftime("%Y-%m-%d") if article.published_at else "",
        "published_at_1": article.published_at.strftime("%H:%M:%S") if article.published_at else "",
        "editors_pick_until_0": "",
        "editors_pick_until_1": "",
        "source": "",
        "canonical_url": article.canonical_url,
    }
    data.update(changes)
    return data


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
