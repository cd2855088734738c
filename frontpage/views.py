"""Public news pages: home, article (and the old addresses of renamed ones), topic and
search. The RSS/Atom feeds are in frontpage.feeds, the sitemap in frontpage.sitemaps."""

import re
import time
from types import SimpleNamespace

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.translation import get_language
from django.views.decorators.http import require_safe

from common.error_pages import error_page
from news import selectors
from news.cards import CARD_SECONDS, card_bodies, feed_cards_html
from news.context_processors import nav_topics
from news.models import Article, Topic
from privacy.browser_signals import navigation_is_own, signals_for
from privacy.selectors import purposes_to_reconfirm
from privacy.services import read_record
from recommendations.feed.page import EDITORIAL, HOLDOUT, PERSONAL
from recommendations.feed.pool import catalogue_marker
from recommendations.feed_cache import home_feed, more_like_this_cached
from recommendations.services import feed_impressions_record
from trust.selectors import survey_offer


def _page(request, queryset):
    return Paginator(queryset, selectors.page_size()).get_page(request.GET.get("page"))


def home(request):
    feed = home_feed(
        user=request.user,
        page_number=request.GET.get("page"),
        render_cards=lambda page: feed_cards_html(items=page.object_list, user=request.user),
    )
    feed_impressions_record(list_types=feed.list_types)
    context = {
        "page": feed.page,
        "profile": feed.profile,
        "cards": feed.cards,
        "pagination": _pagination(feed.page),
        "trust_survey": survey_offer(user=request.user, session=request.session),
    }
    frame = _home_frame(request, context)
    if frame is None:
        return render(request, "news/home.html", context)
    return HttpResponse(_home_filled(request, frame, context))


# The home page's links to the pages around it depend on the page's number and the count of
# pages alone: rendered once per process for each pair (0.09 ms a page otherwise).
_PAGINATIONS: dict[tuple[int, int], str] = {}
_PAGINATIONS_KEPT = 256


def _pagination(page) -> str:
    kind = (page.number, page.paginator.num_pages)
    html = _PAGINATIONS.get(kind)
    if html is None:
        if len(_PAGINATIONS) >= _PAGINATIONS_KEPT:
            _PAGINATIONS.clear()
        html = _PAGINATIONS[kind] = render_to_string("includes/pagination.html", {"page": page})
    return html


# --- The front page's frame -----------------------------------------------------------------
# The page around the cards, rendered once per process and kind of visit (signed in or not,
# staff, personalized, level, survey card, topic navigation) with marks where this visit's
# values go: the cards, the reader's topic names, the CSRF token, the address, the pages.
# Rendering it each time cost about as much as serving a kept page (bench/README.md). Pages
# with anything else of the reader's (a message, the re-consent banner, what the survey
# card says back) are rendered whole.

_MARK = "\ue000{}\ue000"  # private-use characters: never escaped, never in a page
_MARKS = re.compile("\ue000([a-z]+)\ue000")
_FRAMES: dict[tuple, list[str]] = {}
_FRAMES_KEPT = 32


def _home_frame(request, context) -> list[str] | None:
    user, profile, survey = request.user, context["profile"], context["trust_survey"]
    if survey is not None and survey.said:
        return None
    if get_messages(request):
        return None
    if user.is_authenticated and purposes_to_reconfirm(user=user):
        return None
    level = profile.level if user.is_authenticated else ""
    topics = nav_topics.get()
    kind = (
        user.is_authenticated,
        user.is_staff,
        profile.personalized,
        level,
        survey,
        tuple(topics),
    )
    frame = _FRAMES.get(kind)
    if frame is None:
        if len(_FRAMES) >= _FRAMES_KEPT:
            _FRAMES.clear()
        # Only marks and what shapes the page: nothing of this reader can enter the frame.
        html = render_to_string(
            "news/home.html",
            {
                "user": SimpleNamespace(
                    is_authenticated=user.is_authenticated, is_staff=user.is_staff
                ),
                "request": SimpleNamespace(
                    get_full_path=_MARK.format("path"),
                    resolver_match=SimpleNamespace(view_name="news:home"),
                ),
                "profile": SimpleNamespace(
                    personalized=profile.personalized,
                    level=level,
                    topic_names=[_MARK.format("topics")],
                ),
                "cards": _MARK.format("cards"),
                "pagination": _MARK.format("pagination"),
                "trust_survey": survey,
                "csrf_token": _MARK.format("csrf"),
                "site_name": settings.SITE_NAME,
                "nav_topics": topics,
                "messages": [],
                "purposes_to_reconfirm": [],
            },
        )
        frame = _FRAMES[kind] = _MARKS.split(html)
    return frame


def _home_filled(request, frame: list[str], context) -> str:
    values = {
        "cards": context["cards"],
        "pagination": context["pagination"],
        "topics": escape(", ".join(context["profile"].topic_names)),
        "path": escape(request.get_full_path()),
    }
    if "csrf" in frame[1::2]:
        # As {% csrf_token %} would: the token, and the cookie set with the answer.
        values["csrf"] = get_token(request)
    return "".join(
        part if position % 2 == 0 else values[part] for position, part in enumerate(frame)
    )


