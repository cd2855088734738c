"""The production-size benchmark: 100,000 articles and 10,000 readers on PostgreSQL.

`python -m bench.scale [--articles 100000] [--readers 10000] [--rebuild]`: generates (seeded,
in bulk; skipped when the database already holds a dataset of that size) the catalogue of
`bench.feed` spread over a year in 12 topics, a week of DP counts, and readers with topics,
mixed personalization levels, consent receipts written by the site's own services and
encrypted reading histories (most readers 0-200 entries; one with exactly 200, one with
5,000). Then measures: retrain, the personalized feed (the 200-read reader, and a sample of
other readers), the article view with read recording (`bench.read_recording`), the full
export of the 5,000-entry reader, the erasure of a fresh 200-entry reader, and a fresh web
worker's resident memory. Results go into bench/README.md between the `scale` markers, one
row per run, each figure next to its target.
"""

import argparse
import json
import math
import os
import platform
import random
import re
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import feed, read_recording
from bench.common import (
    BENCH_BROKER_URL,
    as_signed_in,
    machine_pace,
    percentiles,
    setup_django,
    timed,
)

PREFIX = "scale-reader-"
ERASED_PREFIX = "scale-erased-"
PASSWORD = "x" * 16
HISTORY_DAYS = 90  # within the site's default history retention
FEED_READER, EXPORT_READER = 0, 1  # reader numbers with exactly 200 and 5,000 entries
README = Path(__file__).resolve().parent / "README.md"
START, END = "<!-- scale:start -->", "<!-- scale:end -->"
TARGETS = {  # figure: (target, unit)
    "feed_history_p50_ms": (10, "ms"),
    "feed_history_p99_ms": (40, "ms"),
    "read_added_p50_ms": (2, "ms"),
    "export_p50_ms": (5_000, "ms"),
    "erase_p50_ms": (2_000, "ms"),
    "retrain_s": (120, "s"),
    "worker_peak_mb": (400, "MB"),
    "worker_steady_mb": (400, "MB"),
}


# --- Generating the dataset ---------------------------------------------------------------


def _email(number: int, *, prefix: str = PREFIX) -> str:
    return f"{prefix}{number:05d}@example.org"


class Catalogue:
    """The articles readers pick their reads from: published in the history window, by topic."""

    def __init__(self, now: datetime):
        from news.models import Article

        self.now = now
        self.by_topic: dict[int, list[tuple[int, datetime]]] = {}
        rows = (
            Article.objects.filter(
                slug__startswith=feed.PREFIX, published_at__gte=now - timedelta(days=HISTORY_DAYS)
            )
            .order_by("pk")
            .values_list("pk", "published_at", "topics")
        )
        for pk, published_at, topic_id in rows:
            self.by_topic.setdefault(topic_id, []).append((pk, published_at))
        self.everything = [row for rows in self.by_topic.values() for row in rows]

    def reads(self, rng: random.Random, *, topic_ids: list[int], count: int):
        """`count` reads (article id, instant), mostly in the reader's topics, each after the
        article's publication; instants are distinct, as the site's unique constraint wants."""
        seen, reads = set(), []
        while len(reads) < count:
            pool = self.by_topic[rng.choice(topic_ids)] if rng.random() < 0.8 else self.everything
            article_id, published_at = rng.choice(pool)
            read_at = published_at + (self.now - published_at) * rng.random()
            if read_at not in seen:
                seen.add(read_at)
                reads.append((article_id, read_at))
        return reads


def _history_write(*, user, reads: list[tuple[int, datetime]]) -> None:
    """The rows `privacy.services.read_store` writes, sealed with the same crypto function,
    copied in one COPY instead of one transaction per read."""
    from django.db import connection

    from privacy.crypto import encrypt_many_for_user
    from privacy.models import ReadingHistoryEntry
    from privacy.selectors import HISTORY_CONTEXT

    sealed = encrypt_many_for_user(
        user=user, plaintexts=[str(article_id) for article_id, _ in reads], context=HISTORY_CONTEXT
    )
    table = ReadingHistoryEntry._meta.db_table
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} (user_id, sealed_article, read_at) FROM STDIN") as copy,
    ):
        for (_, read_at), ciphertext in zip(reads, sealed, strict=True):
            copy.write_row((user.pk, ciphertext, read_at))


