"""Reads of news content shared by pages, the API and tasks."""

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from .models import Article, ArticleRevision, Topic


def _with_topics(queryset: QuerySet[Article]) -> QuerySet[Article]:
    return queryset.select_related("source").prefetch_related("topics")


def articles_latest() -> QuerySet[Article]:
    return _with_topics(Article.objects.published().order_by("-published_at", "-id"))


def articles_for_topic(*, topic: Topic) -> QuerySet[Article]:
    return articles_latest().filter(topics=topic)


# What a story card, its link and the API's listing need: everything but the body (most of a
# row), the suggested topics and the feed's own id.
LISTED_COLUMNS = (
    "id",
    "title",
    "slug",
    "summary",
    "author",
    "source_id",
    "canonical_url",
    "status",
    "published_at",
    "editors_pick_until",
    "created_at",
    "updated_at",
)


def articles_live_by_id(*, ids: Iterable[int], now: datetime | None = None) -> dict[int, Article]:
    """The stories among `ids` that are published, by id, without their body (topics and
    source are loaded by what shows them). Asked for by every feed page and "More like this",
    so the query is written out: the ORM took longer to build it than the database to run it.
    """
    ids = [int(i) for i in ids]
    if not ids:
        return {}
    now = connection.ops.adapt_datetimefield_value(now or timezone.now())
    marks = ", ".join(["%s"] * len(ids))
    query = (
        f"SELECT {', '.join(LISTED_COLUMNS)} FROM {Article._meta.db_table} "
        f"WHERE status = %s AND published_at <= %s AND id IN ({marks})"
    )
    rows = Article.objects.raw(query, [Article.Status.PUBLISHED, now, *ids])
    return {article.pk: article for article in rows}


def article_visible_to(*, slug: str, user) -> Article | None:
    """The article a visitor may read: published ones for everybody, any status for editors
    previewing their work."""
    article = _with_topics(Article.objects.filter(slug=slug)).first()
    if article is None:
        return None
    if article.is_live or (user.is_authenticated and user.has_perm("news.change_article")):
        return article
    return None


def articles_search(*, query: str) -> QuerySet[Article]:
    """Full-text search on PostgreSQL (weighted title > summary > body), substring match
    elsewhere."""
    query = query.strip()
    if not query:
        return Article.objects.none()
    published = articles_latest()
    if connection.vendor == "postgresql":
        vector = (
            SearchVector("title", weight="A", config="english")
            + SearchVector("summary", weight="B", config="english")
            + SearchVector("body", weight="C", config="english")
        )
        search_query = SearchQuery(query, search_type="websearch", config="english")
        return (
            published.annotate(rank=SearchRank(vector, search_query))
            .filter(rank__gt=0)
            .order_by("-rank", "-published_at")
        )
    terms = query.split()
    condition = Q()
    for term in terms:
        condition &= Q(title__icontains=term) | Q(summary__icontains=term) | Q(body__icontains=term)
    return published.filter(condition)


def topics_all() -> QuerySet[Topic]:
    return Topic.objects.all()


def page_size() -> int:
    return settings.NEWS_PAGE_SIZE


def article_revisions(*, article: Article, limit: int = 100) -> QuerySet[ArticleRevision]:
    """An article's recorded changes, newest first (the history page shows the latest 100)."""
    return article.revisions.order_by("-created_at", "-id")[:limit]
