"""What the private-mode journeys share: their stories, what the browser keeps, and the rows
that must stay unchanged for a visitor the server knows nothing about."""

import json
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts.models import Preferences, ReaderSession
from privacy.models import ConsentRecord, PrivacyAuditEvent, ReadingHistoryEntry, SignalEvent
from recommendations.services import model_retrain
from tests.factories import ArticleFactory, TopicFactory

STORAGE_KEY = "newsite:private-mode"
STORIES = {
    "Science": [
        "Telescope finds water on a distant moon",
        "New battery chemistry lasts longer",
        "Ocean floor map reveals ancient rivers",
        "Vaccine trial shows strong results",
        "Comet passes close to the sun",
    ],
    "Sport": [
        "Local team wins the cup final",
        "Marathon record falls in the rain",
        "Young sprinter breaks national record",
        "Cycling season opens in the hills",
        "Tennis champion wins a fifth title",
    ],
    "Food": [
        "The secret of a slow tomato sauce",
        "Baking sourdough bread at home",
        "A guide to autumn mushrooms",
        "Street food markets return",
        "Summer pasta with fresh basil",
    ],
}


def private_mode_newsroom() -> dict[str, list]:
    """Stories a few days old (so freshness does not decide everything), a trained model."""
    now = timezone.now()
    articles = {}
    for position, (name, titles) in enumerate(STORIES.items()):
        topic = TopicFactory(name=name, slug=name.lower())
        articles[name] = [
            ArticleFactory(
                title=title,
                summary=f"{title}: the full story.",
                body=f"{title}. More about {name.lower()} here, {name.lower()} news.\n\n"
                f"A second paragraph on {name} and {title.lower()}.",
                topics=[topic],
                published_at=now - timedelta(days=2, hours=3 * index + position),
            )
            for index, title in enumerate(titles)
        ]
    model_retrain()
    return articles


def private_mode_turned_on(page, *, topic: str) -> None:
    """On /private/, as a visitor would: private mode turned on in this browser, following
    one topic."""
    page.goto("/private/")
    page.get_by_role("button", name="Turn on private mode in this browser").click()
    page.get_by_label(topic).check()
    page.get_by_role("button", name="Save my topics in this browser").click()


def rows_about_visitors() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (
            get_user_model(),
            ReaderSession,
            Preferences,
            ConsentRecord,
            PrivacyAuditEvent,
            ReadingHistoryEntry,
            SignalEvent,
        )
    }


def browser_kept(page) -> dict | None:
    raw = page.evaluate(f"window.localStorage.getItem({json.dumps(STORAGE_KEY)})")
    return json.loads(raw) if raw else None


def wait_for_reads(page, count: int) -> None:
    # Polled from here: Playwright's in-page polling evaluates a string, which the CSP forbids.
    for _ in range(150):
        kept = browser_kept(page)
        if kept is not None and len(kept["reads"]) == count:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"The browser did not note read {count}: {browser_kept(page)}")


def posts_to(requests, path: str) -> list:
    """The captured requests a page sent to `path` (a URL ending)."""
    return [r for r in requests if r.url.endswith(path)]


def wait_for_post(page, requests, path: str) -> None:
    """Until the page sent something to `path` (a randomized delay of at most a few seconds)."""
    # Polled from here: Playwright's in-page polling evaluates a string, which the CSP forbids.
    for _ in range(150):
        if posts_to(requests, path):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"Nothing was sent to {path}: {browser_kept(page)}")
