"""Shared fixtures, and the guard that makes CI fail loudly when its services are missing."""

import gc
import os
import time
from contextlib import contextmanager
from datetime import datetime

import pytest
import time_machine
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import OperationalError
from gunicorn.app.base import Application
from gunicorn.config import Config

from newsite.celery import app as celery_app
from newsite.settings import BASE_DIR

from .factories import ArticleFactory, EditorFactory, ReaderFactory, TopicFactory
from .xdist_services import redis_url, worker_environments

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def _redis_reachable(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        return str(error)
    return None


# Transactional tests empty every table, the migrations' rows too (the Editors group, the
# first policy version); pytest-django runs them after the others, and only these ways of
# handing out tests keep that order on every xdist worker (loadfile, loadscope, worksteal and
# groups move a test of one file before or after another file's).
ORDERED_DISTRIBUTIONS = ("load", "each")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes(config, specs):
    """Under pytest-xdist each worker starts with Redis databases of its own in its
    environment, set before its Django settings are read (tests/xdist_services.py)."""
    distribution = config.getoption("dist")
    if distribution not in ORDERED_DISTRIBUTIONS:
        pytest.exit(
            f"--dist {distribution} can run a test after a transactional test emptied the "
            "tables it needs; use --dist load (as `make test` does).",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
    try:
        environments = worker_environments(os.environ, workers=len(specs))
    except ValueError as error:
        pytest.exit(str(error), returncode=pytest.ExitCode.USAGE_ERROR)
    for spec, environment in zip(specs, environments, strict=True):
        spec.env.update(environment)


def _mark_slow(items) -> None:
    for item in items:
        if item.get_closest_marker("slow") is None and "e2e" in item.nodeid.split("/"):
            item.add_marker(pytest.mark.slow)


def pytest_sessionstart(session):
    if not REQUIRE_SERVICES:
        return
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine not in ("django.db.backends.postgresql", "common.postgresql"):
        pytest.exit(f"REQUIRE_SERVICES=1 but DATABASE_URL is not PostgreSQL ({engine}).", 3)
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not broker.startswith("redis://"):
        pytest.exit("REQUIRE_SERVICES=1 but CELERY_BROKER_URL is not a redis:// URL.", 3)
    problem = _redis_reachable(broker)
    if problem:
        pytest.exit(f"REQUIRE_SERVICES=1 but Redis at {broker} is unreachable: {problem}", 3)
    import psycopg

    params = settings.DATABASES["default"]
    try:
        psycopg.connect(
            host=params["HOST"] or None,
            port=params["PORT"] or None,
            user=params["USER"] or None,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.Error as error:
        pytest.exit(f"REQUIRE_SERVICES=1 but PostgreSQL is unreachable: {error}", 3)


DB_FIXTURES = frozenset(
    {
        "db",
        "transactional_db",
        "live_server",
        "django_db_reset_sequences",
        "django_db_serialized_rollback",
    }
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Every test that uses the database uses the key store too (a second database, see
    newsite.db_routers): a reader's first sealed data creates their key there. A test that
    names its databases itself is left as it is."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is None and not DB_FIXTURES & set(getattr(item, "fixturenames", ())):
            continue
        args, kwargs = (marker.args, dict(marker.kwargs)) if marker else ((), {})
        if kwargs.get("databases") is not None:
            continue
        kwargs["databases"] = "__all__"
        item.add_marker(pytest.mark.django_db(*args, **kwargs), append=False)
    _mark_slow(items)


# NEWSITE_TEST_CLOCK=2027-01-01T00:20:00Z runs the whole suite with the clock starting at that
# moment (and ticking), to show no test's outcome depends on the hour or the date it runs at.
TEST_CLOCK = os.environ.get("NEWSITE_TEST_CLOCK", "")


@pytest.fixture(autouse=True)
def test_clock():
    if not TEST_CLOCK:
        yield
        return
    with time_machine.travel(datetime.fromisoformat(TEST_CLOCK), tick=True):
        yield


@pytest.fixture(autouse=True)
def eager_celery():
    """Tasks run in-process in tests, except where a test starts a real worker."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def clean_cache():
    """Rate limits and cached pages live in the cache; every test starts with an empty one."""
    from django.core.cache import cache

    from common.sitewide import sitewide_forget_all_in_process

    cache.clear()
    sitewide_forget_all_in_process()
    yield
    cache.clear()
    sitewide_forget_all_in_process()


@pytest.fixture(autouse=True)
def private_files(settings, tmp_path):
    """Export files and uploaded images go to the test's own folder, never to the project's
    var/: two xdist workers' readers share ids, so their export files share names."""
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def recommender_isolation(settings, tmp_path):
    """Model artifacts go to the test's own folder, and no model loaded by one test is still
    held by the process in the next."""
    from recommendations.active import loaded_model_forget
    from recommendations.feed.pool import candidate_pool_forget

    settings.RECOMMENDER_ARTIFACT_DIR = tmp_path / "models"
    # Each test's rows are visible to its own connection only, not to a refresh thread's.
    settings.RECOMMENDER_CANDIDATE_REFRESH_IN_BACKGROUND = False
    loaded_model_forget()
    candidate_pool_forget()
    yield
    loaded_model_forget()
    candidate_pool_forget()


@pytest.fixture(autouse=True)
def feed_impressions_written_at_once(settings):
    """Tests read the impression counters right after a page: each page writes its cards at
    once, and no count left in the process by one test reaches another's table."""
    from recommendations.impressions import feed_impressions_forget_in_process

    settings.FEED_IMPRESSIONS_FLUSH_SECONDS = 0
    feed_impressions_forget_in_process()
    yield
    feed_impressions_forget_in_process()


@pytest.fixture
def topic(db):
    return TopicFactory()


@pytest.fixture
def article(db, topic):
    return ArticleFactory(topics=[topic])


@pytest.fixture
def reader(db):
    return ReaderFactory()


@pytest.fixture
def editor(db):
    return EditorFactory()


@pytest.fixture
def record_read(django_capture_on_commit_callbacks):
    """Record a read through the service and run the writes it queues for after the commit
    (tests run inside a transaction that never commits)."""
    from privacy.services import read_record

    def record(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return read_record(**kwargs)

    return record


@pytest.fixture
def read_page(django_capture_on_commit_callbacks):
    """Open an article page as a reader would, then run what the read queued after commit."""

    def read(client, article, **headers):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.get(article.get_absolute_url(), **headers)
        assert response.status_code == 200
        return response

    return read


@contextmanager
def celery_broker(url: str):
    """Publish Celery messages to `url` instead of the configured broker, not eagerly."""

    def reconnect(read_url: str, write_url: str) -> None:
        celery_app.conf.broker_url, celery_app.conf.broker_write_url = read_url, write_url
        # Celery caches its connection pools; drop them so the next publish uses the new URL.
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    original = celery_app.conf.broker_url, celery_app.conf.broker_write_url
    celery_app.conf.task_always_eager = False
    reconnect(url, url)
    try:
        yield
    finally:
        reconnect(*original)


@pytest.fixture
def broker_down():
    """Point Celery at a closed port, as when Redis is stopped."""
    with celery_broker("redis://127.0.0.1:1/0"):
        yield


def redis_url_for_tests(db: str) -> str:
    """A Redis database of the tests' own on the broker's server (each xdist worker has its
    own numbers). Two test runs on one machine set TEST_SCRATCH_REDIS_DB and
    TEST_CACHE_REDIS_DB apart, or they empty each other's."""
    return redis_url(db, environ=os.environ)


@pytest.fixture
def scratch_broker():
    """A Redis database of its own as broker, emptied afterwards, so messages a test leaves
    queued never reach another test's worker. Yields a client on it."""
    import redis

    url = redis_url_for_tests(os.environ.get("TEST_SCRATCH_REDIS_DB", "14"))
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError as error:
        if REQUIRE_SERVICES:
            pytest.fail(f"Redis is required but unreachable: {error}")
        pytest.skip(f"Redis is not running here ({error}).")
    client.flushdb()
    with celery_broker(url):
        yield client
    client.flushdb()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The production hasher costs ~1 s per reader made; MD5, still behind the site's cap on
    concurrent hashing (common.password_slots), stands in for it."""
    settings.PASSWORD_HASHERS = ["tests.hashers.SlotLimitedMD5PasswordHasher"]


def models_relating_to_user() -> set:
    """Every installed model that points at the user, directly or through such a model."""
    user_model = get_user_model()
    related = {user_model}
    all_models = apps.get_models(include_auto_created=True)
    changed = True
    while changed:
        changed = False
        for model in all_models:
            if model in related:
                continue
            for field in model._meta.get_fields():
                if field.is_relation and field.concrete and field.related_model in related:
                    related.add(model)
                    changed = True
                    break
    return related


def redis_cache_settings(prefix: str) -> dict:
    """The production cache (django-redis on the tests' own Redis database), under its own
    key prefix: for tests of what the site keeps in it."""
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": redis_url_for_tests(os.environ.get("TEST_CACHE_REDIS_DB", "15")),
            "KEY_PREFIX": prefix,
            "OPTIONS": {"IGNORE_EXCEPTIONS": True},
        }
    }


DEAD_REDIS = "redis://127.0.0.1:1/0"

# The production cache configuration, pointed at a Redis that is not there.
DEAD_CACHE = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": DEAD_REDIS,
        "OPTIONS": {
            "IGNORE_EXCEPTIONS": True,
            "SOCKET_CONNECT_TIMEOUT": 0.5,
            "SOCKET_TIMEOUT": 0.5,
        },
    }
}


class _GunicornConfigOnly(Application):
    """gunicorn reading our configuration file exactly as `gunicorn -c` does, without serving."""

    def __init__(self):
        self.usage, self.prog, self.cfg = None, None, Config()

    def init(self, parser, opts, args):
        return None

    def load(self):
        return None


def gunicorn_settings(monkeypatch, **environ) -> Config:
    """The site's gunicorn settings (newsite/gunicorn.conf.py) read with this environment."""
    monkeypatch.delenv("GUNICORN_CONTROL_SOCKET", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    app = _GunicornConfigOnly()
    app.load_config_from_file(str(BASE_DIR / "newsite" / "gunicorn.conf.py"))
    return app.cfg


@pytest.fixture(autouse=True)
def _frozen_objects_released():
    """A test that runs a server hook freezes the process's objects out of the collector's way
    (common.serving): thawed after it, and what became garbage meanwhile collected, so the
    rest of the suite is collected as usual."""
    yield
    if gc.get_freeze_count():
        gc.unfreeze()
        gc.collect()


def worker_wait_until(condition, *, seconds: float = 30, every: float = 0.1) -> bool:
    """Poll `condition` while a Celery worker's thread works beside the test: True once it
    holds, False at the deadline. The test run's SQLite (in memory, shared cache) locks a
    table while the worker's thread writes it, where PostgreSQL and the demo's file (WAL) let
    a reader read on: a poll that meets that lock looks again at the next one."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except OperationalError as error:
            if "locked" not in str(error):
                raise
        time.sleep(every)
    return False
