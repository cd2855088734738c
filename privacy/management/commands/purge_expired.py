"""Delete personal data past its retention period (also run daily by Celery beat)."""

from django.core.management.base import BaseCommand

from privacy.services import retention_purge


class Command(BaseCommand):
    help = (
        "Delete reading history, signal events, salts, export files and records, and activity "
        "log events past their retention period."
    )

    def handle(self, *args, **options):
        result = retention_purge()
        self.stdout.write(
            self.style.SUCCESS(
                f"Purged {result.history_entries} history entries, {result.signal_events} "
                f"signal events, {result.daily_salts} daily salts, {result.export_files} export "
                f"files, {result.export_requests} export records and {result.audit_events} "
                f"activity-log events."
            )
        )
