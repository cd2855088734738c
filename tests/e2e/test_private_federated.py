"""Private mode's federated update in a real browser: nothing is sent until its reader ticks
the option, then exactly one update a day, carrying only the day and the noised numbers, with
no cookie and no referrer, kept by the server as its day and numbers while it keeps no row
about the visitor."""

import json

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from privacy.models import FederatedUpdate
from recommendations.weights import FEDERATED_WEIGHTS

from .private_mode import (
    browser_kept,
    posts_to,
    private_mode_newsroom,
    private_mode_turned_on,
    rows_about_visitors,
    wait_for_post,
    wait_for_reads,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def newsroom(db):
    return private_mode_newsroom()


def test_one_noised_update_a_day_without_identifier_once_its_reader_turned_it_on(
    new_page, newsroom, live_settings
):
    live_settings.PRIVATE_MODE_REPORT_MAX_DELAY_SECONDS = 1
    before = rows_about_visitors()
    page = new_page()
    page.clock.set_fixed_time(timezone.now())
    requests, responses = [], []
    page.on("request", lambda request: requests.append(request))
    page.on("response", lambda response: responses.append(response))

    private_mode_turned_on(page, topic="Science")
    box = page.get_by_label("Help tune how much the front page weighs")
    expect(box).to_be_visible()
    expect(box).not_to_be_checked()  # off by default

    # Off: reading and ranking send nothing.
    for count, article in enumerate([newsroom["Sport"][0], newsroom["Science"][1]], start=1):
        page.goto(article.get_absolute_url())
        wait_for_reads(page, count)
    page.goto("/")
    expect(page.locator('section.cards[data-private-mode="ranked"]')).to_be_visible()
    page.wait_for_timeout(2_000)
    assert posts_to(requests, "/private/federated") == []
    assert {r.method for r in requests} == {"GET"}

    # On: one update, within the (shortened) random delay; more pages send no second one.
    page.goto("/private/")
    box.check()
    expect(page.locator("#private-mode-federated-state")).to_contain_text("Updates are on")
    wait_for_post(page, requests, "/private/federated")
    page.goto(newsroom["Science"][2].get_absolute_url())
    wait_for_reads(page, 3)
    page.goto("/")
    page.wait_for_timeout(2_000)

    [update] = posts_to(requests, "/private/federated")
    assert update.method == "POST"
    body = json.loads(update.post_data)
    assert set(body) == {"day", "update"}
    assert len(body["update"]) == len(FEDERATED_WEIGHTS)
    headers = update.all_headers()
    assert "cookie" not in headers and "referer" not in headers
    [answer] = [r for r in responses if r.request == update]
    assert answer.status == 204
    assert all(r.post_data is None for r in requests if r is not update)

    [kept] = FederatedUpdate.objects.values("day", "vector")
    assert kept["day"].isoformat() == body["day"]
    assert kept["vector"] == pytest.approx(body["update"])
    assert rows_about_visitors() == before
    state = browser_kept(page)["federated"]
    assert state["on"] and state["drawnDay"] == body["day"] and state["pending"] is None

    # Off again: the browser forgets its choice.
    page.goto("/private/")
    box.uncheck()
    # The choice is saved once federated.js has loaded (imported on demand), with the line
    # that says so.
    expect(page.locator("#private-mode-federated-state")).to_contain_text("Updates are off")
    assert browser_kept(page)["federated"]["on"] is False
