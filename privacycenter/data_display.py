"""The "Your data" page's tables in words a reader knows: column labels instead of field
names, "Yes"/"On" instead of True, the site's one date format, titles for codes and articles.
The export keeps the raw field names and values (a machine reads it); this is only for the page.
"""

import re
from dataclasses import dataclass, replace
from datetime import date

from common.dates import format_when
from news.models import Article
from privacy.models import ConsentRecord, PrivacyAuditEvent
from privacy.purposes import PURPOSES
from privacy.registry import categories
from privacy.selectors import CategorySnapshot

LABELS = {
    "email": "Email address",
    "display_name": "Display name",
    "date_joined": "Account created",
    "last_login": "Last signed in",
    "expire_date": "Signed out automatically on",
    "verified": "Confirmed",
    "primary": "Address we write to",
    "level": "Personalization",
    "topics": "Topics you follow",
    "blocked_topics": "Topics you hid",
    "region": "Region",
    "onboarding_finished_at": "Finished setting up",
    "browser_signal_seen_at": "Browser privacy signal last seen",
    "purpose": "Feature",
    "granted": "Choice",
    "policy_version": "Privacy policy of",
    "notice_sha256": "Fingerprint of the notice you were shown",
    "browser_signal": "Browser privacy signal sent",
    "source": "Where",
    "created_at": "When",
    "record_hash": "Receipt fingerprint",
    "read_at": "Read on",
    "article_title": "Article",
    "article_id": "Article",
    "article_url": "Link",
    "rotated_at": "Last replaced",
    "actor": "Who",
    "action": "What",
    "category": "Category",
    "detail": "Details",
    "list_type": "Feed card",
    "status": "Status",
    "requested_at": "Asked on",
    "expires_at": "Deleted on",
}
# Columns whose value is one of a fixed set of codes, and the words for each code.
CODES = {
    "purpose": {key: purpose.title for key, purpose in PURPOSES.items()},
    "source": dict(ConsentRecord.Source.choices),
    "actor": dict(PrivacyAuditEvent.Actor.choices),
    "action": dict(PrivacyAuditEvent.Action.choices),
}
YES_NO = {"granted": ("On", "Off")}
# A SHA-256 fingerprint: shown shortened, in full in the export.
FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Cell:
    text: str
    url: str = ""
    full: str = ""  # the whole value, when `text` shortens it
    label: str = ""  # its column's label, shown beside it when a phone shows rows as cards


def column_label(name: str) -> str:
    return LABELS.get(name) or name.replace("_", " ").capitalize()


def _article_titles(snapshots: list[CategorySnapshot]) -> dict[int, Article]:
    ids = {
        row["article_id"]
        for snapshot in snapshots
        for row in snapshot.rows
        if isinstance(row.get("article_id"), int)
    }
    return Article.objects.only("title", "slug").in_bulk(ids) if ids else {}


def _cell(column: str, value, row: dict, articles: dict, category_titles: dict) -> Cell:
    if value is None or value == "":
        return Cell("")
    if isinstance(value, bool):
        yes, no = YES_NO.get(column, ("Yes", "No"))
        return Cell(yes if value else no)
    if isinstance(value, date):
        return Cell(format_when(value))
    if column == "category":
        return Cell(category_titles.get(value, str(value)))
    if column in CODES:
        return Cell(CODES[column].get(value, str(value)))
    if column == "article_title" and row.get("article_url"):
        return Cell(str(value), url=row["article_url"])
    if column == "article_id":
        article = articles.get(value)
        if article is not None:
            return Cell(f"{article.title} (no. {value})", url=article.get_absolute_url())
        return Cell(f"An article no longer on the site (no. {value})")
    text = str(value)
    if FINGERPRINT.match(text):
        return Cell(f"{text[:12]}…", full=text)
    return Cell(text)


@dataclass(frozen=True)
class ReadableTable:
    columns: list[str]
    rows: list[list[Cell]]


def readable_tables(snapshots: list[CategorySnapshot]) -> dict[str, ReadableTable]:
    """Each category's rows as labelled, readable cells, keyed by category key."""
    articles = _article_titles(snapshots)
    category_titles = {entry.key: entry.title for entry in categories()}
    tables = {}
    for snapshot in snapshots:
        # A link is shown on the title it belongs to, not as a column of its own.
        columns = [
            c
            for c in snapshot.columns
            if not (c == "article_url" and "article_title" in snapshot.columns)
        ]
        labels = [column_label(column) for column in columns]
        tables[snapshot.key] = ReadableTable(
            columns=labels,
            rows=[
                [
                    replace(_cell(c, row.get(c), row, articles, category_titles), label=label)
                    for c, label in zip(columns, labels, strict=True)
                ]
                for row in snapshot.rows
            ],
        )
    return tables
