"""The site's one way of writing a date for people: "2 December 2026" and, with the time,
"2 December 2026, 14:05" in the site's time zone. Templates use the `day` and `when` filters
(news/templatetags/dates.py); Python code that builds text for a page uses these functions."""

from datetime import date, datetime

from django.utils import dateformat, timezone

DAY_FORMAT = "j F Y"
WHEN_FORMAT = "j F Y, H:i"


def _local(value: date) -> date:
    if isinstance(value, datetime) and timezone.is_aware(value):
        return timezone.localtime(value)
    return value


def format_day(value: date | None) -> str:
    return "" if value is None else dateformat.format(_local(value), DAY_FORMAT)


def format_when(value: date | None) -> str:
    """A moment with its time; a plain date (no time to show) is written as a day."""
    if value is None:
        return ""
    if not isinstance(value, datetime):
        return format_day(value)
    return dateformat.format(_local(value), WHEN_FORMAT)
