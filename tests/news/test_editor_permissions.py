"""Editors reach content, the dashboard and the model panel, and nothing about any single
reader: not in the admin, not in the privacy center, not on the dashboard."""

import pytest
from django.urls import reverse

from privacy.models import ExportRequest, ReadingHistoryEntry
from tests.factories import reader_with_data_everywhere

pytestmark = pytest.mark.django_db


@pytest.fixture
def someone(db):
    """A reader with rows in every category of personal data."""
    return reader_with_data_everywhere(email="someone.private@example.org")


@pytest.mark.parametrize(
    "url",
    [
        "/editor/",
        "/admin/news/article/",
        "/admin/news/topic/",
        "/admin/news/source/",
        "/admin/news/sourceerror/",
        "/admin/recommendations/modelversion/",
    ],
)
def test_editors_reach_content_the_dashboard_and_the_model_record(client, editor, url):
    client.force_login(editor)
    assert client.get(url).status_code == 200


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/admin/accounts/user/", 403),
        ("/admin/auth/group/", 403),
        ("/admin/account/emailaddress/", 403),
        ("/admin/mfa/authenticator/", 403),
        # Not in the admin at all: no page to open.
        ("/admin/sessions/session/", 404),
        ("/admin/admin/logentry/", 404),
        ("/admin/accounts/preferences/", 404),
        ("/admin/privacy/consentrecord/", 404),
        ("/admin/privacy/readinghistoryentry/", 404),
        ("/admin/privacy/signalevent/", 404),
        ("/admin/privacy/userdatakey/", 404),
        ("/admin/privacy/privacyauditevent/", 404),
        ("/admin/privacy/exportrequest/", 404),
        ("/admin/privacy/dailysalt/", 404),
    ],
)
def test_editors_are_refused_every_admin_page_about_people(client, editor, someone, url, status):
    client.force_login(editor)
    response = client.get(url)
    assert response.status_code == status
    assert someone.email not in response.content.decode()


def test_editors_cannot_open_one_readers_admin_pages(client, editor, someone):
    client.force_login(editor)
    for url in (
        reverse("admin:accounts_user_change", args=[someone.pk]),
        reverse("admin:accounts_user_history", args=[someone.pk]),
        reverse("admin:accounts_user_delete", args=[someone.pk]),
    ):
        assert client.get(url).status_code == 403, url


@pytest.mark.parametrize(
    "name",
    [
        "center",
        "data",
        "profile",
        "history",
        "consents",
        "activity",
        "export",
        "delete_account",
    ],
)
def test_the_privacy_center_shows_an_editor_only_their_own_data(client, editor, someone, name):
    client.force_login(editor)

    response = client.get(reverse(f"privacy:{name}"))

    html = response.content.decode()
    assert response.status_code == 200
    assert someone.email not in html
    assert someone.display_name not in html
    assert someone.email.split("@")[0] not in html
    if name == "data":  # their own account is what the page is about
        assert editor.email in html


def test_an_editor_cannot_reach_or_delete_a_readers_export_or_history(client, editor, someone):
    export = ExportRequest.objects.get(user=someone)
    entry = ReadingHistoryEntry.objects.get(user=someone)
    client.force_login(editor)

    status = reverse("privacy:export_status", args=[export.pk])
    assert client.get(status, HTTP_HX_REQUEST="true").status_code == 404
    assert client.get(reverse("privacy:export_download", args=[export.pk])).status_code == 404
    assert client.post(reverse("privacy:history_delete", args=[entry.pk])).status_code == 404
    assert ReadingHistoryEntry.objects.filter(pk=entry.pk).exists()


def test_the_dashboard_shows_no_reader_even_with_every_kind_of_data(client, editor, someone):
    client.force_login(editor)

    html = client.get("/editor/").content.decode()

    assert someone.email not in html and someone.display_name not in html
