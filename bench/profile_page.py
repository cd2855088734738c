"""Where a page's time goes: cProfile over repeated requests, in-process, DEBUG off.

`python -m bench.profile_page [--path /] [--reader N] [--repeat 200] [--sort cumulative]
[--computed] [--timing] [--parts]`: uses the load test's database (run `python -m bench.load`
first), signs in reader N of it (or none with --reader -1), warms up, then profiles
`--repeat` requests through Django's test client and prints the top functions plus the mean
milliseconds and queries per request. `--computed` turns kept pages off (every personalized
home computed); `--timing` skips the profiler and prints the median wall and CPU
milliseconds per request instead (for before/after comparisons of one change: CPU time
moves less than wall time when other work shares the machine); `--parts` adds the median
CPU milliseconds of each part of a home page (`PARTS`, each including the parts under it).
One BLAS thread, as the site's workers run (`newsite/wsgi.py`): with more, the products
wait on each other's threads on a busy machine and the profile shows mostly that.
"""

import argparse
import cProfile
import os
import pstats
import statistics
import time
from collections import defaultdict

from bench.load import LOAD_CACHE_URL, LOAD_DATABASE_URL, READER_PREFIX, _site_environment

# (label, module, attribute, depth): the home page's parts, as they nest. A function is
# timed where the caller looks it up (the name it imported), so a part is the same call
# whichever module defines it; a name missing from this checkout is left out.
PARTS = (
    ("the session, its reader and key", "accounts.sessions", "_SESSION_WITH_READER", 0),
    ("home_feed (the feed and its cards)", "frontpage.views", "home_feed", 0),
    ("reader_profile", "recommendations.feed_cache", "reader_profile", 1),
    ("feed_page", "recommendations.feed_cache", "feed_page", 1),
    ("the feed's marks (one Redis round trip)", "recommendations.feed.page", "pool_marks", 2),
    ("candidate_pool", "recommendations.feed.page", "candidate_pool", 2),
    ("the reads: query and opening", "recommendations.feed.page", "_reader_reads", 2),
    ("the data key from the key store", "privacy.crypto", "_data_key_row", 3),
    ("the reads' rows: query and opening", "privacy.history_kept", "history_reads_for_user", 3),
    ("scoring (reader_for + score)", "recommendations.feed.page", "feed_scores", 2),
    ("history_similarity", "recommendations.feed.scoring", "history_similarity", 3),
    (
        "the history part where it ranks",
        "recommendations.feed.scoring",
        "_history_where_it_ranks",
        3,
    ),
    ("ranking", "recommendations.ranking", "rank", 2),
    ("the stories' query", "recommendations.feed.page", "articles_live_by_id", 2),
    ("the cards", "frontpage.views", "feed_cards_html", 1),
    ("the kept page looked up", "recommendations.feed_cache", "_reader_feed_open", 1),
    ("the kept page sealed and stored", "recommendations.feed_cache", "_reader_feed_keep", 1),
    ("the impression counter", "frontpage.views", "feed_impressions_record", 0),
    ("the survey's offer", "frontpage.views", "survey_offer", 0),
    ("the frame, filled", "frontpage.views", "_home_frame", 0),
    ("", "frontpage.views", "_home_filled", 0),
)


class _Timed:
    """Wraps a callable (or a CompiledOnce's `first`) to add its time on `clock` (CPU unless
    told) to `spent`."""

    def __init__(self, spent: dict, label: str, wrapped, clock=time.process_time) -> None:
        self.spent, self.label, self.wrapped, self.clock = spent, label, wrapped, clock

    def __call__(self, *args, **kwargs):
        started = self.clock()
        try:
            return self.wrapped(*args, **kwargs)
        finally:
            self.spent[self.label] += self.clock() - started

    def first(self, *args, **kwargs):
        started = self.clock()
        try:
            return self.wrapped.first(*args, **kwargs)
        finally:
            self.spent[self.label] += self.clock() - started


