"""`{{ value|when }}` and `{{ value|day }}`: every date a page shows, in one format
(common.dates)."""

from django import template

from common.dates import format_day, format_when

register = template.Library()


@register.filter
def when(value) -> str:
    return format_when(value) if value else ""


@register.filter
def day(value) -> str:
    return format_day(value) if value else ""
