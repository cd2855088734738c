"""Preferences and every privacy right through the API: consents with notice checks and
GPC/DNT, reading history, copies of one's data with re-authentication, account erasure and
the public policy versions; nobody reaches another reader's data."""

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from knox.models import AuthToken

from accounts.models import Preferences
from accounts.services import preferences_set_level, preferences_set_topics
from privacy import services as privacy_services
from privacy.browser_signals import NO_SIGNALS
from privacy.exports import export_build, export_request_create
from privacy.models import ConsentRecord, ExportRequest, PolicyVersion, ReadingHistoryEntry
from privacy.purposes import DIGEST, READING_HISTORY
from privacy.services import read_store
from tests.factories import DEFAULT_PASSWORD, ArticleFactory, ReaderFactory, TopicFactory

from .conftest import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"


# --- Preferences --------------------------------------------------------------------------


def test_preferences_start_empty_and_off(token_api):
    body = token_api.get("/api/v1/preferences/").json()
    assert body["level"] == "off"
    assert body["topics"] == [] and body["blocked_topics"] == []
    assert body["level_explanation"]


def test_patch_topics_blocked_and_level(token_api):
    TopicFactory(name="Science", slug="science")
    TopicFactory(name="Sport", slug="sport")
    response = token_api.patch(
        "/api/v1/preferences/",
        {"topics": ["science"], "blocked_topics": ["sport"], "level": "topics"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["level"] == "topics"
    assert body["topics"] == [{"slug": "science", "name": "Science", "weight": 1.0}]
    assert body["blocked_topics"] == [{"slug": "sport", "name": "Sport"}]
    # Only the level changes; topics stay.
    body = token_api.patch("/api/v1/preferences/", {"level": "off"}, format="json").json()
    assert body["level"] == "off" and body["topics"][0]["slug"] == "science"


def test_level_on_without_topics_is_refused_and_changes_nothing(token_api):
    response = token_api.patch("/api/v1/preferences/", {"level": "topics"}, format="json")
    error = assert_error(response, 400, "invalid")
    assert "topic" in error["message"]
    assert token_api.get("/api/v1/preferences/").json()["level"] == "off"


def test_a_topic_both_followed_and_blocked_is_refused(token_api):
    TopicFactory(slug="science")
    response = token_api.patch(
        "/api/v1/preferences/",
        {"topics": ["science"], "blocked_topics": ["science"], "level": "topics"},
        format="json",
    )
    assert_error(response, 400)
    assert not Preferences.objects.filter(user=token_api.user, level="topics").exists()


def test_unknown_topic_and_level_are_field_errors(token_api):
    response = token_api.patch(
        "/api/v1/preferences/", {"topics": ["nope"], "level": "max"}, format="json"
    )
    error = assert_error(response, 400, "invalid")
    assert set(error["fields"]) == {"topics", "level"}


def test_top_level_records_the_reading_history_consent_with_gpc_noted(token_api):
    TopicFactory(slug="science")
    token_api.patch(
        "/api/v1/preferences/",
        {"topics": ["science"], "level": "topics_history"},
        format="json",
        HTTP_SEC_GPC="1",
    )
    receipt = ConsentRecord.objects.get(user=token_api.user, purpose=READING_HISTORY.key)
    assert receipt.granted and receipt.browser_signal
    assert receipt.source == ConsentRecord.Source.PREFERENCES
    assert Preferences.objects.get(user=token_api.user).browser_signal_seen_at is not None


# --- Consents -----------------------------------------------------------------------------


def test_consents_list_every_purpose_with_its_notice_hash(token_api):
    body = token_api.get("/api/v1/privacy/consents/").json()
    digest = next(p for p in body["purposes"] if p["purpose"] == DIGEST.key)
    assert digest == {
        "purpose": DIGEST.key,
        "title": DIGEST.title,
        "granted": False,
        "notice": DIGEST.notice,
        "notice_sha256": DIGEST.notice_sha256,
    }
    assert body["receipts"] == []


def test_turning_a_purpose_on_and_off_leaves_receipts(token_api):
    change = {"purpose": DIGEST.key, "granted": True, "notice_sha256": DIGEST.notice_sha256}
    body = token_api.post("/api/v1/privacy/consents/", change, format="json").json()
    assert next(p for p in body["purposes"] if p["purpose"] == DIGEST.key)["granted"] is True
    assert body["receipts"][0]["granted"] is True
    assert body["receipts"][0]["source"] == "privacy_center"
    change["granted"] = False
    body = token_api.post("/api/v1/privacy/consents/", change, format="json").json()
    assert [r["granted"] for r in body["receipts"]] == [False, True]


def test_stale_or_forged_notice_is_refused_and_records_nothing(token_api):
    change = {"purpose": DIGEST.key, "granted": True, "notice_sha256": "0" * 64}
    response = token_api.post("/api/v1/privacy/consents/", change, format="json")
    assert_error(response, 400, "stale_notice")
    change["notice_sha256"] = "not a hash"
    error = assert_error(token_api.post("/api/v1/privacy/consents/", change, format="json"), 400)
    assert "notice_sha256" in error["fields"]
    assert not ConsentRecord.objects.exists()


def test_unknown_purpose_is_a_field_error(token_api):
    change = {"purpose": "selling", "granted": True, "notice_sha256": "0" * 64}
    error = assert_error(token_api.post("/api/v1/privacy/consents/", change, format="json"), 400)
    assert "purpose" in error["fields"]


def test_grant_under_gpc_is_an_explicit_opt_in_receipt(token_api):
    change = {"purpose": DIGEST.key, "granted": True, "notice_sha256": DIGEST.notice_sha256}
    body = token_api.post(
        "/api/v1/privacy/consents/", change, format="json", HTTP_SEC_GPC="1"
    ).json()
    assert body["browser_signal"] is True
    assert body["receipts"][0]["browser_signal"] is True


def test_reading_history_purpose_sets_the_top_level(token_api):
    topic = TopicFactory()
    preferences_set_topics(user=token_api.user, topic_ids=[topic.pk])
    change = {
        "purpose": READING_HISTORY.key,
        "granted": True,
        "notice_sha256": READING_HISTORY.notice_sha256,
    }
    assert token_api.post("/api/v1/privacy/consents/", change, format="json").status_code == 200
    assert Preferences.objects.get(user=token_api.user).level == "topics_history"


# --- Reading history ----------------------------------------------------------------------


def _read(user, article, minutes_ago=0):
    read_store(
        user_id=user.pk,
        article_id=article.pk,
        read_at=(timezone.now() - timedelta(minutes=minutes_ago)).isoformat(),
    )


@pytest.fixture
def history_reader(token_api):
    topic = TopicFactory()
    preferences_set_topics(user=token_api.user, topic_ids=[topic.pk])
    preferences_set_level(
        user=token_api.user, level="topics_history", source="preferences", signals=NO_SIGNALS
    )
    return token_api


def test_history_lists_own_reads_newest_first(history_reader):
    older, newer = ArticleFactory(slug="older"), ArticleFactory(slug="newer")
    _read(history_reader.user, older, minutes_ago=5)
    _read(history_reader.user, newer)
    body = history_reader.get("/api/v1/privacy/history/").json()
    assert [item["article"]["slug"] for item in body["results"]] == ["newer", "older"]


def test_delete_one_entry_and_someone_elses_is_404(history_reader):
    _read(history_reader.user, ArticleFactory())
    other = ReaderFactory()
    topic = TopicFactory()
    preferences_set_topics(user=other, topic_ids=[topic.pk])
    preferences_set_level(
        user=other, level="topics_history", source="preferences", signals=NO_SIGNALS
    )
    _read(other, ArticleFactory())
    mine = ReadingHistoryEntry.objects.get(user=history_reader.user)
    theirs = ReadingHistoryEntry.objects.get(user=other)
    assert_error(history_reader.delete(f"/api/v1/privacy/history/{theirs.pk}/"), 404, "not_found")
    assert ReadingHistoryEntry.objects.filter(pk=theirs.pk).exists()
    assert history_reader.delete(f"/api/v1/privacy/history/{mine.pk}/").status_code == 204
    assert not ReadingHistoryEntry.objects.filter(pk=mine.pk).exists()
    assert_error(history_reader.delete(f"/api/v1/privacy/history/{mine.pk}/"), 404)


def test_clear_history(history_reader):
    _read(history_reader.user, ArticleFactory(), minutes_ago=1)
    _read(history_reader.user, ArticleFactory())
    assert history_reader.delete("/api/v1/privacy/history/").json() == {"deleted": 2}
    assert not ReadingHistoryEntry.objects.filter(user=history_reader.user).exists()


# --- Copies of one's data -----------------------------------------------------------------


def test_ask_for_a_copy_then_follow_its_status(token_api):
    response = token_api.post("/api/v1/privacy/exports/")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending" and body["download_url"] is None
    status = token_api.get(f"/api/v1/privacy/exports/{body['id']}/").json()
    assert status["id"] == body["id"]
    assert [e["id"] for e in token_api.get("/api/v1/privacy/exports/").json()] == [body["id"]]


def test_second_request_while_building_is_a_conflict(token_api):
    token_api.post("/api/v1/privacy/exports/")
    assert_error(token_api.post("/api/v1/privacy/exports/"), 409, "export_active")


def test_someone_elses_export_is_404(token_api):
    theirs = export_request_create(user=ReaderFactory())
    assert_error(token_api.get(f"/api/v1/privacy/exports/{theirs.pk}/"), 404, "not_found")
    assert_error(token_api.get(f"/api/v1/privacy/exports/{theirs.pk}/download/"), 404)
    assert_error(token_api.get(f"/api/v1/privacy/exports/{uuid.uuid4()}/"), 404)


@pytest.fixture
def ready_export(token_api):
    export = export_request_create(user=token_api.user)
    export_build(export_id=export.pk)
    return ExportRequest.objects.get(pk=export.pk)


def test_download_needs_the_password(token_api, ready_export):
    url = f"/api/v1/privacy/exports/{ready_export.pk}/download/"
    assert_error(token_api.get(url), 403, "reauth_required")
    assert_error(token_api.get(url, HTTP_X_CONFIRM_PASSWORD="wrong"), 403, "wrong_password")
    response = token_api.get(url, HTTP_X_CONFIRM_PASSWORD=DEFAULT_PASSWORD)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Cache-Control"] == "no-store"
    assert b"".join(response.streaming_content)[:2] == b"PK"


def test_session_client_confirms_the_password_once(session_api, ready_export):
    from django.middleware.csrf import _get_new_csrf_string

    csrf = _get_new_csrf_string()
    session_api.cookies["csrftoken"] = csrf
    url = f"/api/v1/privacy/exports/{ready_export.pk}/download/"
    assert_error(session_api.get(url), 403, "reauth_required")
    wrong = session_api.post(
        "/api/v1/privacy/reauth/", {"password": "nope"}, format="json", HTTP_X_CSRFTOKEN=csrf
    )
    assert "password" in assert_error(wrong, 400)["fields"]
    confirmed = session_api.post(
        "/api/v1/privacy/reauth/",
        {"password": DEFAULT_PASSWORD},
        format="json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert confirmed.status_code == 200
    assert session_api.get(url).status_code == 200


def test_too_many_wrong_passwords_stop_the_checks(token_api, ready_export):
    url = f"/api/v1/privacy/exports/{ready_export.pk}/download/"
    for _ in range(5):
        token_api.get(url, HTTP_X_CONFIRM_PASSWORD="wrong")
    assert_error(token_api.get(url, HTTP_X_CONFIRM_PASSWORD=DEFAULT_PASSWORD), 429, "throttled")


def test_expired_copy_is_gone_and_unbuilt_is_a_conflict(token_api, ready_export):
    ExportRequest.objects.filter(pk=ready_export.pk).update(expires_at=timezone.now())
    url = f"/api/v1/privacy/exports/{ready_export.pk}/download/"
    assert_error(token_api.get(url, HTTP_X_CONFIRM_PASSWORD=DEFAULT_PASSWORD), 410, "gone")
    ExportRequest.objects.filter(pk=ready_export.pk).update(status="expired")
    pending = export_request_create(user=token_api.user)
    assert_error(token_api.get(f"/api/v1/privacy/exports/{pending.pk}/download/"), 409, "not_ready")


# --- Erasure ------------------------------------------------------------------------------


def test_erasure_needs_password_and_the_word(token_api):
    user = token_api.user
    response = token_api.post(
        "/api/v1/account/erase/",
        {"password": "wrong", "confirmation": "DELETE"},
        format="json",
    )
    assert "password" in assert_error(response, 400, "invalid")["message"]
    response = token_api.post(
        "/api/v1/account/erase/",
        {"password": DEFAULT_PASSWORD, "confirmation": "delete please"},
        format="json",
    )
    assert_error(response, 400)
    assert get_user_model().objects.filter(pk=user.pk).exists()


def test_erasure_removes_the_account_and_its_token(token_api):
    user_id = token_api.user.pk
    response = token_api.post(
        "/api/v1/account/erase/",
        {"password": DEFAULT_PASSWORD, "confirmation": "DELETE"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["erased"]["API tokens"] == 1
    assert not any(body["remaining"].values())
    assert not get_user_model().objects.filter(pk=user_id).exists()
    assert not AuthToken.objects.exists()
    assert_error(token_api.get("/api/v1/preferences/"), 401)


# --- Policy versions ----------------------------------------------------------------------


def _publish(version: str, *, text: str, when=None) -> PolicyVersion:
    draft = privacy_services.policy_draft_save(
        draft=PolicyVersion(
            version=version, summary_of_changes="Changes.", full_text=text, takes_effect_at=when
        )
    )
    return privacy_services.policy_publish(policy=draft)


def test_policies_are_public_and_drafts_and_scheduled_ones_hidden(api):
    _publish("2026-12-01", text="We collect little.")
    _publish("2099-01-01", text="Not yet.", when=timezone.now() + timedelta(days=30))
    privacy_services.policy_draft_save(
        draft=PolicyVersion(version="draft", summary_of_changes="x", full_text="Unfinished.")
    )
    listed = api.get("/api/v1/privacy/policies/").json()
    versions = [p["version"] for p in listed]
    assert versions == ["2026-12-01", "2026-11-01"]  # newest first; nothing unpublished
    newest = listed[0]
    assert newest["takes_effect_at"] >= newest["published_at"]
    assert newest["changed_purposes"] == [] and newest["changes_purposes"] is False
    assert api.get("/api/v1/privacy/policies/2026-12-01/").json()["full_text"]
    assert_error(api.get("/api/v1/privacy/policies/2099-01-01/"), 404)
    assert_error(api.get("/api/v1/privacy/policies/draft/"), 404)


def test_consents_say_what_to_confirm_again_and_what_changed(session_api, settings):
    from tests.factories import reader_choices

    reader_choices(session_api.user, counting=True)
    settings.PRIVACY_SIGNAL_RETENTION_HOURS = 24
    _publish("2026-12-01", text="Counting entries go sooner.")
    body = session_api.get("/api/v1/privacy/consents/").json()
    assert body["to_reconfirm"] == ["popular_counting"]
    granted = {p["purpose"]: p["granted"] for p in body["purposes"]}
    assert granted["popular_counting"] is False and granted["reading_history"] is True
    [change] = body["changes"]
    assert change["purpose"] == "popular_counting" and change["version"] == "2026-12-01"
    assert {"kind": "removed", "text": "48"} in change["diff"]
    assert {"kind": "added", "text": "24"} in change["diff"]
    assert change["rewordings"][0]["after"].endswith("within 24 hours. If it stays…")
