"""Shared helpers of the accounts tests: a frozen clock, an authenticator app as allauth
stores it, its current code, and a token request."""

import time
from datetime import UTC, datetime

import pytest
import time_machine
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from rest_framework.test import APIClient

TOKEN_URL = "/api/v1/auth/token/"
NOW = datetime(2026, 11, 23, 9, 0, 7, tzinfo=UTC)


@pytest.fixture
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def with_totp(user) -> str:
    """Turn on an authenticator app for `user` as allauth stores it; returns its secret."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def current_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // mfa_settings.TOTP_PERIOD))


def ask_token(**data):
    return APIClient().post(TOKEN_URL, data, format="json")
