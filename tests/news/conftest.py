"""Fixtures for news tests that touch the outside world: DNS answers and feed files."""

import io
import socket
from pathlib import Path

import pytest

from news.ingest import IncomingEntry, ParsedFeed
from tests.factories import ArticleFactory, TopicFactory

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PUBLIC_IP = "93.184.216.34"


class FakeResponse(io.BytesIO):
    """A response body; `on_read` runs before each read (to move a fake clock)."""

    def __init__(self, body: bytes, *, headers=None, on_read=None):
        super().__init__(body)
        self.headers = headers or {}
        self.on_read = on_read

    def read(self, size=-1):
        if self.on_read:
            self.on_read()
        return super().read(size)

    def geturl(self):
        return "https://news.example/feed"


VOCABULARY = {
    "space": "rocket orbit satellite astronaut telescope comet launch planet galaxy booster",
    "food": "recipe pasta tomato oven bread garlic olive sauce baking flour",
    "sport": "football goal match penalty marathon runner tennis trophy coach league",
}


@pytest.fixture
def dns(monkeypatch):
    """Replace DNS with a table: dns["feeds.example"] = ["93.184.216.34"]. Names not in the
    table fail to resolve, as they would offline; IP literals resolve to themselves."""
    table: dict[str, list[str]] = {}

    def fake_getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        host = host.strip("[]")
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
            addresses = [host]
        except OSError:
            if host not in table:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
            addresses = table[host]
        return [
            (
                socket.AF_INET6 if ":" in ip else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (ip, port, 0, 0) if ":" in ip else (ip, port),
            )
            for ip in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    return table


@pytest.fixture
def feed_bytes():
    def read(name: str) -> bytes:
        return (FIXTURES / "feeds" / name).read_bytes()

    return read


def labelled_stories() -> dict:
    """Eight stories per topic, each written with its topic's words: what editors labelled.
    Returns the topics by name."""
    topics = {name: TopicFactory(name=name.title(), slug=name) for name in VOCABULARY}
    for name, words in VOCABULARY.items():
        words = words.split()
        for n in range(8):
            chosen = [words[(n + i) % len(words)] for i in range(5)]
            ArticleFactory(
                title=f"{chosen[0].title()} and {chosen[1]} news {n}",
                summary=" ".join(chosen[2:]),
                body=f"A story about {' '.join(chosen)}.\n\nMore on the {chosen[0]}.",
                topics=[topics[name]],
            )
    return topics


def sport_feed() -> ParsedFeed:
    """A feed with one football story and no topics, written with the sport words."""
    entry = IncomingEntry(
        reference="e1",
        external_id="e1",
        title="Penalty drama as the football league match ends",
        summary="The coach praised the runner-up after the penalty.",
        body="The match went to penalties and the league trophy was decided.",
        canonical_url="https://gazette.example/penalty",
    )
    return ParsedFeed(kind="rss", title="Gazette", entries=[entry])
