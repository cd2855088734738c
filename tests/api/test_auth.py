"""API authentication and limits: tokens (verified email only, revocable), session auth with
CSRF on unsafe methods, throttles per address and per account, and the registry entry that
keeps tokens in every privacy flow."""

import pytest
from allauth.account.models import EmailAddress
from knox.models import AuthToken
from rest_framework.test import APIClient

from privacy.registry import category
from tests.factories import DEFAULT_PASSWORD

from .conftest import assert_error

pytestmark = pytest.mark.django_db


def test_token_for_a_verified_reader(api, verified_reader):
    response = api.post(
        "/api/v1/auth/token/",
        {"email": verified_reader.email, "password": DEFAULT_PASSWORD},
        format="json",
    )
    assert response.status_code == 200
    key = response.json()["token"]
    assert AuthToken.objects.filter(user=verified_reader).count() == 1
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/preferences/").status_code == 200


def test_asking_again_replaces_the_token(api, verified_reader):
    # The site keeps only a digest, so it cannot show a token twice: a new one replaces it.
    data = {"email": verified_reader.email, "password": DEFAULT_PASSWORD}
    first = api.post("/api/v1/auth/token/", data, format="json").json()["token"]
    second = api.post("/api/v1/auth/token/", data, format="json").json()["token"]
    assert second != first
    assert AuthToken.objects.filter(user=verified_reader).count() == 1
    old_app, new_app = APIClient(), APIClient()
    old_app.credentials(HTTP_AUTHORIZATION=f"Token {first}")
    new_app.credentials(HTTP_AUTHORIZATION=f"Token {second}")
    assert_error(old_app.get("/api/v1/preferences/"), 401, "authentication_failed")
    assert new_app.get("/api/v1/preferences/").status_code == 200


def test_unverified_address_gets_no_token(api, reader):
    assert not EmailAddress.objects.get(user=reader).verified  # signed up, never confirmed
    response = api.post(
        "/api/v1/auth/token/", {"email": reader.email, "password": DEFAULT_PASSWORD}, format="json"
    )
    error = assert_error(response, 403, "email_unverified")
    assert "Verify your email address" in error["message"]
    assert not AuthToken.objects.exists()


def test_wrong_password_and_unknown_address_get_the_same_answer(api, verified_reader):
    wrong = api.post(
        "/api/v1/auth/token/", {"email": verified_reader.email, "password": "nope"}, format="json"
    )
    unknown = api.post(
        "/api/v1/auth/token/", {"email": "ghost@example.org", "password": "nope"}, format="json"
    )
    assert assert_error(wrong, 401) == assert_error(unknown, 401)


def test_token_request_needs_both_fields(api):
    error = assert_error(api.post("/api/v1/auth/token/", {}, format="json"), 400, "invalid")
    assert set(error["fields"]) == {"email", "password"}


def test_revoked_token_stops_working(token_api):
    assert token_api.delete("/api/v1/auth/token/").status_code == 204
    assert not AuthToken.objects.exists()
    assert_error(token_api.get("/api/v1/preferences/"), 401, "authentication_failed")


def test_a_wrong_token_is_refused_even_on_public_endpoints(api, article):
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert_error(api.get("/api/v1/articles/"), 401, "authentication_failed")


def test_personal_endpoints_need_signing_in(api):
    for url in ("/api/v1/preferences/", "/api/v1/privacy/consents/", "/api/v1/privacy/history/"):
        assert_error(api.get(url), 401, "not_authenticated")


def test_session_requests_need_the_csrf_token_on_writes(session_api):
    assert session_api.get("/api/v1/preferences/").status_code == 200
    response = session_api.patch("/api/v1/preferences/", {"level": "off"}, format="json")
    error = assert_error(response, 403, "permission_denied")
    assert "CSRF" in error["message"]


def test_session_write_with_csrf_token_works(session_api):
    session_api.get("/api/v1/preferences/")
    from django.middleware.csrf import _get_new_csrf_string

    token = _get_new_csrf_string()
    session_api.cookies["csrftoken"] = token
    response = session_api.patch(
        "/api/v1/preferences/", {"level": "off"}, format="json", HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 200


def test_throttle_per_address(api, settings):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "address": "3/minute"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    for _ in range(3):
        assert api.get("/api/v1/topics/").status_code == 200
    response = api.get("/api/v1/topics/")
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0


def test_throttle_per_account_across_addresses(token_api, settings):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "account": "2/minute"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    assert token_api.get("/api/v1/topics/", REMOTE_ADDR="10.0.0.1").status_code == 200
    assert token_api.get("/api/v1/topics/", REMOTE_ADDR="10.0.0.2").status_code == 200
    assert_error(token_api.get("/api/v1/topics/", REMOTE_ADDR="10.0.0.3"), 429, "throttled")


def test_password_guessing_for_tokens_is_throttled(api, verified_reader, settings):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "password": "2/minute"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    data = {"email": verified_reader.email, "password": "guess"}
    for _ in range(2):
        assert api.post("/api/v1/auth/token/", data, format="json").status_code == 401
    data["password"] = DEFAULT_PASSWORD
    assert_error(api.post("/api/v1/auth/token/", data, format="json"), 429, "throttled")


def test_tokens_are_registered_personal_data_exported_without_the_key(token_api):
    rows = category("api_tokens").rows_for(user=token_api.user)
    assert len(rows) == 1
    assert set(rows[0]) == {"created"}
