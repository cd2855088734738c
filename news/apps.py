"""News content: topics, sources, articles, the editorial workflow and public pages."""

from django.apps import AppConfig


class NewsConfig(AppConfig):
    name = "news"
    verbose_name = "News"

    def ready(self) -> None:
        from .signals import connect

        connect()  # the cache invalidation of the topic navigation
