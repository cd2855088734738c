"""What an article revision records and how editors see it: field snapshots, the changes between
two snapshots, and a line diff (difflib) for the history page. No writes here."""

import difflib
from dataclasses import dataclass
from datetime import datetime

from .models import Article

# The fields an editor cares about, in the order the history page shows them.
TRACKED_FIELDS = (
    "title",
    "slug",
    "summary",
    "body",
    "author",
    "topics",
    "status",
    "published_at",
    "editors_pick_until",
    "source",
    "canonical_url",
)


def _as_json(value):
    if isinstance(value, datetime):
        # To the second: the admin form drops microseconds, which is not an editorial change.
        return value.isoformat(timespec="seconds")
    return value


def snapshot(article: Article) -> dict:
    """The tracked fields of an article as stored in the database right now (JSON values)."""
    stored = Article.objects.select_related("source").get(pk=article.pk)
    values = {name: _as_json(getattr(stored, name)) for name in TRACKED_FIELDS if name != "topics"}
    values["source"] = stored.source.name if stored.source else None
    values["topics"] = sorted(stored.topics.values_list("name", flat=True))
    return values


def changes_between(before: dict | None, after: dict) -> dict:
    """{field: {"old": ..., "new": ...}} for every field that differs; before=None is a
    creation, where every non-empty field counts as changed."""
    before = before or {}
    changes = {}
    for name in TRACKED_FIELDS:
        old, new = before.get(name), after.get(name)
        if old != new and (before or new not in (None, "", [])):
            changes[name] = {"old": old, "new": new}
    return changes


def editor_label(user) -> str:
    """How a revision names the person who made it: their display name or the part of their
    address before the @, a snapshot that later account changes do not rewrite."""
    if user is None or not getattr(user, "is_authenticated", False):
        return "Unknown"
    return (user.get_short_name() or "Editor")[:150]


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "same", "added" or "removed"
    text: str


@dataclass(frozen=True)
class FieldDiff:
    field: str
    label: str
    lines: list[DiffLine]


def _text(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(item) for item in value]
    text = str(value)
    # Paragraphs are the unit editors think in; a blank line between them is not a change.
    return [line for line in text.split("\n") if line.strip()] if text else []


def field_diffs(changes: dict) -> list[FieldDiff]:
    """Line-by-line differences of each changed field, in TRACKED_FIELDS order."""
    diffs = []
    for name in TRACKED_FIELDS:
        if name not in changes:
            continue
        old, new = _text(changes[name].get("old")), _text(changes[name].get("new"))
        lines = []
        for line in difflib.ndiff(old, new):
            marker, text = line[:2], line[2:]
            if marker == "? ":  # ndiff's intraline hints; the template shows whole lines
                continue
            kind = {"- ": "removed", "+ ": "added"}.get(marker, "same")
            lines.append(DiffLine(kind=kind, text=text))
        label = Article._meta.get_field(name).verbose_name.capitalize()
        diffs.append(FieldDiff(field=name, label=label, lines=lines))
    return diffs
