"""Feed service latency (p50/p99) at a configurable catalogue size, and retrain time.

`python -m bench.feed [--articles 20000] [--days 60] [--repeat 200] [--history 20]
[--candidates N]`: generates published articles (synthetic words per topic, deterministic)
spread over `--days` days in 12 topics, a week of DP counts, one retrain (timed), then times
`feed_page` for an anonymous visitor, a reader at "Topics only" (3 topics) and one at
"Topics + reading history" (`--history` reads; the newest `--profile-reads` of them, by
default the site's setting, shape the profile, and all are left out of the feed). With
`--candidates N` the candidate window is widened to hold N articles. Finally a fresh process
(a web worker) loads the model, serves one page and reports its peak resident memory.
Target: reader with 200 reads at 100,000 articles and a 20,000-article window: p50 <= 2 x
the numpy scoring limit measured in the same run (one candidates x 128 float32 product and
the top 20 of it, the least any ranking of the window costs; timed alternately with the
history reader's pages, so both see the same machine), p99 <= 40 ms; retrain <= 120 s;
worker <= 400 MB resident. The history reader's page is also reported part by part (wall
medians, `history_*_ms`): the round trips to the database and Redis any personalized page
makes (`history_all_trips_ms`), and the computing.
"""

import argparse
import importlib.util
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import astuple
from datetime import timedelta
from pathlib import Path

from bench.common import (
    as_signed_in,
    bench_environment,
    machine,
    machine_pace,
    percentiles,
    setup_django,
    timed,
)
from bench.load import key_store_ready

TOPICS = 12
WORDS_PER_TOPIC = 400
SHARED_WORDS = 2_000
PREFIX = "feedbench-"


def _vocabulary(rng: random.Random) -> tuple[list[list[str]], list[str]]:
    def word(n: int) -> str:
        return "".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(n))

    per_topic = [[word(3) for _ in range(WORDS_PER_TOPIC)] for _ in range(TOPICS)]
    return per_topic, [word(2) + word(2) for _ in range(SHARED_WORDS)]


def _generate(count: int, days: int) -> None:
    from django.utils import timezone

    from news.models import Article, Topic

    rng = random.Random(20261123)
    topics = [
        Topic.objects.get_or_create(slug=f"{PREFIX}{i}", defaults={"name": f"Bench topic {i}"})[0]
        for i in range(TOPICS)
    ]
    existing = Article.objects.filter(slug__startswith=PREFIX)
    if existing.count() == count:
        return
    existing.delete()
    per_topic, shared = _vocabulary(rng)
    now = timezone.now()
    through = Article.topics.through
    for start in range(0, count, 5_000):
        batch, topic_of = [], []
        for i in range(start, min(start + 5_000, count)):
            topic = rng.randrange(TOPICS)
            words = rng.choices(per_topic[topic], k=50) + rng.choices(shared, k=40)
            batch.append(
                Article(
                    slug=f"{PREFIX}{i}",
                    title=" ".join(words[:8]).capitalize(),
                    summary=" ".join(words[8:25]),
                    body=" ".join(words[25:]),
                    status=Article.Status.PUBLISHED,
                    published_at=now - timedelta(minutes=rng.uniform(5, days * 24 * 60)),
                    editors_pick_until=now + timedelta(days=1) if rng.random() < 0.002 else None,
                )
            )
            topic_of.append(topic)
        created = Article.objects.bulk_create(batch)
        through.objects.bulk_create(
            through(article_id=a.pk, topic_id=topics[t].pk)
            for a, t in zip(created, topic_of, strict=True)
        )


def _release_week() -> None:
    from django.utils import timezone

    from news.models import Article, Topic
    from privacy.models import AggregateSignal, PrivacyBudgetLedger

    rng = random.Random(7)
    today = timezone.localdate()
    AggregateSignal.objects.all().delete()
    PrivacyBudgetLedger.objects.all().delete()
    ids = list(Article.objects.filter(slug__startswith=PREFIX).values_list("pk", flat=True))
    topic_ids = list(Topic.objects.filter(slug__startswith=PREFIX).values_list("pk", flat=True))
    for back in range(1, 8):
        day = today - timedelta(days=back)
        AggregateSignal.objects.bulk_create(
            [
                AggregateSignal(
                    day=day, kind="article", article_id=a, noisy_count=rng.randint(0, 90)
                )
                for a in rng.sample(ids, min(len(ids), 3_000))
            ]
            + [
                AggregateSignal(day=day, kind="topic", topic_id=t, noisy_count=rng.randint(0, 900))
                for t in topic_ids
            ]
        )
        # As the site's aggregation records them: its shares of epsilon 1 a day, each reader
        # counted for 1 article, each line with its noise scale (bound / epsilon).
        for query, epsilon in (("reads_per_article", 0.9), ("reads_per_topic", 0.05)):
            PrivacyBudgetLedger.objects.create(
                day=day,
                query=query,
                epsilon=epsilon,
                mechanism="discrete Laplace",
                contribution_bound=1,
                noise_scale=1 / epsilon,
            )


