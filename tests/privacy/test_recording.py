"""What reading an article records, and when it records nothing at all."""

import hashlib
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import Preferences
from privacy import services
from privacy.browser_signals import NO_SIGNALS, BrowserSignals
from privacy.crypto import DecryptionFailed, decrypt_for_user
from privacy.models import DailySalt, ReadingHistoryEntry, SignalEvent
from privacy.selectors import history_for_user
from tests.factories import ArticleFactory, reader_choices

pytestmark = pytest.mark.django_db
Level = Preferences.Level
GPC = {"HTTP_SEC_GPC": "1"}


def read(client, article, **headers):
    assert client.get(article.get_absolute_url(), **headers).status_code == 200


def test_top_level_reader_gets_an_encrypted_history_entry(client, reader, article):
    reader_choices(reader)
    client.force_login(reader)
    read(client, article)
    entry = ReadingHistoryEntry.objects.get(user=reader)
    # Which article was read exists only sealed under the reader's key.
    assert not hasattr(entry, "article_id")
    with pytest.raises(DecryptionFailed):
        decrypt_for_user(
            user_id=reader.pk, ciphertext=bytes(entry.sealed_article), context="preferences.region"
        )
    assert [item.article for item in history_for_user(user=reader)] == [article]
    assert not SignalEvent.objects.exists()  # counting was not turned on


def test_topics_only_records_nothing(client, reader, article):
    reader_choices(reader, level=Level.TOPICS)
    client.force_login(reader)
    read(client, article)
    assert not ReadingHistoryEntry.objects.exists()
    assert not SignalEvent.objects.exists()


def test_withdrawn_consent_stops_recording_at_once(client, reader, article):
    reader_choices(reader)
    client.force_login(reader)
    read(client, article)
    accounts_services.preferences_set_level(
        user=reader, level=Level.TOPICS, source="preferences", signals=NO_SIGNALS
    )
    read(client, article)
    assert ReadingHistoryEntry.objects.filter(user=reader).count() == 1


def test_anonymous_readers_leave_no_row_and_no_cookie(client, article):
    response = client.get(article.get_absolute_url())
    assert not ReadingHistoryEntry.objects.exists()
    assert not SignalEvent.objects.exists()
    assert not DailySalt.objects.exists()
    assert response.cookies == {} or set(response.cookies) <= {"sessionid", "csrftoken"}
    assert "sessionid" not in response.cookies


def test_counting_toward_popular_writes_an_unlinkable_daily_event(client, reader, article):
    reader_choices(reader, level=Level.TOPICS, counting=True)
    client.force_login(reader)
    read(client, article)
    read(client, article)  # a second read the same day is not counted twice
    event = SignalEvent.objects.get()
    assert event.article == article
    assert event.day == timezone.now().date()
    assert not hasattr(event, "user_id")
    unsalted = hashlib.sha256(str(reader.pk).encode()).hexdigest()
    assert len(event.pseudonym) == 64 and event.pseudonym != unsalted
    assert not ReadingHistoryEntry.objects.exists()


def test_pseudonyms_change_every_day_and_cannot_be_linked_without_the_salt(reader, article):
    reader_choices(reader, level=Level.TOPICS, counting=True)
    today = timezone.now()
    services.read_record(user=reader, article=article, signals=NO_SIGNALS, now=today)
    services.read_record(
        user=reader, article=article, signals=NO_SIGNALS, now=today - timedelta(days=1)
    )
    pseudonyms = set(SignalEvent.objects.values_list("pseudonym", flat=True))
    assert len(pseudonyms) == 2


@pytest.mark.parametrize("headers", [GPC, {"HTTP_DNT": "1"}])
def test_a_browser_signal_stops_recording_despite_earlier_consent(client, reader, article, headers):
    reader_choices(reader, counting=True)
    client.force_login(reader)
    read(client, article, **headers)
    assert not ReadingHistoryEntry.objects.exists()
    assert not SignalEvent.objects.exists()


def test_an_explicit_opt_in_in_the_privacy_center_under_the_signal_is_honoured(
    client, reader, article
):
    reader_choices(reader, counting=True, source="privacy_center", signals=BrowserSignals(gpc=True))
    client.force_login(reader)
    read(client, article, **GPC)
    assert ReadingHistoryEntry.objects.filter(user=reader).count() == 1
    assert SignalEvent.objects.count() == 1


def test_an_editors_preview_of_a_draft_is_not_a_read(client, editor):
    draft = ArticleFactory(status="draft", published_at=None)
    reader_choices(editor)
    client.force_login(editor)
    assert client.get(draft.get_absolute_url()).status_code == 200
    assert not ReadingHistoryEntry.objects.exists()


def test_erasing_signal_events_finds_only_that_readers_events(reader, article):
    other = accounts_services.user_create(email="o@example.org", password="x" * 12)
    for user in (reader, other):
        reader_choices(user, level=Level.TOPICS, counting=True)
        services.read_record(user=user, article=article, signals=NO_SIGNALS)
    assert services.signal_events_erase(user_id=reader.pk) == 1
    assert SignalEvent.objects.count() == 1
    assert services.signal_events_erase(user_id=reader.pk) == 0


def test_the_article_page_stays_within_a_query_budget(
    client, reader, article, django_assert_max_num_queries
):
    reader_choices(reader, counting=True)
    client.force_login(reader)
    read(client, article)  # creates the data key and today's salt
    with django_assert_max_num_queries(16):
        read(client, article)


def test_home_page_link_still_works_after_reads(client, reader, article):
    reader_choices(reader)
    client.force_login(reader)
    read(client, article)
    assert client.get(reverse("news:home")).status_code == 200
