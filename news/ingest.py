"""Reading outside content into plain article fields: RSS/Atom feeds (feedparser), MIND
news.tsv rows, and the HTML sanitising both rely on. Nothing here writes to the database; the
writes are in news.services (feed_entries_import, mind_rows_import).

Article bodies stay plain text (paragraphs separated by blank lines), like every article written
here, with one exception: links to https addresses (news.models.BODY_LINK). Feed HTML is first
sanitised with nh3 (scripts, event handlers, styles and every link but https go), then reduced
to its paragraphs. The article page escapes the text and writes each kept link itself, with
rel="nofollow noopener" and no other attribute, so no feed markup ever reaches a reader's
browser, even if a sanitiser bug let something through.

Images in feeds are dropped, their alt text kept as text: a picture from another server would
be refused by the page's Content-Security-Policy (img-src 'self'), and fetching it would tell
that server which reader opened which story. Lead images are uploaded by editors instead.
"""

import email.utils
import hashlib
import html
import re
import xml.sax
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit
from xml.parsers import expat

import feedparser
import nh3

from .models import body_link, body_without_links

# Formatting kept by sanitize_html(); everything else is unwrapped (its text stays).
SAFE_TAGS = {
    "p", "br", "b", "strong", "i", "em", "u", "a", "ul", "ol", "li", "blockquote",
    "h1", "h2", "h3", "h4", "h5", "h6", "pre", "code",
}  # fmt: skip
# "*": no attribute on every tag (nh3 would otherwise keep lang and title everywhere). Images
# are let through the sanitiser only to be replaced by their alt text.
SAFE_ATTRIBUTES = {"*": set(), "a": {"href"}, "img": {"alt"}}
SAFE_URL_SCHEMES = {"https"}
LINK_REL = "nofollow noopener"
# Elements whose end starts a new paragraph of the plain-text body.
BLOCK_TAGS = ("p", "li", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "ul", "ol")
_BLOCK_TAG = re.compile(rf"</?(?:{'|'.join(BLOCK_TAGS)})(?:\s[^>]*)?>", re.I)

TITLE_MAX = 200
SUMMARY_MAX = 400
URL_MAX = 500
EXTERNAL_ID_MAX = 500


class FeedUnreadable(Exception):
    """The document as a whole is not a feed (or not a MIND file): nothing can be imported."""


# nh3 writes its output itself, so these see only its own well-formed tags and attributes.
_IMAGE = re.compile(r'<img(?: alt="([^"]*)")?\s*/?>')
_ANCHOR = re.compile(r'<a(?: href="([^"]*)")?(?: rel="[^"]*")?>(.*?)</a>', re.S)
# Where a kept link stands while the text around it is reduced to plain text; removed from the
# feed's own text first, so nothing else can be taken for one.
_LINK_MARK = re.compile("\ue010(\\d+)\ue011")
_MARK_CHARACTERS = re.compile("[\ue010\ue011]")


def _image_as_text(found: re.Match) -> str:
    alt = " ".join(html.unescape(found.group(1) or "").split())
    return f" {html.escape(alt, quote=False)} " if alt else " "


def sanitize_html(fragment: str) -> str:
    """Safe HTML with basic formatting: no scripts or styles (content included), no event
    handlers, style or other attributes, links only to https addresses (rel="nofollow
    noopener"), images replaced by their alt text."""
    cleaned = nh3.clean(
        _MARK_CHARACTERS.sub("", fragment or ""),
        tags=SAFE_TAGS | {"img"},
        attributes=SAFE_ATTRIBUTES,
        url_schemes=SAFE_URL_SCHEMES,
        url_relative="deny",
        link_rel=LINK_REL,
        strip_comments=True,
    )
    return _IMAGE.sub(_image_as_text, cleaned)


