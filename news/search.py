"""Full-text search over published stories: whole words, best matches first, matches marked.

PostgreSQL (production, CI): a weighted text-search vector (title A, summary B, body C, the
`english` configuration: stems, stop words dropped) matched with `websearch_to_tsquery`,
ordered by `ts_rank`, ties newest first; `ts_headline` marks the matches. The vector is computed
per query, with no stored column or index, so no migration: measured on the shared 2-core
machine under load, 0.2 s a search at 150 stories of 250 words and 2 s at 1,000 (each search
reads every published story's text twice, for the count and for the page). Past a few hundred
stories the vector wants storing: a tsvector kept by a trigger, with a GIN index.

SQLite (the demo, local tests): FTS5 with bm25 and the same column weights, over a temporary
index of the published stories built for each query (60 ms at 150 stories, 0.3 s at 1,000,
measured as above), Porter stemming like PostgreSQL's `english`, and the same stop words left
out. Needs an SQLite with FTS5, as every current Python build has.

The reader's words are read the same way on both: words must all appear (whole words, so "x"
does not find "Xbox" or "next"), "quoted words" as a phrase, `-word` leaves stories out, `or`
between words gives alternatives; common words ("the") alone find nothing.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import F, Func, IntegerField, QuerySet, TextField, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Concat, Replace
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .models import BODY_LINK, Article, body_without_links

# PostgreSQL's `english` stop words (tsearch_data/english.stop), left out on SQLite too, so
# both backends agree on what is too common to search for.
_ENGLISH_STOP = """
i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she
her hers herself it its itself they them their theirs themselves what which who whom this that
these those am is are was were be been being have has had having do does did doing a an the and
but if or because as until while of at by for with about against between into through during
before after above below to from up down in out on off over under again further then once here
there when where why how all any both each few more most other some such no nor not only own
same so than too very s t can will just don should now
"""
STOP_WORDS = frozenset(_ENGLISH_STOP.split())

# Title, summary, body: PostgreSQL's default weights for A, B and C, used by bm25 as well.
WEIGHTS = {"title": ("A", 1.0), "summary": ("B", 0.4), "body": ("C", 0.2)}
SEARCH_CONFIG = "english"

# Private-use characters mark the matches in the database's output, so the text around them
# can be escaped as a whole before they become <mark> tags; they are removed from the stories'
# text first, so an article cannot carry one of its own.
MARK_START, MARK_END = "\ue000", "\ue001"
EXCERPT_WORDS = 30

# A phrase in quotes (closed or not), or a run of anything but spaces; either may start with -.
_CHUNK = re.compile(r'(-?)"([^"]*)"?|(-?)(\S+)')
# Letters and digits, as FTS5's unicode61 tokenizer and PostgreSQL's parser split words.
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # one word, or a phrase's words in order
    excluded: bool = False


@dataclass(frozen=True)
class ReaderQuery:
    """The reader's words as the search reads them: alternatives (joined by `or`), each a set
    of terms that must all appear (or, for an excluded term, must not)."""

    text: str
    alternatives: tuple[tuple[Term, ...], ...]
    common_words: tuple[str, ...]  # left out: too common to search for

    @property
    def searchable(self) -> bool:
        """Whether anything is left to look for: a query of common words or of excluded words
        alone finds nothing (rather than every story)."""
        return any(not term.excluded for terms in self.alternatives for term in terms)


def reader_query(text: str) -> ReaderQuery:
    alternatives: list[tuple[Term, ...]] = []
    current: list[Term] = []
    common: list[str] = []
    for match in _CHUNK.finditer(text):
        phrase_minus, phrase, word_minus, chunk = match.groups()
        quoted = phrase is not None
        if not quoted and chunk.lower() == "or":
            alternatives.append(tuple(current))
            current = []
            continue
        words = tuple(_WORD.findall((phrase if quoted else chunk).lower()))
        if not words:
            continue
        if all(word in STOP_WORDS for word in words):
            common.extend(w for w in words if w not in common)
            continue
        current.append(Term(words=words, excluded=bool(phrase_minus if quoted else word_minus)))
    alternatives.append(tuple(current))
    return ReaderQuery(
        text=text,
        alternatives=tuple(terms for terms in alternatives if terms),
        common_words=tuple(common),
    )


def ranked(published: QuerySet[Article], query: ReaderQuery) -> QuerySet[Article]:
    """The stories of `published` that match, best first, ties newest first."""
    if not query.searchable:
        return published.none()
    if connection.vendor == "postgresql":
        return _postgres_ranked(published, query)
    return _sqlite_ranked(published, query)


def highlights(articles: Iterable[Article], query: ReaderQuery) -> dict[int, "Highlight"]:
    """For each of `articles` (one page of results), its title and an excerpt of its summary
    and body with the matches marked, as safe HTML."""
    articles = list(articles)
    if not articles or not query.searchable:
        return {}
    if connection.vendor == "postgresql":
        rows = _postgres_highlights(articles, query)
    else:
        rows = _sqlite_highlights(articles, query)
    return {
        article_id: Highlight(title=_marked(title), excerpt=_marked(excerpt))
        for article_id, title, excerpt in rows
    }


@dataclass(frozen=True)
class Highlight:
    title: SafeString
    excerpt: SafeString


def _marked(text: str) -> SafeString:
    """Everything escaped; only the database's match marks become HTML."""
    return mark_safe(  # noqa: S308 (escaped first; only our own marks become tags)
        escape(text).replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")
    )


