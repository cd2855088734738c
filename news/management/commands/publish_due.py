"""Publish the scheduled articles whose time has come: what Celery beat does every minute, for
setups without beat (`make demo`, or cron calling it every minute)."""

from django.core.management.base import BaseCommand

from news.services import articles_publish_due


class Command(BaseCommand):
    help = (
        "Publish every scheduled article whose publication time has passed, as the Celery beat "
        "task does. Safe to run any number of times, and from cron while beat also runs: each "
        "article is published once."
    )

    def handle(self, *args, **options):
        published = articles_publish_due()
        if published:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Published {published} scheduled article(s) whose time had come."
                )
            )
        else:
            self.stdout.write("No scheduled article was due; nothing changed.")