def article_detail(request, slug: str):
    # Archived stories stay readable at their address (the page says they are archived).
    article = selectors.article_visible_to(
        slug=slug, user=request.user, include_archived=True, topics=False
    )
    if article is None:
        return _renamed_article_redirect(request, old_slug=slug)
    # Editors' previews are not reads, nor is a visit another site sent: the page is the same
    # for everyone, but only the reader's own navigation may record anything about them.
    if article.is_live and navigation_is_own(request):
        # Which feed card led here, if any; anything else typed into the address is ignored.
        via = request.GET.get("via", "")
        list_type = via if via in (PERSONAL, EDITORIAL, HOLDOUT) else ""
        read_record(
            user=request.user, article=article, signals=signals_for(request), list_type=list_type
        )
    frame = _article_frame(request, article)
    if frame is None:
        return render(request, "news/article_detail.html", _article_context(article))
    return HttpResponse(_article_filled(request, frame))


def _article_context(article) -> dict:
    related = more_like_this_cached(article=article)
    bodies = card_bodies(cards=[(story, "") for story in related])
    return {"article": article, "more_like_this": list(zip(related, bodies, strict=True))}


# --- The article page, kept whole per process -----------------------------------------------
# A live story's page is the same for every visitor of one kind (signed in or not, staff,
# topic navigation) but for the sign-out form's CSRF token: rendered once per process, story
# version and catalogue marker (which moves with any story or model change, so "More like
# this" never lists a story withdrawn since), then filled with this visit's token. Rendering
# it was about 40 % of an article page's CPU (bench/README.md). Editors' previews,
# archived stories and pages with a message or the re-consent banner are rendered whole, and
# so is every page while the shared cache is down (no marker to follow).

_ARTICLE_PAGES: dict[tuple, tuple[float, list[str]]] = {}
# Up to about 20 MB a process (pages of 10-20 KB), emptied when full; kept as long as a card
# body, since the key names the story's version and the catalogue marker and time bounds only
# what no marker follows. With 60 s and 300 pages, the load test's 200 article pages were
# mostly rendered again on each visit.
_ARTICLE_PAGES_KEPT = 1_000
ARTICLE_PAGE_SECONDS = CARD_SECONDS


def _article_frame(request, article) -> list[str] | None:
    user = request.user
    if not article.is_live or get_messages(request):
        return None
    if user.is_authenticated and purposes_to_reconfirm(user=user):
        return None
    marker = catalogue_marker()
    if not marker:
        return None
    topics = nav_topics.get()
    kind = (
        article.pk,
        article.updated_at,
        article.status,
        get_language(),
        marker,
        user.is_authenticated,
        user.is_staff,
        tuple(topics),
    )
    now = time.monotonic()
    kept = _ARTICLE_PAGES.get(kind)
    if kept is not None and kept[0] > now:
        return kept[1]
    if len(_ARTICLE_PAGES) >= _ARTICLE_PAGES_KEPT:
        _ARTICLE_PAGES.clear()
    # Only marks and what shapes the page: nothing of this visitor can enter the frame.
    html = render_to_string(
        "news/article_detail.html",
        {
            **_article_context(article),
            "user": SimpleNamespace(is_authenticated=user.is_authenticated, is_staff=user.is_staff),
            "request": SimpleNamespace(resolver_match=SimpleNamespace(view_name="news:article")),
            "csrf_token": _MARK.format("csrf"),
            "site_name": settings.SITE_NAME,
            "nav_topics": topics,
            "messages": [],
            "purposes_to_reconfirm": [],
        },
    )
    frame = _MARKS.split(html)
    _ARTICLE_PAGES[kind] = (now + ARTICLE_PAGE_SECONDS, frame)
    return frame


def _article_filled(request, frame: list[str]) -> str:
    if len(frame) == 1:
        return frame[0]
    # As {% csrf_token %} would: the token, and the cookie set with the answer.
    values = {"csrf": get_token(request)}
    return "".join(
        part if position % 2 == 0 else values[part] for position, part in enumerate(frame)
    )


@require_safe
def article_short(request, pk: int):
    """A story's short address by id (private mode's bundle links by id, not by slug): a
    permanent redirect to its one address, for a story readers may open. It reads nothing
    about the visitor and records no read: the story's own page does what it always does."""
    article = get_object_or_404(Article.objects.only("slug", "status", "published_at"), pk=pk)
    if not article.is_readable:
        raise Http404("No such article.")
    return redirect(article.get_absolute_url(), permanent=True)


def _renamed_article_redirect(request, *, old_slug: str):
    """An address a story had before its slug changed leads to its current one: permanently
    for a story readers may open, temporarily for an editor's preview of one that is not."""
    article = selectors.article_renamed_from(old_slug=old_slug, user=request.user)
    if article is None:
        raise Http404("No such article.")
    return redirect(article.get_absolute_url(), permanent=article.is_readable)


def topic_detail(request, slug: str):
    topic = get_object_or_404(Topic, slug=slug)
    page = _page(request, selectors.articles_for_topic(topic=topic))
    return render(request, "news/topic_detail.html", {"topic": topic, "page": page})


def search(request):
    query = request.GET.get("q", "")[:200]
    if "\x00" in query:
        # PostgreSQL refuses NUL in text: say so, rather than fail in the database.
        return error_page(
            request,
            400,
            "Bad request",
            "The search words contain a character that cannot be searched for (a NUL byte). "
            "Remove it and search again.",
        )
    if not query.strip():
        return render(request, "news/search.html", {"query": query, "page": None})
    page = _page(request, selectors.articles_search(query=query))
    marked = selectors.search_highlights(query=query, articles=page.object_list)
    return render(
        request,
        "news/search.html",
        {
            "query": query,
            "page": page,
            "results": [(article, marked.get(article.pk)) for article in page.object_list],
            "words": selectors.search_words(query=query),
        },
    )