def _without_marks(text: str) -> str:
    return text.replace(MARK_START, "").replace(MARK_END, "")


def _body_words() -> Func:
    """The body's words as readers read them: a kept link is searched by its text alone."""
    if connection.vendor == "postgresql":
        return Func(
            F("body"),
            Value(BODY_LINK.pattern),
            Value(r"\2"),
            Value("g"),
            function="regexp_replace",
            output_field=TextField(),
        )
    # SQLite has no regexp_replace: the connection is lent the site's own function.
    connection.ensure_connection()
    connection.connection.create_function(
        "news_body_words", 1, body_without_links, deterministic=True
    )
    return Func(F("body"), function="news_body_words", output_field=TextField())


# --- PostgreSQL ---------------------------------------------------------------------------


def _postgres_query(query: ReaderQuery) -> SearchQuery:
    return SearchQuery(query.text, search_type="websearch", config=SEARCH_CONFIG)


def _postgres_ranked(published: QuerySet[Article], query: ReaderQuery) -> QuerySet[Article]:
    vector = SearchVector("title", weight="A", config=SEARCH_CONFIG)
    vector += SearchVector("summary", weight=WEIGHTS["summary"][0], config=SEARCH_CONFIG)
    vector += SearchVector(_body_words(), weight=WEIGHTS["body"][0], config=SEARCH_CONFIG)
    search_query = _postgres_query(query)
    # alias(): the vector is matched and ranked, never sent back with the rows.
    return (
        published.alias(search_document=vector)
        .filter(search_document=search_query)
        .annotate(search_rank=SearchRank(F("search_document"), search_query))
        .order_by("-search_rank", "-published_at", "-id")
    )


def _postgres_unmarked(*parts):
    text = Concat(*parts, output_field=TextField()) if len(parts) > 1 else parts[0]
    return Replace(Replace(text, Value(MARK_START), Value("")), Value(MARK_END), Value(""))


def _postgres_highlights(articles: list[Article], query: ReaderQuery):
    search_query = _postgres_query(query)
    marks = {"config": SEARCH_CONFIG, "start_sel": MARK_START, "stop_sel": MARK_END}
    return (
        Article.objects.filter(pk__in=[article.pk for article in articles])
        .annotate(
            title_marked=SearchHeadline(
                _postgres_unmarked(F("title")), search_query, highlight_all=True, **marks
            ),
            excerpt_marked=SearchHeadline(
                _postgres_unmarked(F("summary"), Value("\n"), _body_words()),
                search_query,
                max_words=EXCERPT_WORDS,
                min_words=EXCERPT_WORDS // 2,
                max_fragments=2,
                fragment_delimiter=" … ",
                **marks,
            ),
        )
        .values_list("pk", "title_marked", "excerpt_marked")
    )


# --- SQLite -------------------------------------------------------------------------------

