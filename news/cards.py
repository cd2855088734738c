"""The part of a story card that is the same for every reader (lead image, title, date,
topics, summary), rendered once per article version and kept in the shared cache; the reason
under it can be personal and is rendered for each request, never cached here."""

import secrets
from collections.abc import Sequence

from django.core.cache import cache
from django.db.models import prefetch_related_objects
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from common.sitewide import SiteWide

from .models import Article
from .selectors import articles_latest

CARD_SECONDS = 600
# What a card shows. An article with any of it deferred (a cached feed page looks its stories
# up by a few columns) is loaded in full before rendering; one without only its body is not.
CARD_FIELDS = frozenset(
    {
        "title",
        "slug",
        "summary",
        "published_at",
        "lead_image_card",
        "lead_image_card_width",
        "lead_image_card_height",
        "lead_image_alt",
    }
)


# Cards name their topics: a renamed or removed topic makes every card anew (news.signals).
topics_version = SiteWide(
    key="news:card-topics-version", compute=lambda: secrets.token_hex(6), seconds=CARD_SECONDS
)


def _key(article: Article, via: str, topics: str) -> str:
    # A new version of the article (any save) is a new key; the old one expires on its own.
    return f"card:{article.pk}:{article.updated_at.timestamp()}:{via}:{get_language()}:{topics}"


def card_bodies(*, cards: Sequence[tuple[Article, str]]) -> list[SafeString]:
    """The rendered card bodies for (article, via) pairs, in order: one cache round trip,
    and the articles missing from it loaded in full and rendered."""
    topics = topics_version.get()
    keys = [_key(article, via, topics) for article, via in cards]
    found = cache.get_many(keys)
    missing = [
        (key, article, via)
        for key, (article, via) in zip(keys, cards, strict=True)
        if key not in found
    ]
    if missing:
        # Pages served from the feed cache hold only ids and versions; rendering needs topics.
        light = {a.pk for _, a, _ in missing if CARD_FIELDS & a.get_deferred_fields()}
        full = {a.pk: a for a in articles_latest().filter(pk__in=light).order_by()} if light else {}
        # The feed hands over its stories without their topics: one query for all of them.
        prefetch_related_objects([a for _, a, _ in missing if a.pk not in full], "topics")
        rendered = {}
        for key, article, via in missing:
            article = full.get(article.pk, article)
            rendered[key] = render_to_string(
                "includes/article_card_body.html", {"article": article, "via": via}
            )
        cache.set_many(rendered, CARD_SECONDS)
        found.update(rendered)
    return [mark_safe(found[key]) for key in keys]  # noqa: S308 (our own rendered template)


def feed_cards_html(*, items: Sequence, user) -> SafeString:
    """A feed page's cards (FeedItems: story, reason, list type) as HTML: the shared card
    bodies, and each card's reason, which may be personal (so a reader's rendered cards are
    kept only sealed, by recommendations.feed_cache)."""
    bodies = card_bodies(cards=[(item.article, item.list_type) for item in items])
    return mark_safe(  # noqa: S308 (our own rendered template)
        render_to_string(
            "news/_feed_cards.html",
            {"cards": list(zip(items, bodies, strict=True)), "user": user},
        )
    )
