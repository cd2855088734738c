"""Reads of news content shared by pages, the API and tasks."""

import functools
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection
from django.db.models import DEFERRED, DateTimeField, QuerySet
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.utils import timezone

from common.db_functions import CompiledOnce

from . import search
from .models import Article, ArticleRevision, ArticleSlugRedirect, Topic


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
    # The lead image: its two renditions with their sizes, and its words (cards, API).
    "lead_image",
    "lead_image_width",
    "lead_image_height",
    "lead_image_card",
    "lead_image_card_width",
    "lead_image_card_height",
    "lead_image_alt",
    "lead_image_caption",
    "lead_image_credit",
)


# Each process keeps the rows it listed under the marker its caller names, a value that moves
# whenever any story is saved, withdrawn or deleted (the feed's catalogue marker): a page whose
# stories were all listed since asks the database for none of them. Rows, not instances, so
# every caller gets instances of its own. Bounded, and emptied when full or when the marker
# moves.
LISTED_KEPT = 4_000


# (marker, rows by id), swapped whole: a thread reads the pair once, so rows listed under one
# marker can never be filed under another.
_listed_rows: tuple[str, dict[int, list]] = ("", {})


def articles_live_by_id(
    *, ids: Iterable[int], now: datetime | None = None, kept_under: str = ""
) -> dict[int, Article]:
    """The stories among `ids` that are published, by id, without their body (topics and
    source are loaded by what shows them). Asked for by every feed page and "More like this",
    so the query is written out: the ORM took longer to build it than the database to run it.
    With `kept_under`, rows this process listed under that same marker are not asked for
    again (the caller reads the marker before the stories it lists)."""
    ids = [int(i) for i in ids]
    if not ids:
        return {}
    now = now or timezone.now()
    listed = _listed_select()
    global _listed_rows
    kept: dict[int, list] = {}
    if kept_under:
        marker, kept = _listed_rows
        if marker != kept_under:
            kept = {}
            _listed_rows = (kept_under, kept)
    rows = {}
    for pk in ids:
        # One lookup each: another thread of a gthread worker may empty the dict meanwhile.
        values = kept.get(pk)
        if values is not None:
            rows[pk] = values
    asked = [pk for pk in ids if pk not in rows]
    if asked:
        fetched = _listed_fetch(listed, ids=asked, now=now)
        rows.update(fetched)
        if kept_under:
            if len(kept) + len(fetched) > LISTED_KEPT:
                kept.clear()
            kept.update(fetched)
    found = {}
    make = _listed_instance if not _article_init_heard() else _article_from_db
    for pk, values in rows.items():
        # A kept row was live when it was listed; a story scheduled is not listed before its
        # time, whatever moment the caller asks about.
        if values[listed.published] <= now:
            found[pk] = make(listed, values)
    return found


def _article_init_heard() -> bool:
    """Whether anything listens to an Article being made (pre_init, post_init): then every
    instance is made through `Model.from_db`, so it hears each one."""
    return pre_init.has_listeners(Article) or post_init.has_listeners(Article)


def _article_from_db(listed: "_ListedSelect", values: list) -> Article:
    return Article.from_db(connection.alias, listed.names, values)


def _listed_instance(listed: "_ListedSelect", values: list) -> Article:
    """What `Model.from_db` makes of a listed row, without `Model.__init__`: the loaded
    values straight into the instance, the deferred fields left out as Django leaves them
    (read from the database if asked for). A page's 20-odd stories took 110 us through
    `from_db`, most of a computed page's story lookup, and a third of that so. Only while
    nothing listens to an Article being made (`_article_init_heard`), and every field set
    is a plain value or a file's name (its descriptor wraps it when read)."""
    article = Article.__new__(Article)
    article.__dict__.update(zip(listed.names, listed.loaded(values), strict=True))
    state = article._state = ModelState()
    state.adding, state.db = False, connection.alias
    return article


def _listed_fetch(listed: "_ListedSelect", *, ids: list[int], now: datetime) -> dict[int, list]:
    """Every field in its place for `Model.from_db`, the body deferred, by id."""
    marks = ", ".join(["%s"] * len(ids))
    params = [Article.Status.PUBLISHED, connection.ops.adapt_datetimefield_value(now), *ids]
    where = f"WHERE status = %s AND published_at <= %s AND id IN ({marks})"
    if connection.vendor != "postgresql":
        # No EXTRACT(EPOCH ...) here (the embedded demo's SQLite): the ORM parses the times;
        # the values as loaded, before a field's descriptor wraps them (a lead image's name).
        query = f"SELECT {', '.join(LISTED_COLUMNS)} FROM {Article._meta.db_table} {where}"
        fetched = {}
        for article in Article.objects.raw(query, params):
            values = [DEFERRED] * listed.width
            for place, name in zip(listed.places, listed.names, strict=True):
                values[place] = vars(article)[name]
            fetched[article.pk] = values
        return fetched
    with connection.cursor() as cursor:
        cursor.execute(f"{listed.select} {where}", params)
        rows = cursor.fetchall()
    fetched = {}
    for row in rows:
        values = [DEFERRED] * listed.width
        for place, value in zip(listed.places, row, strict=True):
            values[place] = value
        for place in listed.moments:
            if values[place] is not None:
                values[place] = datetime.fromtimestamp(values[place], UTC)
        fetched[values[listed.id]] = values
    return fetched


