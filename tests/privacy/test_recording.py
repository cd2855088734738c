"""What reading an article records, and when it records nothing at all."""

import hashlib
import json
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


def test_top_level_reader_gets_an_encrypted_history_entry(client, reader, article, read_page):
    reader_choices(reader)
    client.force_login(reader)
    read_page(client, article)
    entry = ReadingHistoryEntry.objects.get(user=reader)
    # Which article was read exists only sealed under the reader's key.
    assert not hasattr(entry, "article_id")
    with pytest.raises(DecryptionFailed):
        decrypt_for_user(
            user_id=reader.pk, ciphertext=bytes(entry.sealed_article), context="preferences.region"
        )
    assert [item.article for item in history_for_user(user=reader)] == [article]
    assert not SignalEvent.objects.exists()  # counting was not turned on


def test_topics_only_records_nothing(client, reader, article, read_page):
    reader_choices(reader, level=Level.TOPICS)
    client.force_login(reader)
    read_page(client, article)
    assert not ReadingHistoryEntry.objects.exists()
    assert not SignalEvent.objects.exists()


def test_withdrawn_consent_stops_recording_at_once(client, reader, article, read_page):
    reader_choices(reader)
    client.force_login(reader)
    read_page(client, article)
    accounts_services.preferences_set_level(
        user=reader, level=Level.TOPICS, source="preferences", signals=NO_SIGNALS
    )
    read_page(client, article)
    assert ReadingHistoryEntry.objects.filter(user=reader).count() == 1


def test_anonymous_readers_leave_no_row_and_no_cookie(client, article):
    response = client.get(article.get_absolute_url())
    assert not ReadingHistoryEntry.objects.exists()
    assert not SignalEvent.objects.exists()
    assert not DailySalt.objects.exists()
    assert response.cookies == {} or set(response.cookies) <= {"sessionid", "csrftoken"}
    assert "sessionid" not in response.cookies


def test_counting_toward_popular_writes_an_unlinkable_daily_event(
    client, reader, article, read_page
):
    reader_choices(reader, level=Level.TOPICS, counting=True)
    client.force_login(reader)
    read_page(client, article)
    read_page(client, article)  # a second read the same day is not counted twice
    event = SignalEvent.objects.get()
    assert event.article == article
    assert event.day == timezone.now().date()
    assert not hasattr(event, "user_id")
    unsalted = hashlib.sha256(str(reader.pk).encode()).hexdigest()
    assert len(event.pseudonym) == 64 and event.pseudonym != unsalted
    assert not ReadingHistoryEntry.objects.exists()


def test_pseudonyms_change_every_day_and_cannot_be_linked_without_the_salt(
    reader, article, record_read
):
    reader_choices(reader, level=Level.TOPICS, counting=True)
    today = timezone.now()
    record_read(user=reader, article=article, signals=NO_SIGNALS, now=today)
    record_read(user=reader, article=article, signals=NO_SIGNALS, now=today - timedelta(days=1))
    pseudonyms = set(SignalEvent.objects.values_list("pseudonym", flat=True))
    assert len(pseudonyms) == 2


@pytest.mark.parametrize("headers", [GPC, {"HTTP_DNT": "1"}])
def test_a_browser_signal_stops_recording_despite_earlier_consent(
    client, reader, article, headers, read_page
):
    reader_choices(reader, counting=True)
    client.force_login(reader)
    read_page(client, article, **headers)
    assert not ReadingHistoryEntry.objects.exists()
    assert not SignalEvent.objects.exists()


def test_an_explicit_opt_in_in_the_privacy_center_under_the_signal_is_honoured(
    client, reader, article, read_page
):
    reader_choices(reader, counting=True, source="privacy_center", signals=BrowserSignals(gpc=True))
    client.force_login(reader)
    read_page(client, article, **GPC)
    assert ReadingHistoryEntry.objects.filter(user=reader).count() == 1
    assert SignalEvent.objects.count() == 1


def test_an_editors_preview_of_a_draft_is_not_a_read(client, editor):
    draft = ArticleFactory(status="draft", published_at=None)
    reader_choices(editor)
    client.force_login(editor)
    assert client.get(draft.get_absolute_url()).status_code == 200
    assert not ReadingHistoryEntry.objects.exists()


def test_erasing_signal_events_finds_only_that_readers_events(reader, article, record_read):
    other = accounts_services.user_create(email="o@example.org", password="x" * 12)
    for user in (reader, other):
        reader_choices(user, level=Level.TOPICS, counting=True)
        record_read(user=user, article=article, signals=NO_SIGNALS)
    assert services.signal_events_erase(user_id=reader.pk) == 1
    assert SignalEvent.objects.count() == 1
    assert services.signal_events_erase(user_id=reader.pk) == 0