def _text_of(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _kept_link(url: str, words: str) -> str:
    """The body's form of a link the sanitiser kept, or "" to keep only its words."""
    url = html.unescape(url)
    if len(url) > URL_MAX or _CONTROL.search(url) or not urlsplit(url).netloc:
        return ""
    return body_link(url=url, text=words)


def html_to_paragraphs(fragment: str, *, links: bool = False) -> str:
    """The text of an HTML fragment as paragraphs separated by blank lines (Article.body);
    with `links`, its https links kept in the body's link form."""
    safe = sanitize_html(fragment)
    kept: list[str] = []

    def mark(found: re.Match) -> str:
        url, inner = found.group(1), found.group(2)
        words = _text_of(inner)
        # A link around whole paragraphs cannot be one link in the text: its words stay.
        link = _kept_link(url, words) if links and url and words else ""
        if not link or _BLOCK_TAG.search(inner):
            return inner
        kept.append(link)
        return f"\ue010{len(kept) - 1}\ue011"

    safe = _ANCHOR.sub(mark, safe)
    safe = re.sub(r"<br\s*/?>", "\n", safe, flags=re.I)
    # Every block element's start and end is a paragraph boundary.
    safe = _BLOCK_TAG.sub("\n\n", safe)
    text = html.unescape(re.sub(r"<[^>]+>", "", safe))
    paragraphs = []
    for block in re.split(r"\n\s*\n", text):
        # Lines inside a paragraph (a <br>) are joined: the body format knows only paragraphs.
        cleaned = " ".join(block.split())
        if cleaned:
            # Text that merely reads like a link (written escaped in the feed) is not one.
            cleaned = body_without_links(cleaned)
            paragraphs.append(_LINK_MARK.sub(lambda found: kept[int(found.group(1))], cleaned))
    return "\n\n".join(paragraphs)


def plain_text(fragment: str, *, limit: int | None = None) -> str:
    """One line of text from an HTML fragment (titles, summaries), cut at a word if too long."""
    text = " ".join(html_to_paragraphs(fragment).split())
    if limit and len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:.") + "…"
    return text


# Control characters have no place in an id or address, and PostgreSQL refuses NUL in text.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_link(url: str) -> str:
    """A link we may print on the article page: http(s) only, else empty (never javascript:)."""
    url = (url or "").strip()
    if len(url) > URL_MAX or _CONTROL.search(url):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else ""


@dataclass
class IncomingEntry:
    """One entry in the shape of an article, or the reason it cannot become one."""

    reference: str  # for the error log and progress: the entry's id or link
    external_id: str = ""
    title: str = ""
    summary: str = ""
    body: str = ""
    canonical_url: str = ""
    author: str = ""
    published_at: datetime | None = None
    topic_names: list[str] = field(default_factory=list)
    problem: str = ""


@dataclass
class ParsedFeed:
    kind: str  # Source.Kind value: "rss" or "atom"
    title: str
    entries: list[IncomingEntry]
    warning: str = ""  # a flaw of the whole document that every entry was read past


def feed_parse(content: bytes) -> ParsedFeed:
    """Parse RSS or Atom. A document with no recognisable feed, or one that is not well-formed
    XML (most often a file or download cut short), raises FeedUnreadable: its entries cannot be
    trusted to be all there, so none is imported. A well-formed feed yields every entry; an
    entry that cannot become an article carries a problem."""
    if not content or not content.strip():
        raise FeedUnreadable("The feed is empty.")
    parsed = feedparser.parse(content)
    version = parsed.get("version") or ""
    if not version:
        reason = parsed.get("bozo_exception")
        detail = f" ({_short(str(reason))})" if reason else ""
        raise FeedUnreadable(f"This is not an RSS or Atom feed{detail}.")
    warning = ""
    if parsed.get("bozo"):
        problem = parsed.get("bozo_exception")
        # feedparser's lenient parser reads on past any XML error, so a truncated feed would
        # import the entries before the cut as if they were the whole feed.
        if isinstance(problem, xml.sax.SAXException):
            defect = xml_defect(content, encoding=parsed.get("encoding") or "utf-8")
            if defect:
                raise FeedUnreadable(
                    f"The feed is not well-formed XML ({defect}); it may have been cut short "
                    "or damaged."
                )
        if isinstance(problem, xml.sax.SAXParseException):
            where = f"line {problem.getLineNumber()}, column {problem.getColumnNumber() + 1}: "
            problem = where + problem.getMessage()
        warning = f"The feed has a flaw that was worked around ({_short(str(problem))})."
    kind = "atom" if version.startswith("atom") else "rss"
    title = plain_text(parsed.feed.get("title", ""), limit=120)
    entries = [_entry_from_feed(raw, position) for position, raw in enumerate(parsed.entries, 1)]
    return ParsedFeed(kind=kind, title=title, entries=entries, warning=warning)


# Characters XML forbids, raw or as references (&#0; &#x1F;), which feeds still carry.
_XML_FORBIDDEN = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f]|&#0*(?:[0-8]|1[124-9]|2\d|3[01]);"
    r"|&#[xX]0*(?:[0-8bBcCeEfF]|1[0-9a-fA-F]);"
)


