"""Load test: gunicorn (2 workers) + PostgreSQL + Redis on loopback, driven by wrk.

`python -m bench.load [--articles 20000] [--readers 200] [--duration 20] [--requests 8000]
[--connections 4] [--label TEXT]`: seeds its own database (LOAD_DATABASE_URL) with published
articles in 12 topics inside the candidate window, a week of DP counts, a trained and
activated model, and readers at "Topics + reading history" (3 topics, 50 to 200 encrypted
reads each, stored through the privacy services); signs each reader in for a session cookie;
starts gunicorn with newsite/gunicorn.conf.py (DEBUG off, Redis cache and broker); warms up;
then runs wrk for a fixed duration and request cap against the anonymous home page, the
personalized home page (rotating over every reader's cookie) and article pages (rotating
over articles). Writes the results into bench/README.md. Target: personalized home >= 300
requests/s with p99 <= 100 ms. The database is kept and reused by the next run.
"""

import argparse
import base64
import hashlib
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

from bench.common import machine_pace, setup_django

ROOT = Path(__file__).resolve().parent.parent
LOAD_DATABASE_URL = os.environ.get(
    "LOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/newsite_loadbench"
)
LOAD_CACHE_URL = os.environ.get("LOAD_CACHE_URL", "redis://127.0.0.1:6379/3")
LOAD_BROKER_URL = os.environ.get("LOAD_BROKER_URL", "redis://127.0.0.1:6379/2")
# The load database's readers were sealed under this benchmark-only key (a public phrase).
LOAD_MASTER_KEY = base64.urlsafe_b64encode(
    hashlib.sha256(b"newsite load benchmark only").digest()
).decode()
ARTIFACT_DIR = Path(tempfile.gettempdir()) / "newsite-loadbench-models"
READER_PREFIX = "loadbench-"
README = ROOT / "bench" / "README.md"
START, END = "<!-- load:start -->", "<!-- load:end -->"


def _site_environment(*, articles: int, days: int) -> dict[str, str]:
    """What both this process and gunicorn run with: the same database, model and keys."""
    return {
        "DATABASE_URL": LOAD_DATABASE_URL,
        "CACHE_URL": LOAD_CACHE_URL,
        "NEWSITE_MASTER_KEY": LOAD_MASTER_KEY,
        # Session cookies are signed in this process and checked by gunicorn.
        "SECRET_KEY": "load-benchmark-only-" + "x" * 40,
        "RECOMMENDER_ARTIFACT_DIR": str(ARTIFACT_DIR),
        # Every generated article is a candidate: the window holds all of them.
        "RECOMMENDER_CANDIDATE_DAYS": str(days + 1),
        "RECOMMENDER_MAX_CANDIDATES": str(articles),
    }


