"""Release differentially private popularity counts for closed days, by hand."""

from datetime import date

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from privacy.aggregation import (
    AggregationResult,
    aggregate_day,
    aggregate_pending,
    day_awaits_release,
    day_released,
)


def _summary(result: AggregationResult) -> str:
    if result.already_done:
        return f"{result.day.isoformat()}: already released, nothing changed."
    return (
        f"{result.day.isoformat()}: released {result.articles_released} per-article and "
        f"{result.topics_released} per-topic counts for epsilon {result.epsilon_spent:g}; "
        "raw events and salt deleted."
    )


def _parse_day(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError as error:
        raise CommandError(
            f"--day must be a date as YYYY-MM-DD, like 2026-11-21; got {raw!r}."
        ) from error


class Command(BaseCommand):
    help = (
        "Aggregate one closed day (--day) or every closed day still holding raw signal events, "
        "with differential privacy. Re-running a released day changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--day", help="A closed day as YYYY-MM-DD (default: every pending day)."
        )

    def handle(self, *args, **options):
        day = _parse_day(options["day"]) if options.get("day") else None
        closed = day is not None and day < timezone.localdate()  # else refused as not over
        if closed and not day_released(day=day) and not day_awaits_release(day=day):
            raise CommandError(
                f"Nothing was counted on {day.isoformat()}, or its raw signals are already "
                f"deleted (they are kept {settings.PRIVACY_SIGNAL_RETENTION_HOURS} hours): "
                "releasing it would publish noise alone. Nothing changed."
            )
        try:
            results = [aggregate_day(day=day)] if day else aggregate_pending()
        except ValueError as error:
            raise CommandError(str(error)) from error
        if not results:
            self.stdout.write("No closed day is waiting to be aggregated.")
        for result in results:
            self.stdout.write(_summary(result))
