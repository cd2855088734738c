"""What account erasure used to leave behind: the admin's log of changes staff made to the
reader, the reader's queued reads in Redis, an activity-log link that enumeration reverses,
and a receipt that said the destroyed key was not there."""

import hashlib
import json
import logging

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.urls import reverse
from django.utils.crypto import salted_hmac

from accounts.models import User
from privacy.erasure import (
    RECEIPT_ID_BYTES,
    account_erase,
    erasure_event_for_receipt,
    receipt_fingerprint,
)
from privacy.exports import export_document
from privacy.models import PrivacyAuditEvent, ReadingHistoryEntry, SignalEvent
from privacy.registry import category
from privacy.services import reads_store_queued
from tests.factories import (
    DEFAULT_PASSWORD,
    AdminFactory,
    ArticleFactory,
    reader_choices,
    reader_with_data_everywhere,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    return settings.PRIVATE_STORAGE_ROOT


@pytest.fixture
def doomed(client):
    return reader_with_data_everywhere(email="doomed@example.org", client=client)


def erase(client):
    return client.post(
        reverse("privacy:delete_account"), {"password": DEFAULT_PASSWORD, "confirmation": "DELETE"}
    )


def staff_renames(client, *, staff, reader, new_name: str):
    """An administrator changes the reader's display name in the admin, as support would."""
    url = reverse("admin:accounts_user_change", args=[reader.pk])
    client.force_login(staff)
    response = client.post(
        url,
        {
            "email": reader.email,
            "display_name": new_name,
            "is_active": "on",
            "groups": list(reader.groups.values_list("pk", flat=True)),
            "user_permissions": list(reader.user_permissions.values_list("pk", flat=True)),
            "date_joined_0": reader.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": reader.date_joined.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    client.logout()


def admin_log_section(user) -> list[dict]:
    [section] = [s for s in export_document(user=user)["categories"] if s["key"] == "staff_actions"]
    return section["rows"]


# --- 7a: the admin log ----------------------------------------------------------------------


def test_the_admin_log_about_a_reader_is_in_their_copy_and_named_by_nothing_after_erasure(
    client, doomed, mailoutbox
):
    staff = AdminFactory(display_name="Support Person")
    staff_renames(client, staff=staff, reader=doomed, new_name="Dora Doomed")
    doomed.refresh_from_db()
    about = LogEntry.objects.get(user=staff, action_flag=CHANGE)
    assert about.object_repr == "Dora Doomed"  # the admin names the reader in its log

    # Their copy shows it, next to the entries they made themselves (staff only).
    rows = admin_log_section(doomed)
    assert {(row["by"], row["object"]) for row in rows} == {
        ("a staff member", "Dora Doomed"),
        ("you", "A topic"),
    }
    assert "Display name" in next(row["change"] for row in rows if row["by"] != "you")
    # Nobody else's copy does.
    other = reader_with_data_everywhere(email="other@example.org")
    assert all(row["by"] == "you" for row in admin_log_section(other))

    client.force_login(doomed)
    user_id = doomed.pk
    erase(client)

    for entry in LogEntry.objects.all():
        assert "Dora Doomed" not in entry.object_repr + entry.change_message
        assert "doomed@example.org" not in entry.object_repr + entry.change_message
        assert not (
            entry.content_type.model_class().__name__ == "User" and entry.object_id == str(user_id)
        )
    # The staff member's record of what they did stays, naming nobody.
    about.refresh_from_db()
    assert about.user == staff and about.action_flag == CHANGE
    assert about.object_id is None and about.change_message == ""
    receipt = client.session["privacy_erasure_receipt"]
    assert receipt["erased"][category("staff_actions").title] == 2  # theirs, and about them
    assert receipt["remaining"][category("staff_actions").title] == 0


def test_an_admin_log_entry_naming_a_longer_address_is_someone_elses(client, doomed):
    # "doomed@example.org" is inside "predoomed@example.org": not the same reader.
    other = reader_with_data_everywhere(email="predoomed@example.org")
    staff = AdminFactory()
    LogEntry.objects.log_actions(
        user_id=staff.pk, queryset=[other.emailaddress_set.get()], action_flag=CHANGE
    )
    assert all(row["by"] == "you" for row in admin_log_section(doomed))
    erase(client)
    assert LogEntry.objects.filter(object_repr="predoomed@example.org").exists()


# --- 7c: the activity-log link --------------------------------------------------------------


def test_the_erasure_event_links_only_to_the_receipt_number_the_reader_was_given(
    client, doomed, mailoutbox
):
    user_id = doomed.pk
    erase(client)
    receipt_id = client.session["privacy_erasure_receipt"]["receipt_id"]
    [event] = PrivacyAuditEvent.objects.filter(action=PrivacyAuditEvent.Action.ACCOUNT_ERASED)

    # Shown once, on the receipt page and in the email; the site keeps only its fingerprint.
    assert receipt_id in client.get(reverse("privacy:erased")).content.decode()
    assert receipt_id in mailoutbox[0].body
    assert receipt_id not in event.subject_hash + event.detail
    assert event.subject_hash == receipt_fingerprint(receipt_id=receipt_id)
    # With the number the site proves what it did; without it nothing finds the event.
    assert erasure_event_for_receipt(receipt_id=receipt_id) == event
    assert erasure_event_for_receipt(receipt_id="not-a-receipt") is None

    # Nothing computed from an account id finds it: not the id, not a keyed hash of it (the
    # old link, reversed by trying every id), not a plain hash. 128 random bits instead.
    for candidate in range(1, user_id + 1000):
        assert event.subject_hash not in {
            salted_hmac("privacy.erased-account", str(candidate), algorithm="sha256").hexdigest(),
            hashlib.sha256(str(candidate).encode()).hexdigest(),
            str(candidate),
        }
    assert RECEIPT_ID_BYTES * 8 >= 128


# --- 7d: the destroyed key on the receipt ---------------------------------------------------


def test_the_receipt_and_email_count_the_destroyed_key(client, doomed, mailoutbox):
    erase(client)
    receipt = client.session["privacy_erasure_receipt"]
    title = category("data_key").title
    assert receipt["erased"][title] == 1 and receipt["remaining"][title] == 0
    [mail] = mailoutbox
    assert f"{title}: 1 removed" in mail.body
    assert "Your encryption key was destroyed first" in mail.body


def test_a_reader_who_never_had_a_key_is_told_so(reader, mailoutbox):
    receipt = account_erase(user=reader, password=DEFAULT_PASSWORD, confirmation="DELETE")
    assert receipt.erased[category("data_key").title] == 0
    assert "You had no encryption key with us" in mailoutbox[0].body


# --- 7b: queued reads in Redis --------------------------------------------------------------


@pytest.fixture
def read_queue(scratch_broker):
    """Reads go through a real Redis list on the broker, as in production."""
    return scratch_broker


@pytest.fixture
def distinct_ids():
    """A reader and an article whose ids are long enough to be looked for in a dump."""
    # Not the factory: the sign-up's service picks the id itself.
    reader = User.objects.create_user(
        id=876_543_219, email="dump@example.org", password=DEFAULT_PASSWORD
    )
    reader = reader_choices(reader, counting=True)
    article = ArticleFactory(id=987_654_321)
    return reader, article


def test_a_redis_dump_of_the_read_queue_says_neither_who_read_nor_what(
    client, read_queue, distinct_ids, settings, django_capture_on_commit_callbacks
):
    reader, article = distinct_ids
    client.force_login(reader)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(article.get_absolute_url()).status_code == 200
    key = settings.PRIVACY_READ_QUEUE_KEY
    assert read_queue.llen(key) == 1

    dump = read_queue.dump(key)  # the bytes an RDB snapshot or a replica holds
    [raw] = read_queue.lrange(key, 0, -1)
    for stored in (dump, raw):
        for plain in (b"876543219", b"987654321", b"user_id", b"article_id", b"read_at"):
            assert plain not in stored
    with pytest.raises(ValueError):
        json.loads(raw)

    # The site itself still reads it: the drain stores the read as before.
    assert reads_store_queued() == 1
    assert ReadingHistoryEntry.objects.filter(user=reader).count() == 1
    assert SignalEvent.objects.filter(article=article).count() == 1


def test_an_erased_readers_queued_reads_can_no_longer_be_read_or_stored(
    client, read_queue, distinct_ids, settings, django_capture_on_commit_callbacks, caplog
):
    reader, article = distinct_ids
    client.force_login(reader)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(article.get_absolute_url()).status_code == 200
    stolen = read_queue.lrange(settings.PRIVACY_READ_QUEUE_KEY, 0, -1)

    with django_capture_on_commit_callbacks(execute=True):
        account_erase(user=reader, password=DEFAULT_PASSWORD, confirmation="DELETE")

    # Their key is gone, so the queued read (and any copy of it) opens for nobody.
    read_queue.rpush(settings.PRIVACY_READ_QUEUE_KEY, *stolen)
    with caplog.at_level(logging.INFO, logger="privacy.read_queue"):
        assert reads_store_queued() == 2
    assert "queued reads of an erased reader" in caplog.text
    assert not ReadingHistoryEntry.objects.exists() and not SignalEvent.objects.exists()
    assert read_queue.llen(settings.PRIVACY_READ_QUEUE_KEY) == 0
