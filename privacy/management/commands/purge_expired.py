"""Delete personal data past its retention period (also run daily by Celery beat)."""

from django.core.management.base import BaseCommand

from privacy.services import retention_purge


class Command(BaseCommand):
    help = (
        "Delete everything past its retention period, as each category of personal data "
        "declares it (reading history, signal events and salts, exports, activity log...)."
    )

    def handle(self, *args, **options):
        result = retention_purge()
        done = ", ".join(f"{count} {what}" for what, count in result.counts.items())
        self.stdout.write(self.style.SUCCESS(f"Purged {done or 'nothing'}."))