def _reader_create(
    *, number: int, rng: random.Random, topic_ids: list[int], level: str, prefix: str = PREFIX
):
    """A reader made by the site's services (account, topics, level and its consent receipt,
    "count my reads toward popular" for some), as sign-up and onboarding make them."""
    from accounts import services as accounts
    from privacy.browser_signals import NO_SIGNALS
    from privacy.services import consent_set

    special = prefix == PREFIX and number in (FEED_READER, EXPORT_READER)
    # The production password hash costs ~0.3 s; only readers who erase or sign in need one.
    reader = accounts.user_create(
        email=_email(number, prefix=prefix),
        password=PASSWORD if special else None,
        email_verified=True,
    )
    accounts.preferences_set_topics(
        user=reader, topic_ids=rng.sample(topic_ids, 3 if special else rng.randint(1, 4))
    )
    accounts.preferences_set_level(
        user=reader, level=level, source="onboarding", signals=NO_SIGNALS
    )
    if rng.random() < 0.3:
        consent_set(
            user=reader,
            purpose="popular_counting",
            granted=True,
            source="onboarding",
            signals=NO_SIGNALS,
        )
    return reader


def _history_size(number: int, rng: random.Random) -> int:
    if number == FEED_READER:
        return 200
    if number == EXPORT_READER:
        return 5_000
    return round(rng.triangular(0, 200, 20))  # most readers read little, a few up to 200


def _generate_readers(count: int, *, rebuild: bool) -> None:
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import Preferences, User
    from news.models import Topic

    existing = User.objects.filter(email__startswith=PREFIX)
    if not rebuild and existing.count() == count:
        return
    existing.delete()
    rng = random.Random(20261127)
    topic_ids = list(
        Topic.objects.filter(slug__startswith=feed.PREFIX)
        .order_by("slug")
        .values_list("pk", flat=True)
    )
    catalogue = Catalogue(timezone.now())
    levels = [Preferences.Level.OFF, Preferences.Level.TOPICS, Preferences.Level.TOPICS_HISTORY]
    started = time.perf_counter()
    for number in range(count):
        special = number in (FEED_READER, EXPORT_READER)
        level = (
            Preferences.Level.TOPICS_HISTORY
            if special
            else rng.choices(levels, weights=[15, 35, 50])[0]
        )
        with transaction.atomic():
            reader = _reader_create(number=number, rng=rng, topic_ids=topic_ids, level=level)
            if level == Preferences.Level.TOPICS_HISTORY:
                topics = list(reader.preferences.topics.values_list("pk", flat=True))
                reads = catalogue.reads(rng, topic_ids=topics, count=_history_size(number, rng))
                if reads:
                    _history_write(user=reader, reads=reads)
        if number % 1000 == 999:
            print(f"  readers: {number + 1:,} ({time.perf_counter() - started:.0f} s)")


def _check_rows_match_the_site() -> None:
    """A generated history row and one written by the per-read service are the same kind of
    row: same columns filled, same ciphertext format and length, and both read back through
    the site's own history selector."""
    from accounts.models import User
    from privacy.models import ReadingHistoryEntry
    from privacy.selectors import history_for_user
    from privacy.services import read_store

    generated = User.objects.get(email=_email(FEED_READER))
    items = history_for_user(user=generated)
    assert len(items) == 200 and all(item.article for item in items), "history unreadable"
    sample = ReadingHistoryEntry.objects.filter(user=generated).order_by("pk").first()
    article_id = items[-1].article.pk
    probe = read_recording.bench_reader(
        email="scale-probe@example.org", topic=items[-1].article.topics.first(), recording=True
    )
    read_store(user_id=probe.pk, article_id=article_id, read_at=sample.read_at.isoformat())
    written = ReadingHistoryEntry.objects.get(user=probe)
    assert history_for_user(user=probe)[0].article.pk == article_id
    ours = bytes(
        ReadingHistoryEntry.objects.filter(user=generated, pk=items[-1].entry_id)
        .values_list("sealed_article", flat=True)
        .get()
    )
    theirs = bytes(written.sealed_article)
    assert ours[:1] == theirs[:1] and len(ours) == len(theirs), (ours, theirs)
    probe.delete()


