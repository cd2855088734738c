"""Every main page, as a visitor, a reader and an editor, on a phone (390 px) and a laptop
(1280 px): no sideways scrolling, no console error, no failed request and no serious or
critical accessibility problem, including those axe can only flag as "incomplete"."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from recommendations.services import model_retrain
from tests.factories import (
    ArticleFactory,
    EditorFactory,
    TopicFactory,
    reader_choices,
    verified_reader,
)

from .conftest import SERIOUS, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

WIDTHS = {"phone": (390, 844), "laptop": (1280, 800)}
# A search for one long unbroken word once made the page 1,995 px wide.
LONG_QUERY = "x" * 300

PUBLIC_PAGES = [
    "/",
    "{article}",
    "{topic}",
    f"/search/?q={LONG_QUERY}",
    "/privacy/transparency/",
    "/privacy/what-we-collect/",
    "/privacy/policy/",
    "/privacy/global-privacy-control/",
]
PAGES = {
    "anonymous": [*PUBLIC_PAGES, "/accounts/login/", "/accounts/signup/"],
    "reader": [
        *PUBLIC_PAGES,
        "/privacy/",
        "/privacy/data/",
        "/privacy/activity/",
        "/privacy/consents/",
        "/privacy/history/",
        "/privacy/profile/",
        "/privacy/export/",
        "/privacy/delete-account/",
        "/account/",
        "/account/preferences/",
        "/accounts/email/",
        "/accounts/password/change/",
        "/onboarding/1/",
        "/onboarding/2/",
        "/onboarding/3/",
    ],
    "editor": ["/", "{article}", "/editor/", "/account/"],
}


@pytest.fixture
def site(db):
    """A small newsroom: topics with long names and stories, a trained model."""
    topics = [TopicFactory(name=name, slug=name.lower()) for name in ("Science", "Sport", "Food")]
    articles = [
        ArticleFactory(
            title=f"A story about {topic.name.lower()} number {number} with a longer headline",
            summary="What happened, who it matters to, and what comes next.",
            body="First paragraph.\n\nSecond paragraph with a-very-long-unbroken-" + "word" * 30,
            topics=[topic],
        )
        for topic in topics
        for number in range(4)
    ]
    model_retrain()
    return {"article": articles[0].get_absolute_url(), "topic": topics[0].get_absolute_url()}


def unjudgeable_chart_text(kind: str, node: dict) -> bool:
    """axe cannot tell the background of text drawn in an SVG chart (role="img") and leaves its
    contrast "incomplete"; the charts' text colours are fixed in site.css (#222 on white)."""
    return kind == "incomplete" and node["html"].startswith("<text ")


def problems_on(page, path: str, console_errors: list, failed: list) -> list[str]:
    """Visit the page at the current viewport; what is wrong with it, as sentences."""
    console_errors.clear()
    failed.clear()
    response = page.goto(path)
    page.wait_for_load_state("load")
    found = []
    if response is None or response.status >= 400:
        found.append(f"status {response.status if response else 'none'}")
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if widths[0] > widths[1]:
        found.append(f"scrolls sideways: {widths[0]} px wide in a {widths[1]} px window")
    found += [f"console error: {text}" for text in console_errors]
    found += [f"request {text}" for text in failed]
    results = Axe().run(page).response
    for kind in ("violations", "incomplete"):
        for rule in results[kind]:
            nodes = [node for node in rule["nodes"] if not unjudgeable_chart_text(kind, node)]
            if rule.get("impact") in SERIOUS and nodes:
                targets = [node["target"] for node in nodes][:3]
                found.append(f"axe {kind}: {rule['id']} ({rule['impact']}) at {targets}")
    return found


def sweep(page, paths: list[str], site: dict) -> list[str]:
    report, console_errors, failed = [], [], []
    page.on("console", lambda m: m.type == "error" and console_errors.append(m.text))
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
    # A load the browser itself cancelled (the next page started before the icon arrived) is
    # not a failure of the site; any other network failure is.
    page.on(
        "requestfailed",
        lambda r: "ERR_ABORTED" not in (r.failure or "") and failed.append(f"failed {r.url}"),
    )
    for device, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        for template in paths:
            path = template.format(**site)
            report += [
                f"{device} {path[:60]}: {problem}"
                for problem in problems_on(page, path, console_errors, failed)
            ]
    return report


@pytest.mark.parametrize("role", ["anonymous", "reader", "editor"])
def test_every_main_page_fits_the_screen_and_passes_the_checks(new_page, site, role):
    page = new_page()
    if role == "reader":
        reader = reader_choices(verified_reader(), counting=True)
        sign_in(page, reader)
    elif role == "editor":
        editor = EditorFactory(email_verified=True)
        sign_in(page, editor)
    report = sweep(page, PAGES[role], site)
    assert report == [], f"{role}:\n" + "\n".join(report)
