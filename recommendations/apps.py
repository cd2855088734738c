"""The recommender: model build, artifact store, ranking and explanations."""

from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "recommendations"
    verbose_name = "Recommendations"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the cache invalidation receivers)
