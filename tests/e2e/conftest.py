"""Real-browser journeys: Playwright driving Debian's Chromium against a live server.

Without Chromium the journeys skip with a message, unless REQUIRE_BROWSER=1 (CI), where a
missing browser fails the run. Screenshots of each main page go to test-artifacts/screenshots
(git-ignored).
"""

import os
import shutil
from pathlib import Path

import pytest

from tests.factories import DEFAULT_PASSWORD

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("REQUIRE_BROWSER") == "1"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
SERIOUS = {"serious", "critical"}


def _browser_missing() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)."
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[dev]')."
    return None


@pytest.fixture(scope="session")
def browser():
    problem = _browser_missing()
    if problem:
        if REQUIRE_BROWSER:
            pytest.fail(f"REQUIRE_BROWSER=1 but {problem}")
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # between browser steps are still plain synchronous calls. Only for these tests.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield browser
        browser.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(autouse=True)
def migration_data(transactional_db):
    """The rows the data migrations create (the Editors group and its permissions, the first
    policy version): another transactional test's flush may have removed them."""
    import importlib

    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.management import create_contenttypes
    from django.contrib.contenttypes.models import ContentType

    # The content-type cache may still hold ids from before the flush.
    ContentType.objects.clear_cache()
    for app_config in apps.get_app_configs():
        create_contenttypes(app_config, verbosity=0)
        create_permissions(app_config, verbosity=0)
    # The first policy version as migrations 0006 and 0013 leave it (0006's function is
    # written for the migration state, which had no draft, no start time and no notices).
    from datetime import UTC, datetime

    from privacy.models import PolicyVersion
    from privacy.purposes import PURPOSES

    first = importlib.import_module("privacy.migrations.0006_first_policy_version")
    since = datetime(2026, 11, 1, tzinfo=UTC)
    PolicyVersion.objects.get_or_create(
        version=first.FIRST_VERSION,
        defaults={
            "published_at": since,
            "takes_effect_at": since,
            "summary_of_changes": "First version.",
            "full_text": first.FULL_TEXT,
            "purpose_notices": {key: purpose.notice for key, purpose in PURPOSES.items()},
        },
    )
    # The Editors group's grants, from the migrations' own lists (their functions are written
    # for the migration state, not the live app registry).
    editors = importlib.import_module("news.migrations.0002_editors_group")
    revisions = importlib.import_module(
        "news.migrations.0004_editors_read_revisions_and_feed_errors"
    )
    news_codenames = [f"{a}_{m}" for m in editors.EDITOR_MODELS for a in editors.ACTIONS]
    group, _ = Group.objects.get_or_create(name="Editors")
    group.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="news",
            codename__in=[*news_codenames, *revisions.CODENAMES],
        ),
        *Permission.objects.filter(
            content_type__app_label="recommendations", codename="view_modelversion"
        ),
    )


@pytest.fixture
def live_settings(settings):
    """The live server runs in this process: settings changed here apply to it."""
    settings.RECOMMENDER_CANDIDATE_CACHE_SECONDS = 0  # a new story shows on the next page
    settings.DEBUG = False
    return settings


@pytest.fixture
def new_page(browser, live_server, live_settings):
    """Open a fresh browser context (its own cookies), optionally with extra headers."""
    contexts = []

    def open_page(**context_options):
        context = browser.new_context(base_url=live_server.url, **context_options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        # Anything the Content-Security-Policy blocks (an inline script or style) is a bug.
        page.csp_violations = []
        page.on(
            "console",
            lambda message: (
                "Content Security Policy" in message.text
                and page.csp_violations.append(message.text)
            ),
        )
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


def check_page(page, name: str) -> None:
    """Save a screenshot; fail on any serious or critical accessibility violation, and on
    anything the Content-Security-Policy blocked."""
    from axe_playwright_python.sync_playwright import Axe

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    results = Axe().run(page)
    violations = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in SERIOUS
    ]
    assert violations == [], f"{name}: " + "; ".join(violations)
    assert page.csp_violations == [], f"{name}: " + "; ".join(page.csp_violations)


def sign_in(page, user):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
