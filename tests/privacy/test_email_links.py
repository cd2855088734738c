"""The privacy emails as a reader receives them: links only on the site's public address
(SITE_URL, the one setting every email uses, allauth's too), and the site's name, whatever host
the request came in on or when no request is involved (a Celery task)."""

import re

import pytest
from django.urls import reverse

from privacy.exports import export_request_create
from tests.factories import DEFAULT_PASSWORD, reader_with_data_everywhere

pytestmark = pytest.mark.django_db

SITE = "https://news.example.org"
INTERNAL_HOST = "backend.internal:8101"


@pytest.fixture(autouse=True)
def site(settings, tmp_path):
    settings.SITE_URL = SITE
    settings.SITE_NAME = "The Daily Example"
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "backend.internal"]
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"


def links(text: str) -> list[str]:
    return re.findall(r"https?://[^\s<>\"')]+", text)


def test_the_export_ready_email_links_to_the_public_site(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    reader = reader_with_data_everywhere(email="reader@example.org", client=client)
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        export_request_create(user=reader)  # built by the (eager) Celery task: no request

    [message] = mailoutbox
    assert links(message.body) == [SITE + "/privacy/export/"]
    assert "The Daily Example" in message.subject and "The Daily Example" in message.body
    assert "127.0.0.1" not in message.body and "localhost" not in message.body


def test_the_erasure_receipt_names_the_site_and_links_nowhere_else(client, mailoutbox):
    reader = reader_with_data_everywhere(email="doomed@example.org", client=client)
    mailoutbox.clear()

    client.post(
        reverse("privacy:delete_account"),
        {"password": DEFAULT_PASSWORD, "confirmation": "DELETE"},
        HTTP_HOST=INTERNAL_HOST,
    )

    [message] = mailoutbox
    assert message.to == [reader.email]
    assert all(link.startswith(SITE + "/") for link in links(message.body))
    assert "backend.internal" not in message.body
    assert message.subject.startswith("The Daily Example")
    assert "The Daily Example" in message.body
