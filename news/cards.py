"""The part of a story card that is the same for every reader (lead image, title, date,
topics, summary), rendered once per article version and kept in the shared cache; the reason
under it can be personal and is rendered for each request, never cached here."""

import html
import secrets
import time
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


def _key(article: Article, via: str, language: str, topics: str) -> str:
    # A new version of the article (any save) is a new key; the old one expires on its own.
    return f"card:{article.pk}:{article.updated_at.timestamp()}:{via}:{language}:{topics}"


# Each process keeps the bodies it served too (a key names one version of one story, so a
# copy is never outdated, only unused): a computed page then asks the shared cache for none
# of its 20 cards. Bounded, and emptied when full.
_PROCESS_CARDS: dict[str, tuple[float, SafeString]] = {}
PROCESS_CARDS_KEPT = 4_000


def _process_cards(keys: list[str]) -> dict[str, SafeString]:
    now = time.monotonic()
    found = {}
    for key in keys:
        kept = _PROCESS_CARDS.get(key)
        if kept is not None and kept[0] > now:
            found[key] = kept[1]
    return found


def _process_cards_keep(bodies: dict[str, SafeString]) -> None:
    if len(_PROCESS_CARDS) + len(bodies) > PROCESS_CARDS_KEPT:
        _PROCESS_CARDS.clear()
    until = time.monotonic() + CARD_SECONDS
    for key, body in bodies.items():
        _PROCESS_CARDS[key] = (until, body)


def card_bodies(*, cards: Sequence[tuple[Article, str]]) -> list[SafeString]:
    """The rendered card bodies for (article, via) pairs, in order: from this process's
    copies, then one shared-cache round trip, and the articles missing from both loaded in
    full and rendered."""
    topics, language = topics_version.get(), get_language()
    keys = [_key(article, via, language, topics) for article, via in cards]
    local = _process_cards(keys)
    if len(local) == len(keys):
        return [local[key] for key in keys]
    found = {**local, **cache.get_many([key for key in keys if key not in local])}
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
    bodies = {key: mark_safe(found[key]) for key in keys}  # noqa: S308 (our own template)
    _process_cards_keep({key: bodies[key] for key in keys if key not in local})
    return [bodies[key] for key in keys]


# A feed card as includes/article_card.html renders it (tests/frontpage/test_cards.py holds
# the two to the same HTML), joined in Python: 20 template includes cost about 5 ms a page,
# more than the rest of a kept page's request.
_CARD = '<article class="card">\n{body}{why}</article>\n'
_WHY = (
    '  <details class="why">\n    <summary>Why am I seeing this?</summary>\n'
    '    <p><span class="why-reason">{}.</span> <a href="{}">{}</a></p>\n{}  </details>\n'
)
_SHOW_LESS = (
    '    <p><button type="submit" form="show-less" name="topic" value="{}" class="link">'
    'Show less like this</button> <span class="card-meta">(fewer {} stories)</span></p>\n'
)
NO_STORIES = "<p>No stories yet.</p>\n"


def _escaped(value) -> str:
    # As format_html escapes a reason's fields (plain strings, never marked safe), for a
    # fraction of its cost: a page's 20 cards were joined in 0.60 ms with it, 0.23 without.
    return html.escape(str(value))


def _why(reason, *, signed_in: bool) -> str:
    if not reason:
        return ""
    show_less = ""
    if reason.show_less_topic_id and signed_in:
        show_less = _SHOW_LESS.format(
            _escaped(reason.show_less_topic_id), _escaped(reason.show_less_topic_name)
        )
    return _WHY.format(
        _escaped(reason.sentence),
        _escaped(reason.control_url),
        _escaped(reason.control_label),
        show_less,
    )


def feed_cards_html(*, items: Sequence, user) -> SafeString:
    """A feed page's cards (FeedItems: story, reason, list type) as HTML: the shared card
    bodies, and each card's reason, which may be personal (so a reader's rendered cards are
    kept only sealed, by recommendations.feed_cache)."""
    if not items:
        return mark_safe(NO_STORIES)  # noqa: S308 (a constant)
    bodies = card_bodies(cards=[(item.article, item.list_type) for item in items])
    signed_in = user.is_authenticated
    # Most cards of a page give one of a few reasons ("Because you follow Science"): each is
    # written once per page (never kept longer: a reason can name what the reader read).
    whys: dict = {}
    cards = []
    for item, body in zip(items, bodies, strict=True):
        why = whys.get(item.reason)
        if why is None:
            why = whys[item.reason] = _why(item.reason, signed_in=signed_in)
        cards.append(_CARD.format(body=body, why=why))
    return mark_safe("".join(cards))  # noqa: S308 (our own rendered bodies, reasons escaped)
