"""allauth's emails as a reader receives them: every link on the site's public address
(SITE_URL), whatever host the request that sent them came in on, and the greeting and subject
in the site's name, not a host name."""

import re

import pytest
from django.urls import reverse

from tests.factories import DEFAULT_PASSWORD, verified_reader

pytestmark = pytest.mark.django_db

SITE = "https://news.example.org"
# The address the request came in on: a port the public never sees.
INTERNAL_HOST = "backend.internal:8101"
NEW_PASSWORD = "a-fresh-and-long-passphrase-9"


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = SITE
    settings.SITE_NAME = "The Daily Example"
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "backend.internal"]


def post(client, url: str, data: dict):
    return client.post(url, data, HTTP_HOST=INTERNAL_HOST)


def links(text: str) -> list[str]:
    return re.findall(r"https?://[^\s<>\"')]+", text)


def assert_written_for_the_site(message) -> list[str]:
    """Every link on SITE_URL, no trace of the internal host, the site's name in the subject
    and the greeting; returns the links."""
    found = links(message.body)
    assert all(link.startswith(SITE + "/") for link in found), found
    assert "backend.internal" not in message.body + message.subject
    assert message.subject.startswith("[The Daily Example] ")
    assert "Hello from The Daily Example!" in message.body
    assert "Thank you for using The Daily Example!\nnews.example.org" in message.body
    return found


def test_the_password_reset_email_links_to_the_public_site(client, mailoutbox):
    reader = verified_reader()

    post(client, reverse("account_reset_password"), {"email": reader.email})

    [message] = mailoutbox
    [reset_link] = assert_written_for_the_site(message)
    assert reset_link.startswith(SITE + "/accounts/password/reset/key/")
    # The link works: it leads to the form that sets a new password.
    path = reset_link.removeprefix(SITE)
    form = client.get(path, follow=True)
    assert form.status_code == 200
    assert "password1" in form.content.decode()


def test_the_email_confirmation_email_links_to_the_public_site(client, mailoutbox):
    post(
        client,
        reverse("account_signup"),
        {"email": "new.reader@example.org", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    [message] = mailoutbox
    [confirm_link] = assert_written_for_the_site(message)
    assert confirm_link.startswith(SITE + "/accounts/confirm-email/")
    assert "register an account on news.example.org" in message.body


def test_the_unknown_address_email_links_to_the_public_site(client, mailoutbox):
    # Enumeration is prevented: an unknown address is told, by email, that it has no account.
    post(client, reverse("account_reset_password"), {"email": "nobody@example.org"})

    [message] = mailoutbox
    found = assert_written_for_the_site(message)
    assert SITE + "/accounts/signup/" in found


def test_the_account_already_exists_email_links_to_the_public_site(client, mailoutbox):
    reader = verified_reader()

    post(
        client,
        reverse("account_signup"),
        {"email": reader.email, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    [message] = mailoutbox
    assert assert_written_for_the_site(message) == [SITE + "/accounts/password/reset/"]


def test_a_security_notification_greets_with_the_sites_name(client, mailoutbox):
    reader = verified_reader()
    client.force_login(reader)

    post(
        client,
        reverse("account_change_password"),
        {"oldpassword": DEFAULT_PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    [message] = mailoutbox
    assert_written_for_the_site(message)
    assert "password" in message.subject.lower()
