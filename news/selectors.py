"""Reads of news content shared by pages, the API and tasks."""

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import Q, QuerySet

from .models import Article, ArticleRevision, Topic


def _with_topics(queryset: QuerySet[Article]) -> QuerySet[Article]:
    return queryset.select_related("source").prefetch_related("topics")


def articles_latest() -> QuerySet[Article]:
    return _with_topics(Article.objects.published().order_by("-published_at", "-id"))


def articles_for_topic(*, topic: Topic) -> QuerySet[Article]:
    return articles_latest().filter(topics=topic)


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
