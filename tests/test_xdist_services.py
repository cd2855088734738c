"""`make test` runs the suite on several pytest-xdist workers: none may empty or read another's
Redis databases or PostgreSQL test databases."""

import os
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connections

from newsite.celery import app as celery_app
from tests.xdist_services import is_redis, worker_environments

CI = {"CELERY_BROKER_URL": "redis://127.0.0.1:6379/0"}


def databases_of(environment: dict[str, str]) -> set[int]:
    """Every Redis database a worker with this environment flushes or reads."""
    found = {int(environment["TEST_CACHE_REDIS_DB"]), int(environment["TEST_SCRATCH_REDIS_DB"])}
    for variable in ("CELERY_BROKER_URL", "CACHE_URL"):
        if variable in environment:
            found.add(int(urlsplit(environment[variable]).path.strip("/")))
    return found


@pytest.mark.parametrize("workers", [1, 2, 3, 4])
def test_each_worker_has_redis_databases_no_other_worker_touches(workers):
    environments = worker_environments(CI, workers=workers)
    assert len(environments) == workers
    seen: set[int] = set()
    for environment in environments:
        mine = databases_of(environment)
        assert len(mine) == 3 and not mine & seen
        seen |= mine
    # The first keeps the run's own databases: one worker runs as one process does.
    assert environments[0] == {
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "TEST_CACHE_REDIS_DB": "15",
        "TEST_SCRATCH_REDIS_DB": "14",
    }


def test_a_redis_cache_gets_a_database_per_worker_too():
    run = {**CI, "CACHE_URL": "redis://127.0.0.1:6379/1?key_prefix=site"}
    first, second = worker_environments(run, workers=2)
    assert first["CACHE_URL"] == "redis://127.0.0.1:6379/1?key_prefix=site"
    assert second["CACHE_URL"] == "redis://127.0.0.1:6379/9?key_prefix=site"
    assert second["CELERY_BROKER_URL"] == "redis://127.0.0.1:6379/8"
    assert not databases_of(first) & databases_of(second)


def test_the_readmes_services_fit_four_workers_on_one_redis():
    run = {**CI, "CACHE_URL": "redis://127.0.0.1:6379/1"}
    environments = worker_environments(run, workers=4)
    assert set().union(*map(databases_of, environments)) == set(range(16))


def test_a_second_run_on_the_same_server_keeps_apart_by_naming_other_databases():
    first_run = worker_environments(CI, workers=2)
    second_run = worker_environments(
        {
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/2",
            "TEST_CACHE_REDIS_DB": "3",
            "TEST_SCRATCH_REDIS_DB": "4",
        },
        workers=2,
    )
    first = set().union(*map(databases_of, first_run))
    second = set().union(*map(databases_of, second_run))
    assert len(first) == len(second) == 6 and not first & second


def test_databases_on_another_server_do_not_count_as_shared():
    run = {**CI, "CACHE_URL": "redis://127.0.0.1:6380/13"}
    assert worker_environments(run, workers=2)[1]["CACHE_URL"] == "redis://127.0.0.1:6380/5"


def test_a_run_whose_workers_would_share_a_database_is_refused_naming_both():
    run = {**CI, "CACHE_URL": "redis://127.0.0.1:6379/2"}
    assert worker_environments(run, workers=2)  # 2 and 10 are free beside 0, 8, 15, 7, 14, 6
    with pytest.raises(ValueError) as refused:
        worker_environments(run, workers=4)
    message = str(refused.value)
    assert "Redis database 2 on 127.0.0.1:6379" in message
    assert "CACHE_URL of worker gw0" in message and "TEST_SCRATCH_REDIS_DB of worker gw1" in message
    assert "-n 0" in message


@pytest.mark.parametrize(
    ("run", "said"),
    [
        ({**CI, "TEST_CACHE_REDIS_DB": "cache"}, "TEST_CACHE_REDIS_DB must be a Redis database"),
        ({**CI, "TEST_SCRATCH_REDIS_DB": "16"}, "TEST_SCRATCH_REDIS_DB names Redis database 16"),
        ({"CELERY_BROKER_URL": "redis://127.0.0.1:6379/x"}, "CELERY_BROKER_URL names Redis"),
    ],
)
def test_a_database_that_cannot_be_named_is_refused_clearly(run, said):
    with pytest.raises(ValueError, match=said):
        worker_environments(run, workers=2)


def test_without_redis_only_the_tests_own_databases_are_given_out():
    first, second = worker_environments({"CELERY_BROKER_URL": "memory://"}, workers=2)
    assert second == {"TEST_CACHE_REDIS_DB": "7", "TEST_SCRATCH_REDIS_DB": "6"}
    assert "CELERY_BROKER_URL" not in first


def test_this_process_runs_on_the_databases_its_environment_names(db):
    """Switched before Django read its settings: Celery, the settings and the processes tests
    start agree; under xdist the test databases, the key store's too, carry the worker's name."""
    broker = os.environ.get("CELERY_BROKER_URL") or "memory://"
    assert broker == settings.CELERY_BROKER_URL == celery_app.conf.broker_url
    cache = os.environ.get("CACHE_URL", "")
    if is_redis(cache):
        assert urlsplit(settings.CACHES["default"]["LOCATION"]).path == urlsplit(cache).path
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    for alias in ("default", "keys"):
        name = connections[alias].settings_dict["NAME"]
        if worker and connections[alias].vendor == "postgresql":
            assert name.endswith(f"_{worker}")