# --- Measuring ----------------------------------------------------------------------------


def _feed_latencies(*, repeat: int, sample: int) -> dict:
    from django.conf import settings

    from accounts.models import Preferences, User
    from recommendations.feed.page import feed_page

    def page(user) -> None:
        assert len(list(feed_page(user=user))) == settings.NEWS_PAGE_SIZE

    history_reader = as_signed_in(User.objects.get(email=_email(FEED_READER)))
    timed(lambda: page(history_reader), repeat=10)  # warm-up: loads the model and the pool
    history = percentiles(timed(lambda: page(history_reader), repeat=repeat))
    personal = list(
        User.objects.filter(email__startswith=PREFIX)
        .exclude(preferences__level=Preferences.Level.OFF)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    chosen = random.Random(5).sample(personal, min(sample, len(personal)))
    readers = {pk: as_signed_in(user) for pk, user in User.objects.in_bulk(chosen).items()}
    for pk in chosen[:10]:
        page(readers[pk])  # warm-up on other readers
    others = []
    for pk in chosen:
        others.extend(timed(lambda user=readers[pk]: page(user), repeat=1))
    others_p = percentiles(others)
    return {
        "feed_history_p50_ms": history["p50"],
        "feed_history_p99_ms": history["p99"],
        "feed_sample_p50_ms": others_p["p50"],
        "feed_sample_p99_ms": others_p["p99"],
        "feed_sample_readers": len(chosen),
    }


def _rights(*, runs: int) -> dict:
    """The export of the 5,000-entry reader (eager, as `bench.rights` times it: request and
    build), and the erasure of a fresh 200-entry reader per run. Emails go to memory: the
    read-recording measure, run first, set up Django's test environment."""
    from django.conf import settings
    from django.utils import timezone

    from accounts.models import Preferences, User
    from news.models import Topic
    from newsite.celery import app as celery_app
    from privacy import erasure, exports
    from privacy.models import ExportRequest

    settings.PRIVACY_EXPORTS_PER_DAY = runs + 1_000  # repeated runs, not a reader's asks
    reader = User.objects.get(email=_email(EXPORT_READER))
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    export_ms, erase_ms, sizes = [], [], []
    try:
        for _ in range(runs):
            started = time.perf_counter()
            export = exports.export_request_create(user=reader)
            exports.export_build(export_id=export.pk)
            export_ms.append((time.perf_counter() - started) * 1000)
            export.refresh_from_db()
            assert export.status == ExportRequest.Status.READY, export.error
            sizes.append(export.size_bytes)
        for export in ExportRequest.objects.filter(user=reader):
            exports.export_file_delete(export)
        ExportRequest.objects.filter(user=reader).delete()

        rng = random.Random(11)
        catalogue = Catalogue(timezone.now())
        topic_ids = list(
            Topic.objects.filter(slug__startswith=feed.PREFIX).values_list("pk", flat=True)
        )
        for run in range(runs):
            # Not counted with the dataset's readers, should a run stop before erasing one.
            User.objects.filter(email=_email(run, prefix=ERASED_PREFIX)).delete()
            erased = _reader_create(
                number=run,
                prefix=ERASED_PREFIX,
                rng=rng,
                topic_ids=topic_ids,
                level=Preferences.Level.TOPICS_HISTORY,
            )
            erased.set_password(PASSWORD)
            erased.save(update_fields=["password"])
            _history_write(
                user=erased,
                reads=catalogue.reads(
                    rng,
                    topic_ids=list(erased.preferences.topics.values_list("pk", flat=True)),
                    count=200,
                ),
            )
            started = time.perf_counter()
            receipt = erasure.account_erase(user=erased, password=PASSWORD, confirmation="DELETE")
            erase_ms.append((time.perf_counter() - started) * 1000)
            assert receipt.complete
    finally:
        celery_app.conf.task_always_eager = eager
    return {
        "export_p50_ms": percentiles(export_ms)["p50"],
        "export_max_ms": max(export_ms),
        "export_zip_kb": sizes[0] / 1024,
        "erase_p50_ms": percentiles(erase_ms)["p50"],
        "erase_max_ms": max(erase_ms),
    }


def _machine() -> str:
    import redis
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0].split()[0]
    redis_version = redis.Redis.from_url(BENCH_BROKER_URL).info("server")["redis_version"]
    meminfo = Path("/proc/meminfo").read_text()
    ram = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1)) / 1024 / 1024
    # The load average says how busy the (possibly shared) machine was during the run.
    return (
        f"{os.cpu_count()} cores, {ram:.0f} GB RAM, Python {platform.python_version()}, "
        f"PostgreSQL {postgres}, Redis {redis_version}, load {os.getloadavg()[1]:.1f}, "
        f"pace {machine_pace()} s"
    )