def xml_defect(content: bytes, *, encoding: str) -> str | None:
    """Where and why `content` is not well-formed XML, or None. Three flaws every feed reader
    forgives are not defects here: HTML entities XML does not define (&nbsp;), namespace
    prefixes (media:) the feed forgot to declare, and control characters. `encoding` is the one
    feedparser settled on, which wins over a wrong declaration in the document."""
    # No namespace processing: an undeclared prefix is then just part of a name.
    parser = expat.ParserCreate(encoding="utf-8")
    # As if the document had an external DTD: entities it could define are not errors.
    parser.UseForeignDTD(True)
    try:
        text = content.decode(encoding, errors="replace")
    except LookupError:
        text = content.decode("utf-8", errors="replace")
    # Replaced by a space, one for one, so the line and column reported stay true.
    text = _XML_FORBIDDEN.sub(lambda found: " " * len(found.group()), text)
    try:
        parser.Parse(text.encode("utf-8"), True)
    except expat.ExpatError as error:
        return f"line {error.lineno}, column {error.offset + 1}: {expat.ErrorString(error.code)}"
    return None


def _entry_from_feed(raw, position: int) -> IncomingEntry:
    link = safe_link(raw.get("link", ""))
    guid = _CONTROL.sub("", raw.get("id") or "").strip()
    entry = IncomingEntry(reference=_short(guid or link or f"entry #{position}", 500))
    if len(guid) > EXTERNAL_ID_MAX:
        # Unusually long ids still de-duplicate: keep a digest, not a truncation (which could
        # make two ids equal).
        guid = "sha256:" + hashlib.sha256(guid.encode()).hexdigest()
    entry.external_id = guid or link
    entry.canonical_url = link
    entry.title = plain_text(raw.get("title", ""), limit=TITLE_MAX)
    content_html = ""
    if raw.get("content"):
        content_html = "\n".join(part.get("value", "") for part in raw["content"])
    summary_html = raw.get("summary", "")
    entry.body = html_to_paragraphs(content_html or summary_html, links=True)
    entry.summary = plain_text(summary_html or content_html, limit=SUMMARY_MAX)
    entry.author = plain_text(raw.get("author", ""), limit=120)
    entry.published_at = _entry_time(raw)
    entry.topic_names = [
        plain_text(tag.get("term") or "", limit=80) for tag in raw.get("tags") or []
    ]
    entry.topic_names = [name for name in entry.topic_names if name]
    if not entry.title:
        entry.problem = "The entry has no title."
    elif not entry.body:
        entry.problem = "The entry has no text."
    elif not entry.external_id:
        entry.problem = "The entry has neither an id nor an http(s) link, so it cannot be tracked."
    return entry


def _entry_time(raw) -> datetime | None:
    """The entry's own date, in UTC: when it was published, else last updated, else created.
    feedparser converts dates that carry a zone; one without a zone, which it gives up on, is
    read here as UTC."""
    for key in ("published", "updated", "created"):
        # dict.get: feedparser's own get() answers "updated" with "published" when missing.
        parsed = dict.get(raw, f"{key}_parsed")
        if parsed:
            try:
                return datetime(*parsed[:6], tzinfo=UTC)
            except (TypeError, ValueError):
                pass
        found = _time_without_zone(dict.get(raw, key) or "")
        if found:
            return found
    return None


