"""Refresh the README's screenshots from the demo site, by hand:

    DATABASE_URL=... make demo   (or runserver on a seeded database), then
    .venv/bin/python -m tests.e2e.screenshots http://127.0.0.1:8000

It signs in as the demo reader (seed_demo --demo-passwords) and saves the pages the README
shows to docs/screenshots/, at the laptop width the layout sweep (test_layout_sweep) checks.
"""

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from .conftest import CHROMIUM

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
READER = ("reader@example.com", "reader-demo-pass")
# README file name -> the page it shows, as the demo reader.
PAGES = {
    "home-personalized.png": "/",
    "privacy-center.png": "/privacy/",
    "privacy-profile.png": "/privacy/profile/",
}
PHONE_PAGES = {"home-phone.png": "/"}


def main(base_url: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.goto("/accounts/login/")
        page.get_by_label("Email").fill(READER[0])
        page.get_by_label("Password").fill(READER[1])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        for name, path in PAGES.items():
            page.goto(path)
            page.screenshot(path=str(SCREENSHOTS / name))
        page.set_viewport_size({"width": 390, "height": 844})
        for name, path in PHONE_PAGES.items():
            page.goto(path)
            page.screenshot(path=str(SCREENSHOTS / name))
        browser.close()
    print(f"Saved {len(PAGES) + len(PHONE_PAGES)} screenshots to {SCREENSHOTS}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000")
