"""Importing a feed: `import_feed` on a generated local RSS file of new, untagged entries, with
their topic suggestions, on PostgreSQL.

`python -m bench.ingest [--items 3000] [--labelled 1000]`: writes an RSS file of `--items`
entries (deterministic words from 12 topics, dated over the last 30 days, no categories, so
every new article asks for suggestions), makes sure `--labelled` articles with topics exist to
train the suggestion classifier on, deletes what an earlier run imported, then times the whole
command in this process as an editor runs it: parsing, the import transaction, and the topic
suggestions queued after the commit (tasks run in-process, as in `make demo`, so the time
includes them). It counts how often the classifier was trained and checks every entry arrived
and most got suggestions. Its own database: `INGEST_BENCH_DATABASE_URL`, default
`postgres://postgres@127.0.0.1:5432/newsite_ingestbench`. Target: 3,000 items in under 60 s.
"""

import argparse
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from io import StringIO
from pathlib import Path
from xml.sax.saxutils import escape

from bench.common import machine, machine_pace, setup_django

DATABASE_URL = os.environ.get(
    "INGEST_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/newsite_ingestbench"
)
TOPICS = 12
WORDS_PER_TOPIC = 60
SHARED_WORDS = 400
PREFIX = "ingestbench-"
SOURCE_NAME = "Ingest benchmark"
TARGET_SECONDS = 60


def _vocabulary(rng: random.Random) -> tuple[list[list[str]], list[str]]:
    def word(n: int) -> str:
        return "".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(n))

    per_topic = [[word(3) for _ in range(WORDS_PER_TOPIC)] for _ in range(TOPICS)]
    return per_topic, [word(2) + word(2) for _ in range(SHARED_WORDS)]


def _story(rng: random.Random, per_topic, shared) -> tuple[int, str, str, str]:
    topic = rng.randrange(TOPICS)
    words = rng.choices(per_topic[topic], k=40) + rng.choices(shared, k=40)
    rng.shuffle(words)
    title = " ".join(words[:8]).capitalize()
    summary = " ".join(words[8:25])
    body = "\n\n".join(" ".join(words[i : i + 20]) + "." for i in range(25, 80, 20))
    return topic, title, summary, body


def _labelled(count: int) -> None:
    """`count` articles editors gave topics: what the suggestion classifier learns from."""
    from django.utils import timezone

    from news.models import Article, Topic

    existing = Article.objects.filter(slug__startswith=f"{PREFIX}labelled-")
    if existing.count() == count:
        return
    existing.delete()
    rng = random.Random(20261202)
    per_topic, shared = _vocabulary(rng)
    topics = [
        Topic.objects.get_or_create(slug=f"{PREFIX}{i}", defaults={"name": f"Ingest topic {i}"})[0]
        for i in range(TOPICS)
    ]
    now = timezone.now()
    stories = [_story(rng, per_topic, shared) for _ in range(count)]
    created = Article.objects.bulk_create(
        Article(
            slug=f"{PREFIX}labelled-{n}",
            title=title,
            summary=summary,
            body=body,
            status=Article.Status.PUBLISHED,
            published_at=now - timedelta(days=40, minutes=n),
        )
        for n, (_, title, summary, body) in enumerate(stories)
    )
    through = Article.topics.through
    through.objects.bulk_create(
        through(article_id=article.pk, topic_id=topics[story[0]].pk)
        for article, story in zip(created, stories, strict=True)
    )


def _feed_file(items: int, folder: Path) -> Path:
    # The same words as the labelled stories (same seed), so suggestions can be found.
    rng = random.Random(20261202)
    per_topic, shared = _vocabulary(rng)
    rng = random.Random(items)
    now = datetime.now(UTC)
    entries = []
    for n in range(items):
        _, title, summary, body = _story(rng, per_topic, shared)
        paragraphs = "".join(f"<p>{escape(p)}</p>" for p in body.split("\n\n"))
        dated = format_datetime(now - timedelta(minutes=rng.uniform(5, 30 * 24 * 60)))
        entries.append(
            f"<item><title>{escape(title)}</title>"
            f"<link>https://bench.example/stories/{n}</link>"
            f'<guid isPermaLink="false">{PREFIX}{n}</guid><pubDate>{dated}</pubDate>'
            f"<description><![CDATA[{paragraphs}]]></description></item>"
        )
    path = folder / "bench-feed.xml"
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{SOURCE_NAME}</title><link>https://bench.example/</link>"
        f"<description>Generated for bench.ingest</description>{''.join(entries)}"
        "</channel></rss>",
        encoding="utf-8",
    )
    return path


def _count_trainings():
    """Wrap the classifier's training to count and time it (the service looks it up on the
    module at each call)."""
    from news import topic_suggestions

    calls = {"count": 0, "seconds": 0.0}
    train = topic_suggestions.classifier_train

    def counted(**kwargs):
        started = time.perf_counter()
        try:
            return train(**kwargs)
        finally:
            calls["count"] += 1
            calls["seconds"] += time.perf_counter() - started

    topic_suggestions.classifier_train = counted
    return calls


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=3_000)
    parser.add_argument("--labelled", type=int, default=1_000)
    options = parser.parse_args()
    setup_django(database_url=DATABASE_URL)
    from django.conf import settings
    from django.core.management import CommandError, call_command
    from django.db import connection

    from news.models import Article, Source

    assert settings.CELERY_TASK_ALWAYS_EAGER, "tasks run in-process here, as in make demo"
    _labelled(options.labelled)
    Article.objects.filter(source__name=SOURCE_NAME).delete()
    Source.objects.filter(name=SOURCE_NAME).delete()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE news_article")
    pace = machine_pace()
    trainings = _count_trainings()

    with tempfile.TemporaryDirectory(prefix="newsite-ingest-") as folder:
        path = _feed_file(options.items, Path(folder))
        size = path.stat().st_size
        out, err = StringIO(), StringIO()
        started = time.perf_counter()
        try:
            call_command("import_feed", str(path), "--source", SOURCE_NAME, stdout=out, stderr=err)
        except CommandError as error:
            raise SystemExit(f"import_feed failed: {error}\n{err.getvalue()}") from error
        seconds = time.perf_counter() - started

    imported = Article.objects.filter(source__name=SOURCE_NAME)
    created = imported.count()
    suggested = imported.exclude(suggested_topics=[]).count()
    assert created == options.items, f"{created} of {options.items} entries arrived"
    assert suggested >= 0.9 * created, f"only {suggested} of {created} got suggestions"
    result = {
        "items": options.items,
        "labelled": options.labelled,
        "feed_bytes": size,
        "seconds": round(seconds, 1),
        "ms_per_item": round(seconds * 1000 / options.items, 1),
        "trainings": trainings["count"],
        "training_seconds": round(trainings["seconds"], 1),
        "suggested": suggested,
        "pace": pace,
    }
    if options.items != 3_000:
        verdict = f"not judged at {options.items:,} items"
    else:
        verdict = "met" if seconds < TARGET_SECONDS else "MISSED"
    print(
        "| date | machine | items | labelled | import + suggestions | per item | classifier "
        "trainings | suggested |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {datetime.now(UTC):%Y-%m-%d} | {machine()}, pace {pace} s | {options.items:,} | "
        f"{options.labelled:,} | **{seconds:.1f} s** | {result['ms_per_item']} ms | "
        f"{trainings['count']} ({trainings['seconds']:.1f} s) | {suggested:,} |"
    )
    print(f"Target: 3,000 items in under {TARGET_SECONDS} s: {verdict}.")
    return result


if __name__ == "__main__":
    main()
