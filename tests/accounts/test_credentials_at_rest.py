"""Credentials at rest (security audit #18, item 3): a copy of the database or a look at the
admin yields no credential. API tokens are stored as a digest only and still sign in; TOTP
secrets and recovery-code seeds are encrypted under a subkey of the master key and still
check codes; no admin page shows a token, a secret or a seed."""

import base64
import importlib
import os

import pytest
from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import (
    generate_totp_secret,
)
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.apps import apps
from django.contrib import admin
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.mfa_secrets import mfa_secrets_rewrap
from privacy.crypto import DecryptionFailed
from privacy.registry import category
from tests.api.conftest import assert_error
from tests.factories import DEFAULT_PASSWORD, AdminFactory, verified_reader

from .conftest import ask_token, current_code, with_totp

pytestmark = pytest.mark.django_db


def api_as(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def raw_rows(table: str) -> list[str]:
    """Every row of `table` as the database holds it, one text per row: what a dump shows."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
        return [" ".join(str(value) for value in row) for row in cursor.fetchall()]


def token_table() -> str:
    # Whatever model the registry's API-token category names: the row a dump would show.
    return category("api_tokens").main_model._meta.db_table


def authenticator_rows() -> str:
    return "\n".join(raw_rows(Authenticator._meta.db_table))


def new_master_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


# --- API tokens -----------------------------------------------------------------------------


def test_the_token_row_holds_no_token_and_the_token_still_signs_in():
    reader = verified_reader()

    response = ask_token(email=reader.email, password=DEFAULT_PASSWORD)

    assert response.status_code == 200, response.content
    token = response.json()["token"]
    rows = raw_rows(token_table())
    assert len(rows) == 1
    assert token not in rows[0]
    assert api_as(token).get("/api/v1/preferences/").status_code == 200


def test_a_token_is_shown_once_and_asking_again_replaces_it():
    reader = verified_reader()
    first = ask_token(email=reader.email, password=DEFAULT_PASSWORD).json()["token"]

    second = ask_token(email=reader.email, password=DEFAULT_PASSWORD).json()["token"]

    assert second != first
    assert len(raw_rows(token_table())) == 1
    assert_error(api_as(first).get("/api/v1/preferences/"), 401, "authentication_failed")
    assert api_as(second).get("/api/v1/preferences/").status_code == 200


def test_a_token_differing_only_after_its_lookup_prefix_is_refused():
    reader = verified_reader()
    token = ask_token(email=reader.email, password=DEFAULT_PASSWORD).json()["token"]
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")

    assert_error(api_as(forged).get("/api/v1/preferences/"), 401, "authentication_failed")


def test_the_schema_says_the_token_is_shown_once_and_replaced(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/auth/token/"]["post"]
    assert "shown in this answer only" in operation["description"]
    assert "earlier one stops working" in operation["description"]
    assert schema["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": 'Token-based authentication with required prefix "Token"',
    }


def test_plaintext_tokens_of_drf_authtoken_are_revoked_by_the_migration():
    migration = importlib.import_module("accounts.migrations.0006_revoke_plaintext_api_tokens")
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY)")
        cursor.execute("INSERT INTO authtoken_token VALUES ('9944b09199c62bcf9418ad846dd0e4bb')")

    migration.plaintext_tokens_drop(apps, connection.schema_editor())

    assert "authtoken_token" not in connection.introspection.table_names()


# --- Second factor ----------------------------------------------------------------------------


def test_the_totp_secret_is_encrypted_and_a_code_from_it_still_signs_in(client, frozen_clock):
    reader = verified_reader()
    secret = with_totp(reader)

    stored = Authenticator.objects.get(user=reader, type=Authenticator.Type.TOTP).data
    assert stored["secret"] != secret
    assert secret not in authenticator_rows()

    password_step = client.post(
        reverse("account_login"), {"login": reader.email, "password": DEFAULT_PASSWORD}
    )
    assert password_step["Location"] == reverse("mfa_authenticate")
    code_step = client.post(reverse("mfa_authenticate"), {"code": current_code(secret)})
    assert code_step.status_code == 302
    assert client.session["_auth_user_id"] == str(reader.pk)


def test_a_code_from_the_real_secret_still_gets_an_api_token(frozen_clock):
    reader = verified_reader()
    secret = with_totp(reader)

    response = ask_token(email=reader.email, password=DEFAULT_PASSWORD, code=current_code(secret))

    assert response.status_code == 200, response.content


def test_the_recovery_seed_is_encrypted_and_a_recovery_code_still_works(frozen_clock):
    reader = verified_reader()
    with_totp(reader)
    codes = RecoveryCodes.activate(reader)
    seed = get_mfa_adapter().decrypt(codes.instance.data["seed"])

    stored = authenticator_rows()
    assert seed not in stored
    for code in codes.get_unused_codes():
        assert code not in stored
    recovery_code = codes.get_unused_codes()[0]
    response = ask_token(email=reader.email, password=DEFAULT_PASSWORD, code=recovery_code)
    assert response.status_code == 200, response.content


def test_the_subkey_is_not_the_master_key(settings):
    sealed = get_mfa_adapter().encrypt("JBSWY3DPEHPK3PXP")
    raw = base64.urlsafe_b64decode(sealed.split("$")[2])
    master_key = base64.urlsafe_b64decode(settings.NEWSITE_MASTER_KEY)
    with pytest.raises(InvalidTag):
        AESGCM(master_key).decrypt(raw[:12], raw[12:], b"mfa.Authenticator.data")


def test_a_plain_or_altered_secret_is_refused_not_passed_through():
    adapter = get_mfa_adapter()
    sealed = adapter.encrypt("JBSWY3DPEHPK3PXP")
    body = sealed.split("$")[2]
    altered = sealed[: -len(body)] + ("A" if body[0] != "A" else "B") + body[1:]

    with pytest.raises(DecryptionFailed):
        adapter.decrypt("JBSWY3DPEHPK3PXP")
    with pytest.raises(DecryptionFailed):
        adapter.decrypt(altered)


def test_the_migration_encrypts_secrets_stored_in_plain_text(frozen_clock):
    migration = importlib.import_module("accounts.migrations.0007_encrypt_mfa_secrets")
    reader = verified_reader()
    secret = generate_totp_secret()
    seed = RecoveryCodes.generate_seed()
    # As allauth stored them before the site's adapter encrypted them.
    Authenticator.objects.create(user=reader, type="totp", data={"secret": secret})
    Authenticator.objects.create(
        user=reader, type="recovery_codes", data={"seed": seed, "used_mask": 0}
    )

    migration.secrets_seal(apps, None)
    migration.secrets_seal(apps, None)  # a second run changes nothing

    stored = authenticator_rows()
    assert secret not in stored
    assert seed not in stored
    response = ask_token(email=reader.email, password=DEFAULT_PASSWORD, code=current_code(secret))
    assert response.status_code == 200, response.content


def test_secrets_survive_a_master_key_rotation(settings, frozen_clock):
    reader = verified_reader()
    secret = with_totp(reader)
    old_key = settings.NEWSITE_MASTER_KEY
    settings.NEWSITE_MASTER_KEY = new_master_key()
    settings.NEWSITE_OLD_MASTER_KEYS = [old_key]
    before = authenticator_rows()

    assert mfa_secrets_rewrap(authenticators=Authenticator.objects.all()) == 1
    assert authenticator_rows() != before
    settings.NEWSITE_OLD_MASTER_KEYS = []  # the old key retired after the rotation

    response = ask_token(email=reader.email, password=DEFAULT_PASSWORD, code=current_code(secret))
    assert response.status_code == 200, response.content


def test_the_rotation_command_reseals_two_factor_secrets_so_the_old_key_can_go(
    settings, frozen_clock
):
    from io import StringIO

    from django.core.management import call_command

    reader = verified_reader()
    secret = with_totp(reader)
    old_key = settings.NEWSITE_MASTER_KEY
    settings.NEWSITE_MASTER_KEY = new_master_key()
    settings.NEWSITE_OLD_MASTER_KEYS = [old_key]
    before = authenticator_rows()

    call_command("rotate_master_key", stdout=StringIO())
    assert authenticator_rows() != before
    settings.NEWSITE_OLD_MASTER_KEYS = []  # what the operator does once the command is done

    response = ask_token(email=reader.email, password=DEFAULT_PASSWORD, code=current_code(secret))
    assert response.status_code == 200, response.content


# --- The admin --------------------------------------------------------------------------------


@pytest.fixture
def credentials(frozen_clock):
    """A reader with an API token, an authenticator app and recovery codes; every secret."""
    reader = verified_reader()
    secret = with_totp(reader)
    codes = RecoveryCodes.activate(reader)
    token = ask_token(
        email=reader.email, password=DEFAULT_PASSWORD, code=current_code(secret)
    ).json()["token"]
    sealed = [
        value
        for row in Authenticator.objects.filter(user=reader)
        for value in row.data.values()
        if isinstance(value, str)
    ]
    secrets = {
        "token": token,
        "token lookup prefix": token[:15],
        "TOTP secret": secret,
        "recovery seed": get_mfa_adapter().decrypt(codes.instance.data["seed"]),
        **{f"recovery code {i}": code for i, code in enumerate(codes.get_unused_codes())},
        **{f"stored data {i}": value for i, value in enumerate(sealed)},
    }
    return reader, secrets


def admin_pages(reader) -> list[str]:
    """The changelist, change, delete and history pages of every credential model the admin
    has (those of the registry's API-token and second-factor categories), and the reader's
    own account pages (whose delete page lists their credentials)."""
    pages = [reverse("admin:index")]
    for key in ("api_tokens", "two_factor"):
        entry = category(key)
        shown = [
            model
            for model in (apps.get_model(label) for label in entry.models)
            if admin.site.is_registered(model)
        ]
        assert shown, f"no admin for the category {key}"
        for model in shown:
            info = (model._meta.app_label, model._meta.model_name)
            pages.append(reverse("admin:{}_{}_changelist".format(*info)))
            own = model._default_manager.filter(**{entry.user_path: reader.pk})
            for pk in own.values_list("pk", flat=True):
                for page in ("change", "delete", "history"):
                    pages.append(reverse(f"admin:{info[0]}_{info[1]}_{page}", args=[pk]))
    user_info = (reader._meta.app_label, reader._meta.model_name)
    pages.append(reverse("admin:{}_{}_change".format(*user_info), args=[reader.pk]))
    pages.append(reverse("admin:{}_{}_delete".format(*user_info), args=[reader.pk]))
    return pages


def test_no_admin_page_shows_a_credential(client, credentials):
    reader, secrets = credentials
    client.force_login(AdminFactory())

    pages = admin_pages(reader)

    assert len(pages) >= 11  # index, 2 changelists, 3 token and 6 authenticator pages...
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        for what, value in secrets.items():
            assert value not in html, f"{url} shows the {what}"


def test_the_admin_cannot_add_or_edit_a_credential(client, credentials):
    reader, _ = credentials
    client.force_login(AdminFactory())
    for model in (category("api_tokens").main_model, Authenticator):
        info = (model._meta.app_label, model._meta.model_name)
        assert client.get(reverse("admin:{}_{}_add".format(*info))).status_code == 403
