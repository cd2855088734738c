"""One date format site-wide: the `when` and `day` filters and the functions behind them."""

from datetime import UTC, date, datetime

from django.template import Context, Template

from common.dates import format_day, format_when


def render(source: str, **context) -> str:
    return Template("{% load dates %}" + source).render(Context(context))


def test_a_moment_is_written_with_day_month_name_year_and_time_in_the_site_zone(settings):
    settings.TIME_ZONE = "Europe/Paris"
    moment = datetime(2026, 12, 2, 13, 5, tzinfo=UTC)
    assert format_when(moment) == "2 December 2026, 14:05"
    assert render("{{ moment|when }}", moment=moment) == "2 December 2026, 14:05"
    assert render("{{ moment|day }}", moment=moment) == "2 December 2026"


def test_a_plain_date_and_nothing(settings):
    assert format_when(date(2026, 1, 9)) == "9 January 2026"
    assert format_day(None) == format_when(None) == ""
    assert render("{{ nothing|when }}", nothing=None) == ""
