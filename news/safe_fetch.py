"""Fetching feed addresses that editors type in, without letting them reach inside our network.

Only http(s) is allowed, and every address a host name resolves to must be a public one. The
check runs when a source is saved and again on every connection (redirects included), and the
connection goes to the very address that was checked, so a DNS answer that changes between
check and connect (DNS rebinding) cannot slip through. Responses are cut off at a size and a
time limit.
"""

import http.client
import ipaddress
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

ALLOWED_SCHEMES = ("http", "https")
USER_AGENT = "NewsiteFeedReader/1.0 (+privacy-first news; feed polling)"
CHUNK_BYTES = 64 * 1024


class FetchError(Exception):
    """The feed could not be fetched; the message is written for an editor."""


class FetchRefused(FetchError):
    """The address is not one we are willing to contact."""


# The guard keeps the site from being steered at its own network; it is not meant to stop an
# editor importing a feed they can reach themselves.
NOT_PUBLIC_HINT = (
    "The site fetches feeds from public addresses only. To import a feed from your own "
    "network, download it yourself (for instance with curl -o feed.xml ADDRESS) and give "
    "the import the file instead of the address (python manage.py import_feed feed.xml)."
)


def resolve(host: str, port: int) -> list[str]:
    """Every IP address the host name resolves to. Tests replace socket.getaddrinfo."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise FetchRefused(f"The host name '{host}' could not be resolved.") from error
    return list(dict.fromkeys(answer[4][0] for answer in answers))


def address_refusal(address: str) -> str | None:
    """Why an IP address may not be contacted, or None when it is a public one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    # ::ffff:10.0.0.1 reaches 10.0.0.1: judge the IPv4 address it carries.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for refused, label in (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip.is_reserved, "reserved"),
        (ip.is_private, "private"),
        # Shared address space (100.64.0.0/10) and the like: not private, yet not public.
        (not ip.is_global, "non-public"),
    ):
        if refused:
            return f"{ip} is a {label} address"
    return None


def url_check(url: str) -> list[str]:
    """Refuse a URL we must not fetch; return the checked addresses of its host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise FetchRefused(f"'{url}' is not a valid address.") from error
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise FetchRefused("Only http:// and https:// feed addresses are allowed.")
    host = parts.hostname
    if not host:
        raise FetchRefused(f"'{url}' has no host name.")
    port = port or (443 if parts.scheme.lower() == "https" else 80)
    addresses = resolve(host, port)
    if not addresses:
        raise FetchRefused(f"The host name '{host}' could not be resolved.")
    for address in addresses:
        refusal = address_refusal(address)
        if refusal:
            raise FetchRefused(f"'{host}' is not a public address ({refusal}). {NOT_PUBLIC_HINT}")
    return addresses


def _guarded_create_connection(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source=None):
    """socket.create_connection, but only to addresses that pass the guard at this moment."""
    host, port = address
    checked = url_check(f"http://{_bracketed(host)}:{port}/")
    last_error: OSError | None = None
    for ip in checked:
        try:
            return socket.create_connection((ip, port), timeout, source)
        except OSError as error:
            last_error = error
    raise last_error or OSError(f"Could not connect to {host}.")


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class _GuardedHTTPConnection(http.client.HTTPConnection):
    _create_connection = staticmethod(_guarded_create_connection)


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    # The TLS layer still verifies the certificate against the host name, not the IP.
    _create_connection = staticmethod(_guarded_create_connection)


class _GuardedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_GuardedHTTPConnection, req)


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_GuardedHTTPSConnection, req, context=self._context)


class _GuardedRedirectHandler(urllib.request.HTTPRedirectHandler):
    max_redirections = 5

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        # Checked here for a clear message; the connection is checked again regardless.
        url_check(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener() -> urllib.request.OpenerDirector:
    # Built by hand, not with build_opener(): no file://, ftp:// or data: handlers, and no
    # proxy taken from the environment, which would connect to an address we did not check.
    opener = urllib.request.OpenerDirector()
    for handler in (
        _GuardedHTTPHandler(),
        _GuardedHTTPSHandler(),
        _GuardedRedirectHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
        urllib.request.UnknownHandler(),
    ):
        opener.add_handler(handler)
    return opener


def open_url(url: str, timeout: float):
    """Open a URL through the guard; the default opener for fetch()."""
    request = urllib.request.Request(
        url,
        headers={
            "User-Agent": USER_AGENT,
            "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5",
        },
    )
    return _opener().open(request, timeout=timeout)


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    content: bytes


def fetch(
    url: str,
    *,
    max_bytes: int | None = None,
    timeout: float | None = None,
    opener: Callable | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Fetched:
    """Fetch a feed: guarded address, at most max_bytes, at most timeout seconds in all."""
    max_bytes = max_bytes or settings.INGEST_MAX_BYTES
    timeout = timeout or settings.INGEST_TIMEOUT_SECONDS
    opener = opener or open_url  # looked up per call: the one seam tests replace
    url_check(url)
    deadline = clock() + timeout
    try:
        response = opener(url, timeout)
    except FetchError:
        raise
    except urllib.error.HTTPError as error:
        raise FetchError(f"The feed answered with HTTP {error.code} ({error.reason}).") from error
    except urllib.error.URLError as error:
        if isinstance(error.reason, FetchError):
            raise error.reason from error
        raise FetchError(f"The feed could not be reached: {error.reason}.") from error
    except TimeoutError as error:
        raise FetchError(f"The feed did not answer within {timeout:g} seconds.") from error
    except (OSError, http.client.HTTPException) as error:
        raise FetchError(f"The feed could not be reached: {error}.") from error
    with response:
        final_url = response.geturl() if hasattr(response, "geturl") else url
        declared = response.headers.get("Content-Length") if response.headers else None
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise FetchError(f"The feed is larger than the {_megabytes(max_bytes)} limit.")
        content = read_limited(
            response, max_bytes=max_bytes, deadline=deadline, timeout=timeout, clock=clock
        )
    return Fetched(url=final_url, content=content)


def read_limited(
    response, *, max_bytes: int, deadline: float, timeout: float, clock: Callable[[], float]
) -> bytes:
    """Read a body in chunks, giving up past the size limit or the overall deadline (a feed
    sending one byte at a time would otherwise pass every per-read socket timeout)."""
    chunks: list[bytes] = []
    received = 0
    while True:
        if clock() > deadline:
            raise FetchError(f"The feed took longer than {timeout:g} seconds to download.")
        try:
            chunk = response.read(min(CHUNK_BYTES, max_bytes + 1 - received))
        except TimeoutError as error:
            raise FetchError(f"The feed did not answer within {timeout:g} seconds.") from error
        except (OSError, http.client.HTTPException) as error:
            raise FetchError(f"The feed broke off while downloading: {error}.") from error
        if not chunk:
            break
        received += len(chunk)
        if received > max_bytes:
            raise FetchError(f"The feed is larger than the {_megabytes(max_bytes)} limit.")
        chunks.append(chunk)
    if clock() > deadline:
        raise FetchError(f"The feed took longer than {timeout:g} seconds to download.")
    return b"".join(chunks)


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:g} MB" if size >= 100_000 else f"{size} bytes"
