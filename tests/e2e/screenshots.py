"""Refresh the README's screenshots from the demo site, by hand:

    DATABASE_URL=... make demo   (or runserver on a seeded database), then
    .venv/bin/python -m tests.e2e.screenshots http://127.0.0.1:8000

It signs in as the demo reader, then as the demo editor (seed_demo --demo-passwords), and saves
the pages (or, for long pages, the sections) the README shows to docs/screenshots/, at the
laptop width the layout sweep (test_layout_sweep) checks.
"""

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from .conftest import CHROMIUM

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
READER = ("reader@example.com", "reader-demo-pass")
EDITOR = ("editor@example.com", "editor-demo-pass")
# README file name -> the page it shows, as the demo reader.
PAGES = {
    "home-personalized.png": "/",
    "privacy-center.png": "/privacy/",
    "privacy-profile.png": "/privacy/profile/",
}
PHONE_PAGES = {"home-phone.png": "/"}
# README file name -> (page, the section of it shown), as the demo editor.
EDITOR_SECTIONS = {
    "editor-success-metrics.png": ("/editor/", "section:has(#success-heading)"),
    "editor-trust-score.png": ("/editor/", "section:has(#trust-score-heading)"),
}


def sign_in(page, email: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def main(base_url: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 800})
        page = context.new_page()
        sign_in(page, *READER)
        for name, path in PAGES.items():
            page.goto(path)
            page.screenshot(path=str(SCREENSHOTS / name))
        page.set_viewport_size({"width": 390, "height": 844})
        for name, path in PHONE_PAGES.items():
            page.goto(path)
            page.screenshot(path=str(SCREENSHOTS / name))
        context.clear_cookies()
        page.set_viewport_size({"width": 1280, "height": 800})
        sign_in(page, *EDITOR)
        for name, (path, section) in EDITOR_SECTIONS.items():
            page.goto(path)
            page.locator(section).screenshot(path=str(SCREENSHOTS / name))
        browser.close()
    saved = len(PAGES) + len(PHONE_PAGES) + len(EDITOR_SECTIONS)
    print(f"Saved {saved} screenshots to {SCREENSHOTS}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000")