def time_parts(spent: dict, parts=PARTS, clock=time.process_time) -> list[tuple[str, int]]:
    """Wraps each of `parts` where its caller looks it up; (label, depth) of those found."""
    import importlib

    shown, label = [], ""
    for name, module_name, attribute, depth in parts:
        label = name or label  # an empty name adds to the part above
        module = importlib.import_module(module_name)
        if not hasattr(module, attribute):
            continue
        setattr(module, attribute, _Timed(spent, label, getattr(module, attribute), clock))
        if name:
            shown.append((label, depth))
    return shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default="/")
    parser.add_argument("--reader", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--lines", type=int, default=45)
    parser.add_argument("--computed", action="store_true", help="Kept pages off.")
    parser.add_argument(
        "--first-visit", action="store_true", help="The reader's kept page dropped before each."
    )
    parser.add_argument("--timing", action="store_true", help="Medians, no profiler.")
    parser.add_argument("--parts", action="store_true", help="With --timing: CPU per part.")
    options = parser.parse_args()
    os.environ.update(_site_environment(articles=options.articles, days=options.days))
    os.environ.update(
        {
            "DATABASE_URL": LOAD_DATABASE_URL,
            "DEBUG": "0",
            "SECURE_SSL_REDIRECT": "0",
            "STATIC_MANIFEST": "0",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "newsite.settings",
            "KEYS_DATABASE_URL": LOAD_DATABASE_URL + "_keys",
            "CACHE_URL": LOAD_CACHE_URL,
        }
    )
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    if options.computed:
        os.environ["FEED_READER_CACHE_SECONDS"] = "0"
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from accounts.models import User
    from privacy.history_kept import history_reads_changed
    from recommendations.feed_cache import reader_feed_forget_now

    client = Client(HTTP_HOST="127.0.0.1")
    reader = None
    if options.reader >= 0:
        reader = User.objects.get(email=f"{READER_PREFIX}{options.reader}@example.org")
        client.force_login(reader)

    def before_each() -> None:
        # Nothing of the reader's kept: neither their page nor the copy of their reads (as
        # `bench.load`'s first visits).
        if options.first_visit and reader is not None:
            reader_feed_forget_now(user_id=reader.pk)
            history_reads_changed(user_id=reader.pk)

    for _ in range(10):
        before_each()
        assert client.get(options.path, secure=True).status_code == 200
    queries = []

    def record(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    before_each()
    with connection.execute_wrapper(record):
        client.get(options.path, secure=True)
    if options.timing:
        spent: dict[str, float] = defaultdict(float)
        shown = time_parts(spent) if options.parts else []
        wall, cpu = [], []
        per_part: dict[str, list[float]] = defaultdict(list)
        for _ in range(options.repeat):
            before_each()
            spent.clear()
            started, started_cpu = time.perf_counter(), time.process_time()
            client.get(options.path, secure=True)
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
            for label, _ in shown:
                per_part[label].append(spent[label] * 1000)
        print(
            f"{options.path}{' (computed)' if options.computed else ''}"
            f"{' (first visit)' if options.first_visit else ''}: median "
            f"{statistics.median(wall):.2f} ms wall, {statistics.median(cpu):.2f} ms CPU per "
            f"request ({options.repeat} requests, {len(queries)} queries each)"
        )
        for label, depth in shown:
            values = sorted(per_part[label])
            print(
                f"  {'  ' * depth}{label}: {statistics.median(values):.2f} ms CPU "
                f"(p25 {values[len(values) // 4]:.2f}, p75 {values[3 * len(values) // 4]:.2f})"
            )
        return
    profiler = cProfile.Profile()
    elapsed = 0.0
    for _ in range(options.repeat):
        before_each()
        started = time.perf_counter()
        profiler.enable()
        client.get(options.path, secure=True)
        profiler.disable()
        elapsed += (time.perf_counter() - started) * 1000 / options.repeat
    pstats.Stats(profiler).sort_stats(options.sort).print_stats(options.lines)
    print(f"{options.path}: {elapsed:.2f} ms per request under the profiler")
    print(f"{len(queries)} queries per request:")
    for sql in queries:
        print(f"  {sql[:200]}")


if __name__ == "__main__":
    main()
