"""Hashing a password costs about a second of one core, so the site caps how many hashes run
at once, across every worker: a sign-in beyond the cap is answered 429 with Retry-After (and
signs no one in) instead of queueing up behind the others and taking the cores from the pages.
Held slots are shared through Redis; a worker that dies mid-hash frees its slot when the lease
ends; with Redis down each process still counts its own (closed, not open)."""

import os
import threading
import time
import uuid

import pytest
import redis
from django.contrib.auth.hashers import PBKDF2PasswordHasher, check_password
from django.core.cache import cache
from django.urls import reverse
from rest_framework.test import APIClient

from common.password_slots import (
    SLOT_LEASE_SECONDS,
    SLOTS_KEY,
    PasswordChecksBusy,
    password_hash_slot,
)
from privacy.reauth import SESSION_KEY
from tests.api.conftest import assert_error
from tests.conftest import DEAD_CACHE, redis_url_for_tests
from tests.factories import DEFAULT_PASSWORD, verified_reader

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
REDIS_SLOTS = redis_url_for_tests(os.environ.get("TEST_CACHE_REDIS_DB", "15"))


@pytest.fixture
def one_slot(settings):
    settings.PASSWORD_HASH_SLOTS = 1
    settings.PASSWORD_HASH_WAIT_SECONDS = 0.2
    settings.PASSWORD_HASH_RETRY_AFTER_SECONDS = 3


@pytest.fixture
def reader(db):
    """Made before any slot is taken elsewhere: making an account hashes its password."""
    return verified_reader()


@pytest.fixture
def slot_taken_elsewhere(reader):
    """Another request (a thread here, as in a threaded worker) busy hashing a password."""
    taken, release = threading.Event(), threading.Event()

    def hash_slowly():
        with password_hash_slot():
            taken.set()
            release.wait(10)

    worker = threading.Thread(target=hash_slowly)
    worker.start()
    assert taken.wait(5)
    yield release
    release.set()
    worker.join(5)


@pytest.fixture
def redis_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_SLOTS,
            "KEY_PREFIX": "test-password-slots",
            "OPTIONS": {"IGNORE_EXCEPTIONS": True},
        }
    }
    client = redis.Redis.from_url(REDIS_SLOTS)
    try:
        client.ping()
    except redis.RedisError as error:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"Redis is required but unreachable: {error}")
        pytest.skip(f"Redis is not running here ({error}).")
    cache.clear()
    yield client
    cache.clear()


def sign_in(client, email: str):
    return client.post(reverse("account_login"), {"login": email, "password": DEFAULT_PASSWORD})


def test_a_sign_in_beyond_the_cap_is_refused_with_retry_after_and_signs_no_one_in(
    reader, client, one_slot, slot_taken_elsewhere
):
    response = sign_in(client, reader.email)
    assert response.status_code == 429
    assert response["Retry-After"] == "3"
    assert "try again in a few seconds" in response.content.decode()
    assert "_auth_user_id" not in client.session

    slot_taken_elsewhere.set()  # the other hash finished
    time.sleep(0.05)
    response = sign_in(client, reader.email)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(reader.pk)


def test_the_api_token_endpoint_answers_busy_in_the_api_format(
    reader, one_slot, slot_taken_elsewhere
):
    response = APIClient().post(TOKEN_URL, {"email": reader.email, "password": DEFAULT_PASSWORD})
    assert_error(response, 429, "busy")
    assert response["Retry-After"] == "3"
    assert "token" not in response.json()


def test_an_unknown_account_costs_a_slot_too(one_slot, slot_taken_elsewhere):
    """The dummy hash Django computes for an unknown address (so timing does not tell accounts
    apart) is capped like any other: made-up addresses cannot flood the cores either."""
    response = APIClient().post(TOKEN_URL, {"email": "nobody@example.org", "password": "x" * 12})
    assert_error(response, 429, "busy")


def test_a_hash_waits_briefly_for_a_slot_rather_than_refusing_at_once(reader, settings, one_slot):
    settings.PASSWORD_HASH_WAIT_SECONDS = 2
    taken = threading.Event()

    def short_hash():
        with password_hash_slot():
            taken.set()
            time.sleep(0.3)

    worker = threading.Thread(target=short_hash)
    worker.start()
    assert taken.wait(5)
    assert reader.check_password(DEFAULT_PASSWORD)  # waited for the slot, then checked
    worker.join(5)


def test_slots_are_shared_by_every_worker_through_redis(reader, redis_cache, one_slot):
    """A slot held by another worker process (its lease in Redis) counts against the cap."""
    key = cache.make_key(SLOTS_KEY)
    other_worker = uuid.uuid4().hex
    redis_cache.zadd(key, {other_worker: time.time() + SLOT_LEASE_SECONDS})
    with pytest.raises(PasswordChecksBusy):
        reader.check_password(DEFAULT_PASSWORD)

    redis_cache.zrem(key, other_worker)
    assert reader.check_password(DEFAULT_PASSWORD)
    assert redis_cache.zcard(key) == 0  # given back after the check


def test_a_worker_that_died_mid_hash_frees_its_slot_when_the_lease_ends(
    reader, redis_cache, one_slot
):
    key = cache.make_key(SLOTS_KEY)
    redis_cache.zadd(key, {"killed-worker": time.time() - 1})  # its lease ran out
    assert reader.check_password(DEFAULT_PASSWORD)
    assert redis_cache.zcard(key) == 0


@pytest.fixture
def redis_down(settings):
    settings.CACHES = DEAD_CACHE


def test_with_redis_down_a_free_slot_is_still_taken_and_given_back(reader, redis_down, one_slot):
    assert reader.check_password(DEFAULT_PASSWORD)
    assert reader.check_password(DEFAULT_PASSWORD)  # the first check gave its slot back


def test_with_redis_down_each_process_still_holds_the_cap(
    reader, redis_down, one_slot, slot_taken_elsewhere
):
    with pytest.raises(PasswordChecksBusy):
        reader.check_password(DEFAULT_PASSWORD)


def test_the_production_hasher_is_capped_and_verifies_existing_hashes(
    settings, one_slot, slot_taken_elsewhere
):
    """The capped hasher keeps Django's algorithm name, so passwords stored before it still
    verify (and nothing needs rehashing); it waits for a slot like the tests' own."""
    settings.PASSWORD_HASHERS = ["common.password_slots.SlotLimitedPBKDF2PasswordHasher"]
    stored_before = PBKDF2PasswordHasher().encode("an old password", "saltsaltsalt", 1000)
    with pytest.raises(PasswordChecksBusy):
        check_password("an old password", stored_before)
    slot_taken_elsewhere.set()
    time.sleep(0.05)
    assert check_password("an old password", stored_before)
    assert not check_password("a wrong password", stored_before)


def test_confirming_the_password_for_a_download_is_capped_too(
    client, reader, one_slot, slot_taken_elsewhere
):
    client.force_login(reader)
    response = client.post(
        reverse("privacy:export_confirm_password"), {"password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 429
    assert response["Retry-After"] == "3"
    assert SESSION_KEY not in client.session  # not confirmed
