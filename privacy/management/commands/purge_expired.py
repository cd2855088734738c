"""Delete personal data past its retention period (also run daily by Celery beat)."""

from django.core.management.base import BaseCommand

from privacy.services import retention_purge


class Command(BaseCommand):
    help = "Delete reading history, signal events and salts past their retention period."

    def handle(self, *args, **options):
        result = retention_purge()
        self.stdout.write(
            self.style.SUCCESS(
                f"Purged {result.history_entries} history entries, {result.signal_events} "
                f"signal events and {result.daily_salts} daily salts."
            )
        )