_FTS_TOKENIZER = "porter unicode61"


def _fts_query(query: ReaderQuery) -> str:
    """FTS5's query syntax, built from words alone (letters and digits), so nothing the reader
    typed can be read as an operator."""
    alternatives = []
    for terms in query.alternatives:
        wanted = [_fts_term(term) for term in terms if not term.excluded]
        if not wanted:
            continue  # only exclusions: nothing to look for
        unwanted = "".join(f" NOT {_fts_term(term)}" for term in terms if term.excluded)
        alternatives.append(f"({' AND '.join(wanted)}{unwanted})")
    return " OR ".join(alternatives)


def _fts_term(term: Term) -> str:
    return '"' + " ".join(term.words) + '"'


class _TemporaryIndex:
    """An FTS5 table on this connection only, dropped on the way out (also after an error);
    one left behind by a killed process is dropped before a new one is made."""

    def __init__(self, cursor, name: str, columns: str) -> None:
        self.cursor, self.name, self.columns = cursor, name, columns

    def __enter__(self) -> str:
        self.cursor.execute(f"DROP TABLE IF EXISTS temp.{self.name}")
        self.cursor.execute(
            f"CREATE VIRTUAL TABLE temp.{self.name} USING fts5({self.columns}, "
            f"tokenize='{_FTS_TOKENIZER}')"
        )
        return f"temp.{self.name}"

    def __exit__(self, *exc_info) -> None:
        self.cursor.execute(f"DROP TABLE IF EXISTS temp.{self.name}")


def _sqlite_ranked(published: QuerySet[Article], query: ReaderQuery) -> QuerySet[Article]:
    # The published stories' text goes straight from the table into the index: the one
    # definition of "published" (ArticleQuerySet.published) is the queryset's own SQL.
    source_sql, source_params = (
        published.order_by()
        .annotate(body_words=_body_words())
        .values_list("id", "title", "summary", "body_words", "published_at")
        .query.sql_with_params()
    )
    weights = ", ".join(str(weight) for _, weight in WEIGHTS.values())
    columns = "title, summary, body, published_at UNINDEXED"
    with connection.cursor() as cursor, _TemporaryIndex(cursor, "news_search", columns) as index:
        cursor.execute(
            f"INSERT INTO {index} (rowid, title, summary, body, published_at) {source_sql}",
            source_params,
        )
        cursor.execute(
            f"SELECT rowid FROM {index} WHERE news_search MATCH %s "
            f"ORDER BY bm25(news_search, {weights}), published_at DESC, rowid DESC",
            [_fts_query(query)],
        )
        ids = [row[0] for row in cursor.fetchall()]
    # The order found is kept as each id's place in one comma-separated parameter: one value
    # whatever the number of matches, where a CASE or an IN list takes two or one per match.
    # Stories published or withdrawn since are left out by `published`'s own filter.
    order = "," + ",".join(str(i) for i in ids) + ","
    place = RawSQL(
        f"instr(%s, ',' || \"{Article._meta.db_table}\".\"id\" || ',')",
        [order],
        output_field=IntegerField(),
    )
    matching = published.annotate(search_place=place).filter(search_place__gt=0)
    return matching.order_by("search_place")


def _sqlite_highlights(articles: list[Article], query: ReaderQuery):
    texts = [
        (
            article.pk,
            _without_marks(article.title),
            _without_marks(f"{article.summary}\n{body_without_links(article.body)}"),
        )
        for article in articles
    ]
    with (
        connection.cursor() as cursor,
        _TemporaryIndex(cursor, "news_search_marks", "title, excerpt") as index,
    ):
        cursor.executemany(
            f"INSERT INTO {index} (rowid, title, excerpt) VALUES (%s, %s, %s)", texts
        )
        cursor.execute(
            f"SELECT rowid, highlight(news_search_marks, 0, %s, %s), "
            f"snippet(news_search_marks, 1, %s, %s, '…', %s) "
            f"FROM {index} WHERE news_search_marks MATCH %s",
            [MARK_START, MARK_END, MARK_START, MARK_END, EXCERPT_WORDS, _fts_query(query)],
        )
        return cursor.fetchall()
