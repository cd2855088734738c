"""Addresses of the site's fixed pages, worked out once per process: every page links the same
dozen (navigation, footer, each feed card's control), and reversing them each time costs more
than rendering the links."""

from functools import lru_cache

from django.urls import get_script_prefix, get_urlconf, reverse


def cached_reverse(name: str) -> str:
    """`reverse(name)` for a URL without arguments."""
    return _reversed(name, get_script_prefix(), get_urlconf())


@lru_cache(maxsize=256)
def _reversed(name: str, prefix: str, urlconf) -> str:
    # The prefix and URLconf are part of the key: an address is the same only while they are.
    return reverse(name, urlconf=urlconf)
