"""Every write to news content: the editorial workflow and the demo-content loader."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from .models import Article, Topic

Status = Article.Status

# Which status an article may move to from each status.
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    Status.DRAFT: {Status.SCHEDULED, Status.PUBLISHED},
    Status.SCHEDULED: {Status.DRAFT, Status.PUBLISHED},
    Status.PUBLISHED: {Status.DRAFT, Status.ARCHIVED},
    Status.ARCHIVED: {Status.PUBLISHED, Status.DRAFT},
}


def _transition(*, article: Article, to: str) -> None:
    if to not in ALLOWED_TRANSITIONS[article.status]:
        raise ValidationError(
            f"An article that is {article.get_status_display().lower()} cannot become "
            f"{Status(to).label.lower()}."
        )
    article.status = to


def _vectorise_after_commit(article_ids: list[int]) -> None:
    """Queue vectorising with the active recommender model once the publication is committed,
    so the story can be recommended by content before the next retrain. `robust`: a broker
    outage is logged and never undoes or fails the publication (a minutely task catches up)."""
    from recommendations.tasks import vectorise_article  # the recommender builds on news

    for article_id in article_ids:
        transaction.on_commit(
            lambda article_id=article_id: vectorise_article.delay(article_id), robust=True
        )


def article_publish(*, article: Article, now: datetime | None = None) -> Article:
    """Publish now. An article published before keeps its original date."""
    now = now or timezone.now()
    _transition(article=article, to=Status.PUBLISHED)
    if article.published_at is None or article.published_at > now:
        article.published_at = now
    article.full_clean()
    article.save()
    _vectorise_after_commit([article.pk])
    return article


def article_schedule(*, article: Article, publish_at: datetime) -> Article:
    if publish_at <= timezone.now():
        raise ValidationError("A scheduled time must be in the future.")
    _transition(article=article, to=Status.SCHEDULED)
    article.published_at = publish_at
    article.full_clean()
    article.save()
    return article


def article_unpublish(*, article: Article) -> Article:
    """Take an article off the site and back to draft."""
    _transition(article=article, to=Status.DRAFT)
    article.full_clean()
    article.save()
    return article


def article_archive(*, article: Article) -> Article:
    _transition(article=article, to=Status.ARCHIVED)
    article.full_clean()
    article.save()
    return article


def articles_publish_due(*, now: datetime | None = None) -> int:
    """Publish every scheduled article whose time has come; safe to run any number of times."""
    now = now or timezone.now()
    due = Article.objects.filter(status=Status.SCHEDULED, published_at__lte=now)
    ids = list(due.values_list("pk", flat=True))
    published = Article.objects.filter(pk__in=ids, status=Status.SCHEDULED).update(
        status=Status.PUBLISHED, updated_at=now
    )
    _vectorise_after_commit(ids)
    return published


@dataclass(frozen=True)
class DemoLoadResult:
    topics_created: int
    articles_created: int
    articles_skipped: int


def _demo_validate(data: dict) -> None:
    if not isinstance(data, dict) or not isinstance(data.get("articles"), list):
        raise ValidationError("Demo content must be an object with 'topics' and 'articles' lists.")
    required = ("slug", "title", "summary", "body", "topics")
    for position, item in enumerate(data["articles"], start=1):
        missing = [key for key in required if not item.get(key)]
        if missing:
            raise ValidationError(f"Demo article #{position} lacks {', '.join(missing)}.")


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
