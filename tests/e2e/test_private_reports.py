"""Private mode's daily local DP report in a real browser: the encoder (static/privatemode/
ldp.js) sets the read's bit half the time and every other bit with probability
1 / (e^epsilon + 1); and a browser sends nothing until its reader turns reports on, then
exactly one report a day, carrying only the randomized bits, the bundle version and the day,
with no cookie, while the server keeps no row about the visitor."""

import json
import math

import numpy as np
import pytest
from django.templatetags.static import static
from django.utils import timezone
from playwright.sync_api import expect

from privacy import ldp
from privacy.models import LocalReportTally

from .conftest import check_page
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

# A seeded generator (mulberry32) handed to the encoder in place of crypto.getRandomValues,
# so the run is the same every time.
ENCODE_MANY = """
async ([url, size, index, epsilon, count, seed]) => {
  const ldp = await import(url);
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6D2B79F5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const ones = new Array(size).fill(0);
  const samples = [];
  for (let report = 0; report < count; report += 1) {
    const bits = ldp.encode(index, size, epsilon, random);
    bits.forEach((bit, position) => { ones[position] += bit; });
    if (report < 20) samples.push([Array.from(bits), ldp.pack(bits)]);
  }
  const secure = ldp.encode(index, size, epsilon);
  return { ones, samples, secure: Array.from(secure) };
}
"""


def test_the_browsers_encoder_keeps_the_read_half_the_time_and_sets_others_at_q(page):
    size, index, epsilon, count = 60, 17, 1.0, 4_000
    page.goto("/private/")

    result = page.evaluate(
        ENCODE_MANY, [static("privatemode/ldp.js"), size, index, epsilon, count, 7]
    )

    ones = np.array(result["ones"], dtype=float)
    q = 1 / (math.exp(epsilon) + 1)
    # The read's bit: 1/2, within four standard deviations.
    assert abs(ones[index] / count - 0.5) < 4 * math.sqrt(0.25 / count)
    others = np.delete(ones, index)
    pooled = others.sum() / (count * (size - 1))
    assert abs(pooled - q) < 4 * math.sqrt(q * (1 - q) / (count * (size - 1)))
    assert np.all(np.abs(others / count - q) < 5 * math.sqrt(q * (1 - q) / count))
    # The server reads the packed bits back exactly.
    for bits, packed in result["samples"]:
        assert ldp.bits_unpack(packed, size=size).tolist() == bits
    # With the browser's own randomness: a report of the right size.
    assert len(result["secure"]) == size and set(result["secure"]) <= {0, 1}


@pytest.fixture
def newsroom(db):
    return private_mode_newsroom()


def test_one_randomized_report_a_day_only_once_its_reader_turned_reports_on(
    new_page, newsroom, live_settings
):
    live_settings.PRIVATE_MODE_REPORT_MAX_DELAY_SECONDS = 1
    before = rows_about_visitors()
    page = new_page()
    # The browser's clock is the server's (a test run may move the server's).
    page.clock.set_fixed_time(timezone.now())
    requests, responses = [], []
    page.on("request", lambda request: requests.append(request))
    page.on("response", lambda response: responses.append(response))

    private_mode_turned_on(page, topic="Science")
    reports_box = page.get_by_label("Send one scrambled report a day")
    expect(reports_box).to_be_visible()
    expect(reports_box).not_to_be_checked()  # off by default
    check_page(page, "private-mode-reports-off")

    # Reports off: reading and ranking send nothing.
    read = [newsroom["Sport"][0], newsroom["Food"][1]]
    for count, article in enumerate(read, start=1):
        page.goto(article.get_absolute_url())
        wait_for_reads(page, count)
    page.goto("/")
    expect(page.locator('section.cards[data-private-mode="ranked"]')).to_be_visible()
    page.wait_for_timeout(2_000)
    assert posts_to(requests, "/private/report") == []
    assert {r.method for r in requests} == {"GET"}

    # On: one of today's reads is reported, within the (shortened) random delay.
    page.goto("/private/")
    reports_box.check()
    expect(page.locator("#private-mode-reports-state")).to_contain_text("Reports are on")
    wait_for_post(page, requests, "/private/report")
    page.wait_for_timeout(500)
    # More pages, more reads: still the one report of the day.
    page.goto(newsroom["Science"][2].get_absolute_url())
    wait_for_reads(page, 3)
    page.goto("/")
    page.wait_for_timeout(2_000)

    [report] = posts_to(requests, "/private/report")
    assert report.method == "POST"
    body = json.loads(report.post_data)
    assert set(body) == {"bundle_version", "day", "bits"}
    headers = report.all_headers()
    assert "cookie" not in headers and "referer" not in headers
    [answer] = [r for r in responses if r.request == report]
    assert answer.status == 204
    # Every other request is still a plain GET without a body.
    assert all(r.post_data is None for r in requests if r is not report)

    tally = LocalReportTally.objects.get(version=body["bundle_version"])
    assert tally.day.isoformat() == body["day"] and tally.reports == 1
    bits = ldp.bits_unpack(body["bits"], size=len(tally.article_ids))
    assert tally.ones == bits.tolist()
    assert rows_about_visitors() == before
    kept = browser_kept(page)["reports"]
    assert kept["on"] and kept["sentDay"] == body["day"] and kept["pending"] is None

    # Off again: the browser forgets its choice and sends nothing more.
    page.goto("/private/")
    reports_box.uncheck()
    assert browser_kept(page)["reports"]["on"] is False