def _readers(history: int):
    from accounts import services as accounts
    from accounts.models import Preferences, User
    from news.models import Article, Topic
    from privacy.browser_signals import NO_SIGNALS
    from privacy.services import read_record

    topics = list(Topic.objects.filter(slug__startswith=PREFIX).order_by("slug")[:3])
    made = {}
    for level in (Preferences.Level.TOPICS, Preferences.Level.TOPICS_HISTORY):
        email = f"feedbench-{level}@example.org"
        User.objects.filter(email=email).delete()
        reader = accounts.user_create(email=email, password="x" * 16)
        accounts.preferences_set_topics(user=reader, topic_ids=[t.pk for t in topics])
        accounts.preferences_set_level(
            user=reader, level=level, source="preferences", signals=NO_SIGNALS
        )
        made[level] = reader
    history_reader = made[Preferences.Level.TOPICS_HISTORY]
    reads = Article.objects.filter(topics__in=topics).order_by("-published_at")[:history]
    for article in reads:
        read_record(user=history_reader, article=article, signals=NO_SIGNALS)
    return made


# The history reader's page, part by part (wall time, as the target is): the round trips any
# personalized page makes whatever its ranking costs, then the computing. (key, where the
# part's caller looks it up, the name it calls.)
FEED_PARTS = (
    ("trip_profile_query", "recommendations.feed.page", "reader_profile"),
    ("trip_marks_redis", "recommendations.feed.page", "pool_marks"),
    ("trip_key_store_query", "privacy.crypto", "_data_key_row"),
    ("trip_stories_query", "recommendations.feed.page", "articles_live_by_id"),
    ("reads_copy_opened", "recommendations.feed.page", "_reader_reads"),
    ("scoring", "recommendations.feed.page", "feed_scores"),
    ("ranking", "recommendations.ranking", "rank"),
)


def _history_parts(user, *, repeat: int) -> dict:
    """Median wall milliseconds of each of `FEED_PARTS` in the history reader's page (the key
    is looked up inside the reads' part and counted apart from it), the rest of the page
    (reasons, filters, objects), and the round trips together."""
    from bench.profile_page import time_parts
    from recommendations.feed.page import feed_page

    spent: dict[str, float] = defaultdict(float)
    time_parts(spent, parts=[(*part, 0) for part in FEED_PARTS], clock=time.perf_counter)
    per_part: dict[str, list[float]] = defaultdict(list)
    for _ in range(repeat):
        spent.clear()
        started = time.perf_counter()
        list(feed_page(user=user))
        whole = time.perf_counter() - started
        spent["reads_copy_opened"] -= spent["trip_key_store_query"]
        spent["rest"] = whole - sum(spent.values())
        spent["all_trips"] = sum(v for k, v in spent.items() if k.startswith("trip_"))
        for key, seconds in spent.items():
            per_part[key].append(seconds * 1000)
    return {
        f"history_{key}_ms": round(percentiles(values)["p50"], 3)
        for key, values in per_part.items()
    }


