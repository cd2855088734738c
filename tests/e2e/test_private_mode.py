"""Private mode in a real browser: an anonymous visitor turns it on, picks a topic, reads five
stories and gets a front page ranked in the browser with its own reasons, while the server
stores nothing about them and no request carries what they read; switching it off empties
the browser's storage."""

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import check_page
from .private_mode import (
    STORIES,
    browser_kept,
    private_mode_newsroom,
    private_mode_turned_on,
    rows_about_visitors,
    wait_for_reads,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def newsroom(db):
    return private_mode_newsroom()


def _topic_id(newsroom, name: str) -> int:
    return newsroom[name][0].topics.get().pk


def test_private_mode_ranks_in_the_browser_and_the_server_keeps_nothing(new_page, newsroom):
    before = rows_about_visitors()
    # The order everyone gets, from a browser without JavaScript.
    plain = new_page(java_script_enabled=False)
    plain.goto("/")
    everyones = plain.locator("section.cards h3 a").all_inner_texts()
    expect(plain.get_by_text("Latest news")).to_be_visible()

    page = new_page()
    requests, cookies_set = [], []
    page.on("request", lambda request: requests.append(request))
    page.on(
        "response",
        lambda response: "set-cookie" in response.headers and cookies_set.append(response.url),
    )

    private_mode_turned_on(page, topic="Science")
    expect(page.locator("#private-mode-state")).to_contain_text("you follow 1 topic")
    expect(page.get_by_role("button", name="Turn on private mode in this browser")).to_be_hidden()
    assert browser_kept(page)["topics"] == [_topic_id(newsroom, "Science")]
    check_page(page, "private-mode-on")

    read = newsroom["Sport"][:3] + newsroom["Food"][:2]
    for count, article in enumerate(read, start=1):
        page.goto(article.get_absolute_url())
        wait_for_reads(page, count)
    assert [r["id"] for r in browser_kept(page)["reads"]] == [a.pk for a in reversed(read)]

    page.goto("/")
    ranked = page.locator('section.cards[data-private-mode="ranked"]')
    expect(ranked).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Your front page, ranked in this browser"
    )
    titles = ranked.locator("h3 a").all_inner_texts()
    reasons = ranked.locator(".why-reason").all_text_contents()
    assert titles != everyones
    assert titles[0] in STORIES["Science"]  # the followed topic first
    assert not set(titles) & {a.title for a in read}  # what was read is left out
    assert "Because you follow Science." in reasons
    assert any(reason.startswith("Because you read '") for reason in reasons), reasons
    check_page(page, "private-mode-front-page")

    # The server holds no row about this visitor, set no cookie, and was told nothing.
    assert rows_about_visitors() == before
    assert cookies_set == []
    assert {request.method for request in requests} == {"GET"}
    for request in requests:
        # Pages, static files and the bundle: no body, no query, nothing the browser keeps.
        assert request.post_data is None
        assert "?" not in request.url, request.url
        if request.url.endswith("/feed/bundle.json"):
            assert "cookie" not in request.headers
    assert any(request.url.endswith("/feed/bundle.json") for request in requests)

    # What the browser keeps, shown by the browser: one read deleted, the rest downloaded.
    page.goto("/private/")
    kept = page.locator("#private-mode-kept-reads li")
    expect(kept).to_have_count(5)
    page.get_by_role("button", name=f"Delete your read of {read[0].title}").click()
    expect(kept).to_have_count(4)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download it (JSON)").click()
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert [r["article_id"] for r in exported["reads"]] == [a.pk for a in reversed(read[1:])]

    # Off: the browser's storage is emptied and the front page is everyone's again.
    page.get_by_role("button", name="Turn off private mode in this browser").click()
    assert browser_kept(page) is None
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Latest news")
    expect(page.locator('section.cards[data-private-mode="ranked"]')).to_have_count(0)
    assert rows_about_visitors() == before