# --- Reporting ----------------------------------------------------------------------------

COLUMNS = (
    "date",
    "size",
    "machine",
    "retrain",
    "feed, 200-read reader p50 / p99",
    "feed, sample p50 / p99",
    "read recording added p50",
    "export (5,000 entries) p50 / max",
    "erasure (200 entries) p50 / max",
    "worker RSS peak / steady",
)


def _row(result: dict) -> list[str]:
    return [
        result["date"],
        f"{result['articles']:,} articles, {result['readers']:,} readers"
        + ("" if result["full_size"] else " (reduced)")
        + f", {result.get('profile_reads', 200)} reads shaping the profile",
        result["machine"],
        f"{result['retrain_s']:.1f} s",
        f"{result['feed_history_p50_ms']:.1f} / {result['feed_history_p99_ms']:.1f} ms",
        f"{result['feed_sample_p50_ms']:.1f} / {result['feed_sample_p99_ms']:.1f} ms",
        f"{result['read_added_p50_ms']:.2f} ms",
        f"{result['export_p50_ms']:,.0f} / {result['export_max_ms']:,.0f} ms",
        f"{result['erase_p50_ms']:,.0f} / {result['erase_max_ms']:,.0f} ms",
        f"{result['worker_peak_mb']:.0f} / {result['worker_steady_mb']:.0f} MB",
    ]


def _verdicts(result: dict) -> list[str]:
    shaping = f"{result.get('profile_reads', 200)} shaping the profile"
    labels = {
        "feed_history_p50_ms": f"feed p50, reader with 200 reads ({shaping})",
        "feed_history_p99_ms": f"feed p99, reader with 200 reads ({shaping})",
        "read_added_p50_ms": "recording a read adds (p50)",
        "export_p50_ms": "export, reader with 5,000 entries (p50)",
        "erase_p50_ms": "account erasure, 200 entries (p50)",
        "retrain_s": "retrain",
        "worker_peak_mb": "web worker with the model, peak RSS",
        "worker_steady_mb": "web worker with the model, steady RSS",
    }
    lines = ["| figure | measured | target | |", "|---|---:|---:|---|"]
    for key, (target, unit) in TARGETS.items():
        value = result[key]
        verdict = "**met**" if value <= target else "**not met**"
        lines.append(f"| {labels[key]} | {value:,.2f} {unit} | <= {target:,} {unit} | {verdict} |")
    return lines


