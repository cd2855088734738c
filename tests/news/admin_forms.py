"""Articles as the admin's change form shows them, and the data that form posts back."""

from datetime import timedelta

from django.utils import timezone

from news.models import Article
from tests.factories import ArticleFactory


def story(**fields) -> Article:
    """An article dated to the whole second, as the admin form shows and posts it back."""
    when = (timezone.now() - timedelta(hours=1)).replace(microsecond=0)
    return ArticleFactory(published_at=when, **fields)


def admin_form(article: Article, **changes) -> dict:
    data = {
        "title": article.title,
        "slug": article.slug,
        "summary": article.summary,
        "body": article.body,
        "correction_note": article.correction_note,
        "author": article.author,
        "topics": [t.pk for t in article.topics.all()],
        "status": article.status,
        "published_at_0": article.published_at.strftime("%Y-%m-%d") if article.published_at else "",
        "published_at_1": article.published_at.strftime("%H:%M:%S") if article.published_at else "",
        "editors_pick_until_0": "",
        "editors_pick_until_1": "",
        "source": "",
        "canonical_url": article.canonical_url,
    }
    data.update(changes)
    return data
