"""Where a page's time goes: cProfile over repeated requests, in-process, DEBUG off.

`python -m bench.profile_page [--path /] [--reader N] [--repeat 200] [--sort cumulative]
[--computed] [--timing]`: uses the load test's database (run `python -m bench.load` first),
signs in reader N of it (or none with --reader -1), warms up, then profiles `--repeat`
requests through Django's test client and prints the top functions plus the mean
milliseconds and queries per request. `--computed` turns kept pages off (every personalized
home computed); `--timing` skips the profiler and prints the median wall and CPU
milliseconds per request instead (for before/after comparisons of one change: CPU time
moves less than wall time when other work shares the machine).
"""

import argparse
import cProfile
import os
import pstats
import statistics
import time

from bench.load import LOAD_CACHE_URL, LOAD_DATABASE_URL, READER_PREFIX, _site_environment


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
    parser.add_argument("--timing", action="store_true", help="Medians, no profiler.")
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
    if options.computed:
        os.environ["FEED_READER_CACHE_SECONDS"] = "0"
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from accounts.models import User

    client = Client(HTTP_HOST="127.0.0.1")
    if options.reader >= 0:
        client.force_login(User.objects.get(email=f"{READER_PREFIX}{options.reader}@example.org"))
    for _ in range(10):
        assert client.get(options.path, secure=True).status_code == 200
    queries = []

    def record(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        client.get(options.path, secure=True)
    if options.timing:
        wall, cpu = [], []
        for _ in range(options.repeat):
            started, started_cpu = time.perf_counter(), time.process_time()
            client.get(options.path, secure=True)
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        print(
            f"{options.path}{' (computed)' if options.computed else ''}: median "
            f"{statistics.median(wall):.2f} ms wall, {statistics.median(cpu):.2f} ms CPU per "
            f"request ({options.repeat} requests, {len(queries)} queries each)"
        )
        return
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for _ in range(options.repeat):
        client.get(options.path, secure=True)
    profiler.disable()
    elapsed = (time.perf_counter() - started) * 1000 / options.repeat
    pstats.Stats(profiler).sort_stats(options.sort).print_stats(options.lines)
    print(f"{options.path}: {elapsed:.2f} ms per request under the profiler")
    print(f"{len(queries)} queries per request:")
    for sql in queries:
        print(f"  {sql[:200]}")


if __name__ == "__main__":
    main()
