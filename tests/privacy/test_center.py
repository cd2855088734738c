"""The privacy center: see, correct, erase, restrict, with an activity log of each action."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Preferences, PreferredTopic
from accounts.selectors import reader_profile
from privacy.models import ConsentRecord, PrivacyAuditEvent, ReadingHistoryEntry, SignalEvent
from privacy.purposes import POPULAR_COUNTING
from privacy.services import read_store
from tests.factories import ArticleFactory, ReaderFactory, TopicFactory, reader_choices

pytestmark = pytest.mark.django_db
Action = PrivacyAuditEvent.Action

CENTER_PAGES = [
    "privacy:center",
    "privacy:data",
    "privacy:profile",
    "privacy:history",
    "privacy:consents",
    "privacy:activity",
    "privacy:delete_account",
]


def read(user, article, *, minutes_ago=0):
    when = timezone.now() - timezone.timedelta(minutes=minutes_ago)
    read_store(user_id=user.pk, article_id=article.pk, read_at=when.isoformat())


@pytest.fixture
def signed_in(client, reader):
    reader_choices(reader)
    client.force_login(reader)
    return reader


@pytest.mark.parametrize("name", CENTER_PAGES)
def test_every_center_page_is_for_signed_in_readers_only(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and "/accounts/login/" in response.url


@pytest.mark.parametrize("name", CENTER_PAGES)
def test_every_center_page_renders_for_a_reader(client, signed_in, name):
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert 'aria-label="Privacy center"' in response.content.decode()


def test_the_overview_counts_every_category(client, signed_in, article):
    read(signed_in, article)
    html = client.get(reverse("privacy:center")).content.decode()
    assert re.search(r"Reading history</a></th><td[^>]*>1</td>", html)
    assert re.search(r"Consent receipts</a></th><td[^>]*>1</td>", html)
    assert "What the recommender thinks you like" in html


def test_the_data_page_shows_content_reason_basis_and_retention_of_own_data_only(
    client, signed_in, settings
):
    mine, theirs = ArticleFactory(title="Mine to see"), ArticleFactory(title="Not yours")
    other = reader_choices(ReaderFactory())
    read(signed_in, mine)
    read(other, theirs)
    html = client.get(reverse("privacy:data")).content.decode()
    assert "Mine to see" in html and "Not yours" not in html
    assert signed_in.email in html and other.email not in html
    assert "Consent: only while you have it turned on" in html
    assert f"{settings.PRIVACY_HISTORY_RETENTION_DAYS} days" in html


def test_a_reader_corrects_their_display_name(client, signed_in):
    response = client.post(reverse("privacy:data_correct"), {"display_name": "  New Name "})
    assert response.status_code == 302
    signed_in.refresh_from_db()
    assert signed_in.display_name == "New Name"
    assert PrivacyAuditEvent.objects.filter(user=signed_in, action=Action.DATA_CORRECTED).exists()


def test_a_too_long_display_name_changes_nothing(client, signed_in):
    before = signed_in.display_name
    response = client.post(reverse("privacy:data_correct"), {"display_name": "x" * 81}, follow=True)
    assert "too long" in response.content.decode()
    signed_in.refresh_from_db()
    assert signed_in.display_name == before


def test_a_reader_erases_one_category(client, signed_in, article):
    read(signed_in, article)
    response = client.post(reverse("privacy:category_erase", args=["reading_history"]), follow=True)
    assert "Erased 1 item." in response.content.decode()
    assert not ReadingHistoryEntry.objects.filter(user=signed_in).exists()
    event = PrivacyAuditEvent.objects.get(user=signed_in, action=Action.CATEGORY_ERASED)
    assert event.category == "reading_history" and event.detail.endswith(": 1 item erased")
    activity = client.get(reverse("privacy:activity")).content.decode()
    assert event.detail in activity and "rows" not in activity


@pytest.mark.parametrize("key", ["consent_receipts", "account", "no-such-category"])
def test_categories_that_cannot_be_erased_alone_are_refused(client, signed_in, key):
    before = ConsentRecord.objects.filter(user=signed_in).count()
    response = client.post(reverse("privacy:category_erase", args=[key]), follow=True)
    html = response.content.decode()
    assert "cannot be erased on its own" in html or "no such category" in html
    assert ConsentRecord.objects.filter(user=signed_in).count() == before


def test_the_profile_chart_shows_chosen_and_read_topics(client, signed_in):
    followed = signed_in.preferences.preferred_topics.get().topic
    science = TopicFactory(name="Science")
    for _ in range(3):
        read(signed_in, ArticleFactory(topics=[science]))
    html = client.get(reverse("privacy:profile")).content.decode()
    assert "<svg" in html and 'role="img"' in html
    assert f"{followed.name}: followed 1.00, from your reading 0.00" in html
    assert "Science: followed 0.00, from your reading 1.00" in html


def test_reset_clears_history_and_show_less_keeps_topics(client, signed_in, article):
    read(signed_in, article)
    PreferredTopic.objects.filter(preferences__user=signed_in).update(weight=0.3)
    client.post(reverse("privacy:profile_reset"))
    assert not ReadingHistoryEntry.objects.filter(user=signed_in).exists()
    weights = list(
        PreferredTopic.objects.filter(preferences__user=signed_in).values_list("weight", flat=True)
    )
    assert weights == [1.0]
    assert PrivacyAuditEvent.objects.filter(user=signed_in, action=Action.PROFILE_RESET).exists()


def test_history_is_newest_first_and_paginated(client, signed_in):
    for minutes in range(26):
        read(
            signed_in,
            ArticleFactory(title=f"Story read {minutes} minutes ago"),
            minutes_ago=minutes,
        )
    first = client.get(reverse("privacy:history")).content.decode()
    assert first.index("Story read 0 minutes ago") < first.index("Story read 1 minutes ago")
    assert "Story read 25 minutes ago" not in first
    second = client.get(reverse("privacy:history") + "?page=2").content.decode()
    assert "Story read 25 minutes ago" in second


def test_a_reader_deletes_one_entry_and_never_someone_elses(client, signed_in, article):
    other = reader_choices(ReaderFactory())
    read(signed_in, article)
    read(other, article)
    theirs = ReadingHistoryEntry.objects.get(user=other)
    mine = ReadingHistoryEntry.objects.get(user=signed_in)
    assert client.post(reverse("privacy:history_delete", args=[theirs.pk])).status_code == 404
    assert ReadingHistoryEntry.objects.filter(pk=theirs.pk).exists()
    assert client.post(reverse("privacy:history_delete", args=[mine.pk])).status_code == 302
    assert not ReadingHistoryEntry.objects.filter(pk=mine.pk).exists()


def test_a_reader_clears_their_history(client, signed_in, article):
    read(signed_in, article)
    read(signed_in, ArticleFactory())
    response = client.post(reverse("privacy:history_clear"), follow=True)
    assert "2 entries deleted" in response.content.decode()
    assert not ReadingHistoryEntry.objects.filter(user=signed_in).exists()


def test_deleting_history_needs_a_post(client, signed_in, article):
    read(signed_in, article)
    assert client.get(reverse("privacy:history_clear")).status_code == 405
    assert ReadingHistoryEntry.objects.filter(user=signed_in).count() == 1


def test_pause_sets_off_keeps_topics_and_the_feed_uses_nothing(client, signed_in):
    topics_before = set(signed_in.preferences.topics.values_list("pk", flat=True))
    client.post(reverse("privacy:personalization"), {"action": "pause"})
    profile = reader_profile(user=signed_in)
    assert profile.level == Preferences.Level.OFF and not profile.personalized
    assert set(signed_in.preferences.topics.values_list("pk", flat=True)) == topics_before
    client.post(reverse("privacy:personalization"), {"action": "resume"})
    assert reader_profile(user=signed_in).level == Preferences.Level.TOPICS
    actions = set(PrivacyAuditEvent.objects.filter(user=signed_in).values_list("action", flat=True))
    assert {Action.PERSONALIZATION_PAUSED, Action.PERSONALIZATION_RESUMED} <= actions


def switches(**wanted):
    data = {
        f"{p}_notice": purpose.notice_sha256
        for p, purpose in (
            (key, __import__("privacy.purposes", fromlist=["PURPOSES"]).PURPOSES[key])
            for key in ("popular_counting", "digest", "region")
        )
    }
    data.update({key: "on" for key, on in wanted.items() if on})
    return data


def test_consents_switched_here_are_receipted_as_privacy_center_choices(client, signed_in):
    response = client.post(
        reverse("privacy:consents"), switches(popular_counting=True), HTTP_SEC_GPC="1"
    )
    assert response.status_code == 302
    receipt = ConsentRecord.objects.filter(user=signed_in, purpose=POPULAR_COUNTING.key).latest(
        "created_at"
    )
    assert receipt.granted and receipt.source == "privacy_center" and receipt.browser_signal
    # An opt-in made here under the signal is honoured under the signal.
    read_page = client.get(ArticleFactory().get_absolute_url(), HTTP_SEC_GPC="1")
    assert read_page.status_code == 200
    page = client.get(reverse("privacy:consents")).content.decode()
    assert "Privacy center" in page  # the receipt history names where the choice was made


def test_a_forged_notice_on_the_consents_page_changes_nothing(client, signed_in):
    data = switches(popular_counting=True)
    data["popular_counting_notice"] = "0" * 64
    response = client.post(reverse("privacy:consents"), data)
    assert response.status_code == 200
    assert "has changed or was altered" in response.content.decode()
    assert not ConsentRecord.objects.filter(user=signed_in, purpose=POPULAR_COUNTING.key).exists()


def test_reading_history_switch_in_the_center(client, signed_in):
    from privacy.purposes import READING_HISTORY

    data = {"purpose": READING_HISTORY.key, "notice": READING_HISTORY.notice_sha256, "turn_on": "0"}
    client.post(reverse("privacy:consent_choice"), data)
    assert reader_profile(user=signed_in).level == Preferences.Level.TOPICS
    client.post(reverse("privacy:consent_choice"), {**data, "turn_on": "1"})
    assert reader_profile(user=signed_in).level == Preferences.Level.TOPICS_HISTORY
    latest = ConsentRecord.objects.filter(user=signed_in, purpose=READING_HISTORY.key).latest(
        "created_at"
    )
    assert latest.granted and latest.source == "privacy_center"


def test_the_activity_log_lists_actions_never_content(client, signed_in):
    article = ArticleFactory(title="A very private title")
    read(signed_in, article)
    client.post(reverse("privacy:history_clear"))
    html = client.get(reverse("privacy:activity")).content.decode()
    assert "Cleared the reading history" in html
    assert "Changed the personalization level" in html
    assert "A very private title" not in html


def test_activity_events_cannot_be_rewritten(signed_in):
    event = PrivacyAuditEvent.objects.filter(user=signed_in).first()
    event.detail = "rewritten"
    with pytest.raises(ValueError):
        event.save()


def test_signal_events_of_today_can_be_erased_by_their_reader(client, reader, article):
    reader_choices(reader, counting=True)
    client.force_login(reader)
    read(reader, article)
    assert SignalEvent.objects.count() == 1
    client.post(reverse("privacy:category_erase", args=["popularity_signals"]))
    assert SignalEvent.objects.count() == 0
