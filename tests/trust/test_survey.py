"""The trust survey: offered to a signed-in reader at most once every 90 days, never again once
dismissed; each answer randomized before it is stored, with nothing that links it to anyone."""

from datetime import date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from tests.factories import ReaderFactory
from trust import services
from trust.models import SurveyAnswer, SurveyAsk
from trust.survey import ANSWER_KEYS, BROWSER_MECHANISM, SERVER_MECHANISM

pytestmark = pytest.mark.django_db

# A Wednesday at noon, in the site's time zone.
WEDNESDAY = datetime(2027, 3, 10, 12, 0, tzinfo=ZoneInfo("UTC"))
QUESTION = "How comfortable are you with how this site uses your data?"


@pytest.fixture(autouse=True)
def site_time_zone(settings):
    settings.TIME_ZONE = "UTC"


def home(client) -> str:
    response = client.get(reverse("news:home"))
    assert response.status_code == 200
    return response.content.decode()


def offered(client) -> bool:
    return 'action="/trust/survey/"' in home(client)


def post(client, **data):
    return client.post(reverse("trust:survey"), data)


def send_from_browser(client, answer: str):
    """As static/trust/survey.js sends it: a form-encoded body, no cookie."""
    return client.post(
        reverse("trust:survey_randomized"),
        urlencode({"answer": answer}),
        content_type="application/x-www-form-urlencoded",
    )


def test_a_signed_in_reader_is_offered_the_survey_with_how_answers_are_randomized(client, reader):
    client.force_login(reader)
    html = home(client)
    assert QUESTION in html
    assert "Prefer not to say" in html
    assert "k-ary randomized response over the 6 answers, ε = 1" in html
    assert "kept as given 35% of the time" in html
    # A card in the page, not a dialog over it.
    card = html.split('<aside id="trust-survey"')[1].split(">")[0]
    assert "dialog" not in card and "modal" not in card and "hidden" not in card
    assert "<dialog" not in html


def test_answering_stores_only_a_randomized_answer_and_asks_again_after_90_days(client, reader):
    with time_machine.travel(WEDNESDAY, tick=False):
        client.force_login(reader)
        assert offered(client)
        response = post(client, action="answer", answer="very")
        assert response.status_code == 302
        assert "randomized (ε = 1) before we stored it" in home(client)
        assert not offered(client)  # gone at once

    stored = SurveyAnswer.objects.get()
    assert stored.day == date(2027, 3, 8)  # the Monday of its week, not the day
    assert stored.answer in ANSWER_KEYS
    assert stored.mechanism == SERVER_MECHANISM and stored.epsilon <= 1.0
    assert SurveyAsk.objects.get(user=reader).asked_on == WEDNESDAY.date()

    client.logout()
    for days, expected in [(89, False), (90, True)]:
        with time_machine.travel(WEDNESDAY + timedelta(days=days), tick=False):
            client.force_login(reader)  # a new session asks the database again
            assert offered(client) is expected
            client.logout()


def test_a_second_answer_within_90_days_is_refused_and_changes_nothing(reader):
    with time_machine.travel(WEDNESDAY, tick=False):
        services.survey_answer_record(user=reader, answer="somewhat")
    later = time_machine.travel(WEDNESDAY + timedelta(days=30), tick=False)
    with later, pytest.raises(ValidationError, match="at most once every 90 days"):
        services.survey_answer_record(user=reader, answer="completely")
    assert SurveyAnswer.objects.count() == 1
    assert SurveyAsk.objects.get(user=reader).asked_on == WEDNESDAY.date()


def test_a_form_still_open_in_another_tab_cannot_answer_twice(client, reader):
    client.force_login(reader)
    assert offered(client)
    post(client, action="answer", answer="very")
    response = post(client, action="answer", answer="very")
    assert "this answer was not saved" in home(client)
    assert response.status_code == 302
    assert SurveyAnswer.objects.count() == 1


def test_not_now_puts_it_off_for_90_days_and_stores_no_answer(client, reader):
    with time_machine.travel(WEDNESDAY, tick=False):
        client.force_login(reader)
        post(client, action="later")
        assert not offered(client)
    assert not SurveyAnswer.objects.exists()
    with time_machine.travel(WEDNESDAY + timedelta(days=90), tick=False):
        client.force_login(reader)
        assert offered(client)


