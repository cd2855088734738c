"""The recommender: model build, artifact store, ranking and explanations."""

from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "recommendations"
    verbose_name = "Recommendations"

    def ready(self) -> None:
        # The receivers of what lower layers announce, and the tasks they queue by name.
        from . import signals, tasks  # noqa: F401