def _seed_readers(*, count: int, history_min: int, history_max: int) -> list[int]:
    """Readers at "Topics + reading history", created through the services, reused when
    already there."""
    from django.utils import timezone

    from accounts import services as accounts
    from accounts.models import Preferences, User
    from news.models import Article, Topic
    from privacy.browser_signals import NO_SIGNALS
    from privacy.models import ReadingHistoryEntry
    from privacy.services import read_store

    existing = list(
        User.objects.filter(email__startswith=READER_PREFIX)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    with_history = (
        ReadingHistoryEntry.objects.filter(user_id__in=existing)
        .values("user_id")
        .distinct()
        .count()
    )
    if len(existing) == count and with_history == count:
        return existing
    User.objects.filter(email__startswith=READER_PREFIX).delete()
    rng = random.Random(20261127)
    topics = list(Topic.objects.filter(slug__startswith="feedbench-").order_by("slug"))
    by_topic = {
        t.pk: list(
            Article.objects.filter(topics=t)
            .order_by("-published_at")
            .values_list("pk", flat=True)[:2000]
        )
        for t in topics
    }
    everything = [a for ids in by_topic.values() for a in ids]
    now = timezone.now()
    made = []
    for i in range(count):
        reader = accounts.user_create(
            email=f"{READER_PREFIX}{i}@example.org", password=None, email_verified=True
        )
        followed = rng.sample(topics, 3)
        accounts.preferences_set_topics(user=reader, topic_ids=[t.pk for t in followed])
        accounts.preferences_set_level(
            user=reader,
            level=Preferences.Level.TOPICS_HISTORY,
            source="preferences",
            signals=NO_SIGNALS,
        )
        reads = rng.randint(history_min, history_max)
        read_ids: set[int] = set()
        while len(read_ids) < reads:
            # Mostly the reader's own topics, sometimes anything.
            pool = by_topic[rng.choice(followed).pk] if rng.random() < 0.8 else everything
            read_ids.add(rng.choice(pool))
        for article_id in read_ids:
            read_at = now - timedelta(minutes=rng.uniform(1, 30 * 24 * 60))
            read_store(user_id=reader.pk, article_id=article_id, read_at=read_at.isoformat())
        made.append(reader.pk)
        if (i + 1) % 20 == 0:
            print(f"  readers: {i + 1}/{count}", flush=True)
    return made


def _session_cookies(reader_ids: list[int]) -> list[str]:
    """Sign each reader in (a real session row through the site's session engine)."""
    from django.conf import settings
    from django.test import Client

    from accounts.models import ReaderSession, User

    ReaderSession.objects.filter(user_id__in=reader_ids).delete()
    cookies = []
    for user in User.objects.filter(pk__in=reader_ids).order_by("pk"):
        client = Client()
        client.force_login(user)
        cookies.append(
            f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        )
    return cookies


def _model_ready() -> None:
    from recommendations.services import model_active_version, model_retrain

    active = model_active_version()
    if active is not None and any(ARTIFACT_DIR.glob("*")):
        return
    started = time.perf_counter()
    result = model_retrain()
    assert result.activated, result
    print(f"  retrain: {time.perf_counter() - started:.1f} s", flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_gunicorn(*, port: int, env: dict[str, str], workers: int) -> subprocess.Popen:
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    process = subprocess.Popen(
        [gunicorn, "-c", "newsite/gunicorn.conf.py", "newsite.wsgi"],
        cwd=ROOT,
        env={
            **env,
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": str(workers),
            "GUNICORN_LOG_LEVEL": "warning",
        },
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise SystemExit("gunicorn did not answer /healthz within 60 s.")


def _wrk(*, url: str, targets: Path, duration: int, cap: int, threads: int, connections: int):
    per_thread = max(1, cap // threads)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(ROOT / "bench" / "wrk_rotate.lua"),
        url,
        "--",
        str(targets),
        str(per_thread),
    ]
    # wrk waits out its whole duration even when the cap stopped every thread: once all
    # threads have said so, SIGINT makes it finish at once and report.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    capped, lines = 0, []
    for row in process.stdout:
        lines.append(row)
        if row.startswith("WRKCAP"):
            capped += 1
            if capped == threads:
                process.send_signal(signal.SIGINT)
    if process.wait() != 0:
        raise SystemExit(f"wrk failed: {''.join(lines)}")
    line = next(row for row in lines if row.startswith("WRKJSON "))
    raw = json.loads(line.removeprefix("WRKJSON "))
    seconds = raw["duration_us"] / 1e6
    return {
        "requests": raw["requests"],
        "seconds": round(seconds, 1),
        "rps": round(raw["requests"] / seconds, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 1),
        "p99_ms": round(raw["p99_us"] / 1000, 1),
        "errors": raw["connect"] + raw["read"] + raw["write"] + raw["status"] + raw["timeout"],
    }


def _check(url: str, cookie: str, expect: str) -> None:
    """One request by hand before the run: the page answers and is the page meant."""
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=30) as answer:
        body = answer.read().decode()
    if expect not in body:
        raise SystemExit(
            f"{url} did not show {expect!r}: the benchmark would measure the wrong page."
        )


def _versions() -> str:
    from django.db import connection
    from django_redis import get_redis_connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0].split()[0]
    redis = get_redis_connection("default").info()["redis_version"]
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split()[1]
    return (
        f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), Python "
        f"{platform.python_version()}, PostgreSQL {postgres}, Redis {redis}, wrk {wrk} on the "
        "same machine"
    )


