"""The guard on feed addresses: only public http(s) hosts, checked at save and at fetch time,
with size and time limits on what is downloaded."""

import socket

import pytest
from django.core.exceptions import ValidationError

from news import safe_fetch
from news.models import Source
from news.safe_fetch import FetchError, FetchRefused, fetch, url_check

from .conftest import PUBLIC_IP, FakeResponse


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://127.0.0.1/feed", "loopback"),
        ("http://127.9.9.9:8080/feed", "loopback"),
        ("http://10.0.0.1/feed", "private"),
        ("http://192.168.1.20/rss", "private"),
        ("http://[::1]/feed", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://240.0.0.1/", "reserved"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://100.64.0.1/", "non-public"),
    ],
)
def test_internal_addresses_are_refused(dns, url, reason):
    with pytest.raises(FetchRefused, match=reason):
        url_check(url)


@pytest.mark.parametrize(
    "url", ["ftp://files.example/feed.xml", "file:///etc/passwd", "gopher://x"]
)
def test_only_http_and_https_are_allowed(dns, url):
    with pytest.raises(FetchRefused, match="Only http:// and https://"):
        url_check(url)


def test_a_host_name_resolving_to_a_private_address_is_refused(dns):
    dns["intranet.example"] = ["10.1.2.3"]
    with pytest.raises(FetchRefused, match="'intranet.example' is not a public address"):
        url_check("https://intranet.example/feed")


def test_one_private_address_among_public_ones_is_enough_to_refuse(dns):
    dns["mixed.example"] = [PUBLIC_IP, "127.0.0.1"]
    with pytest.raises(FetchRefused, match="loopback"):
        url_check("https://mixed.example/feed")


def test_a_public_address_is_allowed(dns):
    dns["news.example"] = [PUBLIC_IP]
    assert url_check("https://news.example/feed.xml") == [PUBLIC_IP]
    assert url_check(f"http://{PUBLIC_IP}/rss") == [PUBLIC_IP]


def test_an_unresolvable_host_is_refused_with_its_name(dns):
    with pytest.raises(FetchRefused, match="'nowhere.example' could not be resolved"):
        url_check("https://nowhere.example/feed")


@pytest.mark.django_db
def test_saving_a_feed_source_with_an_internal_address_is_refused(dns):
    dns["intranet.example"] = ["192.168.0.5"]
    source = Source(name="Intranet", kind=Source.Kind.RSS, url="https://intranet.example/rss")
    with pytest.raises(ValidationError) as refused:
        source.full_clean()
    assert "not a public address" in " ".join(refused.value.message_dict["url"])


@pytest.mark.django_db
def test_saving_a_feed_source_with_a_public_address_is_accepted(dns):
    dns["news.example"] = [PUBLIC_IP]
    Source(name="Public", kind=Source.Kind.RSS, url="https://news.example/rss").full_clean()


def test_the_address_is_checked_again_at_fetch_time(dns):
    """A host that was public when the source was saved and now resolves inside (DNS
    rebinding) is refused before any request is made."""
    dns["news.example"] = [PUBLIC_IP]
    url_check("https://news.example/feed")
    dns["news.example"] = ["127.0.0.1"]
    opened = []
    with pytest.raises(FetchRefused, match="loopback"):
        fetch("https://news.example/feed", opener=lambda url, timeout: opened.append(url))
    assert opened == []


def test_the_connection_itself_refuses_an_internal_address(dns, monkeypatch):
    """The guard sits in the socket connection too, so urllib cannot reach an address that
    was never checked, whatever it resolves in between."""
    connected = []
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: connected.append(a))
    dns["sneaky.example"] = ["10.0.0.7"]
    with pytest.raises(FetchRefused, match="private"):
        safe_fetch._guarded_create_connection(("sneaky.example", 443), 5)
    assert connected == []

    dns["sneaky.example"] = [PUBLIC_IP]
    safe_fetch._guarded_create_connection(("sneaky.example", 443), 5)
    # It connects to the address it checked, not to a fresh lookup of the name.
    assert connected == [((PUBLIC_IP, 443), 5, None)]


def test_a_redirect_to_an_internal_address_is_refused(dns):
    import urllib.request

    handler = safe_fetch._GuardedRedirectHandler()
    request = urllib.request.Request("https://news.example/feed")
    with pytest.raises(FetchRefused, match="link-local"):
        handler.redirect_request(
            request, None, 302, "Found", {}, "http://169.254.169.254/latest/meta-data/"
        )
    with pytest.raises(FetchRefused, match="Only http"):
        handler.redirect_request(request, None, 302, "Found", {}, "file:///etc/passwd")


def test_the_opener_has_no_file_or_ftp_handler():
    opener = safe_fetch._opener()
    schemes = {name.removesuffix("_open") for name in opener.handle_open}
    assert schemes == {"http", "https", "unknown"}


def test_a_feed_over_the_size_limit_is_refused(dns):
    dns["news.example"] = [PUBLIC_IP]
    body = b"<rss>" + b"x" * 5000 + b"</rss>"
    with pytest.raises(FetchError, match="larger than the 1000 bytes limit"):
        fetch(
            "https://news.example/feed",
            max_bytes=1000,
            opener=lambda url, timeout: FakeResponse(body),
        )


def test_a_declared_size_over_the_limit_is_refused_before_reading(dns):
    dns["news.example"] = [PUBLIC_IP]
    reads = []
    response = FakeResponse(
        b"", headers={"Content-Length": "50000000"}, on_read=lambda: reads.append(1)
    )
    with pytest.raises(FetchError, match="larger than the 5 MB limit"):
        fetch("https://news.example/feed", max_bytes=5_000_000, opener=lambda u, t: response)
    assert reads == []


def test_a_feed_within_the_limits_is_returned_whole(dns):
    dns["news.example"] = [PUBLIC_IP]
    body = b"<rss>" + b"y" * 200_000 + b"</rss>"
    fetched = fetch(
        "https://news.example/feed", max_bytes=1_000_000, opener=lambda u, t: FakeResponse(body)
    )
    assert fetched.content == body


def test_a_feed_trickling_past_the_time_limit_is_refused(dns):
    """Each read is quick enough for the socket timeout, but the whole download is not."""
    dns["news.example"] = [PUBLIC_IP]
    now = [1000.0]

    def slow_read():
        now[0] += 4  # every chunk takes four seconds

    body = b"z" * (safe_fetch.CHUNK_BYTES * 5)
    with pytest.raises(FetchError, match="longer than 10 seconds"):
        fetch(
            "https://news.example/feed",
            timeout=10,
            max_bytes=10_000_000,
            opener=lambda u, t: FakeResponse(body, on_read=slow_read),
            clock=lambda: now[0],
        )


def test_a_server_that_does_not_answer_in_time_is_reported(dns):
    dns["news.example"] = [PUBLIC_IP]

    def hanging(url, timeout):
        raise TimeoutError("timed out")

    with pytest.raises(FetchError, match="did not answer within 3 seconds"):
        fetch("https://news.example/feed", timeout=3, opener=hanging)
