"""`{% link 'name' %}`: `{% url 'name' %}` for the site's fixed pages (no arguments), worked out
once per process (common.reversing). Used by the templates every page renders."""

from django import template

from common.reversing import cached_reverse

register = template.Library()


@register.simple_tag
def link(name: str) -> str:
    return cached_reverse(name)
