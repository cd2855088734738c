"""Private mode's pages: an anonymous visitor turns it on without the server storing or
setting anything; a signed-in reader switches their account's level; every page carries the
browser code without loosening the Content-Security-Policy."""

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.models import Preferences
from tests.e2e.private_mode import rows_about_visitors
from tests.factories import TopicFactory, reader_choices

pytestmark = pytest.mark.django_db
START = reverse("privatemode:start")
SWITCH = reverse("privatemode:account_level")
Level = Preferences.Level


def test_an_anonymous_visitor_gets_the_page_with_no_cookie_and_no_row(client):
    TopicFactory(name="Science")
    before = rows_about_visitors()
    response = client.get(START)
    assert response.status_code == 200
    assert not response.cookies
    assert "csrfmiddlewaretoken" not in response.content.decode()
    assert rows_about_visitors() == before
    html = response.content.decode()
    assert 'name="private-topic"' in html and "Science" in html
    assert "needs JavaScript" in html  # the <noscript> explanation


def test_every_page_loads_the_browser_code_as_a_module_under_the_same_strict_policy(client):
    html = client.get(reverse("news:home")).content.decode()
    assert '<script type="module" src="/static/privatemode/page.js"></script>' in html
    assert 'data-bundle-url="/feed/bundle.json"' in html
    assert 'data-account-level=""' in html and 'data-signed-in=""' in html
    policy = client.get(reverse("news:home"))["Content-Security-Policy"]
    assert "script-src 'self';" in policy + ";"
    assert settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["script-src"] == ["'self'"]


def test_a_signed_in_reader_turns_it_on_for_the_account_and_off_again(client, reader):
    reader_choices(reader, level=Level.TOPICS_HISTORY)
    client.force_login(reader)
    page = client.get(START).content.decode()
    assert "Turn private mode on for my account" in page

    response = client.post(SWITCH, {"private_mode": "on"})

    assert response.status_code == 302 and response["Location"] == START
    preferences = Preferences.objects.get(user=reader)
    assert preferences.level == Level.DEVICE
    assert not preferences.preferred_topics.exists()
    page = client.get(START).content.decode()
    assert 'data-account-level="device"' in page
    assert "Turn private mode off" in page

    client.post(SWITCH, {"private_mode": "off"})
    assert Preferences.objects.get(user=reader).level == Level.OFF
    assert 'data-account-level="off"' in client.get(START).content.decode()


def test_the_account_switch_needs_a_signed_in_post(client, reader):
    assert client.post(SWITCH, {"private_mode": "on"}).status_code == 302
    assert not Preferences.objects.exists()
    client.force_login(reader)
    assert client.get(SWITCH).status_code == 405


def test_the_privacy_center_has_a_private_mode_section_filled_by_the_browser(client, reader):
    reader_choices(reader, level=Level.DEVICE)
    client.force_login(reader)
    html = client.get(reverse("privacy:center")).content.decode()
    assert 'id="private-mode-data"' in html
    assert "“On this device only”" in html
    assert 'data-account-level="device"' in html
