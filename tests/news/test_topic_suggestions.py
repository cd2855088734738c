"""Articles that arrive without topics get suggestions from a classifier trained on articles
editors labelled; editors see them in the admin and accept them with one click, or not."""

import base64
import json
import logging

import pytest
from django.urls import reverse

from news import services, tasks
from news.ingest import IncomingEntry, ParsedFeed
from news.models import Article, ArticleRevision, EditorAction
from tests.factories import ArticleFactory, ReaderFactory, SourceFactory, TopicFactory

from .conftest import VOCABULARY, labelled_stories, sport_feed

pytestmark = pytest.mark.django_db


@pytest.fixture
def labelled():
    return labelled_stories()


def untagged(**kwargs) -> Article:
    kwargs.setdefault("title", "Telescope finds a comet beyond the planet")
    kwargs.setdefault("summary", "The space telescope in orbit saw the comet.")
    kwargs.setdefault("body", "Astronomers watched the comet pass the planet from orbit.")
    return ArticleFactory(**kwargs)


def test_a_feed_entry_without_topics_gets_suggestions(labelled, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.feed_entries_import(source=SourceFactory(), feed=sport_feed())

    article = Article.objects.get(external_id="e1")
    assert not article.topics.exists()
    assert article.suggested_topics[0]["topic_id"] == labelled["sport"].pk
    assert article.suggested_topics[0]["name"] == "Sport"
    assert 0.2 <= article.suggested_topics[0]["score"] <= 1
    # A suggestion is not an edit: the only revision is the feed's creation.
    assert list(article.revisions.values_list("origin", flat=True)) == ["feed"]


def untagged_feed() -> ParsedFeed:
    """One new story per labelled topic, none with a category: each needs suggestions."""
    entries = [
        IncomingEntry(
            reference=f"new-{name}",
            external_id=f"new-{name}",
            title=f"Today: {' '.join(words.split()[:4])}",
            body=f"A new story about {words}.",
        )
        for name, words in VOCABULARY.items()
    ]
    return ParsedFeed(kind="rss", title="Gazette", entries=entries)


def test_an_import_asks_once_for_all_its_new_articles_with_one_classifier(
    labelled, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.INFO, logger="news.services.suggestions")
    with django_capture_on_commit_callbacks(execute=True):
        result = services.feed_entries_import(source=SourceFactory(), feed=untagged_feed())

    assert result.created == 3
    best = {
        a.external_id: a.suggested_topics[0]["name"]
        for a in Article.objects.filter(external_id__startswith="new-")
    }
    assert best == {"new-space": "Space", "new-food": "Food", "new-sport": "Sport"}
    runs = [r.getMessage() for r in caplog.records if r.name == "news.services.suggestions"]
    assert runs == ["Topic suggestions for 3 of 3 articles, from one classifier trained on 24."]


def test_with_a_real_broker_an_import_queues_one_task_for_the_batch(
    labelled, scratch_broker, django_capture_on_commit_callbacks
):
    source = SourceFactory()
    with django_capture_on_commit_callbacks(execute=True):
        services.feed_entries_import(source=source, feed=untagged_feed())

    [message] = [json.loads(raw) for raw in scratch_broker.lrange("celery", 0, -1)]
    assert message["headers"]["task"] == tasks.article_topics_suggest.name
    (article_ids,), _, _ = json.loads(base64.b64decode(message["body"]))
    assert sorted(article_ids) == sorted(source.articles.values_list("pk", flat=True))
    assert not source.articles.exclude(suggested_topics=[]).exists()  # the worker's job

    # What the worker runs; a message delivered twice changes nothing the second time.
    assert tasks.article_topics_suggest.apply(args=[article_ids]).get() == 3
    first = dict(source.articles.values_list("pk", "suggested_topics"))
    assert tasks.article_topics_suggest.apply(args=[article_ids]).get() == 3
    assert dict(source.articles.values_list("pk", "suggested_topics")) == first


def test_an_import_whose_entries_are_all_refused_asks_for_nothing(
    labelled, scratch_broker, django_capture_on_commit_callbacks
):
    feed = untagged_feed()
    for entry in feed.entries:
        entry.problem = "The entry has no title."
    with django_capture_on_commit_callbacks(execute=True):
        result = services.feed_entries_import(source=SourceFactory(), feed=feed)
    assert result.errors == 3
    assert scratch_broker.llen("celery") == 0


def test_an_article_saved_in_the_admin_without_topics_gets_suggestions(
    client, editor, labelled, django_capture_on_commit_callbacks
):
    client.force_login(editor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:news_article_add"),
            {
                "title": "Slow tomato sauce with garlic",
                "slug": "slow-sauce",
                "summary": "A recipe for pasta sauce.",
                "body": "Simmer the tomato with garlic and olive oil; bake the bread in the oven.",
                "author": "",
                "status": "draft",
                "canonical_url": "",
            },
        )
    assert response.status_code == 302

    article = Article.objects.get(slug="slow-sauce")
    assert article.suggested_topics[0]["name"] == "Food"
    page = client.get(reverse("admin:news_article_change", args=[article.pk])).content.decode()
    assert "Food (" in page and "Accept suggested topics" in page


def test_accepting_in_one_click_sets_the_topics_with_a_revision_and_a_log(client, editor, labelled):
    article = untagged()
    services.article_topics_suggest(article_ids=[article.pk])
    article.refresh_from_db()
    assert article.suggested_topics[0]["name"] == "Space"
    client.force_login(editor)

    response = client.post(reverse("admin:news_article_accept_topics", args=[article.pk]))

    assert response.status_code == 302
    article.refresh_from_db()
    suggested_names = {t.name for t in article.topics.all()}
    assert "Space" in suggested_names
    assert article.suggested_topics == []
    revision = ArticleRevision.objects.filter(article=article).first()
    assert revision.changed_by == editor.display_name
    assert revision.changes["topics"]["old"] == []
    action = EditorAction.objects.get()
    assert action.action == EditorAction.Action.ACCEPT_TOPICS and "Space" in action.detail


def test_the_bulk_action_accepts_and_reports_articles_without_suggestions(client, editor, labelled):
    suggested, bare = untagged(), untagged(title="Plain story", slug="plain")
    services.article_topics_suggest(article_ids=[suggested.pk])
    client.force_login(editor)

    response = client.post(
        reverse("admin:news_article_changelist"),
        {"action": "accept_suggested_topics", "_selected_action": [suggested.pk, bare.pk]},
        follow=True,
    )

    html = response.content.decode()
    assert "Gave topics to 1 article(s)." in html
    assert "there are no suggested topics to accept" in html
    assert suggested.topics.filter(slug="space").exists()
    assert not bare.topics.exists()


def test_choosing_topics_by_hand_clears_the_suggestions(
    client, editor, labelled, django_capture_on_commit_callbacks
):
    article = untagged()
    services.article_topics_suggest(article_ids=[article.pk])
    client.force_login(editor)
    change = reverse("admin:news_article_change", args=[article.pk])
    data = {
        "title": article.title,
        "slug": article.slug,
        "summary": article.summary,
        "body": article.body,
        "author": article.author,
        "topics": [labelled["food"].pk],
        "status": article.status,
        "published_at_0": article.published_at.strftime("%Y-%m-%d"),
        "published_at_1": article.published_at.strftime("%H:%M:%S"),
        "canonical_url": "",
    }

    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(change, data).status_code == 302

    article.refresh_from_db()
    assert article.suggested_topics == []
    assert [t.name for t in article.topics.all()] == ["Food"]


def test_no_suggestion_with_too_few_labelled_articles_and_the_admin_says_why(client, editor):
    topic = TopicFactory()
    for n in range(5):
        ArticleFactory(topics=[topic], slug=f"labelled-{n}")
    article = untagged()

    result = services.article_topics_suggest(article_ids=[article.pk])

    assert result.suggested == 0
    assert "Only 5 articles have topics; suggestions start at 20." in result.note
    article.refresh_from_db()
    assert article.suggested_topics == []
    client.force_login(editor)
    page = client.get(reverse("admin:news_article_change", args=[article.pk])).content.decode()
    assert "No suggestion: only 5 articles have topics so far" in page


def test_readers_cannot_accept_suggestions(client, labelled):
    article = untagged()
    services.article_topics_suggest(article_ids=[article.pk])
    client.force_login(ReaderFactory())

    response = client.post(reverse("admin:news_article_accept_topics", args=[article.pk]))

    assert response.status_code == 302 and "/admin/login/" in response.url
    assert not article.topics.exists()