def test_dismissing_it_is_for_good(client, reader):
    with time_machine.travel(WEDNESDAY, tick=False):
        client.force_login(reader)
        post(client, action="never")
        assert "We will not ask you this again." in home(client)
        assert not offered(client)
    with time_machine.travel(WEDNESDAY + timedelta(days=400), tick=False):
        client.force_login(reader)
        assert not offered(client)
        with pytest.raises(ValidationError):
            services.survey_answer_record(user=reader, answer="very")
    assert SurveyAsk.objects.get(user=reader).dismissed
    assert not SurveyAnswer.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {"action": "answer", "answer": "extremely"},
        {"action": "answer"},
        {"action": "answer", "answer": "very\x00"},
        {"action": "vote", "answer": "very"},
    ],
)
def test_bad_input_gets_a_clear_message_and_changes_nothing(client, reader, data):
    client.force_login(reader)
    post(client, **data)
    html = home(client)
    assert "Choose" in html and "answer" in html
    assert not SurveyAnswer.objects.exists() and not SurveyAsk.objects.exists()
    assert offered(client)  # still asked


def test_the_raw_answer_is_not_what_is_stored(reader):
    # 300 readers all answer "completely": were answers stored as given, every row would say
    # so. Kept with probability 35%, about 195 rows say something else (the chance that none
    # would is below 10^-130).
    for _ in range(300):
        services.survey_answer_record(user=ReaderFactory(), answer="completely")
    stored = list(SurveyAnswer.objects.values_list("answer", flat=True))
    assert len(stored) == 300
    others = sum(answer != "completely" for answer in stored)
    assert 120 < others < 260
    assert len(set(stored)) == 6


def test_no_answer_row_can_be_linked_to_a_reader(client, reader):
    columns = {field.name for field in SurveyAnswer._meta.get_fields()}
    assert columns == {"id", "day", "answer", "mechanism", "epsilon"}
    client.force_login(reader)
    home(client)
    cookies_before = {name: morsel.value for name, morsel in client.cookies.items()}
    response = post(client, action="answer", answer="slightly")
    # No cookie beyond the session the reader already has (which keeps its key).
    assert set(response.cookies) <= {"sessionid"}
    assert client.cookies["sessionid"].value == cookies_before["sessionid"]
    stored = SurveyAnswer.objects.get()
    # A random id, not the next number of a sequence.
    assert stored.id > 2**32
    # The reader's row holds when they were asked, never what they answered.
    assert set(SurveyAsk.objects.filter(user=reader).values()[0]) == {
        "id",
        "user_id",
        "asked_on",
        "dismissed",
    }


def test_an_anonymous_visitor_gets_the_card_hidden_for_a_private_mode_browser(client):
    html = home(client)
    assert 'data-trust-survey="browser"' in html and " hidden " in html
    assert "trust/survey.js" in html
    assert "csrfmiddlewaretoken" not in html.split('data-trust-survey="browser"')[1]
    assert not client.cookies  # no cookie for a visitor without an account


def test_a_private_mode_browser_sends_its_randomized_answer_without_a_cookie(client):
    response = send_from_browser(client, "somewhat")
    assert response.status_code == 204
    assert not response.cookies
    stored = SurveyAnswer.objects.get()
    assert (stored.answer, stored.mechanism, stored.epsilon) == ("somewhat", BROWSER_MECHANISM, 1.0)
    bad = send_from_browser(client, "<script>")
    assert bad.status_code == 400 and "Choose one of the answers" in bad.content.decode()
    assert SurveyAnswer.objects.count() == 1


def test_the_private_mode_endpoint_is_rate_limited_per_address(client):
    for _ in range(20):
        assert send_from_browser(client, "very").status_code == 204
    assert send_from_browser(client, "very").status_code == 429
    assert SurveyAnswer.objects.count() == 20


def test_the_reader_sees_and_can_erase_when_they_were_asked(reader):
    from privacy.registry import category

    services.survey_dismiss(user=reader)
    entry = category("trust_survey")
    assert entry.rows_for(user=reader) == [{"asked_on": None, "dismissed": True}]
    assert entry.count_for(user=reader) == 1
    assert entry.erase_for(user=reader) == 1
    assert not SurveyAsk.objects.exists()
