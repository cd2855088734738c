"""Private mode's cards in a real browser: a ranked card links to the story's short address
(the bundle ships ids, not slugs), which lands on the story's own address, and the browser
notes the read there."""

import pytest
from playwright.sync_api import expect

from .private_mode import (
    STORIES,
    browser_kept,
    private_mode_newsroom,
    private_mode_turned_on,
    wait_for_reads,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_ranked_card_opens_the_story_at_its_own_address_and_notes_the_read(new_page):
    newsroom = private_mode_newsroom()
    page = new_page()
    private_mode_turned_on(page, topic="Sport")
    expect(page.locator("#private-mode-state")).to_contain_text("you follow 1 topic")

    page.goto("/")
    ranked = page.locator('section.cards[data-private-mode="ranked"]')
    expect(ranked).to_be_visible()
    first = ranked.locator("h3 a").first
    title = first.inner_text()
    assert title in STORIES["Sport"]
    story = next(a for a in newsroom["Sport"] if a.title == title)
    assert first.get_attribute("href") == f"/a/{story.pk}/"
    summary = ranked.locator(".card-summary").first.inner_text()
    assert summary == story.summary

    first.click()

    page.wait_for_url(f"**{story.get_absolute_url()}")
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    wait_for_reads(page, 1)
    assert browser_kept(page)["reads"][0]["id"] == story.pk
    assert browser_kept(page)["reads"][0]["title"] == title
