"""The consents page under a GPC/DNT signal (a finding of the outside security audit): it
shows what applies now, offers one clearly labelled way to turn a paused choice on despite
the signal, and a save that changes nothing says so."""

import re

import pytest
from django.urls import reverse

from privacy.models import ConsentRecord, ReadingHistoryEntry, SignalEvent
from privacy.purposes import DIGEST, POPULAR_COUNTING, READING_HISTORY, SWITCHABLE_PURPOSES
from tests.factories import ArticleFactory, reader_choices

pytestmark = pytest.mark.django_db
GPC = {"HTTP_SEC_GPC": "1"}
DESPITE = "Turn on despite my browser’s privacy signal"


@pytest.fixture
def paused_reader(client, reader):
    """History and "popular" turned on in Preferences, before the browser sent GPC."""
    reader_choices(reader, counting=True)
    client.force_login(reader)
    return reader


def boxes_ticked(html: str) -> set[str]:
    return {
        p.key
        for p in SWITCHABLE_PURPOSES
        if re.search(rf'<input type="checkbox" name="{p.key}"[^>]*\bchecked\b', html)
    }


def switches(*ticked: str, region: str = "") -> dict[str, str]:
    data = {f"{p.key}_notice": p.notice_sha256 for p in SWITCHABLE_PURPOSES}
    data.update(dict.fromkeys(ticked, "on"))
    data["region_name"] = region
    return data


def receipts() -> int:
    return ConsentRecord.objects.count()


def read_under_gpc(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(ArticleFactory().get_absolute_url(), **GPC).status_code == 200
    return ReadingHistoryEntry.objects.count(), SignalEvent.objects.count()


def test_under_the_signal_paused_choices_show_as_off_with_the_way_to_opt_in(client, paused_reader):
    html = client.get(reverse("privacy:consents"), **GPC).content.decode()

    assert "It is <strong>off</strong> while your browser sends a privacy signal" in html
    assert DESPITE in html
    assert boxes_ticked(html) == set()
    assert "Paused now: Keep my reading history, Count my reads toward" in html
    assert "Save my choices, despite my browser’s privacy signal" in html


def test_without_the_signal_the_same_choices_show_as_on(client, paused_reader):
    html = client.get(reverse("privacy:consents")).content.decode()

    assert "It is <strong>on</strong>" in html
    assert DESPITE not in html
    assert boxes_ticked(html) == {POPULAR_COUNTING.key}


def test_saving_unchanged_boxes_under_the_signal_says_nothing_changed(
    client, paused_reader, django_capture_on_commit_callbacks
):
    before = receipts()

    response = client.post(reverse("privacy:consents"), switches(), follow=True, **GPC)

    html = response.content.decode()
    assert "Nothing changed" in html
    assert "were saved" not in html
    assert receipts() == before
    # The paused choices are neither withdrawn nor turned on.
    assert read_under_gpc(client, django_capture_on_commit_callbacks) == (0, 0)
    page = client.get(reverse("privacy:consents")).content.decode()
    assert boxes_ticked(page) == {POPULAR_COUNTING.key}


def test_saving_unchanged_boxes_without_a_signal_says_nothing_changed(client, paused_reader):
    before = receipts()

    response = client.post(reverse("privacy:consents"), switches(POPULAR_COUNTING.key), follow=True)

    assert "Nothing changed" in response.content.decode()
    assert receipts() == before


def test_a_change_is_still_saved_and_said(client, paused_reader):
    response = client.post(reverse("privacy:consents"), switches(), follow=True)

    assert "Your choices were saved" in response.content.decode()
    latest = ConsentRecord.objects.filter(purpose=POPULAR_COUNTING.key).latest("created_at")
    assert not latest.granted


def test_a_new_choice_ticked_under_the_signal_applies_despite_it(client, paused_reader):
    response = client.post(reverse("privacy:consents"), switches(DIGEST.key), follow=True, **GPC)

    assert "Your choices were saved" in response.content.decode()
    html = client.get(reverse("privacy:consents"), **GPC).content.decode()
    assert boxes_ticked(html) == {DIGEST.key}  # popular counting stays paused, untouched


def test_ticking_a_paused_choice_opts_in_despite_the_signal(
    client, paused_reader, django_capture_on_commit_callbacks
):
    response = client.post(
        reverse("privacy:consents"), switches(POPULAR_COUNTING.key), follow=True, **GPC
    )

    assert "Your choices were saved" in response.content.decode()
    latest = ConsentRecord.objects.filter(purpose=POPULAR_COUNTING.key).latest("created_at")
    assert latest.granted and latest.browser_signal and latest.source == "privacy_center"
    assert read_under_gpc(client, django_capture_on_commit_callbacks) == (0, 1)


def test_turning_history_on_despite_the_signal(
    client, paused_reader, django_capture_on_commit_callbacks
):
    data = {"purpose": READING_HISTORY.key, "notice": READING_HISTORY.notice_sha256}

    response = client.post(
        reverse("privacy:consent_choice"), {**data, "turn_on": "1"}, follow=True, **GPC
    )

    assert "Keep my reading history: on" in response.content.decode()
    assert read_under_gpc(client, django_capture_on_commit_callbacks) == (1, 0)


def test_the_history_button_says_when_nothing_changed(client, paused_reader):
    data = {"purpose": READING_HISTORY.key, "notice": READING_HISTORY.notice_sha256}

    response = client.post(reverse("privacy:consent_choice"), {**data, "turn_on": "1"}, follow=True)

    assert "Nothing changed: Keep my reading history was already on." in response.content.decode()