def _time_without_zone(text: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    for parse in (email.utils.parsedate_to_datetime, datetime.fromisoformat):
        try:
            value = parse(text)
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            return value.astimezone(UTC)
        except (TypeError, ValueError, IndexError, OverflowError):
            continue
    return None


# --- MIND (Microsoft News Dataset) news.tsv -------------------------------------------------

MIND_COLUMNS = (
    "NewsID", "Category", "SubCategory", "Title", "Abstract", "URL",
    "TitleEntities", "AbstractEntities",
)  # fmt: skip

# MIND's categories are lower-case run-together words; show readers proper names.
MIND_TOPIC_NAMES = {
    "autos": "Autos",
    "entertainment": "Entertainment",
    "finance": "Finance",
    "foodanddrink": "Food and drink",
    "games": "Games",
    "health": "Health",
    "kids": "Kids",
    "lifestyle": "Lifestyle",
    "middleeast": "Middle East",
    "movies": "Movies",
    "music": "Music",
    "news": "News",
    "northamerica": "North America",
    "sports": "Sports",
    "travel": "Travel",
    "tv": "TV",
    "video": "Video",
    "weather": "Weather",
}


def mind_topic_name(category: str) -> str:
    category = category.strip()
    return MIND_TOPIC_NAMES.get(category.lower(), category[:1].upper() + category[1:])


_MIND_NEWLINE = re.compile(r"\r\n|\r|\n")


def mind_parse(content: bytes) -> list[IncomingEntry]:
    """Rows of a MIND news.tsv as entries; malformed rows carry a problem. A file that is not
    text, or in which no row has MIND's eight columns, raises FeedUnreadable."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FeedUnreadable(f"The file is not UTF-8 text ({error.reason}).") from error
    if "\x00" in text:
        raise FeedUnreadable("The file is binary, not a tab-separated MIND news.tsv.")
    # MIND fields are never quoted (quotes inside titles are literal characters), so a line
    # is its fields split at tabs; unlike the csv module this has no field size limit and no
    # trouble with a stray carriage return, either of which would stop the whole file.
    lines = _MIND_NEWLINE.split(text)
    rows = [(number, line.split("\t")) for number, line in enumerate(lines, 1) if line.strip()]
    # MIND has no header line, but a hand-made file may: it is not an article.
    if rows and rows[0][1] and rows[0][1][0].strip().lower() == "newsid":
        rows = rows[1:]
    if not rows:
        raise FeedUnreadable("The file is empty.")
    if not any(len(row) == len(MIND_COLUMNS) for _, row in rows):
        raise FeedUnreadable(
            f"No line has the {len(MIND_COLUMNS)} tab-separated MIND columns "
            f"({', '.join(MIND_COLUMNS)})."
        )
    return [_entry_from_mind(number, row) for number, row in rows]


def _entry_from_mind(number: int, row: list[str]) -> IncomingEntry:
    news_id = row[0].strip() if row else ""
    reference = f"line {number}" + (f" ({_short(news_id, 60)})" if news_id else "")
    entry = IncomingEntry(reference=reference)
    if len(row) != len(MIND_COLUMNS):
        entry.problem = f"Expected {len(MIND_COLUMNS)} tab-separated columns, found {len(row)}."
        return entry
    news_id, category, _subcategory, title, abstract, url, _t, _a = (c.strip() for c in row)
    entry.external_id = news_id[:EXTERNAL_ID_MAX]
    entry.title = plain_text(title, limit=TITLE_MAX)
    entry.summary = plain_text(abstract, limit=SUMMARY_MAX)
    # MIND carries no article text: the abstract is the body (the title when there is none).
    entry.body = html_to_paragraphs(abstract) or entry.title
    entry.canonical_url = safe_link(url)
    entry.topic_names = [mind_topic_name(category)] if category else []
    if not news_id:
        entry.problem = "The row has no NewsID."
    elif not entry.title:
        entry.problem = "The row has no title."
    elif not category:
        entry.problem = "The row has no category."
    elif url and not entry.canonical_url:
        entry.problem = f"The URL '{_short(url, 80)}' is not an http(s) address."
    return entry


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
