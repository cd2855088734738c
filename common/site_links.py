"""Absolute links to this site for messages read away from it (every email): built on the one
`SITE_URL` setting, never on the Host header of whatever request, if any, led to the message."""

from urllib.parse import urlsplit, urlunsplit

from django.conf import settings


def site_url(path_or_url: str = "/") -> str:
    """`path_or_url` on the site's public address. An absolute link (as allauth builds them from
    the request) keeps only its path, query and fragment."""
    parts = urlsplit(path_or_url)
    path = parts.path if parts.path.startswith("/") else "/" + parts.path
    return settings.SITE_URL + urlunsplit(("", "", path, parts.query, parts.fragment))
