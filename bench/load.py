"""Load test: the site's pages against the ceiling of Django itself, on loopback, with wrk.

`python -m bench.load [--rounds 3] [--duration 8] [--requests 3000] [--connections 4]
[--label TEXT] [--pages NAMES]`: seeds its own database (LOAD_DATABASE_URL, and its key store
beside it) with published articles in 12 topics inside the candidate window, a week of DP
counts, a trained and activated model, and readers at "Topics + reading history" (3 topics,
50 to 200 encrypted reads each, stored through the privacy services); signs each reader in.

Three servers run with newsite/gunicorn.conf.py (the same workers, worker class and threads):
the site (DEBUG off, Redis cache and broker), the site with kept pages off (every
personalized home computed), and the ceiling (`bench/ceiling`: a bare Django project that
renders 30 cards after one query of the same database). Each round runs every page, each
between two runs of the ceiling, so every figure is a ratio to the ceiling measured minutes
apart under the same load on the machine; the worker CPU per request (utime + stime of the
gunicorn workers, /proc) is beside it, and so is the CPU per request of the database server
and of Redis on the same machine (their processes' utime + stime). Pages: anonymous home;
personalized home from kept pages (after one visit by every reader), computed (kept pages
off) and on a first visit (kept pages dropped, one visit each); article pages; the journey
mix (per reader home -> article -> home, the article visit a click on the site, which
records a read and drops the kept page); the personalized home right after an article is
published. The kept-page hit rate of each run is counted from the kept pages written (Redis
keyspace notifications of the load cache's database, less the journey's notes of a queued
read), against the personalized homes served. Targets and results go into bench/README.md,
between the load markers. The database is kept and reused.
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
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
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
# Beside its own database: two load databases on one machine must not share model files.
ARTIFACT_DIR = Path(
    os.environ.get("LOAD_ARTIFACT_DIR", Path(tempfile.gettempdir()) / "newsite-loadbench-models")
)
READER_PREFIX = "loadbench-"
FRESH_PREFIX = "loadbench-fresh-"
README = ROOT / "bench" / "README.md"
START, END = "<!-- load:start -->", "<!-- load:end -->"
CEILING = "ceiling"
# The targets: site / ceiling requests per second (medians over the rounds).
TARGETS = {
    "anonymous home": None,
    "personalized home (kept)": 0.6,
    "personalized home (computed)": 0.33,
    "personalized home (first visit)": 0.30,
    "article page": 0.5,
    "journey mix": 0.4,
    "after publish": None,
}
P99_LIMIT = 3.0  # every page's p99 at most this many times the ceiling's
# A click on a link of the site, as every current browser sends it (privacy.browser_signals).
CLICK = "Sec-Fetch-Site: same-origin|Sec-Fetch-Mode: navigate"
# Readers per wave of the journey: more than the connections, so a reader's second home is
# asked for after their article visit has been answered.
JOURNEY_WAVE = 8


def _site_environment(*, articles: int, days: int) -> dict[str, str]:
    """What both this process and gunicorn run with: the same database, model and keys."""
    return {
        "DATABASE_URL": LOAD_DATABASE_URL,
        # Its own key store (newsite/db_routers.py), never one named in the environment.
        "KEYS_DATABASE_URL": LOAD_DATABASE_URL + "_keys",
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


def key_store_ready(database_url: str) -> None:
    """The key store beside a benchmark database (`<name>_keys`, newsite/db_routers.py):
    named in the environment, created when missing and migrated, before the main database
    (setup_django) is."""
    main = database_url.rsplit("/", 1)[1]
    admin = database_url.rsplit("/", 1)[0] + "/postgres"
    os.environ["KEYS_DATABASE_URL"] = f"{database_url}_keys"
    # Both, since migrating the key store connects to the main database too.
    for name in (main, f"{main}_keys"):
        exists = subprocess.run(
            ["psql", admin, "-tAc", f"SELECT 1 FROM pg_database WHERE datname='{name}'"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if not exists:
            subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0", "--database=keys"],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "DEBUG": "0",
            "SECURE_SSL_REDIRECT": "0",
            "SECRET_KEY": os.environ.get("SECRET_KEY") or "benchmark-only-" + "x" * 40,
        },
        check=True,
    )


def _model_ready() -> None:
    from django.conf import settings

    from recommendations.services import model_active_version, model_retrain

    active = model_active_version()
    # Trained again when the site's number of dimensions changed since: measure what it serves.
    shape = (active.metrics or {}).get("dimensions_setting") if active is not None else None
    if shape == settings.RECOMMENDER_SVD_COMPONENTS and any(ARTIFACT_DIR.glob("*")):
        return
    started = time.perf_counter()
    result = model_retrain()
    assert result.activated, result
    print(f"  retrain: {time.perf_counter() - started:.1f} s", flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen


def _start_gunicorn(*, name: str, app: str, env: dict[str, str], workers: int) -> Server:
    """gunicorn with the site's own settings file, whichever app it serves."""
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    port = _free_port()
    process = subprocess.Popen(
        [gunicorn, "-c", "newsite/gunicorn.conf.py", app],
        cwd=ROOT,
        env={
            **env,
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": str(workers),
            "GUNICORN_LOG_LEVEL": "warning",
        },
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return Server(name=name, url=url, process=process)
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise SystemExit(f"gunicorn ({name}) did not answer /healthz within 90 s.")


def _stat(pid: int) -> tuple[str, list[str]]:
    """A process's name (`comm`) and the fields of its /proc/<pid>/stat after the name."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()


def _processes():
    """(pid, name, stat fields after the name) of every process, skipping those gone meanwhile."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                yield int(entry.name), *_stat(int(entry.name))
            except (OSError, ValueError):
                continue


# In the fields after the name: ppid, utime + stime (own), cutime + cstime (reaped children).
PPID, OWN_CPU, REAPED_CPU = 1, (11, 12), (13, 14)


def _ticks(fields: list[str], places: tuple[int, int]) -> int:
    return sum(int(fields[place]) for place in places)


def worker_cpu_seconds(master_pid: int) -> float:
    """User + system CPU of a gunicorn master's workers: the live ones (utime + stime) and
    those already replaced (the master's cutime + cstime), so a worker restarting mid-run
    (max_requests) is still counted."""
    total = _ticks(_stat(master_pid)[1], REAPED_CPU)
    for _, _, fields in _processes():
        if int(fields[PPID]) == master_pid:
            total += _ticks(fields, OWN_CPU)
    return total / os.sysconf("SC_CLK_TCK")


# The servers on this machine whose CPU a page also costs: PostgreSQL's server and its
# backends (the key store is a database of the same server) and Redis, by process name.
SERVICES = {"database": "postgres", "redis": "redis-server"}


def service_cpu_seconds() -> dict[str, float | None]:
    """User + system CPU of every process named as one of `SERVICES` (its `comm`), and of the
    children the first of them reaped (PostgreSQL's backends of connections closed meanwhile
    count in their server's cutime + cstime), by label, from one pass over /proc. None for a
    service that does not run on this machine."""
    by_name: dict[str, dict[int, list[str]]] = {name: {} for name in SERVICES.values()}
    for pid, comm, fields in _processes():
        if comm in by_name:
            by_name[comm][pid] = fields
    seconds = {}
    for label, name in SERVICES.items():
        processes = by_name[name]
        total = 0
        for fields in processes.values():
            total += _ticks(fields, OWN_CPU)
            if int(fields[PPID]) not in processes:  # the server itself: what it reaped
                total += _ticks(fields, REAPED_CPU)
        seconds[label] = total / os.sysconf("SC_CLK_TCK") if processes else None
    return seconds


def services_cpu_seconds() -> dict[str, float]:
    """`service_cpu_seconds`, 0 for a service that runs elsewhere."""
    return {label: value or 0.0 for label, value in service_cpu_seconds().items()}


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


class KeptPageWrites:
    """How many readers' kept pages were written: every computed personalized first page is
    kept, so during a run the writes are the computed pages and the rest were served from
    kept pages. Counted from Redis keyspace notifications of the cache's database (turned
    on for the benchmark, and back off after it): nothing is added to the site."""

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        db = self.client.connection_pool.connection_kwargs.get("db", 0)
        self.previous = self.client.config_get("notify-keyspace-events")["notify-keyspace-events"]
        self.client.config_set(
            "notify-keyspace-events", "".join(sorted(set(self.previous) | set("K$")))
        )
        self.count = 0
        # The copies of readers' reads written (privacy/history_kept.py): one per personalized
        # page computed after a change of the reader's data; the other computed pages used one.
        self.copies = 0
        self._lock = threading.Lock()
        self.pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.psubscribe(
            **{
                f"__keyspace@{db}__:*feed:reader:*": self._heard,
                f"__keyspace@{db}__:*history:reads:*": self._heard_copy,
            }
        )
        self.thread = self.pubsub.run_in_thread(sleep_time=0.05, daemon=True)

    def _heard(self, message) -> None:
        if message["data"] == b"set":
            with self._lock:
                self.count += 1

    def _heard_copy(self, message) -> None:
        if message["data"] == b"set":
            with self._lock:
                self.copies += 1

    def now(self) -> int:
        time.sleep(0.3)  # notifications of the last answers still on their way
        with self._lock:
            return self.count

    def copies_now(self) -> int:
        with self._lock:
            return self.copies

    def close(self) -> None:
        self.thread.stop()
        # Closing the connection under a thread still reading it printed a traceback.
        self.thread.join(timeout=2)
        self.pubsub.close()
        self.client.config_set("notify-keyspace-events", self.previous)


def _check(url: str, expect: str, headers: dict | None = None) -> None:
    """One request by hand before the run: the page answers and is the page meant."""
    request = urllib.request.Request(url, headers=headers or {})
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


def _forget_kept_pages(reader_ids: list[int]) -> None:
    """Every reader's next home page is a first visit: nothing of theirs kept, neither their
    page nor the copy of their reads."""
    from privacy.history_kept import history_reads_changed
    from recommendations.feed_cache import reader_feed_forget_now

    for reader_id in reader_ids:
        reader_feed_forget_now(user_id=reader_id)
        history_reads_changed(user_id=reader_id)


def fresh_draft(name: str):
    """A new, unpublished story in the first of the load test's topics (removed after the
    run with the others of `FRESH_PREFIX`); None when the database was never seeded."""
    from django.utils.text import slugify

    from news.models import Article, Topic

    topic = Topic.objects.filter(slug__startswith="feedbench-").order_by("slug").first()
    if topic is None:
        return None
    article = Article.objects.create(
        slug=f"{FRESH_PREFIX}{slugify(name)}-{time.time_ns()}",
        title=f"Just in: {name}",
        summary="Published in the benchmark.",
        body="Fresh words for a fresh story. " * 20,
    )
    article.topics.add(topic)
    return article


def _publish_fresh(number: int) -> None:
    """A new story published through the editors' service, as an editor would: it is
    vectorised here (eager tasks) before the run starts."""
    from news.services.articles import article_publish

    article_publish(article=fresh_draft(f"benchmark story {number}"), changed_by="bench.load")


def _remove_fresh() -> None:
    from news.models import Article

    Article.objects.filter(slug__startswith=FRESH_PREFIX).delete()


def _journey_lines(*, cookies: list[str], paths: list[str], cycles: int = 3) -> list[str]:
    """Per reader: home, a click on a story of their page (recorded as a read), home again.
    In waves of readers, so a reader's second home follows their article visit."""
    rng = random.Random(20261202)
    lines = []
    for _ in range(cycles):
        for start in range(0, len(cookies), JOURNEY_WAVE):
            wave = cookies[start : start + JOURNEY_WAVE]
            reads = [rng.choice(paths) for _ in wave]
            lines += [f"/\t{cookie}" for cookie in wave]
            lines += [
                f"{path}?via=personal\t{cookie}\t{CLICK}"
                for cookie, path in zip(wave, reads, strict=True)
            ]
            lines += [f"/\t{cookie}" for cookie in wave]
    return lines


@dataclass
class Run:
    page: str
    round: int
    result: dict
    cpu_ms: float
    load: float
    kept_hit_rate: float | None = None
    copies_written: int | None = None
    ceiling: list[dict] = field(default_factory=list)
    # CPU per request of the database server and of Redis (`SERVICES`), in ms.
    services_ms: dict[str, float] = field(default_factory=dict)

    @property
    def services_cpu_ms(self) -> float:
        return sum(self.services_ms.values())


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _summary(runs: list[Run]) -> list[dict]:
    """Per page: the medians over the rounds of its ratios to the ceiling (the mean of the
    ceiling runs just before and just after it)."""
    pages = [r.page for r in runs if r.page != CEILING and r.round == runs[0].round]
    rows = []
    for page in pages:
        mine = [r for r in runs if r.page == page]
        ratios, p99_ratios, ceiling_cpu, ceiling_rps, ceiling_p99 = [], [], [], [], []
        ceiling_services = []
        for run in mine:
            c_rps = statistics.mean(c["rps"] for c in run.ceiling)
            c_p99 = statistics.mean(c["p99_ms"] for c in run.ceiling)
            ratios.append(run.result["rps"] / c_rps)
            p99_ratios.append(run.result["p99_ms"] / c_p99)
            ceiling_cpu.append(statistics.mean(c["cpu_ms"] for c in run.ceiling))
            ceiling_services.append(statistics.mean(c["services_ms"] for c in run.ceiling))
            ceiling_rps.append(c_rps)
            ceiling_p99.append(c_p99)
        target = TARGETS[page]
        ratio = statistics.median(ratios)
        p99_ratio = statistics.median(p99_ratios)
        rows.append(
            {
                "page": page,
                "target": target,
                "ratio": ratio,
                "ratio_range": (min(ratios), max(ratios)),
                "p99_ratio": p99_ratio,
                "p99_worst": max(p99_ratios),
                "cpu_ms": _median([r.cpu_ms for r in mine]),
                "ceiling_cpu_ms": statistics.median(ceiling_cpu),
                "database_ms": _median([r.services_ms["database"] for r in mine]),
                "redis_ms": _median([r.services_ms["redis"] for r in mine]),
                "services_ms": _median([r.services_cpu_ms for r in mine]),
                "ceiling_services_ms": statistics.median(ceiling_services),
                "rps": _median([r.result["rps"] for r in mine]),
                "ceiling_rps": statistics.median(ceiling_rps),
                "p50_ms": _median([r.result["p50_ms"] for r in mine]),
                "p99_ms": _median([r.result["p99_ms"] for r in mine]),
                "ceiling_p99_ms": statistics.median(ceiling_p99),
                "hit_rate": _median([r.kept_hit_rate for r in mine]),
                "errors": sum(r.result["errors"] for r in mine),
                "met": (target is None or ratio >= target) and p99_ratio <= P99_LIMIT,
            }
        )
    return rows


def _percent(value) -> str:
    return "-" if value is None else f"{value:.0%}"


def _write_readme(
    *, summary: list[dict], runs: list[Run], settings_line: str, today: str, label: str
) -> None:
    """Replace the section between the markers: this run's ratio table and rounds, and one
    line per page of every earlier run (kept from the section)."""
    text = README.read_text()
    history_header = (
        "| date | run | page | site / ceiling | p99 / ceiling p99 | CPU per request, site vs "
        "ceiling | kept-page hit rate |\n"
        "|------|-----|------|---------------:|------------------:|------:|------:|"
    )
    previous: list[str] = []
    before, after = text.rstrip("\n") + "\n\n", "\n"
    if START in text and END in text:
        section = text[text.index(START) : text.index(END)]
        if "site / ceiling" in section:
            history = section[section.index("Earlier runs") :] if "Earlier runs" in section else ""
            previous = [line for line in history.splitlines() if re.match(r"^\| \d{4}-", line)]
        before, after = text[: text.index(START)], text[text.index(END) + len(END) :]
    table = [
        "| page | target (site / ceiling) | **site / ceiling, median** (range) | p99 / ceiling "
        "p99, median (worst) | worker CPU per request, site vs ceiling | database + Redis "
        "CPU per request, site (database, Redis) vs ceiling | kept-page hit rate "
        "| site req/s, p50, p99 (context) | met |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in summary:
        target = "-" if row["target"] is None else f">= {row['target']:.2f}"
        low, high = row["ratio_range"]
        table.append(
            f"| {row['page']} | {target} | **{row['ratio']:.2f}** ({low:.2f}-{high:.2f}) | "
            f"{row['p99_ratio']:.1f} ({row['p99_worst']:.1f}) | {row['cpu_ms']:.1f} vs "
            f"{row['ceiling_cpu_ms']:.1f} ms | {row['services_ms']:.2f} ({row['database_ms']:.2f}"
            f", {row['redis_ms']:.2f}) vs {row['ceiling_services_ms']:.2f} ms | "
            f"{_percent(row['hit_rate'])} | {row['rps']:.0f} "
            f"(ceiling {row['ceiling_rps']:.0f}), {row['p50_ms']} ms, {row['p99_ms']} ms "
            f"(ceiling {row['ceiling_p99_ms']:.1f} ms) | {'yes' if row['met'] else '**no**'} |"
        )
    rounds = [
        "| round | run | requests | req/s | p50 | p99 | worker CPU per request | database, "
        "Redis CPU per request | kept-page hit rate | copies of reads written | load average "
        "| errors |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        r = run.result
        rounds.append(
            f"| {run.round} | {run.page} | {r['requests']:,} | {r['rps']} | {r['p50_ms']} ms | "
            f"{r['p99_ms']} ms | {run.cpu_ms:.1f} ms | {run.services_ms['database']:.2f}, "
            f"{run.services_ms['redis']:.2f} ms | {_percent(run.kept_hit_rate)} | "
            f"{'-' if run.copies_written is None else f'{run.copies_written:,}'} | "
            f"{run.load:.1f} | {r['errors']} |"
        )
    history = [
        f"| {today} | {label} | {row['page']} | {row['ratio']:.2f} | {row['p99_ratio']:.1f} | "
        f"{row['cpu_ms']:.1f} vs {row['ceiling_cpu_ms']:.1f} ms | {_percent(row['hit_rate'])} |"
        for row in summary
    ]
    section = "\n".join(
        [
            START,
            "<!-- Written by `python -m bench.load`; edits between the markers are replaced. -->",
            settings_line,
            "",
            *table,
            "",
            "Every run of this one, in order (each page between two runs of the ceiling):",
            "",
            *rounds,
            "",
            "Earlier runs (medians over their rounds):",
            "",
            history_header,
            *previous,
            *history,
            END,
        ]
    )
    README.write_text(before + section + after)


def _targets_file(work: Path, name: str, lines: list[str]) -> Path:
    path = work / (re.sub(r"[^a-z]+", "_", name) + ".txt")
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=14, help="Spread of publication dates.")
    # Each first-visit run is one visit per reader: 200 made it a run of 0.6 s, where the
    # costs of any run (a refresh of the candidates, reconnections) weighed five times more.
    parser.add_argument("--readers", type=int, default=1_000)
    parser.add_argument("--history-min", type=int, default=50)
    parser.add_argument("--history-max", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8, help="Seconds per run (at most).")
    parser.add_argument("--requests", type=int, default=3_000, help="Requests per run (at most).")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--article-pages", type=int, default=200, help="Newest N articles.")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--label", default="", help="What this run measures, for the table.")
    parser.add_argument("--no-readme", action="store_true")
    parser.add_argument(
        "--pages",
        default=",".join(TARGETS),
        help=f"Which pages to load, comma separated (default: all: {', '.join(TARGETS)}).",
    )
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install -y wrk).")
    wanted = [name.strip() for name in options.pages.split(",") if name.strip()]
    unknown = set(wanted) - TARGETS.keys()
    if unknown:
        raise SystemExit(
            f"Unknown page(s): {', '.join(sorted(unknown))}; known: {', '.join(TARGETS)}."
        )

    site_env = _site_environment(articles=options.articles, days=options.days)
    os.environ.update(site_env)
    os.environ.pop("CELERY_BROKER_URL", None)
    key_store_ready(LOAD_DATABASE_URL)
    setup_django(database_url=LOAD_DATABASE_URL)
    from django.db import connection

    from bench.feed import _generate, _release_week
    from news.models import Article

    started = time.perf_counter()
    _remove_fresh()
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
    elsewhere = [label for label, value in service_cpu_seconds().items() if value is None]
    if elsewhere:
        print(f"  not on this machine, so not measured (0): {', '.join(elsewhere)}", flush=True)

    work = Path(tempfile.mkdtemp(prefix="newsite-load-"))
    personal = [f"/\t{cookie}" for cookie in cookies]
    targets = {
        CEILING: _targets_file(work, CEILING, ["/\t"]),
        "anonymous home": _targets_file(work, "anonymous", ["/\t"]),
        "personal": _targets_file(work, "personal", personal),
        "article page": _targets_file(work, "article", [f"{path}\t" for path in paths]),
        "journey mix": _targets_file(work, "journey", _journey_lines(cookies=cookies, paths=paths)),
    }
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
    servers = {}
    writes = KeptPageWrites(LOAD_CACHE_URL)
    runs: list[Run] = []
    try:
        servers["site"] = _start_gunicorn(
            name="site", app="newsite.wsgi", env=env, workers=options.workers
        )
        servers["computed"] = _start_gunicorn(
            name="site, kept pages off",
            app="newsite.wsgi",
            env={**env, "FEED_READER_CACHE_SECONDS": "0"},
            workers=options.workers,
        )
        servers[CEILING] = _start_gunicorn(
            name=CEILING, app="bench.ceiling.wsgi", env=env, workers=options.workers
        )
        site, computed, ceiling = servers["site"], servers["computed"], servers[CEILING]
        reader = {"Cookie": cookies[0]}
        _check(site.url + "/", "Latest news")
        _check(site.url + "/", "Your front page", reader)
        _check(computed.url + "/", "Your front page", reader)
        _check(site.url + paths[0], "More like this")
        _check(ceiling.url + "/", 'class="card"')

        def wrk(server, name, *, cap=options.requests, duration=options.duration):
            return _wrk(
                url=server.url,
                targets=targets[name],
                duration=duration,
                cap=cap,
                threads=options.threads,
                connections=options.connections,
            )

        def warm(server, name, cap):
            _wrk(
                url=server.url,
                targets=targets[name],
                duration=300,
                cap=cap,
                threads=1,
                connections=options.connections,
            )

        # Warm-up: the model in each worker, every reader's page and every article once.
        for server in (site, computed):
            warm(server, "personal", len(cookies))
            warm(server, "article page", len(paths))
        warm(site, "anonymous home", 500)
        warm(ceiling, CEILING, 500)
        # A read drops the reader's kept page: the journey's clicks really were counted.
        before = writes.now()
        for request in (
            urllib.request.Request(site.url + "/", headers=reader),
            urllib.request.Request(
                site.url + paths[1] + "?via=personal",
                headers={**reader, "Sec-Fetch-Site": "same-origin"},
            ),
            urllib.request.Request(site.url + "/", headers=reader),
        ):
            urllib.request.urlopen(request, timeout=30).read()
        # Two writes: the read noted in place of the kept page, and the page made again.
        if writes.now() - before < 2:
            raise SystemExit("A read did not drop the reader's kept page: no journey to measure.")

        def measure(server, name, round_number, *, targets_name=None, cap=None, homes=None):
            targets_name = targets_name or name
            load = os.getloadavg()[0]
            cpu, stored = worker_cpu_seconds(server.process.pid), writes.now()
            copies = writes.copies_now()
            services_before = services_cpu_seconds()
            result = wrk(server, targets_name, cap=cap or options.requests)
            cpu = worker_cpu_seconds(server.process.pid) - cpu
            services = {
                label: (seconds - services_before[label]) * 1000 / max(result["requests"], 1)
                for label, seconds in services_cpu_seconds().items()
            }
            stored = writes.now() - stored
            copies = writes.copies_now() - copies
            hit_rate = None
            if homes is not None and result["requests"]:
                served = round(result["requests"] * homes)
                # The journey's other requests are clicks whose read is queued: each notes the
                # read in the reader's entry (recommendations/feed/pending.py), a write too.
                noted = result["requests"] - served
                hit_rate = max(0.0, 1 - (stored - noted) / served) if served else None
            run = Run(
                page=name,
                round=round_number,
                result=result,
                cpu_ms=cpu * 1000 / max(result["requests"], 1),
                load=load,
                kept_hit_rate=hit_rate,
                copies_written=copies if server is not ceiling else None,
                services_ms=services,
            )
            runs.append(run)
            print(
                f"  round {round_number} {name:>32}: {result['rps']:7.1f} req/s, p99 "
                f"{result['p99_ms']:6.1f} ms, {run.cpu_ms:5.1f} ms CPU/request (database "
                f"{services['database']:.2f}, Redis {services['redis']:.2f}), hits "
                f"{_percent(hit_rate)}, copies of reads written {copies}, load {load:.1f}",
                flush=True,
            )
            return run

        fresh = 0
        # Each page between two runs of the ceiling: c p c p c ... through every round.
        last_ceiling = measure(ceiling, CEILING, 1)
        for round_number in range(1, options.rounds + 1):
            for page in wanted:
                if page == "anonymous home":
                    run = measure(site, page, round_number)
                elif page == "personalized home (kept)":
                    warm(site, "personal", len(cookies))
                    run = measure(site, page, round_number, targets_name="personal", homes=1)
                elif page == "personalized home (computed)":
                    run = measure(computed, page, round_number, targets_name="personal")
                    run.kept_hit_rate = 0.0  # kept pages are off on this server
                elif page == "personalized home (first visit)":
                    _forget_kept_pages(readers)
                    run = measure(
                        site,
                        page,
                        round_number,
                        targets_name="personal",
                        cap=len(cookies),
                        homes=1,
                    )
                elif page == "article page":
                    run = measure(site, page, round_number)
                elif page == "journey mix":
                    run = measure(site, page, round_number, homes=2 / 3)
                else:  # after publish
                    warm(site, "personal", len(cookies))
                    fresh += 1
                    _publish_fresh(fresh)
                    connection.close()
                    run = measure(site, page, round_number, targets_name="personal", homes=1)
                next_ceiling = measure(ceiling, CEILING, round_number)
                run.ceiling = [
                    {**c.result, "cpu_ms": c.cpu_ms, "services_ms": c.services_cpu_ms}
                    for c in (last_ceiling, next_ceiling)
                ]
                last_ceiling = next_ceiling
    finally:
        for server in servers.values():
            server.process.terminate()
        for server in servers.values():
            server.process.wait(timeout=30)
        writes.close()
        shutil.rmtree(work, ignore_errors=True)
        _remove_fresh()
        connection.close()
        # The reads the journey queued (no Celery worker runs here): the broker database is
        # the benchmark's own.
        import redis

        redis.Redis.from_url(LOAD_BROKER_URL).flushdb()

    ordered = runs
    summary = _summary(ordered)
    for row in summary:
        print(
            f"{row['page']:>32}: {row['ratio']:.2f} x ceiling (target "
            f"{row['target'] or '-'}), p99 {row['p99_ratio']:.1f} x, CPU {row['cpu_ms']:.1f} vs "
            f"{row['ceiling_cpu_ms']:.1f} ms, database + Redis {row['services_ms']:.2f} vs "
            f"{row['ceiling_services_ms']:.2f} ms, hits {_percent(row['hit_rate'])}",
            flush=True,
        )
    today = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    loads = [run.load for run in ordered]
    label = f"{options.label or '-'} (pace {machine_pace()} s)"
    settings_line = (
        f"Last run: {today}, {label}. Machine: {versions}; load average {min(loads):.1f} to "
        f"{max(loads):.1f} during the runs. Three gunicorns with newsite/gunicorn.conf.py "
        f"({options.workers} workers each, sync, DEBUG off): the site, the site with kept "
        "pages off, and the ceiling (`bench/ceiling`, 30 cards after one query of the same "
        f"database). wrk {options.threads} thread(s), {options.connections} connections, at "
        f"most {options.duration} s and {options.requests:,} requests per run; "
        f"{options.rounds} rounds, each page between two runs of the ceiling (its ratio is "
        "to their mean); medians over the rounds. "
        f'{options.articles:,} candidate articles, {len(readers)} readers at "Topics + reading '
        f'history" ({options.history_min} to {options.history_max} reads each) rotating their '
        f"session cookies, the newest {options.article_pages} article pages. Kept pages "
        f"{env.get('FEED_READER_CACHE_SECONDS', '60')} s; kept-page hit rate = 1 - kept pages "
        "written / personalized homes served (the journey's homes are two thirds of its "
        "requests; its clicks' notes of the read are not counted as pages). No Celery worker "
        "runs: the journey's reads stay queued (dropped after), noted in each reader's entry, "
        "so no read is written during a run and the copies of readers' reads "
        "(privacy/history_kept.py) stay current; a first visit drops the reader's copy with "
        "their kept page, so each first visit reads its rows and writes a copy."
    )
    if not options.no_readme:
        _write_readme(
            summary=summary,
            runs=ordered,
            settings_line=settings_line,
            today=today,
            label=options.label or "-",
        )
    return summary


if __name__ == "__main__":
    main()
