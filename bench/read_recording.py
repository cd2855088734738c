"""How much recording a read adds to the article view, on PostgreSQL.

Compares the article page for the same signed-in reader at level "Topics only" (nothing
recorded) and at "Topics + reading history" with counting toward popular (history entry
encrypted + signal event), over the same articles. As in production, the page queues the
writes in Redis and a real Celery worker stores them in batches; the worker is started after
the timed requests (on this 2-core machine it would otherwise take CPU from the web process
it runs beside; in production it has its own), and the benchmark then checks that it stored
every read.
"""

import os
import random
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager

from bench.common import bench_environment, percentiles, setup_django, timed

REPEAT = 600
WARM_UP = 50


@contextmanager
def celery_worker():
    env = {**os.environ, **bench_environment(broker=True)}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "newsite", "worker", "-P", "solo", "-l", "WARNING"],
        env=env,
    )
    try:
        yield
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def wait_for(condition, *, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def main() -> dict:
    setup_django(broker=True)
    return measure()


def bench_reader(*, email: str, topic, recording: bool):
    """A reader at "Topics only" (nothing recorded), or at the top level who also counts
    toward popular (an encrypted history entry and a signal event per read)."""
    from accounts import services as accounts
    from accounts.models import Preferences, User
    from privacy.browser_signals import NO_SIGNALS
    from privacy.services import consent_set

    User.objects.filter(email=email).delete()
    reader = accounts.user_create(email=email, password="x" * 16)
    accounts.preferences_set_topics(user=reader, topic_ids=[topic.pk])
    level = Preferences.Level.TOPICS_HISTORY if recording else Preferences.Level.TOPICS
    accounts.preferences_set_level(
        user=reader, level=level, source="preferences", signals=NO_SIGNALS
    )
    if recording:
        consent_set(
            user=reader,
            purpose="popular_counting",
            granted=True,
            source="preferences",
            signals=NO_SIGNALS,
        )
    return reader


def measure() -> dict:
    from django.test import Client
    from django.test.utils import setup_test_environment

    from accounts.models import User
    from news.models import Article, Topic
    from privacy.browser_signals import NO_SIGNALS
    from privacy.models import ReadingHistoryEntry
    from privacy.selectors import read_permissions
    from privacy.tasks import reads_store_queued

    setup_test_environment()
    topic, _ = Topic.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    if Article.objects.filter(slug__startswith="bench-").count() < 50:
        from django.utils import timezone

        for i in range(50):
            article, _ = Article.objects.get_or_create(
                slug=f"bench-{i}",
                defaults={
                    "title": f"Bench story {i}",
                    "body": "Words.\n\nMore words.",
                    "status": "published",
                    "published_at": timezone.now(),
                },
            )
            article.topics.add(topic)
    articles = list(Article.objects.filter(slug__startswith="bench-"))
    quiet = bench_reader(email="bench-quiet@example.org", topic=topic, recording=False)
    recording = bench_reader(email="bench-recording@example.org", topic=topic, recording=True)
    clients = {"quiet": Client(), "recording": Client()}
    clients["quiet"].force_login(quiet)
    clients["recording"].force_login(recording)

    # Requests alternate between the two readers, in a random order each round, so load from
    # anything else on this shared machine hits both sides alike; the cost of recording is
    # the median of the paired differences.
    rng = random.Random(7)
    samples: dict[str, list[float]] = {"quiet": [], "recording": []}
    for round_number in range(WARM_UP + REPEAT):
        article = articles[round_number % len(articles)]
        order = ["quiet", "recording"]
        rng.shuffle(order)
        for name in order:
            start = time.perf_counter()
            assert clients[name].get(article.get_absolute_url()).status_code == 200
            if round_number >= WARM_UP:
                samples[name].append((time.perf_counter() - start) * 1000)
    paired = [r - q for q, r in zip(samples["quiet"], samples["recording"], strict=True)]

    # The quiet reader's page also asks whether it may record (and learns it may not); that
    # question is part of the cost of recording, so it is timed on its own and added.
    decision = percentiles(
        timed(lambda: read_permissions(user_id=recording.pk, signals=NO_SIGNALS), repeat=REPEAT)
    )

    # Every read was really stored by the worker, not lost on the way.
    with celery_worker():
        reads_store_queued.delay()  # the drains the requests scheduled ran before the worker
        stored = wait_for(
            lambda: ReadingHistoryEntry.objects.filter(user=recording).count() == WARM_UP + REPEAT,
            seconds=300,
        )
    User.objects.filter(pk__in=[quiet.pk, recording.pk]).delete()
    if not stored:
        print("The worker did not store every read.")
        return {}
    baseline, with_recording = percentiles(samples["quiet"]), percentiles(samples["recording"])
    result = {
        "baseline_p50_ms": baseline["p50"],
        "recording_p50_ms": with_recording["p50"],
        "paired_difference_p50_ms": statistics.median(paired),
        "decision_p50_ms": decision["p50"],
        "added_p50_ms": statistics.median(paired) + decision["p50"],
        "baseline_p99_ms": baseline["p99"],
        "recording_p99_ms": with_recording["p99"],
    }
    for key, value in result.items():
        print(f"{key:>20}: {value:.2f}")
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
