"""The demo-content loader: topics and published articles from a JSON document."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from ..models import Article, Topic

logger = logging.getLogger(__name__)

Status = Article.Status


@dataclass(frozen=True)
class DemoLoadResult:
    topics_created: int
    articles_created: int
    articles_skipped: int


DEMO_MAX_DAYS_AGO = 3650


def _demo_validate(data: dict) -> None:
    """Check the shape of every value before anything is written: a hand-edited document
    gets one clear refusal, never a half-made load or a crash on a wrong type."""
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("articles"), list)
        or not isinstance(data.get("topics", []), list)
    ):
        raise ValidationError("Demo content must be an object with 'topics' and 'articles' lists.")
    for position, item in enumerate(data.get("topics", []), start=1):
        if not isinstance(item, dict) or not item.get("name") or not isinstance(item["name"], str):
            raise ValidationError(f"Demo topic #{position} needs a name.")
        if any(not isinstance(item.get(key, ""), str) for key in ("slug", "description")):
            raise ValidationError(f"Demo topic #{position}: slug and description must be text.")
    required = ("slug", "title", "summary", "body", "topics")
    for position, item in enumerate(data["articles"], start=1):
        if not isinstance(item, dict):
            raise ValidationError(f"Demo article #{position} is not an object.")
        missing = [key for key in required if not item.get(key)]
        if missing:
            raise ValidationError(f"Demo article #{position} lacks {', '.join(missing)}.")
        texts = ("slug", "title", "summary", "body", "author")
        if any(not isinstance(item.get(key, ""), str) for key in texts) or not (
            isinstance(item["topics"], list) and all(isinstance(t, str) for t in item["topics"])
        ):
            raise ValidationError(
                f"Demo article #{position}: {', '.join(texts)} must be text and topics a list "
                "of topic slugs."
            )
        days_ago = item.get("days_ago", 0)
        if (
            isinstance(days_ago, bool)
            or not isinstance(days_ago, int | float)
            or not 0 <= days_ago <= DEMO_MAX_DAYS_AGO
        ):
            raise ValidationError(
                f"Demo article #{position}: days_ago must be a number from 0 to "
                f"{DEMO_MAX_DAYS_AGO}."
            )


@transaction.atomic
def demo_content_load(*, data: dict, now: datetime | None = None) -> DemoLoadResult:
    """Load topics and published articles from a demo-content document.

    Existing rows (matched by slug) are left exactly as they are, so loading twice changes
    nothing. The document is checked whole before anything is written.
    """
    _demo_validate(data)
    now = now or timezone.now()
    topics_created = 0
    topics: dict[str, Topic] = {t.slug: t for t in Topic.objects.all()}
    for item in data.get("topics", []):
        slug = item.get("slug") or slugify(item["name"])
        if slug in topics:
            continue
        topic = Topic(slug=slug, name=item["name"], description=item.get("description", ""))
        topic.full_clean()
        topic.save()
        topics[slug] = topic
        topics_created += 1

    existing = set(Article.objects.values_list("slug", flat=True))
    created = skipped = 0
    for item in data["articles"]:
        if item["slug"] in existing:
            skipped += 1
            continue
        unknown = [slug for slug in item["topics"] if slug not in topics]
        if unknown:
            raise ValidationError(
                f"Article '{item['slug']}' names unknown topics: {', '.join(unknown)}."
            )
        published_at = now - timedelta(days=float(item.get("days_ago", 0)))
        article = Article(
            slug=item["slug"],
            title=item["title"],
            summary=item["summary"],
            body=item["body"],
            author=item.get("author", ""),
            status=Status.PUBLISHED,
            published_at=published_at,
            editors_pick_until=now + timedelta(days=7) if item.get("editors_pick") else None,
        )
        article.full_clean()
        article.save()
        article.topics.set([topics[slug] for slug in item["topics"]])
        existing.add(article.slug)
        created += 1
    return DemoLoadResult(
        topics_created=topics_created, articles_created=created, articles_skipped=skipped
    )
