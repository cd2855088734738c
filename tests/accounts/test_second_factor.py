"""A stolen password is not enough on any sign-in path when the reader has a second factor:
API tokens ask for the authenticator code (or a recovery code), checked by allauth's own
code, and the admin signs in only through allauth's login with its two-factor step."""

import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.urls import reverse
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.api.conftest import assert_error
from tests.factories import DEFAULT_PASSWORD, EditorFactory, verified_reader

from .conftest import ask_token, current_code, with_totp

pytestmark = pytest.mark.django_db


def test_a_reader_with_two_factor_gets_no_token_for_the_password_alone(frozen_clock):
    reader = verified_reader()
    with_totp(reader)

    response = ask_token(email=reader.email, password=DEFAULT_PASSWORD)

    error = assert_error(response, 401, "mfa_required")
    assert "code" in error["message"]
    assert not AuthToken.objects.exists()


def test_the_password_and_the_current_code_get_a_working_token(frozen_clock):
    reader = verified_reader()
    secret = with_totp(reader)

    response = ask_token(email=reader.email, password=DEFAULT_PASSWORD, code=current_code(secret))

    assert response.status_code == 200, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert client.get("/api/v1/preferences/").status_code == 200


def test_a_wrong_code_gets_no_token(frozen_clock):
    reader = verified_reader()
    secret = with_totp(reader)
    wrong = f"{(int(current_code(secret)) + 1) % 10**6:06d}"

    response = ask_token(email=reader.email, password=DEFAULT_PASSWORD, code=wrong)

    assert_error(response, 401, "mfa_code_invalid")
    assert not AuthToken.objects.exists()


def test_a_code_works_once(frozen_clock):
    reader = verified_reader()
    code = current_code(with_totp(reader))
    assert ask_token(email=reader.email, password=DEFAULT_PASSWORD, code=code).status_code == 200
    AuthToken.objects.all().delete()

    replay = ask_token(email=reader.email, password=DEFAULT_PASSWORD, code=code)

    assert_error(replay, 401, "mfa_code_invalid")
    assert not AuthToken.objects.exists()


def test_a_recovery_code_works_once_instead_of_the_app(frozen_clock):
    reader = verified_reader()
    with_totp(reader)
    recovery_code = RecoveryCodes.activate(reader).get_unused_codes()[0]

    first = ask_token(email=reader.email, password=DEFAULT_PASSWORD, code=recovery_code)
    assert first.status_code == 200, first.content
    AuthToken.objects.all().delete()
    again = ask_token(email=reader.email, password=DEFAULT_PASSWORD, code=recovery_code)
    assert_error(again, 401, "mfa_code_invalid")


def test_a_wrong_password_with_a_right_code_is_still_a_wrong_password(frozen_clock):
    reader = verified_reader()
    code = current_code(with_totp(reader))

    response = ask_token(email=reader.email, password="not-the-password", code=code)

    assert_error(response, 401, "authentication_failed")
    assert not AuthToken.objects.exists()


def test_a_reader_without_two_factor_needs_no_code():
    reader = verified_reader()
    assert ask_token(email=reader.email, password=DEFAULT_PASSWORD).status_code == 200


# --- The admin ----------------------------------------------------------------------------


@pytest.fixture
def editor_with_totp():
    editor = EditorFactory(email_verified=True)
    return editor, with_totp(editor)


def test_the_admin_login_does_not_sign_in_with_the_password_alone(
    client, editor_with_totp, frozen_clock
):
    editor, _ = editor_with_totp

    client.post(reverse("admin:login"), {"username": editor.email, "password": DEFAULT_PASSWORD})

    assert "_auth_user_id" not in client.session
    assert client.get(reverse("admin:index")).status_code == 302


def test_the_admin_signs_in_through_allauth_with_the_second_factor(
    client, editor_with_totp, frozen_clock
):
    editor, secret = editor_with_totp
    to_login = client.get(reverse("admin:login"))
    assert to_login.status_code == 302
    assert to_login["Location"].startswith(reverse("account_login"))

    password_step = client.post(
        to_login["Location"], {"login": editor.email, "password": DEFAULT_PASSWORD}
    )
    assert password_step["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session

    code_step = client.post(reverse("mfa_authenticate"), {"code": current_code(secret)})
    assert code_step.status_code == 302
    assert client.session["_auth_user_id"] == str(editor.pk)
    assert client.get(reverse("admin:index")).status_code == 200
