"""A small newsroom to train on: stories in three topics whose words tell them apart."""

import re
from dataclasses import dataclass
from datetime import date, timedelta
from html import unescape
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import Preferences
from news.models import Article, Topic
from privacy.browser_signals import NO_SIGNALS
from privacy.models import AggregateSignal, PrivacyBudgetLedger
from recommendations.offline.protocols import BASELINES, METHODS
from tests.factories import ArticleFactory, TopicFactory

Level = Preferences.Level
ROOT = Path(__file__).resolve().parents[2]

STORIES = {
    "space": [
        (
            "Rocket launch carries weather satellite into orbit",
            "The rocket lifted off from the coastal launch pad and placed a weather satellite "
            "into low orbit. The space agency watched the booster land after the launch.",
        ),
        (
            "Astronauts dock with the orbiting space station",
            "The crew rode a rocket to the space station and docked in orbit after a two day "
            "flight. The astronauts will run experiments in microgravity.",
        ),
        (
            "Telescope spots a comet heading past Mars",
            "Astronomers using the space telescope in orbit spotted a bright comet. The comet "
            "will pass Mars next spring before swinging back toward the outer planets.",
        ),
    ],
    "food": [
        (
            "Summer pasta with fresh tomatoes and basil",
            "Cook the pasta, then toss it with ripe tomatoes, basil and olive oil. A quick "
            "recipe for warm evenings that needs no oven.",
        ),
        (
            "Baking sourdough bread at home",
            "A sourdough starter, flour, water and salt: the bread recipe needs patience, a hot "
            "oven and a long slow rise overnight.",
        ),
        (
            "The secret of a slow tomato sauce",
            "Simmer tomatoes with garlic and olive oil for hours; the sauce recipe from Naples "
            "goes with pasta, pizza and bread.",
        ),
    ],
    "sport": [
        (
            "Cup final decided on penalties",
            "The football cup final went to penalties after extra time; the goalkeeper saved "
            "two kicks and the captain lifted the trophy.",
        ),
        (
            "Marathon runner breaks the course record",
            "The runner finished the city marathon in record time, pulling away from the pack "
            "after thirty kilometres in the rain.",
        ),
        (
            "Tennis champion wins a fifth title",
            "The champion won the tennis final in straight sets, serving twenty aces to claim "
            "a fifth title on grass.",
        ),
    ],
}


@dataclass
class Newsroom:
    topics: dict[str, Topic]
    stories: dict[str, list[Article]]

    def all(self) -> list[Article]:
        return [a for stories in self.stories.values() for a in stories]


def story(*, title: str, body: str, topics=(), hours_ago: float = 1.0, **fields) -> Article:
    fields.setdefault("published_at", timezone.now() - timedelta(hours=hours_ago))
    return ArticleFactory(title=title, summary="", body=body, topics=list(topics), **fields)


@pytest.fixture
def newsroom(db) -> Newsroom:
    topics = {name: TopicFactory(name=name.title(), slug=name) for name in STORIES}
    stories = {}
    for position, (name, items) in enumerate(STORIES.items()):
        stories[name] = [
            story(title=title, body=body, topics=[topics[name]], hours_ago=2 + 3 * i + position)
            for i, (title, body) in enumerate(items)
        ]
    return Newsroom(topics=topics, stories=stories)


def release_counts(
    *, day: date, counts: dict[Article, int], epsilon: float = 0.5, noise_scale: float | None = None
) -> None:
    """DP counts as the nightly aggregation releases them (the noise is already in them; its
    scale, when given, in the ledger)."""
    AggregateSignal.objects.bulk_create(
        AggregateSignal(day=day, kind=AggregateSignal.Kind.ARTICLE, article=a, noisy_count=c)
        for a, c in counts.items()
    )
    PrivacyBudgetLedger.objects.create(
        day=day,
        query="reads_per_article",
        epsilon=epsilon,
        mechanism="discrete Laplace",
        contribution_bound=20,
        noise_scale=noise_scale,
    )


def follow(user, *topics, level=Level.TOPICS, blocked=()):
    accounts_services.preferences_set_topics(
        user=user, topic_ids=[t.pk for t in topics], blocked_ids=[t.pk for t in blocked]
    )
    accounts_services.preferences_set_level(
        user=user, level=level, source="preferences", signals=NO_SIGNALS
    )
    return user


def cards(html: str) -> list[str]:
    return re.findall(r'<article class="card">.*?</article>', html, flags=re.S)


def titles_on(html: str) -> list[str]:
    """The stories' titles as the cards show them (a reason may name a story read)."""
    return [
        unescape(title) for title in re.findall(r'class="card-title"><a [^>]*>([^<]*)</a>', html)
    ]


TINY = ROOT / "tests" / "fixtures" / "mind_tiny"


def run(*args) -> str:
    out = StringIO()
    call_command("evaluate_recommender", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def tables(output: str) -> dict[str, list[float]]:
    """Rows of both printed tables, keyed "loo recommender", "imp popularity", ..."""
    table = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[0] in {"loo", "imp"} and parts[1] in (*METHODS, *BASELINES):
            table[f"{parts[0]} {parts[1]}"] = [float(p) for p in parts[2:]]
    return table
