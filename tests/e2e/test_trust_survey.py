"""The trust survey in a real browser: a signed-in reader answers it and it goes; a visitor
with private mode on answers it in the browser, which sends only the randomized answer, with
no cookie."""

import json

import pytest
from playwright.sync_api import expect

from tests.factories import ArticleFactory, TopicFactory, reader_choices, verified_reader
from trust.models import SurveyAnswer, SurveyAsk
from trust.survey import ANSWER_KEYS, BROWSER_MECHANISM, SERVER_MECHANISM

from .conftest import check_page, sign_in

pytestmark = pytest.mark.django_db(transaction=True)
QUESTION = "How comfortable are you with how this site uses your data?"


@pytest.fixture
def stories(db):
    topic = TopicFactory(name="Science", slug="science")
    for title in ("Telescope finds water on a distant moon", "New battery chemistry lasts longer"):
        ArticleFactory(title=title, topics=[topic])


def test_a_signed_in_reader_answers_the_survey_and_it_goes(page, stories):
    reader = reader_choices(verified_reader())
    sign_in(page, reader)
    page.goto("/")
    survey = page.locator("#trust-survey")
    expect(survey.get_by_role("group", name=QUESTION)).to_be_visible()
    expect(survey).to_contain_text("ε = 1")
    # The stories are still there, beside the card rather than behind it.
    expect(page.get_by_role("link", name="Telescope finds water on a distant moon")).to_be_visible()
    check_page(page, "trust-survey")

    survey.get_by_label("Very comfortable").check()
    survey.get_by_role("button", name="Send my answer").click()
    page.wait_for_load_state()
    expect(page.locator("#trust-survey [role=status]")).to_contain_text("randomized (ε = 1)")
    expect(page.get_by_role("group", name=QUESTION)).to_have_count(0)
    page.reload()
    expect(page.locator("#trust-survey")).to_have_count(0)

    stored = SurveyAnswer.objects.get()
    assert stored.answer in ANSWER_KEYS and stored.mechanism == SERVER_MECHANISM
    assert SurveyAsk.objects.get(user=reader).asked_on is not None


def test_a_private_mode_visitor_answers_in_the_browser_without_a_cookie(page, stories):
    page.goto("/")
    # Without private mode the card stays hidden.
    expect(page.locator("#trust-survey")).to_be_hidden()
    state = {"version": 1, "since": "2027-01-01T00:00:00Z", "topics": [], "reads": []}
    page.evaluate("state => localStorage.setItem('newsite:private-mode', state)", json.dumps(state))
    sent = []
    page.on("request", lambda request: request.method == "POST" and sent.append(request))
    page.reload()
    survey = page.locator("#trust-survey")
    expect(survey).to_be_visible()
    expect(survey).to_contain_text("by this browser, before it is sent")
    survey.get_by_label("Prefer not to say").check()
    survey.get_by_role("button", name="Send my answer").click()
    expect(survey.get_by_role("status")).to_contain_text("Thank you")

    [request] = sent
    assert "cookie" not in request.headers
    assert request.post_data.startswith("answer=") and request.post_data[7:] in ANSWER_KEYS
    stored = SurveyAnswer.objects.get()
    assert stored.mechanism == BROWSER_MECHANISM
    assert stored.answer == request.post_data[7:]  # what the browser sent, randomized there
    assert page.context.cookies() == []
    page.reload()
    expect(page.locator("#trust-survey")).to_be_hidden()  # asked: not again for 90 days
