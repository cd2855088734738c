"""Serve an earlier recommender version again."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from recommendations.services import model_active_version, model_rollback


class Command(BaseCommand):
    help = "Activate the previous recommender version (or the one given with --to)."

    def add_arguments(self, parser):
        parser.add_argument("--to", type=int, dest="to_version", help="Version number to serve.")

    def handle(self, *args, **options):
        before = model_active_version()
        try:
            version = model_rollback(to_version=options["to_version"])
        except ValidationError as error:
            raise CommandError(f"Nothing changed: {' '.join(error.messages)}") from error
        previous = f"v{before.version}" if before else "no model"
        self.stdout.write(
            self.style.SUCCESS(f"Model v{version.version} active again (was {previous}).")
        )
