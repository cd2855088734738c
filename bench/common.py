"""Shared set-up for benchmarks: a dedicated PostgreSQL database, timing and reporting."""

import base64
import hashlib
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

BENCH_DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/newsite_bench"
)
RESULTS = Path(__file__).resolve().parent / "results"


BENCH_BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/9")


# Benchmark-only secrets, derived from public phrases: the benchmark databases protect nothing.
BENCH_MASTER_KEY = base64.urlsafe_b64encode(
    hashlib.sha256(b"newsite benchmark only").digest()
).decode()
BENCH_SECRET_KEY = "benchmark-only-" + "x" * 40


def bench_environment(*, broker: bool) -> dict[str, str]:
    """The environment of a benchmark process: its own database, and optionally its own
    Redis database as Celery broker (as in production) instead of eager tasks. DEBUG is off as
    in production (with it on, Django records every query, which is not free); mail stays in
    memory. DEBUG=1 in the environment turns it on."""
    env = {
        "DATABASE_URL": BENCH_DATABASE_URL,
        "DJANGO_SETTINGS_MODULE": "newsite.settings",
        "DEBUG": os.environ.get("DEBUG", "0"),
        "SECRET_KEY": os.environ.get("SECRET_KEY", BENCH_SECRET_KEY),
        "NEWSITE_MASTER_KEY": os.environ.get("NEWSITE_MASTER_KEY", BENCH_MASTER_KEY),
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "STATIC_MANIFEST": "0",
        "SECURE_SSL_REDIRECT": "0",
    }
    if broker:
        env["CELERY_BROKER_URL"] = BENCH_BROKER_URL
    return env


def setup_django(*, broker: bool = False, database_url: str | None = None) -> None:
    """Point Django at the benchmark database (never the site's) and migrate it."""
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.update(bench_environment(broker=broker))
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    dbname = os.environ["DATABASE_URL"].rsplit("/", 1)[1]
    exists = subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-tAc",
            f"SELECT 1 FROM pg_database WHERE datname='{dbname}'",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not exists:
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", f"CREATE DATABASE {dbname}"],
            check=True,
            capture_output=True,
        )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def timed(fn: Callable[[], object], *, repeat: int) -> list[float]:
    """Milliseconds per call."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
    }


def as_signed_in(user):
    """The reader as a signed-in page has them: read through the site's session engine,
    their preferences and wrapped data key with them (accounts.sessions)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY

    from accounts.sessions import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session.create()
    loaded = SessionStore(session_key=session.session_key)
    loaded.load()
    return loaded.loaded_reader


def machine_pace() -> float:
    """Seconds for a fixed pure-Python loop, best of three: this virtual machine runs up to
    half again faster at some minutes than at others, so each result says how fast the
    machine was when it was taken (smaller is faster)."""

    def loop() -> None:
        total = 0
        for number in range(5_000_000):
            total += number

    return round(min(timed(loop, repeat=3)) / 1000, 2)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"
