"""Password guessing is limited on every path that checks a password (API tokens, the sign-in
page the admin sends to, re-authentication for downloads, account erasure): per account and
per client address, with the address taken only from proxies the site trusts, and still when
the cache that holds the counts (Redis) is down."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings
from django.urls import reverse
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import api_token_issue
from privacy.exports import export_build, export_request_create
from privacy.reauth import SESSION_KEY
from tests.api.conftest import assert_error
from tests.conftest import DEAD_CACHE
from tests.factories import DEFAULT_PASSWORD, EditorFactory, verified_reader

pytestmark = pytest.mark.django_db

PROJECT_DIR = Path(__file__).resolve().parents[2]
TOKEN_URL = "/api/v1/auth/token/"
CONFIRM_URL = reverse("privacy:export_confirm_password")


def ask_token(email, password, **extra):
    return APIClient().post(TOKEN_URL, {"email": email, "password": password}, **extra)


@pytest.fixture
def password_rate(settings):
    """The API's per-request password throttle at `n` a minute."""

    def set_rate(n: int) -> None:
        rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "password": f"{n}/minute"}
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}

    return set_rate


# --- One trusted-proxy setting ------------------------------------------------------------


def test_one_setting_gives_every_limit_its_client_address(settings):
    assert settings.TRUSTED_PROXY_COUNT == 0  # the default: REMOTE_ADDR only
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == settings.TRUSTED_PROXY_COUNT
    assert settings.ALLAUTH_TRUSTED_PROXY_COUNT == settings.TRUSTED_PROXY_COUNT


def test_a_rotating_x_forwarded_for_does_not_escape_the_api_limit(password_rate):
    password_rate(2)
    for n in range(2):
        response = ask_token(f"guess{n}@example.org", "guess", HTTP_X_FORWARDED_FOR=f"10.9.0.{n}")
        assert response.status_code == 401
    response = ask_token("guess9@example.org", "guess", HTTP_X_FORWARDED_FOR="10.9.0.9")
    assert_error(response, 429, "throttled")