def test_the_article_page_decides_in_the_request_and_queues_the_writes(
    client,
    reader,
    article,
    django_assert_max_num_queries,
    django_capture_on_commit_callbacks,
    read_page,
):
    reader_choices(reader, counting=True)
    client.force_login(reader)
    read_page(client, article)  # creates the data key and today's salt
    with django_assert_max_num_queries(9), django_capture_on_commit_callbacks() as queued:
        assert client.get(article.get_absolute_url()).status_code == 200
    # Nothing was written while the page was served; one write job waits for the commit.
    assert len(queued) == 1
    assert ReadingHistoryEntry.objects.filter(user=reader).count() == 1
    queued[0]()
    assert ReadingHistoryEntry.objects.filter(user=reader).count() == 2


def test_a_withdrawal_before_the_queued_write_runs_wins(
    client, reader, article, django_capture_on_commit_callbacks
):
    reader_choices(reader, counting=True)
    client.force_login(reader)
    with django_capture_on_commit_callbacks() as queued:
        client.get(article.get_absolute_url())
    accounts_services.preferences_set_level(
        user=reader, level=Level.TOPICS, source="preferences", signals=NO_SIGNALS
    )
    services.consent_set(
        user=reader,
        purpose="popular_counting",
        granted=False,
        source="preferences",
        signals=NO_SIGNALS,
    )
    queued[0]()
    assert not ReadingHistoryEntry.objects.exists()
    assert not SignalEvent.objects.exists()


def test_a_redelivered_write_adds_nothing(reader, article):
    reader_choices(reader, counting=True)
    payload = {
        "user_id": reader.pk,
        "article_id": article.pk,
        "read_at": timezone.now().isoformat(),
    }
    first = services.read_store(**payload)
    second = services.read_store(**payload)
    assert first.history_kept and first.counted and second.history_kept
    assert ReadingHistoryEntry.objects.count() == 1
    assert SignalEvent.objects.count() == 1


@pytest.fixture
def read_queue(scratch_broker):
    """Reads go through a real Redis list on the broker, as in production."""
    return scratch_broker


def test_queued_reads_are_stored_in_a_batch_by_the_drain_task(
    client, reader, article, read_queue, settings, django_capture_on_commit_callbacks
):
    from privacy.tasks import reads_store_queued

    reader_choices(reader, counting=True)
    client.force_login(reader)
    others = ArticleFactory.create_batch(2)
    for story in [article, *others]:
        with django_capture_on_commit_callbacks(execute=True):
            assert client.get(story.get_absolute_url()).status_code == 200
    assert read_queue.llen(settings.PRIVACY_READ_QUEUE_KEY) == 3
    assert not ReadingHistoryEntry.objects.exists()  # the page did not wait for the writes

    # The first queued read scheduled one drain, a couple of seconds later.
    [message] = [json.loads(raw) for raw in read_queue.lrange("celery", 0, -1)]
    assert message["headers"]["task"] == reads_store_queued.name
    assert message["headers"]["eta"]
    assert reads_store_queued.apply().get() == 3
    assert {item.article for item in history_for_user(user=reader)} == {article, *others}
    assert SignalEvent.objects.count() == 3
    assert read_queue.llen(settings.PRIVACY_READ_QUEUE_KEY) == 0
    assert reads_store_queued.apply().get() == 0  # draining again stores nothing more
    assert ReadingHistoryEntry.objects.count() == 3


def test_a_malformed_queued_read_is_dropped_without_blocking_the_others(
    reader, article, read_queue, settings
):
    from privacy.read_queue import read_seal
    from privacy.services import reads_store_queued

    reader_choices(reader)
    key = settings.PRIVACY_READ_QUEUE_KEY
    payload = {
        "user_id": reader.pk,
        "article_id": article.pk,
        "read_at": timezone.now().isoformat(),
    }
    # Not sealed by the site (nor in the plain form it once queued), or sealed and altered.
    altered = bytearray(read_seal(payload))
    altered[-5] ^= 1
    read_queue.rpush(key, b"{not json", b'{"unexpected": 1}', json.dumps(payload), bytes(altered))
    read_queue.rpush(key, read_seal(payload))
    assert reads_store_queued() == 5
    assert [item.article for item in history_for_user(user=reader)] == [article]


def test_a_read_is_stored_in_the_request_when_the_broker_is_down(
    client, reader, article, broker_down, django_capture_on_commit_callbacks, caplog
):
    reader_choices(reader)
    client.force_login(reader)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(article.get_absolute_url()).status_code == 200
    assert ReadingHistoryEntry.objects.filter(user=reader).count() == 1
    assert "storing a read in the request" in caplog.text


def test_home_page_link_still_works_after_reads(client, reader, article, read_page):
    reader_choices(reader)
    client.force_login(reader)
    read_page(client, article)
    assert client.get(reverse("news:home")).status_code == 200


