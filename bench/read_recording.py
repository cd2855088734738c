"""How much recording a read adds to the article view, on PostgreSQL.

Compares the article page for the same signed-in reader at level "Topics only" (nothing
recorded) and at "Topics + reading history" with counting toward popular (history entry
encrypted + signal event), over the same articles.
"""

import sys

from bench.common import percentiles, setup_django, timed

REPEAT = 600


def main() -> dict:
    setup_django()
    from django.test import Client
    from django.test.utils import setup_test_environment

    from accounts import services as accounts
    from accounts.models import Preferences, User
    from news.models import Article, Topic
    from privacy.browser_signals import NO_SIGNALS
    from privacy.services import consent_set

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
    User.objects.filter(email="bench-reader@example.org").delete()
    reader = accounts.user_create(email="bench-reader@example.org", password="x" * 16)
    accounts.preferences_set_topics(user=reader, topic_ids=[topic.pk])
    client = Client()
    client.force_login(reader)

    def view_all():
        index = {"i": 0}

        def one():
            article = articles[index["i"] % len(articles)]
            index["i"] += 1
            assert client.get(article.get_absolute_url()).status_code == 200

        return one

    accounts.preferences_set_level(
        user=reader, level=Preferences.Level.TOPICS, source="preferences", signals=NO_SIGNALS
    )
    timed(view_all(), repeat=50)  # warm up
    baseline = percentiles(timed(view_all(), repeat=REPEAT))

    accounts.preferences_set_level(
        user=reader,
        level=Preferences.Level.TOPICS_HISTORY,
        source="preferences",
        signals=NO_SIGNALS,
    )
    consent_set(
        user=reader,
        purpose="popular_counting",
        granted=True,
        source="preferences",
        signals=NO_SIGNALS,
    )
    timed(view_all(), repeat=50)
    recording = percentiles(timed(view_all(), repeat=REPEAT))
    User.objects.filter(pk=reader.pk).delete()
    result = {
        "baseline_p50_ms": baseline["p50"],
        "recording_p50_ms": recording["p50"],
        "added_p50_ms": recording["p50"] - baseline["p50"],
        "baseline_p99_ms": baseline["p99"],
        "recording_p99_ms": recording["p99"],
    }
    for key, value in result.items():
        print(f"{key:>20}: {value:.2f}")
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
