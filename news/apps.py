"""News content: topics, sources, articles, the editorial workflow and public pages."""

from django.apps import AppConfig


class NewsConfig(AppConfig):
    name = "news"
    verbose_name = "News"
