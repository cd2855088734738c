"""The daily DP aggregation of one day with 1,000,000 signal events from 50,000 pseudonyms.

Events are generated in PostgreSQL (generate_series) for a past day over 2,000 published
articles in 12 topics; each pseudonym reads 20 distinct articles (the contribution bound
L = 20 still ranks every pseudonym's events in SQL). The timed part is `aggregate_day` alone.
"""

import time
from datetime import timedelta

from bench.common import setup_django

ARTICLES = 2_000
PSEUDONYMS = 50_000
READS_PER_PSEUDONYM = 20


def generate():
    """Fill one past day with the benchmark's events; returns (day, events, pseudonyms, s)."""
    from django.db import connection
    from django.utils import timezone

    from news.models import Article, Topic
    from privacy.models import AggregateSignal, PrivacyBudgetLedger, SignalEvent

    day = timezone.now().date() - timedelta(days=3)
    topics = [
        Topic.objects.get_or_create(slug=f"agg-topic-{i}", defaults={"name": f"Agg topic {i}"})[0]
        for i in range(12)
    ]
    if Article.objects.filter(slug__startswith="agg-").count() < ARTICLES:
        created = Article.objects.bulk_create(
            [
                Article(
                    slug=f"agg-{i}",
                    title=f"Aggregation story {i}",
                    body="Words.",
                    status="published",
                    published_at=timezone.now() - timedelta(days=10),
                )
                for i in range(ARTICLES)
            ],
            ignore_conflicts=True,
        )
        through = Article.topics.through
        through.objects.bulk_create(
            [
                through(article_id=a.pk, topic_id=topics[i % len(topics)].pk)
                for i, a in enumerate(Article.objects.filter(slug__startswith="agg-"))
            ],
            ignore_conflicts=True,
        )
        del created
    article_ids = list(Article.objects.filter(slug__startswith="agg-").values_list("pk", flat=True))
    PrivacyBudgetLedger.objects.filter(day=day).delete()
    AggregateSignal.objects.filter(day=day).delete()
    SignalEvent.objects.filter(day=day).delete()

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO privacy_signalevent (day, pseudonym, article_id, list_type)
            SELECT %s, md5('p' || (g / %s)::text),
                   (%s::bigint[])[1 + ((g::bigint * 7919) %% %s)], ''
            FROM generate_series(0, %s - 1) AS g
            ON CONFLICT DO NOTHING
            """,
            [
                day,
                READS_PER_PSEUDONYM,
                article_ids,
                len(article_ids),
                PSEUDONYMS * READS_PER_PSEUDONYM,
            ],
        )
    events = SignalEvent.objects.filter(day=day).count()
    pseudonyms = SignalEvent.objects.filter(day=day).values("pseudonym").distinct().count()
    return day, events, pseudonyms, time.perf_counter() - started


def main() -> dict:
    setup_django()
    from privacy.aggregation import aggregate_day
    from privacy.models import SignalEvent

    day, events, pseudonyms, generate_seconds = generate()
    started = time.perf_counter()
    result = aggregate_day(day=day)
    aggregate_seconds = time.perf_counter() - started
    summary = {
        "events": events,
        "pseudonyms": pseudonyms,
        "generate_s": round(generate_seconds, 1),
        "aggregate_s": round(aggregate_seconds, 2),
        "articles_released": result.articles_released,
        "topics_released": result.topics_released,
        "events_left": SignalEvent.objects.filter(day=day).count(),
    }
    for key, value in summary.items():
        print(f"{key:>18}: {value}")
    return summary


if __name__ == "__main__":
    main()