def _readme_update(result: dict) -> None:
    """Replace the section between the markers: the latest run against the targets, and the
    history table with this run's row appended (rows of earlier runs are kept)."""
    text = README.read_text()
    header = "| " + " | ".join(COLUMNS) + " |"
    rows: list[str] = []
    if START in text:
        section = text.split(START, 1)[1].split(END, 1)[0]
        lines = section.splitlines()
        if header in lines:
            for line in lines[lines.index(header) + 2 :]:
                if not line.startswith("|"):
                    break
                rows.append(line)
    rows.append("| " + " | ".join(_row(result)) + " |")
    section = "\n".join(
        [
            START,
            "<!-- Written by `python -m bench.scale`; edits between the markers are replaced. -->",
            "",
            f"Latest run: {result['date']}, {result['articles']:,} articles, "
            f"{result['readers']:,} readers, {result['candidates']:,} candidates in the window, "
            f"feed sample of {result['feed_sample_readers']} readers; {result['machine']}.",
            "",
            *_verdicts(result),
            "",
            "The article view of a reader whose reads are recorded (history and counting on), "
            f"through Django's test client: p50 {result['article_view_p50_ms']:.1f} ms, "
            f"p99 {result['article_view_p99_ms']:.1f} ms.",
            "",
            "Every run:",
            "",
            header,
            "|" + "---|" * len(COLUMNS),
            *rows,
            END,
        ]
    )
    if START in text:
        before, rest = text.split(START, 1)
        text = before + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    README.write_text(text)


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--readers", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365, help="Spread of publication dates.")
    parser.add_argument("--candidates", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=300, help="Pages of the 200-read reader.")
    parser.add_argument("--sample", type=int, default=500, help="Other readers, a page each.")
    parser.add_argument("--runs", type=int, default=5, help="Exports and erasures timed.")
    parser.add_argument("--rebuild", action="store_true", help="Regenerate the dataset.")
    parser.add_argument("--no-readme", action="store_true", help="Print only.")
    parser.add_argument(
        "--profile-reads",
        type=int,
        help="Newest reads that shape the profile (RECOMMENDER_HISTORY_LIMIT; default: the "
        "site's setting, 50; 200 makes all of the feed reader's shape it). Every read is left "
        "out of the feed either way.",
    )
    options = parser.parse_args()
    if options.readers < 2:
        parser.error("--readers must be at least 2 (the feed reader and the export reader).")
    # As bench.feed: the site's profile setting unless told otherwise, and a window that holds
    # the candidates.
    if options.profile_reads is not None:
        os.environ["RECOMMENDER_HISTORY_LIMIT"] = str(max(options.profile_reads, 1))
    days = math.ceil(options.days * options.candidates / options.articles) + 1
    os.environ["RECOMMENDER_CANDIDATE_DAYS"] = str(days)
    os.environ["RECOMMENDER_MAX_CANDIDATES"] = str(options.candidates)
    os.environ.setdefault(
        "RECOMMENDER_ARTIFACT_DIR", str(Path(tempfile.gettempdir()) / "newsite-scale-models")
    )
    os.environ.setdefault("PRIVATE_STORAGE_ROOT", tempfile.mkdtemp(prefix="newsite-scale-"))
    # As in a web worker (newsite/wsgi.py): one BLAS thread, set before numpy loads.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    setup_django(broker=True)  # reads are queued in Redis and stored by a worker, as live
    from django.conf import settings
    from django.db import connection

    from news.models import Article
    from recommendations.services import model_retrain

    started = time.perf_counter()
    if options.rebuild:
        Article.objects.filter(slug__startswith=feed.PREFIX).delete()
    feed._generate(options.articles, options.days)
    print(f"articles ready ({time.perf_counter() - started:.0f} s)")
    feed._release_week()
    _generate_readers(options.readers, rebuild=options.rebuild)
    _check_rows_match_the_site()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh planner statistics, as autovacuum keeps them
    print(f"dataset ready ({time.perf_counter() - started:.0f} s)")

    result: dict = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "articles": options.articles,
        "readers": options.readers,
        "full_size": options.articles >= 100_000 and options.readers >= 10_000,
        "profile_reads": settings.RECOMMENDER_HISTORY_LIMIT,
    }
    started = time.perf_counter()
    trained = model_retrain()
    result["retrain_s"] = time.perf_counter() - started
    assert trained.activated, trained
    print(f"retrain: {result['retrain_s']:.1f} s")

    result.update(_feed_latencies(repeat=options.repeat, sample=options.sample))
    from recommendations.feed.pool import candidate_pool_size

    result["candidates"] = candidate_pool_size()
    print(json.dumps(result, default=str))

    recording = read_recording.measure()
    if not recording:
        raise SystemExit("The read-recording worker did not store every read.")
    result["read_added_p50_ms"] = recording["added_p50_ms"]
    result["article_view_p50_ms"] = recording["recording_p50_ms"]
    result["article_view_p99_ms"] = recording["recording_p99_ms"]
    result.update(_rights(runs=options.runs))

    from accounts.models import User

    memory = feed.worker_memory_mb(User.objects.get(email=_email(FEED_READER)).pk)
    result["worker_peak_mb"], result["worker_steady_mb"] = memory["peak"], memory["steady"]
    result["machine"] = _machine()
    for key, value in result.items():
        print(f"{key:>22}: {value}")
    if not options.no_readme:
        _readme_update(result)
        print(f"Results written to {README}")
    return result


if __name__ == "__main__":
    main()
