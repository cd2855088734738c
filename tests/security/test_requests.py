"""Findings of the outside security audit about requests: reads another site sends,
input that once answered with a 500, and personal pages kept out of caches."""

import pytest
from django.urls import reverse
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import Preferences
from accounts.selectors import reader_profile
from privacy.models import PrivacyAuditEvent, ReadingHistoryEntry, SignalEvent
from tests.api.conftest import assert_error
from tests.conftest import gunicorn_settings
from tests.factories import DEFAULT_PASSWORD, reader_choices, verified_reader

pytestmark = pytest.mark.django_db


# --- 8. A read is recorded only for the reader's own navigation ----------------------------


@pytest.fixture
def counting_reader(client, reader):
    """A reader who keeps a history and counts toward "popular": every read shows."""
    reader_choices(reader, counting=True)
    client.force_login(reader)
    return reader


def open_from_card(client, django_capture_on_commit_callbacks, article, **headers):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(f"{article.get_absolute_url()}?via=personal", **headers)
    assert response.status_code == 200
    assert article.title in response.content.decode()  # the page itself is the same for all
    return response


def recorded() -> tuple[int, list[str]]:
    return (
        ReadingHistoryEntry.objects.count(),
        list(SignalEvent.objects.values_list("list_type", flat=True)),
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_SEC_FETCH_SITE": "cross-site"},
        {"HTTP_SEC_FETCH_SITE": "same-site"},  # a sibling subdomain is another site too
        {"HTTP_SEC_FETCH_SITE": "cross-site", "HTTP_REFERER": "http://testserver/"},
        {"HTTP_SEC_FETCH_SITE": "something-new"},
        {"HTTP_REFERER": "https://elsewhere.example/page"},  # an older browser, sent from away
        {"HTTP_REFERER": "https://testserver/"},  # another scheme is another origin
        {"HTTP_REFERER": "http://[::1/"},  # unparseable: proves nothing
    ],
)
def test_another_sites_link_renders_the_page_but_records_no_read(
    client, counting_reader, article, django_capture_on_commit_callbacks, headers
):
    open_from_card(client, django_capture_on_commit_callbacks, article, **headers)

    assert recorded() == (0, [])


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_SEC_FETCH_SITE": "same-origin"},  # a feed card on this site
        {"HTTP_SEC_FETCH_SITE": "none"},  # typed, or a bookmark
        {"HTTP_REFERER": "http://testserver/"},  # an older browser, from our own page
        {},  # an older browser, typed or bookmarked
    ],
)
def test_the_readers_own_navigation_records_history_signal_and_feed(
    client, counting_reader, article, django_capture_on_commit_callbacks, headers
):
    open_from_card(client, django_capture_on_commit_callbacks, article, **headers)

    assert recorded() == (1, ["personal"])


# --- 9. Bad input: a clear 400 that changes nothing -------------------------------------


def test_a_nul_byte_in_the_search_is_refused_with_the_sites_error_page(client, article):
    response = client.get("/search/?q=%00")

    assert response.status_code == 400
    html = response.content.decode()
    assert "<h1>Bad request</h1>" in html and "NUL byte" in html


def test_a_nul_byte_in_an_api_filter_is_a_400_in_the_api_format(article):
    response = APIClient().get("/api/v1/articles/", {"topic": "science\x00"})

    # PostgreSQL refuses the lookup itself (once a 500); SQLite finds no such topic.
    assert_error(response, 400, "invalid")


def nested_json(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [40, 100_000])
def test_deeply_nested_json_to_the_token_endpoint_is_a_400(depth):
    reader = verified_reader()
    credentials = f'"email": "{reader.email}", "password": "{DEFAULT_PASSWORD}"'
    body = f'{{{credentials}, "x": {nested_json(depth)}}}'

    response = APIClient().post("/api/v1/auth/token/", body, content_type="application/json")

    error = assert_error(response, 400, "parse_error")
    assert "nested too deeply" in error["message"]
    assert not AuthToken.objects.exists()


def test_deeply_nested_json_to_a_signed_in_endpoint_changes_nothing(reader):
    reader_choices(reader, level=Preferences.Level.TOPICS)
    api = APIClient()
    api.force_authenticate(reader)
    body = '{"level": "off", "topics": ' + nested_json(50_000) + "}"

    response = api.patch("/api/v1/preferences/", body, content_type="application/json")

    assert_error(response, 400, "parse_error")
    assert reader_profile(user=reader).level == Preferences.Level.TOPICS


def test_json_as_deep_as_any_endpoint_needs_is_still_read(reader):
    reader_choices(reader, level=Preferences.Level.TOPICS)
    api = APIClient()
    api.force_authenticate(reader)

    response = api.patch("/api/v1/preferences/", {"level": "off"}, format="json")

    assert response.status_code == 200
    assert reader_profile(user=reader).level == Preferences.Level.OFF


