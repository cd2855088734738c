"""`make demo` runs the site as production does, with nothing to install: DEBUG off, a real
Celery worker with beat on a broker kept in files, stopped with the web server."""

import json
import os
import shlex
import shutil
import subprocess
import sys
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from news.models import Article
from news.tasks import articles_publish_due
from newsite.celery import app as celery_app
from privacy.models import SignalEvent
from privacy.selectors import history_for_user
from tests.conftest import worker_wait_until
from tests.factories import ArticleFactory, reader_choices

ROOT = Path(__file__).resolve().parents[2]
# What a test run sets that a new clone running `make demo` would not have.
RUNNER_ONLY = {
    "DATABASE_URL",
    "KEYS_DATABASE_URL",
    "CACHE_URL",
    "CELERY_BROKER_URL",
    "DEBUG",
    "STATIC_MANIFEST",
    "SECURE_SSL_REDIRECT",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
}


def demo_recipe(demo_dir: Path) -> list[str]:
    """The commands `make demo` would run, printed by make without running any."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed here.")
    result = subprocess.run(
        ["make", "-n", "demo", f"VENV={sys.prefix}", f"DEMO_DIR={demo_dir}", "PORT=8765"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def demo_environment(recipe: list[str]) -> dict[str, str]:
    """The variables the recipe sets before `seed_demo`."""
    line = next(line for line in recipe if "manage.py seed_demo" in line)
    assignments = [word for word in shlex.split(line) if "=" in word.split("/")[0]]
    return dict(word.split("=", 1) for word in assignments)


def test_the_demo_runs_a_worker_with_beat_beside_the_server_and_stops_it_with_the_server(
    tmp_path,
):
    recipe = "\n".join(demo_recipe(tmp_path))
    assert "celery -A newsite worker --beat" in recipe
    # Started in the background, ended by a trap however the web server stops (Ctrl-C too).
    worker_start = recipe.index("celery -A newsite worker")
    trap = recipe.index("trap 'kill $worker")
    server = recipe.index("manage.py runserver")
    assert worker_start < trap < server
    assert "& worker=$!" in recipe


def test_the_demo_settings_are_productions_with_a_broker_and_cache_in_files(tmp_path):
    environment = demo_environment(demo_recipe(tmp_path))
    env = {k: v for k, v in os.environ.items() if k not in RUNNER_ONLY}
    # What `make demo` writes into .env on a new machine.
    env.update(
        SECRET_KEY="demo-secret-key-" + "x" * 40,
        NEWSITE_MASTER_KEY="Fu-nwoeAod8hvGVV5CY8ihaGizOOJ4C6aS7_vlKgDck=",
        **environment,
    )
    script = """
import json, django
django.setup()
from django.conf import settings
from newsite.celery import app
print(json.dumps({
    "debug": settings.DEBUG,
    "eager": app.conf.task_always_eager,
    "broker": app.conf.broker_url,
    "folders": app.conf.broker_transport_options,
    "cache": settings.CACHES["default"]["BACKEND"],
    "database": settings.DATABASES["default"]["ENGINE"],
    "timeout": settings.DATABASES["default"]["OPTIONS"]["timeout"],
    "cookies_https_only": settings.SESSION_COOKIE_SECURE or settings.CSRF_COOKIE_SECURE,
    "https_redirect": settings.SECURE_SSL_REDIRECT,
    "static_from_finders": settings.WHITENOISE_USE_FINDERS,
    "email": settings.EMAIL_BACKEND,
    "site_url": settings.SITE_URL,
}))
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "newsite.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    demo = json.loads(result.stdout.strip().splitlines()[-1])
    # DEBUG off: the site's own 404 and 500 pages, as in production.
    assert demo["debug"] is False
    # Tasks go to a real worker, through files in the demo's folder: no Redis.
    assert demo["eager"] is False
    assert demo["broker"].startswith("filesystem://")
    assert {Path(folder).parent for folder in demo["folders"].values()} == {tmp_path / "broker"}
    assert demo["cache"] == "django.core.cache.backends.filebased.FileBasedCache"
    assert demo["database"] == "django.db.backends.sqlite3" and demo["timeout"] >= 10
    # Plain HTTP on this machine.
    assert demo["cookies_https_only"] is False and demo["https_redirect"] is False
    assert demo["static_from_finders"] is True
    assert demo["email"] == "django.core.mail.backends.console.EmailBackend"
    assert demo["site_url"] == "http://127.0.0.1:8765"


@contextmanager
def filesystem_broker(folder: Path):
    """Celery on the demo's broker, kombu's filesystem transport, in `folder`, not eager."""
    options = {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "control_folder": str(folder / "control"),
        "processed_folder": str(folder / "processed"),
    }
    for path in options.values():
        Path(path).mkdir(parents=True, exist_ok=True)
    conf = celery_app.conf
    saved = (conf.broker_url, conf.broker_read_url, conf.broker_write_url)
    saved_options = conf.broker_transport_options

    def reconnect(urls: tuple[str, str, str], transport_options: dict) -> None:
        conf.broker_url, conf.broker_read_url, conf.broker_write_url = urls
        conf.broker_transport_options = transport_options
        # Celery caches its connection pools; drop them so the next publish uses the new URL.
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    conf.task_always_eager = False
    reconnect(("filesystem://localhost/",) * 3, options)
    try:
        yield
    finally:
        reconnect(saved, saved_options)


@pytest.mark.django_db(transaction=True)
def test_a_due_article_is_published_by_a_worker_on_the_demos_broker(tmp_path, eager_celery):
    from celery.contrib.testing.worker import start_worker

    due = ArticleFactory(
        status=Article.Status.SCHEDULED, published_at=timezone.now() - timedelta(seconds=1)
    )
    with filesystem_broker(tmp_path / "broker"):
        articles_publish_due.delay()  # what beat sends every minute
        assert list((tmp_path / "broker" / "queue").iterdir()), "no message was written"
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):

            def published() -> bool:
                due.refresh_from_db()
                return due.status == Article.Status.PUBLISHED

            assert worker_wait_until(published, seconds=20, every=0.2)
    assert not list((tmp_path / "broker" / "queue").iterdir())


@pytest.mark.django_db
def test_a_read_on_the_demos_broker_is_stored_at_once(tmp_path, reader, article, client, read_page):
    # There is no Redis list to queue it on: it is stored in the request, never lost.
    reader_choices(reader, counting=True)
    client.force_login(reader)
    with filesystem_broker(tmp_path / "broker"):
        read_page(client, article)
    assert [item.article for item in history_for_user(user=reader)] == [article]
    assert SignalEvent.objects.filter(article=article).count() == 1
    assert not list((tmp_path / "broker" / "queue").iterdir())
