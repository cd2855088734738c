"""The cost of a reader's rights at scale: a full export and an account erasure for a reader
with 5,000 reading-history entries, on PostgreSQL.

Each run creates the reader (topics, consents, 5,000 encrypted history entries spread over
90 days), then times `export_request_create` + `export_build` (the whole ZIP: data.json, one
CSV per category, index.html) and then `account_erase` (key destroyed, every registry
eraser, the verification pass and the receipt email). Targets: export <= 5 s, erasure <= 2 s.
"""

import argparse
import os
import tempfile
import time
from datetime import timedelta

from bench.common import machine, percentiles, setup_django


def _reader(*, entries: int, run: int):
    from django.utils import timezone

    from accounts import services as accounts
    from accounts.models import User
    from news.models import Article, Topic
    from privacy.browser_signals import NO_SIGNALS
    from privacy.crypto import encrypt_for_user
    from privacy.models import ReadingHistoryEntry
    from privacy.selectors import HISTORY_CONTEXT

    topic, _ = Topic.objects.get_or_create(slug="rights", defaults={"name": "Rights"})
    if Article.objects.filter(slug__startswith="rights-").count() < 500:
        Article.objects.bulk_create(
            [
                Article(
                    slug=f"rights-{i}",
                    title=f"Rights story {i}",
                    body="Words.",
                    status="published",
                    published_at=timezone.now() - timedelta(days=30),
                )
                for i in range(500)
            ],
            ignore_conflicts=True,
        )
    article_ids = list(
        Article.objects.filter(slug__startswith="rights-").values_list("pk", flat=True)
    )
    email = f"rights-{run}@example.org"
    User.objects.filter(email=email).delete()
    reader = accounts.user_create(email=email, password="x" * 16)
    accounts.preferences_set_topics(user=reader, topic_ids=[topic.pk])
    accounts.preferences_set_level(
        user=reader, level="topics_history", source="preferences", signals=NO_SIGNALS
    )
    now = timezone.now()
    ReadingHistoryEntry.objects.bulk_create(
        [
            ReadingHistoryEntry(
                user=reader,
                sealed_article=encrypt_for_user(
                    user=reader,
                    plaintext=str(article_ids[i % len(article_ids)]),
                    context=HISTORY_CONTEXT,
                ),
                read_at=now - timedelta(minutes=25 * i),
            )
            for i in range(entries)
        ],
        batch_size=1000,
    )
    return reader


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    os.environ.setdefault("PRIVATE_STORAGE_ROOT", tempfile.mkdtemp(prefix="newsite-bench-"))
    setup_django()
    from django.test.utils import setup_test_environment

    from privacy import erasure, exports
    from privacy.models import ExportRequest

    setup_test_environment()  # emails go to memory, not to a mail server
    export_ms, erase_ms, sizes = [], [], []
    for run in range(options.runs):
        reader = _reader(entries=options.entries, run=run)
        started = time.perf_counter()
        export = exports.export_request_create(user=reader)
        exports.export_build(export_id=export.pk)
        export_ms.append((time.perf_counter() - started) * 1000)
        export = ExportRequest.objects.get(pk=export.pk)
        assert export.status == ExportRequest.Status.READY, export.error
        sizes.append(export.size_bytes)
        started = time.perf_counter()
        receipt = erasure.account_erase(user=reader, password="x" * 16, confirmation="DELETE")
        erase_ms.append((time.perf_counter() - started) * 1000)
        assert receipt.complete
    summary = {
        "entries": options.entries,
        "runs": options.runs,
        "export_p50_ms": round(percentiles(export_ms)["p50"], 1),
        "export_max_ms": round(max(export_ms), 1),
        "zip_kb": round(sizes[0] / 1024),
        "erase_p50_ms": round(percentiles(erase_ms)["p50"], 1),
        "erase_max_ms": round(max(erase_ms), 1),
        "machine": machine(),
    }
    for key, value in summary.items():
        print(f"{key:>14}: {value}")
    return summary


if __name__ == "__main__":
    main()