@dataclass(frozen=True)
class _ListedSelect:
    select: str
    names: list[str]
    places: list[int]
    moments: list[int]
    width: int
    id: int
    published: int
    loaded: Callable[[list], tuple]  # a row's values of `names`, in their order


@functools.cache
def _listed_select() -> _ListedSelect:
    """The SELECT of `LISTED_COLUMNS` with its times as seconds since 1970; the fields' names,
    their places among the model's fields (as `Model.from_db` takes values), the places of
    the times, of the id and of the publication time, and the number of fields. Parsing a
    page's 80 times from text took longer than the rest of the query: 2.0 to 0.8 ms CPU for
    21 stories with `from_db` instead of a raw query (measured). A double holds the
    microseconds of any date before 2200 exactly, so the datetimes are the ORM's to the
    microsecond."""
    fields = Article._meta.concrete_fields
    listed = [(place, f) for place, f in enumerate(fields) if f.column in LISTED_COLUMNS]
    columns = [
        f"EXTRACT(EPOCH FROM {f.column})::double precision"
        if isinstance(f, DateTimeField)
        else f.column
        for _, f in listed
    ]
    place_of = {f.attname: place for place, f in listed}
    return _ListedSelect(
        select=f"SELECT {', '.join(columns)} FROM {Article._meta.db_table}",
        names=[f.attname for _, f in listed],
        places=[place for place, _ in listed],
        moments=[place for place, f in listed if isinstance(f, DateTimeField)],
        width=len(fields),
        id=place_of["id"],
        published=place_of["published_at"],
        loaded=operator.itemgetter(*[place for place, _ in listed]),
    )


def _previews(user) -> bool:
    return user.is_authenticated and user.has_perm("news.change_article")


def article_visible_to(
    *, slug: str, user, include_archived: bool = False, topics: bool = True
) -> Article | None:
    """The article a visitor may read: published ones for everybody (archived ones too, with
    `include_archived`: the article page keeps them readable), any status for editors
    previewing their work. `topics=False` leaves its topics to be read when shown (the article
    page, kept rendered, mostly shows none: a query saved)."""
    if topics:
        article = _with_topics(Article.objects.filter(slug=slug)).first()
    else:
        article = _ARTICLE_BY_SLUG.first(slug=slug)
    if article is None:
        return None
    readable = article.is_readable if include_archived else article.is_live
    if readable or _previews(user):
        return article
    return None


def _article_by_slug() -> tuple[QuerySet[Article], dict]:
    placeholder = "slug-of-any-article"
    articles = Article.objects.select_related("source").filter(slug=placeholder).order_by("pk")
    return articles[:1], {"slug": placeholder}


# Every article page asks for its story by slug: compiled once per process, as the session
# query is (building it took the ORM longer than the database took to answer).
_ARTICLE_BY_SLUG = CompiledOnce(_article_by_slug)


def article_renamed_from(*, old_slug: str, user) -> Article | None:
    """The story that had this address before its slug changed, if this visitor may read it.
    A current slug always wins: while any article has it, no old address is looked at."""
    if Article.objects.filter(slug=old_slug).exists():
        return None
    found = ArticleSlugRedirect.objects.select_related("article").filter(old_slug=old_slug).first()
    if found is None:
        return None
    if found.article.is_readable or _previews(user):
        return found.article
    return None


def articles_for_sitemap() -> QuerySet[Article]:
    """Every published story (not archived ones), with only what a sitemap entry needs."""
    return (
        Article.objects.published()
        .order_by("-published_at", "-id")
        .only("slug", "published_at", "content_updated_at")
    )


def articles_search(*, query: str) -> QuerySet[Article]:
    """Published stories matching the reader's words, best match first (news.search: whole
    words, PostgreSQL full-text search or SQLite FTS5)."""
    return search.ranked(articles_latest(), search.reader_query(query))


def search_words(*, query: str) -> search.ReaderQuery:
    """How the search reads the reader's words: what it looks for, which common words it left
    out."""
    return search.reader_query(query)


def search_highlights(*, query: str, articles: Iterable[Article]) -> dict[int, search.Highlight]:
    """One page of results' titles and excerpts with the reader's words marked."""
    return search.highlights(articles, search.reader_query(query))


def topics_all() -> QuerySet[Topic]:
    return Topic.objects.all()


def page_size() -> int:
    return settings.NEWS_PAGE_SIZE


def article_revisions(*, article: Article, limit: int = 100) -> QuerySet[ArticleRevision]:
    """An article's recorded changes, newest first (the history page shows the latest 100)."""
    return article.revisions.order_by("-created_at", "-id")[:limit]
