"""Account erasure: refused without the password and the typed confirmation; when done, no
table and no private file holds anything of the reader, and another reader is untouched."""

import re

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from django.urls import reverse

from privacy.crypto import DataKeyDestroyed, decrypt_for_user
from privacy.erasure import receipt_fingerprint
from privacy.models import DailySalt, PrivacyAuditEvent, ReadingHistoryEntry
from privacy.registry import categories
from privacy.selectors import HISTORY_CONTEXT, data_held
from privacy.services import pseudonym_for
from tests.factories import DEFAULT_PASSWORD, reader_with_data_everywhere

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    return settings.PRIVATE_STORAGE_ROOT


@pytest.fixture
def doomed(client):
    return reader_with_data_everywhere(email="doomed@example.org", client=client)


@pytest.fixture
def bystander():
    return reader_with_data_everywhere(email="bystander@example.org")


def counts(user) -> dict[str, int]:
    return {snapshot.key: snapshot.count for snapshot in data_held(user=user)}


def traces_of(*, user_id: int, strings: list[str]) -> list[str]:
    """Every row of every installed model that points at the user or mentions one of
    `strings` (email, display name, pseudonyms) in a text column."""
    found = []
    for model in apps.get_models(include_auto_created=True):
        user_columns = [
            field.attname
            for field in model._meta.concrete_fields
            if field.is_relation and field.related_model is User
        ]
        text_columns = [
            field.attname
            for field in model._meta.concrete_fields
            if isinstance(field, models.CharField | models.TextField | models.EmailField)
        ]
        for row in model._default_manager.values(*user_columns, *text_columns, "pk"):
            if model is User and row["pk"] == user_id:
                found.append(f"{model._meta.label} row {row['pk']}")
            for column in user_columns:
                if row[column] == user_id:
                    found.append(f"{model._meta.label}.{column} of row {row['pk']}")
            for column in text_columns:
                value = str(row[column] or "")
                if any(s in value for s in strings):
                    found.append(f"{model._meta.label}.{column} of row {row['pk']}")
    return found


def erase(client, *, password=DEFAULT_PASSWORD, confirmation="DELETE"):
    return client.post(
        reverse("privacy:delete_account"),
        {"password": password, "confirmation": confirmation},
    )


def test_the_factory_really_puts_data_in_every_category(doomed):
    # Otherwise the scan below would prove nothing.
    empty = [key for key, count in counts(doomed).items() if count == 0]
    assert empty == [], f"no rows in: {empty}"


def test_erasure_leaves_no_trace_in_any_table_or_private_file(
    client, doomed, bystander, private_storage, mailoutbox
):
    pseudonyms = [
        pseudonym_for(user_id=doomed.pk, salt=bytes(s))
        for s in DailySalt.objects.values_list("salt", flat=True)
    ]
    strings = [doomed.email, doomed.display_name, *pseudonyms]
    assert traces_of(user_id=doomed.pk, strings=strings)  # the scan does find live data
    bystander_before = counts(bystander)
    user_id = doomed.pk

    response = erase(client)

    assert response.status_code == 302 and response.url == reverse("privacy:erased")
    assert traces_of(user_id=user_id, strings=strings) == []
    files = [p for p in private_storage.rglob("*") if p.is_file()]
    assert all("doomed" not in p.read_text(errors="ignore") for p in files)
    assert not any(p.name.startswith(f"{user_id}-") for p in files)
    # Another reader's data is untouched, export file included.
    assert counts(bystander) == bystander_before
    assert any(p.name.startswith(f"{bystander.pk}-") for p in files)


def test_the_receipt_shows_zero_everywhere_and_what_is_kept(client, doomed, mailoutbox):
    erase(client)
    page = client.get(reverse("privacy:erased"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Your account was erased" in html
    assert "One activity-log entry" in html
    receipt = client.session["privacy_erasure_receipt"]
    # When, in the site's date format: never the raw ISO text kept in the session.
    assert receipt["erased_at"] not in html.split("<time datetime=")[1].split(">", 1)[1]
    assert re.search(r"Done at <time[^>]*>\d{1,2} \w+ \d{4}, \d{2}:\d{2} ", html)
    assert set(receipt["remaining"]) == {entry.title for entry in categories()}
    assert all(count == 0 for count in receipt["remaining"].values())
    assert receipt["erased"]["Reading history"] == 1
    # The one email, to the address held in memory for it, with the same receipt.
    [mail] = mailoutbox
    assert mail.to == ["doomed@example.org"]
    assert "Reading history: 1 removed" in mail.body and "Reading history: 0" in mail.body


def test_one_anonymous_audit_event_remains(client, doomed):
    user_id = doomed.pk
    erase(client)
    [event] = PrivacyAuditEvent.objects.filter(action=PrivacyAuditEvent.Action.ACCOUNT_ERASED)
    assert event.user_id is None
    # Linked only to the random receipt number the reader was given (test_erasure_traces).
    receipt_id = client.session["privacy_erasure_receipt"]["receipt_id"]
    assert event.subject_hash == receipt_fingerprint(receipt_id=receipt_id)
    assert event.subject_hash != str(user_id) and "doomed" not in event.detail
    assert "reading_history" in event.detail


def test_erased_reader_cannot_sign_in_and_every_session_ended(client, doomed):
    from django.test import Client

    other_device = Client()
    other_device.force_login(doomed)
    erase(client)
    assert other_device.get(reverse("privacy:center")).status_code == 302  # to the login page
    response = Client().post(
        reverse("account_login"), {"login": "doomed@example.org", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200  # the form again, with an error
    assert not response.wsgi_request.user.is_authenticated


def test_a_copied_encrypted_row_is_unreadable_after_erasure(client, doomed):
    entry = ReadingHistoryEntry.objects.get(user=doomed)
    backup = bytes(entry.sealed_article)  # as if restored from a backup
    user_id = doomed.pk
    erase(client)
    with pytest.raises(DataKeyDestroyed):
        decrypt_for_user(user_id=user_id, ciphertext=backup, context=HISTORY_CONTEXT)


@pytest.mark.parametrize(
    ("password", "confirmation", "message"),
    [
        ("wrong password", "DELETE", "That password is not right"),
        (DEFAULT_PASSWORD, "delete", "Type DELETE in capitals"),
        (DEFAULT_PASSWORD, "", "This field is required"),
    ],
)
def test_a_wrong_password_or_confirmation_erases_nothing(
    client, doomed, password, confirmation, message, mailoutbox
):
    before = counts(doomed)
    response = erase(client, password=password, confirmation=confirmation)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert User.objects.filter(pk=doomed.pk).exists()
    assert counts(doomed) == before
    assert mailoutbox == []


def test_the_erasure_page_needs_a_signed_in_reader(client):
    response = client.get(reverse("privacy:delete_account"))
    assert response.status_code == 302 and response.url.startswith(reverse(settings.LOGIN_URL))


def test_the_receipt_page_without_an_erasure_goes_home(client):
    response = client.get(reverse("privacy:erased"))
    assert response.status_code == 302 and response.url == reverse("news:home")