def scoring_limit(*, candidates: int, dimensions: int = 128, top: int = 20):
    """The floor of ranking the window: one float32 matrix-vector product over every
    candidate and the best `top` of it, in order (seeded data; only the time matters)."""
    import numpy as np

    rng = np.random.default_rng(20261202)
    vectors = rng.standard_normal((candidates, dimensions), dtype=np.float32)
    reader = rng.standard_normal(dimensions, dtype=np.float32)

    def one():
        scores = vectors @ reader
        best = np.argpartition(-scores, top)[:top]
        return best[np.argsort(-scores[best])]

    return one


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=60, help="Spread of publication dates.")
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--history", type=int, default=20, help="Reads of the history reader.")
    parser.add_argument("--candidates", type=int, help="Widen the window to N candidates.")
    parser.add_argument(
        "--profile-reads",
        type=int,
        help="Newest reads that shape the profile (RECOMMENDER_HISTORY_LIMIT; default: the "
        "site's setting, 50; --profile-reads 200 makes all of them shape it). Every read is "
        "left out of the feed either way.",
    )
    parser.add_argument(
        "--reuse-model",
        action="store_true",
        help="Serve from the model already active in the database (no retrain, none timed): "
        "for before/after runs of the request path against the same model.",
    )
    parser.add_argument(
        "--against",
        type=Path,
        help="A checkout of the code before (e.g. `git worktree add DIR COMMIT`): its feed "
        "modules serve the same visitors in this process, page by page alternately with the "
        "current ones, and both must give the same pages (before/after p50 and p99).",
    )
    options = parser.parse_args()
    # Settings are read from the environment: the site's profile setting unless told
    # otherwise, and a window of enough days (articles are spread evenly) to hold the
    # candidates asked for.
    if options.profile_reads is not None:
        os.environ["RECOMMENDER_HISTORY_LIMIT"] = str(max(options.profile_reads, 1))
    if options.candidates:
        days = math.ceil(options.days * options.candidates / options.articles) + 1
        os.environ["RECOMMENDER_CANDIDATE_DAYS"] = str(days)
        os.environ["RECOMMENDER_MAX_CANDIDATES"] = str(options.candidates)
    os.environ.setdefault(
        "RECOMMENDER_ARTIFACT_DIR", str(Path(tempfile.gettempdir()) / "newsite-bench-models")
    )
    # As in a web worker (newsite/wsgi.py): one BLAS thread, set before numpy loads.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.update(bench_environment(broker=False))
    key_store_ready(os.environ["DATABASE_URL"])
    setup_django()
    from django.conf import settings
    from django.contrib.auth.models import AnonymousUser

    from accounts.models import Preferences
    from recommendations.feed.page import feed_page
    from recommendations.services import model_retrain

    started = time.perf_counter()
    _generate(options.articles, options.days)
    _release_week()
    readers = _readers(options.history)
    from django.db import connection

    with connection.cursor() as cursor:
        # Fresh planner statistics, as autovacuum keeps them on a live site.
        cursor.execute("ANALYZE")
    setup_seconds = time.perf_counter() - started

    from recommendations.active import active_model

    retrain_seconds = None
    if not (options.reuse_model and active_model() is not None):
        started = time.perf_counter()
        trained = model_retrain()
        retrain_seconds = time.perf_counter() - started
        assert trained.activated, trained

    visitors = {
        "anonymous": AnonymousUser(),
        "topics": as_signed_in(readers[Preferences.Level.TOPICS]),
        "history": as_signed_in(readers[Preferences.Level.TOPICS_HISTORY]),
    }
    summary = {
        "articles": options.articles,
        "history": options.history,
        "profile_reads": settings.RECOMMENDER_HISTORY_LIMIT,
        "candidate_days": settings.RECOMMENDER_CANDIDATE_DAYS,
        "max_candidates": settings.RECOMMENDER_MAX_CANDIDATES,
        "setup_s": round(setup_seconds, 1),
        "retrain_s": round(retrain_seconds, 1) if retrain_seconds is not None else "reused",
    }
    from recommendations.feed.pool import candidate_pool_size

    limit, limit_samples = None, []
    for name, user in visitors.items():

        def one(user=user):
            assert len(list(feed_page(user=user))) == settings.NEWS_PAGE_SIZE

        timed(one, repeat=10)  # warm-up: loads the model, fills caches
        if name != "history":
            result = percentiles(timed(one, repeat=options.repeat))
        else:
            # Alternately with the scoring limit, so a slower minute of the machine slows both.
            limit = scoring_limit(candidates=max(candidate_pool_size(), 1))
            timed(limit, repeat=10)
            samples = []
            for _ in range(options.repeat):
                samples += timed(one, repeat=1)
                limit_samples += timed(limit, repeat=1)
            result = percentiles(samples)
        summary[f"{name}_p50_ms"] = round(result["p50"], 2)
        summary[f"{name}_p99_ms"] = round(result["p99"], 2)
    summary["scoring_limit_p50_ms"] = round(percentiles(limit_samples)["p50"], 3)
    summary["history_to_limit"] = round(
        summary["history_p50_ms"] / summary["scoring_limit_p50_ms"], 1
    )

    if options.against:
        summary |= _against(options.against, visitors, repeat=options.repeat, limit=limit)
    # Last: it wraps the parts it times for the rest of the process.
    summary |= _history_parts(visitors["history"], repeat=options.repeat)
    # The pool the timed pages were served from.
    summary["candidates"] = candidate_pool_size()
    summary["worker_rss_mb"] = _worker_rss_mb(readers[Preferences.Level.TOPICS_HISTORY].pk)
    summary["machine"] = machine()
    summary["machine_pace_s"] = machine_pace()
    for key, value in summary.items():
        print(f"{key:>18}: {value}")
    return summary


