"""A newsroom for private mode: four topics whose words tell them apart, stories spread over
four days, an editor's pick, released DP counts, and a trained model; the bundle built from
it; and the browser's ranking (static/privatemode/ranking.js) run by node."""

import json
import os
import random
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from news.models import Topic
from privacy.models import AggregateSignal, PrivacyBudgetLedger
from recommendations.active import loaded_model_forget
from recommendations.feed.pool import candidate_pool_forget
from recommendations.services import model_retrain
from tests.factories import ArticleFactory, TopicFactory

ROOT = Path(__file__).resolve().parents[2]
RANKING_JS = ROOT / "static" / "privatemode" / "ranking.js"
RUNNER = Path(__file__).resolve().parent / "run_ranking.mjs"

WORDS = {
    "Space": "rocket orbit satellite astronaut comet telescope planet launch galaxy moon crater "
    "asteroid mission station gravity nebula probe lunar solar cosmic",
    "Food": "pasta tomato basil bread oven recipe sauce garlic flour butter cheese soup "
    "kitchen baking spice harvest onion pepper olive honey",
    "Sport": "football goal penalty marathon runner tennis champion trophy league coach "
    "stadium season record final sprint cycling match referee keeper medal",
    "Politics": "election parliament minister vote budget senate campaign policy reform law "
    "mayor council debate coalition treaty tax ballot party cabinet governor",
}
SHARED = ["today", "report", "city", "people", "week", "new", "year", "says", "early", "local"]
# DP counts released yesterday for the twelve newest stories (some clear of the noise).
COUNTS = [90, 70, 5, 40, 3, 60, 2, 30, 1, 20, 0, 80]


def _text(rng: random.Random, words: list[str], count: int) -> str:
    return " ".join(rng.choice(words) for _ in range(count))


@pytest.fixture
def newsroom(db):
    """32 stories (8 a topic, one in two topics), one editor's pick, a day of DP counts,
    a model trained on them. Returns {topic name: Topic}."""
    rng = random.Random(21)
    topics = {name: TopicFactory(name=name, slug=name.lower()) for name in WORDS}
    TopicFactory(name="Weather", slug="weather")  # followed by some, with no story
    now = timezone.now()
    stories = []
    for index in range(32):
        name = list(WORDS)[index % 4]
        words = WORDS[name].split()
        title = _text(rng, words, 4).capitalize() + f" {index}"
        extra = [topics["Sport"]] if index == 5 else []
        stories.append(
            ArticleFactory(
                title=title,
                summary=_text(rng, words + SHARED, 12),
                body=_text(rng, words, 40) + " " + _text(rng, SHARED, 10),
                topics=[topics[name], *extra],
                published_at=now - timedelta(hours=2 + 3 * index),
                editors_pick_until=now + timedelta(days=1) if index == 9 else None,
            )
        )
    yesterday = timezone.localdate() - timedelta(days=1)
    AggregateSignal.objects.bulk_create(
        AggregateSignal(
            day=yesterday, kind=AggregateSignal.Kind.ARTICLE, article=story, noisy_count=count
        )
        for story, count in zip(stories[:12], COUNTS, strict=True)
    )
    PrivacyBudgetLedger.objects.create(
        day=yesterday,
        query="reads_per_article",
        epsilon=0.9,
        mechanism="discrete Laplace",
        contribution_bound=1,
        noise_scale=1 / 0.9,
    )
    loaded_model_forget()
    candidate_pool_forget()
    model_retrain()
    return topics


def node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("REQUIRE_BROWSER=1 but node is not installed (apt-get install nodejs).")
        pytest.skip("node is not installed: the browser's ranking cannot be run here.")
    return node


def browser_ranking(bundle: dict, cases: list[dict]) -> list[list[dict]]:
    """The browser's ranking of each case, by ranking.js itself (run by node)."""
    completed = subprocess.run(
        [node_or_skip(), str(RUNNER), RANKING_JS.as_uri()],
        input=json.dumps({"bundle": bundle, "cases": cases}),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def topic_ids(*topics: Topic) -> list[tuple[int, float]]:
    """Followed topics as the browser lists them: by name, full weight."""
    return [(t.pk, 1.0) for t in sorted(topics, key=lambda t: t.name)]