def _write_readme(*, rows: list[str], settings_line: str) -> None:
    """Replace the section between the markers, keeping the rows of earlier runs."""
    text = README.read_text()
    header = (
        "| date | run | page | requests | req/s | p50 | p99 | errors |\n"
        "|------|-----|------|---------:|------:|----:|----:|-------:|"
    )
    previous: list[str] = []
    before, after = text.rstrip("\n") + "\n\n", "\n"
    if START in text and END in text:
        section = text[text.index(START) : text.index(END)]
        previous = [line for line in section.splitlines() if re.match(r"^\| \d{4}-", line)]
        before, after = text[: text.index(START)], text[text.index(END) + len(END) :]
    section = "\n".join([START, settings_line, "", header, *previous, *rows, END])
    README.write_text(before + section + after)


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=14, help="Spread of publication dates.")
    parser.add_argument("--readers", type=int, default=200)
    parser.add_argument("--history-min", type=int, default=50)
    parser.add_argument("--history-max", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=int, default=20, help="Seconds per page (at most).")
    parser.add_argument("--requests", type=int, default=8_000, help="Requests per page (at most).")
    parser.add_argument("--warmup", type=int, default=5, help="Warm-up seconds per page.")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--article-pages", type=int, default=200, help="Newest N articles.")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--label", default="", help="What this run measures, for the table.")
    parser.add_argument(
        "--no-caches", action="store_true", help="Turn the feed caches off (the baseline)."
    )
    parser.add_argument(
        "--reader-cache-seconds",
        type=int,
        help="FEED_READER_CACHE_SECONDS for the server (default: the site's own).",
    )
    parser.add_argument("--no-readme", action="store_true")
    parser.add_argument(
        "--pages",
        default="anonymous home,personalized home,article page",
        help="Which pages to load, comma separated (default: all three).",
    )
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install -y wrk).")

    site_env = _site_environment(articles=options.articles, days=options.days)
    os.environ.update(site_env)
    setup_django(database_url=LOAD_DATABASE_URL)
    from django.db import connection

    from bench.feed import _generate, _release_week
    from news.models import Article

    started = time.perf_counter()
    _generate(options.articles, options.days)
    _release_week()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    _model_ready()
    readers = _seed_readers(
        count=options.readers, history_min=options.history_min, history_max=options.history_max
    )
    cookies = _session_cookies(readers)
    with connection.cursor() as cursor:
        # As a site in service is: statistics and visibility maps up to date, so the first
        # timed page does not pay for the setup's writes (the first run measured half speed).
        cursor.execute("VACUUM ANALYZE")
    # Most reads go to recent stories: the article pages rotate over the newest ones.
    paths = [
        article.get_absolute_url()
        for article in Article.objects.filter(slug__startswith="feedbench-")
        .only("slug")
        .order_by("-published_at")[: options.article_pages]
    ]
    print(f"  setup: {time.perf_counter() - started:.1f} s", flush=True)
    versions = _versions()
    connection.close()

    work = Path(tempfile.mkdtemp(prefix="newsite-load-"))
    pages = {
        "anonymous home": ["/\t"],
        "personalized home": [f"/\t{cookie}" for cookie in cookies],
        "article page": [f"{path}\t" for path in paths],
    }
    wanted = [name.strip() for name in options.pages.split(",") if name.strip()]
    unknown = set(wanted) - pages.keys()
    if unknown:
        raise SystemExit(
            f"Unknown page(s): {', '.join(sorted(unknown))}; known: {', '.join(pages)}."
        )
    pages = {name: lines for name, lines in pages.items() if name in wanted}
    target_files = {}
    for name, lines in pages.items():
        path = work / (name.replace(" ", "_") + ".txt")
        path.write_text("\n".join(lines) + "\n")
        target_files[name] = path

    env = {
        **os.environ,
        **site_env,
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "STATIC_MANIFEST": "0",
        "STATIC_ROOT": str(work),
        "CELERY_BROKER_URL": LOAD_BROKER_URL,
        "LOG_LEVEL": "WARNING",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    if options.reader_cache_seconds is not None:
        env["FEED_READER_CACHE_SECONDS"] = str(options.reader_cache_seconds)
    if options.no_caches:
        for setting in (
            "FEED_PUBLIC_CACHE_SECONDS",
            "FEED_READER_CACHE_SECONDS",
            "MORE_LIKE_THIS_CACHE_SECONDS",
        ):
            env[setting] = "0"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = _start_gunicorn(port=port, env=env, workers=options.workers)
    results = {}
    try:
        _check(url + "/", "", "Latest news")
        _check(url + "/", cookies[0], "Your front page")
        _check(url + paths[0], "", "More like this")
        for name, targets in target_files.items():
            # Warm-up: loads the model in each worker and fills the caches; every reader's page
            # and every article once, so the timed run sees returning readers and stories.
            everyone = name != "anonymous home"
            _wrk(
                url=url,
                targets=targets,
                duration=300 if everyone else options.warmup,
                cap=len(pages[name]) if everyone else 10**9,
                threads=1,
                connections=options.connections,
            )
            results[name] = _wrk(
                url=url,
                targets=targets,
                duration=options.duration,
                cap=options.requests,
                threads=options.threads,
                connections=options.connections,
            )
            print(f"{name:>18}: {results[name]}", flush=True)
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)

    today = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    # How fast the machine was (bench.common.machine_pace), measured after the runs.
    label = f"{options.label or '-'} (pace {machine_pace()} s)"
    rows = [
        f"| {today} | {label} | {name} | {r['requests']:,} | {r['rps']} | {r['p50_ms']} ms | "
        f"{r['p99_ms']} ms | {r['errors']} |"
        for name, r in results.items()
    ]
    settings_line = (
        f"Last run: {today}. Machine: {versions}. gunicorn {options.workers} sync workers "
        f"(newsite/gunicorn.conf.py, DEBUG off), wrk {options.threads} thread(s) and "
        f"{options.connections} connections, at most {options.duration} s and "
        f"{options.requests:,} requests per page after a warm-up ({options.warmup} s of "
        "anonymous home, every reader's home and every article page once); "
        f'{options.articles:,} candidate articles, {len(readers)} readers at "Topics + '
        f'reading history" ({options.history_min} to {options.history_max} reads each) '
        f"rotating their session cookies, the newest {options.article_pages} article pages "
        "rotating, anonymous. Reader pages kept "
        f"{env.get('FEED_READER_CACHE_SECONDS', '60')} s"
        + ("; feed caches off." if options.no_caches else ".")
    )
    if not options.no_readme:
        _write_readme(rows=rows, settings_line=settings_line)
    return results


if __name__ == "__main__":
    main()