# What a feed page runs that a change to its speed may touch, dependencies first.
FEED_MODULES = (
    "privacy.crypto",
    "privacy.selectors",
    "recommendations.explanations",
    "recommendations.ranking",
    "recommendations.feed.scoring",
    "recommendations.feed.pool",
    "recommendations.feed.page",
)


def _feed_before(directory: Path):
    """`feed_page` of the checkout in `directory`: its FEED_MODULES loaded beside the current
    ones (the same models, settings and database), each name they import from one another
    pointed at the checkout's own."""
    before = {}
    for name in FEED_MODULES:
        path = directory.joinpath(*name.split(".")).with_suffix(".py")
        spec = importlib.util.spec_from_file_location(f"{name}_before", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        before[name] = module
    for module in before.values():
        for attribute, value in list(vars(module).items()):
            source = (
                getattr(value, "__module__", None) if not isinstance(value, type(sys)) else None
            )
            if isinstance(value, type(sys)) and value.__name__ in before:
                setattr(module, attribute, before[value.__name__])
            elif source in before and hasattr(before[source], getattr(value, "__name__", "")):
                setattr(module, attribute, getattr(before[source], value.__name__))
    return before["recommendations.feed.page"].feed_page


def _against(directory: Path, visitors: dict, *, repeat: int, limit) -> dict:
    """Each visitor's pages from the code before and the current code, alternately (which goes
    first alternating too) with the scoring limit, after checking that both give the same
    first, second and fifth pages: stories, reasons and their controls."""
    from recommendations.feed.page import feed_page

    before = _feed_before(directory)

    def shown(page):
        # Field by field: the two codes' Reason classes are not the same class.
        return [(item.article.pk, astuple(item.reason), item.list_type) for item in page]

    result = {}
    for name, user in visitors.items():
        for number in (1, 2, 5):
            assert shown(before(user=user, page_number=number)) == shown(
                feed_page(user=user, page_number=number)
            ), (name, number)
        samples = {"before": [], "after": [], "limit": []}
        for turn in range(repeat):
            pair = [("before", before), ("after", feed_page)]
            for label, serve in pair[:: 1 if turn % 2 else -1]:
                samples[label] += timed(lambda serve=serve, user=user: serve(user=user), repeat=1)
            samples["limit"] += timed(limit, repeat=1)
        for label, values in samples.items():
            ranked = percentiles(values)
            result[f"against_{name}_{label}_ms"] = (
                round(ranked["p50"], 2),
                round(ranked["p99"], 2),
            )
    return result


WORKER = """
import gc, json, os, re, django
django.setup()
from django.contrib.auth import get_user_model
from recommendations.feed.page import feed_page
reader = get_user_model().objects.get(pk=int(os.environ["BENCH_READER"]))
for _ in range(5):
    list(feed_page(user=reader))
gc.collect()
with open("/proc/self/status") as status:
    text = status.read()
print(json.dumps({
    name: int(re.search(field + r":\\s+(\\d+)", text).group(1))
    for name, field in (("peak", "VmHWM"), ("steady", "VmRSS"))
}))
"""


def worker_memory_mb(reader_id: int) -> dict[str, float]:
    """Resident memory of a fresh process that loads Django and the active model and serves
    the history reader a few pages, as a web worker does: its peak and what it holds
    afterwards, from /proc (VmHWM and VmRSS, in KiB). Not getrusage's ru_maxrss: a child
    keeps the peak of the process it was forked from, here this benchmark with its whole
    catalogue in memory (that is how an earlier run reported 645 MB for a 280 MB worker)."""
    env = {**os.environ, **bench_environment(broker=False), "BENCH_READER": str(reader_id)}
    result = subprocess.run(
        [sys.executable, "-c", WORKER], env=env, capture_output=True, text=True, check=True
    )
    kib = json.loads(result.stdout.strip().splitlines()[-1])
    return {name: round(value / 1024, 1) for name, value in kib.items()}


def _worker_rss_mb(reader_id: int) -> float:
    return worker_memory_mb(reader_id)["peak"]


if __name__ == "__main__":
    main()