@pytest.mark.parametrize("posted", [{"action": "explode"}, {"action": "pause\x00"}, {}])
def test_an_unknown_personalization_action_is_refused_and_changes_nothing(client, reader, posted):
    reader_choices(reader, level=Preferences.Level.TOPICS)
    client.force_login(reader)
    events_before = PrivacyAuditEvent.objects.filter(user=reader).count()

    response = client.post(reverse("privacy:personalization"), posted)

    assert response.status_code == 400
    assert "Nothing was changed" in response.content.decode()
    assert reader_profile(user=reader).level == Preferences.Level.TOPICS
    assert PrivacyAuditEvent.objects.filter(user=reader).count() == events_before


def test_pause_and_resume_still_work(client, reader):
    reader_choices(reader, level=Preferences.Level.TOPICS)
    client.force_login(reader)

    client.post(reverse("privacy:personalization"), {"action": "pause"})
    assert reader_profile(user=reader).level == Preferences.Level.OFF
    response = client.post(
        reverse("privacy:personalization"), {"action": "resume", "next_page": "profile"}
    )
    assert response.url == reverse("privacy:profile")
    assert reader_profile(user=reader).level == Preferences.Level.TOPICS


# --- 11. Personal pages stay out of caches; gunicorn's control socket ---------------------

PERSONAL_PAGES = [
    "/privacy/",
    "/privacy/data/",
    "/privacy/history/",
    "/privacy/profile/",
    "/privacy/consents/",
    "/privacy/activity/",
    "/privacy/export/",
    "/privacy/delete-account/",
    "/account/preferences/",
    "/",  # a signed-in reader's own front page
]


@pytest.mark.parametrize("path", PERSONAL_PAGES)
def test_signed_in_personal_pages_are_never_stored_by_a_cache(client, reader, path):
    reader_choices(reader)
    client.force_login(reader)

    response = client.get(path)

    assert response.status_code == 200, path
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/privacy/consents/",
        "/api/v1/privacy/history/",
        "/api/v1/privacy/exports/",
        "/api/v1/privacy/policies/",
        "/api/v1/preferences/",
        "/api/v1/feed/",
    ],
)
def test_personal_api_answers_are_never_stored_by_a_cache(reader, path):
    reader_choices(reader)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=reader)[1]}")

    response = api.get(path)

    assert response.status_code == 200, path
    assert response["Cache-Control"] == "no-store"


def test_privacy_api_refusals_are_not_stored_either():
    response = APIClient().get("/api/v1/privacy/history/")

    assert response.status_code == 401
    assert response["Cache-Control"] == "no-store"


def test_public_pages_for_anonymous_visitors_stay_cacheable(client, article):
    for path in ("/", article.get_absolute_url(), "/api/v1/articles/"):
        assert "no-store" not in client.get(path).get("Cache-Control", ""), path


def test_gunicorns_control_socket_is_off_by_default(monkeypatch):
    assert gunicorn_settings(monkeypatch).control_socket_disable is True


def test_gunicorns_control_socket_can_be_given_a_path_of_the_sites_own(monkeypatch, tmp_path):
    socket = tmp_path / "run" / "newsite-gunicorn.ctl"

    cfg = gunicorn_settings(monkeypatch, GUNICORN_CONTROL_SOCKET=str(socket))

    assert cfg.control_socket_disable is False
    assert cfg.control_socket == str(socket)
    assert cfg.control_socket_mode == 0o600


def test_a_relative_control_socket_path_stops_gunicorn_from_starting(monkeypatch, capsys):
    with pytest.raises(SystemExit):
        gunicorn_settings(monkeypatch, GUNICORN_CONTROL_SOCKET="gunicorn.ctl")
    assert "must be an absolute path" in capsys.readouterr().err


def test_gunicorn_refuses_to_start_with_a_wrong_master_key(monkeypatch, settings, db):
    from django.core.management.base import SystemCheckError

    on_starting = gunicorn_settings(monkeypatch).on_starting
    on_starting(None)  # the site's own key: starts
    settings.NEWSITE_MASTER_KEY = "not a key!"
    with pytest.raises(SystemCheckError, match="malformed"):
        on_starting(None)


def test_a_gunicorn_worker_writes_its_impression_counts_as_it_exits(monkeypatch, settings, db):
    from types import SimpleNamespace

    from django.utils import timezone

    from recommendations.models import FeedImpressionCount
    from recommendations.services import feed_impressions_record

    settings.FEED_IMPRESSIONS_FLUSH_SECONDS = 3600  # nothing written by the pages themselves
    feed_impressions_record(list_types=["personal", "personal", "editorial"])  # the first page
    feed_impressions_record(list_types=["personal"])  # one more, still buffered
    assert not FeedImpressionCount.objects.exists()
    logged = []
    server = SimpleNamespace(log=SimpleNamespace(exception=lambda *args: logged.append(args)))

    gunicorn_settings(monkeypatch).worker_exit(server, SimpleNamespace(pid=4321))

    counts = dict(
        FeedImpressionCount.objects.filter(day=timezone.localdate()).values_list(
            "list_type", "count"
        )
    )
    assert counts == {"personal": 3, "editorial": 1}
    assert logged == []
