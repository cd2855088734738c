"""Fixtures of the API tests: clients signed in by token or by session, as apps and the site's
own pages are."""

import pytest
from allauth.account.models import EmailAddress
from rest_framework.test import APIClient

from accounts.services import api_token_issue


@pytest.fixture
def api():
    """An anonymous client that checks CSRF like a browser's session would be checked."""
    return APIClient(enforce_csrf_checks=True)


@pytest.fixture
def verified_reader(reader):
    EmailAddress.objects.filter(user=reader).update(verified=True)
    return reader


@pytest.fixture
def token_api(verified_reader):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=verified_reader).key}")
    client.user = verified_reader
    return client


@pytest.fixture
def session_api(verified_reader):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(verified_reader)
    client.user = verified_reader
    return client


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The one error format, with the expected status (and code, when given)."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]
