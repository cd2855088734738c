"""Retrain the recommender now (or queue it for a Celery worker)."""

from django.core.management.base import BaseCommand, CommandError

from recommendations import tasks
from recommendations.models import ModelVersion
from recommendations.services import RetrainResult, model_retrain


class Command(BaseCommand):
    help = (
        "Train a new recommender version from article content and DP counts, and activate it "
        "if its offline checks pass. The active model keeps serving if anything fails."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--queue", action="store_true", help="Hand the retrain to a Celery worker instead."
        )

    def handle(self, *args, **options):
        if options["queue"]:
            tasks.model_retrain.delay(ModelVersion.Trigger.MANUAL)
            self.stdout.write(self.style.SUCCESS("Retrain queued for a worker."))
            return
        self.stdout.write("Training the recommender...")
        result = model_retrain(trigger=ModelVersion.Trigger.MANUAL)
        if result.status == RetrainResult.ALREADY_RUNNING:
            raise CommandError("Another retrain is running; nothing was changed. Try again later.")
        if not result.activated:
            raise CommandError(
                f"Retrain v{result.version} {result.status}; the active model is unchanged. "
                f"{' '.join(result.problems)[:2000]}"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Model v{result.version} active: {result.article_count} articles, "
                f"trained in {result.seconds:.1f} s."
            )
        )
