"""Corrections: a published story whose words change shows readers "Updated <time>" and the
editor's correction note; saves that change nothing a reader reads do not."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format

from news import revisions, services
from news.models import Article
from tests.factories import ArticleFactory, TopicFactory
from tests.news.admin_forms import admin_form, story

pytestmark = pytest.mark.django_db
Status = Article.Status


def _edit(client, article, **changes):
    response = client.post(
        reverse("admin:news_article_change", args=[article.pk]), admin_form(article, **changes)
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    article.refresh_from_db()
    return article


def test_a_corrected_story_shows_updated_with_the_time_and_the_note(client, editor):
    article = story(body="The vote is on Tuesday.\n\nMore detail.")
    client.force_login(editor)
    corrected_at = article.published_at + timedelta(minutes=30)
    with time_machine.travel(corrected_at, tick=False):
        _edit(
            client,
            article,
            body="The vote is on Wednesday.\n\nMore detail.",
            correction_note="An earlier version gave the wrong day of the vote.",
        )
    assert article.content_updated_at == corrected_at

    client.logout()
    html = client.get(article.get_absolute_url()).content.decode()
    shown = date_format(timezone.localtime(corrected_at), "j F Y, H:i")
    assert f'Updated <time datetime="{corrected_at.isoformat()}">{shown}</time>' in html
    assert "Correction: An earlier version gave the wrong day of the vote." in html
    assert "The vote is on Wednesday." in html


@pytest.mark.parametrize(
    "change",
    [
        {},  # saved as it was
        {"topics": "new topic"},
        {"author": "Another byline"},
        {"editors_pick_until": "pin"},
        # A browser posts a textarea's line endings as "\r\n": not a change of a word.
        {"body": "First paragraph of the story.\r\n\r\nSecond paragraph with more detail."},
        {"summary": "  A short summary, kept.  "},
    ],
)
def test_saves_that_change_no_word_readers_read_show_no_update(client, editor, change):
    article = story(
        body="First paragraph of the story.\n\nSecond paragraph with more detail.",
        summary="A short summary, kept.",
    )
    client.force_login(editor)
    fields = dict(change)
    if fields.get("topics"):
        fields["topics"] = [TopicFactory().pk]
    if fields.get("editors_pick_until"):
        later = timezone.now() + timedelta(hours=3)
        fields["editors_pick_until_0"] = later.strftime("%Y-%m-%d")
        fields["editors_pick_until_1"] = later.strftime("%H:%M:%S")
        del fields["editors_pick_until"]
    _edit(client, article, **fields)
    assert article.content_updated_at is None
    assert "Updated" not in client.get(article.get_absolute_url()).content.decode()


def test_editing_a_draft_before_publication_is_no_update(client, editor):
    draft = ArticleFactory(status=Status.DRAFT, published_at=None, title="First title")
    client.force_login(editor)
    _edit(client, draft, title="Better title")
    services.article_publish(article=draft)
    draft.refresh_from_db()
    assert draft.content_updated_at is None


def test_a_story_fixed_while_off_the_site_shows_updated_once_back():
    article = story(title="Bridge closes", summary="Old summary.")
    services.article_unpublish(article=article, changed_by="Ada")
    article.summary = "Corrected summary."
    before = revisions.snapshot(article)
    article.save()
    services.article_revision_record(article=article, before=before, changed_by="Ada")
    article.refresh_from_db()
    assert article.content_updated_at is None  # nobody can read it yet

    services.article_publish(article=article, changed_by="Ada")
    article.refresh_from_db()
    assert article.content_updated_at is not None


def test_republishing_unchanged_is_no_update():
    article = story()
    services.article_unpublish(article=article, changed_by="Ada")
    services.article_publish(article=article, changed_by="Ada")
    article.refresh_from_db()
    assert article.content_updated_at is None


def test_the_note_is_escaped_text(client, editor):
    article = story()
    client.force_login(editor)
    _edit(client, article, summary="New summary.", correction_note="<script>x()</script>")
    html = client.get(article.get_absolute_url()).content.decode()
    assert "&lt;script&gt;x()&lt;/script&gt;" in html and "<script>x()" not in html


def test_the_update_replaces_a_cached_article_page(client, editor):
    article = story(title="Old headline")
    assert "Old headline" in client.get(article.get_absolute_url()).content.decode()
    client.force_login(editor)
    _edit(client, article, title="New headline")
    client.logout()
    html = client.get(article.get_absolute_url()).content.decode()
    assert "New headline" in html and "Updated" in html
