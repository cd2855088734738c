"""The sitemap (django.contrib.sitemaps): the front page, every topic and every published
story (not archived ones: they stay readable but are no longer offered). Public pages only."""

from django.contrib.sitemaps import Sitemap
from django.urls import reverse

from news import selectors
from news.models import Article

SITEMAP_MAX_AGE_SECONDS = 3600


class FrontPageSitemap(Sitemap):
    changefreq = "hourly"
    priority = 1.0

    def items(self) -> list[str]:
        return ["news:home"]

    def location(self, name: str) -> str:
        return reverse(name)


class TopicSitemap(Sitemap):
    changefreq = "hourly"
    priority = 0.6

    def items(self):
        return selectors.topics_all()


class ArticleSitemap(Sitemap):
    priority = 0.8

    def items(self):
        return selectors.articles_for_sitemap()

    def lastmod(self, article: Article):
        return article.content_updated_at or article.published_at


SITEMAPS = {"home": FrontPageSitemap, "topics": TopicSitemap, "articles": ArticleSitemap}
