"""News content: topics, sources, articles, the editorial workflow and public pages."""

from django.apps import AppConfig


class NewsConfig(AppConfig):
    name = "news"
    verbose_name = "News"

    def ready(self) -> None:
        from . import tasks  # noqa: F401  (registers the tasks, queued by name after commit)
        from .signals import connect

        connect()  # the cache invalidation of the topic navigation