def test_the_proxy_count_comes_from_one_environment_variable():
    def settings_with(**env) -> subprocess.CompletedProcess:
        script = (
            "import django; django.setup(); from django.conf import settings as s; "
            "print(s.TRUSTED_PROXY_COUNT, s.ALLAUTH_TRUSTED_PROXY_COUNT, "
            "s.REST_FRAMEWORK['NUM_PROXIES'])"
        )
        dropped = {"TRUSTED_PROXY_COUNT", "API_NUM_PROXIES"}
        environment = {k: v for k, v in os.environ.items() if k not in dropped}
        environment.update(DJANGO_SETTINGS_MODULE="newsite.settings", DEBUG="1", **env)
        return subprocess.run(
            [sys.executable, "-c", script],
            cwd=PROJECT_DIR,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert settings_with(TRUSTED_PROXY_COUNT="2").stdout.split() == ["2", "2", "2"]
    # The old API-only variable is refused rather than silently ignored.
    renamed = settings_with(API_NUM_PROXIES="1")
    assert renamed.returncode != 0
    assert "TRUSTED_PROXY_COUNT" in renamed.stderr


@override_settings(ALLAUTH_TRUSTED_PROXY_COUNT=1)
def test_behind_a_trusted_proxy_the_address_it_added_is_counted(settings, password_rate):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    password_rate(2)
    # What the client wrote itself (left of the proxy's entry) changes nothing...
    for n in range(2):
        forwarded = f"1.2.3.{n}, 203.0.113.7"
        assert (
            ask_token(f"g{n}@example.org", "x", HTTP_X_FORWARDED_FOR=forwarded).status_code == 401
        )
    blocked = ask_token("g9@example.org", "x", HTTP_X_FORWARDED_FOR="1.2.3.9, 203.0.113.7")
    assert_error(blocked, 429, "throttled")
    # ...while another real client behind the same proxy has its own count.
    other = ask_token("g8@example.org", "x", HTTP_X_FORWARDED_FOR="203.0.113.8")
    assert other.status_code == 401


# --- Per account, across addresses ----------------------------------------------------------


def test_token_guessing_is_limited_per_account_across_addresses(settings):
    reader = verified_reader()
    for n in range(settings.PASSWORD_FAILURES_PER_ACCOUNT):
        response = ask_token(reader.email, f"guess-{n}", REMOTE_ADDR=f"10.1.0.{n}")
        assert response.status_code == 401
    # Even the right password, from yet another address, is refused for now.
    response = ask_token(reader.email, DEFAULT_PASSWORD, REMOTE_ADDR="10.1.0.99")
    error = assert_error(response, 429, "throttled")
    assert "Too many" in error["message"]
    assert int(response["Retry-After"]) > 0
    assert not AuthToken.objects.exists()


def test_token_guessing_is_limited_per_address_across_accounts(settings):
    settings.PASSWORD_FAILURES_PER_ADDRESS = 3
    settings.ACCOUNT_RATE_LIMITS = {
        **settings.ACCOUNT_RATE_LIMITS,
        "login_failed": f"3/600s/ip,{settings.PASSWORD_FAILURES_PER_ACCOUNT}/600s/key",
    }
    readers = [verified_reader() for _ in range(4)]
    for reader in readers[:3]:
        assert ask_token(reader.email, "guess").status_code == 401
    assert_error(ask_token(readers[3].email, DEFAULT_PASSWORD), 429, "throttled")


def test_the_sign_in_limit_is_per_account_whatever_the_host_header_says(client, settings):
    reader = verified_reader()
    for port in range(settings.PASSWORD_FAILURES_PER_ACCOUNT):
        client.post(
            reverse("account_login"),
            {"login": reader.email, "password": "guess"},
            HTTP_HOST=f"testserver:{8000 + port}",
            REMOTE_ADDR=f"10.2.0.{port}",
        )
    blocked = client.post(
        reverse("account_login"),
        {"login": reader.email, "password": DEFAULT_PASSWORD},
        HTTP_HOST="testserver:9999",
        REMOTE_ADDR="10.2.0.99",
    )
    assert "Too many failed login attempts" in str(blocked.context["form"].errors)
    assert "_auth_user_id" not in client.session


def test_admin_sign_in_goes_through_the_limited_sign_in(client, settings):
    editor = EditorFactory(email_verified=True)
    admin_login = reverse("admin:login")
    for _ in range(settings.PASSWORD_FAILURES_PER_ACCOUNT + 1):
        client.post(admin_login, {"username": editor.email, "password": "guess"})
    # The admin's own form checks no password: it sends to allauth's sign-in...
    response = client.post(admin_login, {"username": editor.email, "password": DEFAULT_PASSWORD})
    assert "_auth_user_id" not in client.session
    sign_in = response["Location"]
    assert sign_in.startswith(reverse("account_login"))
    # ...where guesses are counted per account.
    for _ in range(settings.PASSWORD_FAILURES_PER_ACCOUNT):
        client.post(sign_in, {"login": editor.email, "password": "guess"})
    blocked = client.post(sign_in, {"login": editor.email, "password": DEFAULT_PASSWORD})
    assert "Too many failed login attempts" in str(blocked.context["form"].errors)
    assert "_auth_user_id" not in client.session


def test_reauth_guessing_is_limited_per_address_too(client, settings):
    settings.PASSWORD_FAILURES_PER_ADDRESS = 3
    readers = [verified_reader() for _ in range(4)]
    for reader in readers[:3]:
        client.force_login(reader)
        assert client.post(CONFIRM_URL, {"password": "guess"}).status_code == 200
    client.force_login(readers[3])
    assert client.post(CONFIRM_URL, {"password": DEFAULT_PASSWORD}).status_code == 429
    assert SESSION_KEY not in client.session


def test_delete_account_guessing_is_limited(client, settings):
    reader = verified_reader()
    client.force_login(reader)
    url = reverse("privacy:delete_account")
    for _ in range(settings.PASSWORD_FAILURES_PER_ACCOUNT):
        response = client.post(url, {"password": "guess", "confirmation": "DELETE"})
        assert response.status_code == 200
    response = client.post(url, {"password": DEFAULT_PASSWORD, "confirmation": "DELETE"})
    assert response.status_code == 429
    assert "Too many wrong passwords" in response.content.decode()
    assert User.objects.filter(pk=reader.pk).exists()


# --- With the cache (Redis) down ---------------------------------------------------------


@pytest.fixture
def cache_down():
    with override_settings(CACHES=DEAD_CACHE):
        yield


def test_with_the_cache_down_no_token_is_issued_for_a_password(cache_down):
    reader = verified_reader()
    response = ask_token(reader.email, DEFAULT_PASSWORD)
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    assert not AuthToken.objects.exists()


def test_with_the_cache_down_the_download_password_page_refuses_to_check(client, cache_down):
    reader = verified_reader()
    client.force_login(reader)
    response = client.post(CONFIRM_URL, {"password": DEFAULT_PASSWORD})
    assert response.status_code == 429
    assert "try again later" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_with_the_cache_down_the_api_download_refuses_to_check(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    reader = verified_reader()
    export = export_request_create(user=reader)
    export_build(export_id=export.pk)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=reader).key}")
    url = f"/api/v1/privacy/exports/{export.pk}/download/"
    with override_settings(CACHES=DEAD_CACHE):
        response = client.get(url, HTTP_X_CONFIRM_PASSWORD=DEFAULT_PASSWORD)
    assert_error(response, 429, "throttled")
