"""Outgoing RSS and Atom feeds (Django's syndication framework): the latest stories of the
whole site and of each topic. Published stories only (never drafts, scheduled or archived
ones), newest first, the same for everyone: nothing about the visitor is read or written."""

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from news import selectors
from news.models import Article, Topic

# Enough for a feed reader polling every few hours on a busy day; a bounded, cheap query.
FEED_LENGTH = 30
# Feed readers poll; they and any shared cache may keep an answer this long.
FEED_MAX_AGE_SECONDS = 300


class _StoriesFeed(Feed):
    """What every feed says about one story."""

    def item_title(self, article: Article) -> str:
        return article.title

    def item_description(self, article: Article) -> str:
        # Plain text, escaped by the feed generator: a feed reader shows it, never runs it.
        return article.summary or next(iter(article.paragraphs()), "")

    def item_link(self, article: Article) -> str:
        return article.get_absolute_url()

    # By id, not by address: a renamed story does not come back as a new item in readers.
    item_guid_is_permalink = False

    def item_guid(self, article: Article) -> str:
        return f"urn:newsite:article:{article.pk}"

    def item_pubdate(self, article: Article):
        return article.published_at

    def item_updateddate(self, article: Article):
        return article.content_updated_at or article.published_at

    def item_author_name(self, article: Article) -> str:
        return article.author

    def item_categories(self, article: Article) -> list[str]:
        return [topic.name for topic in article.topics.all()]


class LatestStoriesRss(_StoriesFeed):
    description = "The latest stories, the same for every reader."

    def title(self) -> str:
        return f"{settings.SITE_NAME}: latest stories"

    def link(self) -> str:
        return reverse("news:home")

    def items(self):
        return selectors.articles_latest()[:FEED_LENGTH]


class LatestStoriesAtom(LatestStoriesRss):
    feed_type = Atom1Feed
    subtitle = LatestStoriesRss.description


class TopicStoriesRss(_StoriesFeed):
    def get_object(self, request, slug: str) -> Topic:
        return get_object_or_404(Topic, slug=slug)

    def title(self, topic: Topic) -> str:
        return f"{settings.SITE_NAME}: {topic.name}"

    def description(self, topic: Topic) -> str:
        return topic.description or f"The latest stories in {topic.name}."

    def link(self, topic: Topic) -> str:
        return topic.get_absolute_url()

    def items(self, topic: Topic):
        return selectors.articles_for_topic(topic=topic)[:FEED_LENGTH]


class TopicStoriesAtom(TopicStoriesRss):
    feed_type = Atom1Feed

    def subtitle(self, topic: Topic) -> str:
        return self.description(topic)