def test_level_off_records_nothing_even_with_counting_on(
    client, reader, article, read_page, django_assert_num_queries
):
    """Off promises "we store nothing about your reading": no history and no popularity
    signal, even though "count my reads toward popular" stays switched on (idle) meanwhile."""
    from accounts.levels import LEVEL_EXPLANATIONS
    from privacy.selectors import NOTHING_RECORDED, read_permissions

    reader_choices(reader, level=Level.TOPICS, counting=True)
    accounts_services.personalization_pause(user=reader, signals=NO_SIGNALS)
    client.force_login(reader)

    read_page(client, article)

    assert not ReadingHistoryEntry.objects.exists()
    assert not SignalEvent.objects.exists()
    assert "we store nothing about your reading" in LEVEL_EXPLANATIONS[Level.OFF]
    with django_assert_num_queries(1):  # still one small query on every article view
        assert read_permissions(user_id=reader.pk, signals=NO_SIGNALS) == NOTHING_RECORDED
    # Resuming personalization counts again, without asking anew.
    accounts_services.personalization_resume(user=reader, signals=NO_SIGNALS)
    read_page(client, article)
    assert SignalEvent.objects.count() == 1


def test_a_counted_read_records_whether_its_story_is_in_a_followed_topic(client, reader, read_page):
    reader_choices(reader, level=Level.TOPICS, counting=True)
    followed = reader.preferences.topics.get()
    mine, elsewhere = ArticleFactory(topics=[followed]), ArticleFactory()
    client.force_login(reader)
    read_page(client, mine)
    read_page(client, elsewhere)
    # One bit per event, what the nightly release counts: loyal reads against the others.
    assert dict(SignalEvent.objects.values_list("article_id", "in_followed_topic")) == {
        mine.pk: True,
        elsewhere.pk: False,
    }


def test_a_reader_who_follows_no_topic_is_neither_loyal_nor_not(reader, article, record_read):
    reader_choices(reader, level=Level.TOPICS, counting=True)
    accounts_services.preferences_set_topics(user=reader, topic_ids=[], require_one=False)
    record_read(user=reader, article=article, signals=NO_SIGNALS)
    assert SignalEvent.objects.get().in_followed_topic is None


def test_only_a_counted_read_carries_the_followed_topic_flag(client, reader, read_page):
    # Reading history kept, counting off: the sealed entry alone, no flag anywhere.
    reader_choices(reader)
    story = ArticleFactory(topics=[reader.preferences.topics.get()])
    client.force_login(reader)
    read_page(client, story)
    assert ReadingHistoryEntry.objects.filter(user=reader).count() == 1
    assert not SignalEvent.objects.exists()
    assert "in_followed_topic" not in {f.name for f in ReadingHistoryEntry._meta.get_fields()}


def test_a_readers_flagged_events_are_erased_with_the_rest(reader, record_read):
    reader_choices(reader, level=Level.TOPICS, counting=True)
    story = ArticleFactory(topics=[reader.preferences.topics.get()])
    record_read(user=reader, article=story, signals=NO_SIGNALS)
    assert SignalEvent.objects.get().in_followed_topic is True
    assert services.signal_events_erase(user_id=reader.pk) == 1
    assert not SignalEvent.objects.exists()


def _history_clear(reader):
    services.history_clear(user=reader)


def _category_erase(reader):
    from privacy.erasure import category_erase

    category_erase(user=reader, key="reading_history")


def _recommendations_reset(reader):
    accounts_services.recommendations_reset(user=reader)


@pytest.mark.parametrize("erase", [_history_clear, _category_erase, _recommendations_reset])
def test_a_read_queued_before_the_history_is_erased_is_not_written_after_it(
    client, reader, article, read_queue, settings, django_capture_on_commit_callbacks, erase
):
    from privacy.tasks import reads_store_queued

    reader_choices(reader, counting=True)
    client.force_login(reader)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(article.get_absolute_url()).status_code == 200
    assert read_queue.llen(settings.PRIVACY_READ_QUEUE_KEY) == 1
    # Erased before any worker drained the queue: the read made before must not come back.
    with django_capture_on_commit_callbacks(execute=True):
        erase(reader)
    later = ArticleFactory()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(later.get_absolute_url()).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert reads_store_queued.apply().get() == 2
    assert [item.article for item in history_for_user(user=reader)] == [later]
    # Erasing the history is not withdrawing "count toward popular": both reads count.
    assert SignalEvent.objects.count() == 2


def test_deleting_one_history_entry_does_not_drop_the_reads_still_queued(
    client, reader, article, read_queue, read_page, django_capture_on_commit_callbacks
):
    from privacy.tasks import reads_store_queued

    reader_choices(reader)
    client.force_login(reader)
    older = ArticleFactory()
    read_page(client, older)
    reads_store_queued.apply()
    [entry] = ReadingHistoryEntry.objects.filter(user=reader)
    read_page(client, article)  # queued, not written yet
    with django_capture_on_commit_callbacks(execute=True):
        assert services.history_entry_delete(user=reader, entry_id=entry.pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert reads_store_queued.apply().get() == 1
    assert [item.article for item in history_for_user(user=reader)] == [article]
