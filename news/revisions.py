"""What an article revision records and how editors see it: field snapshots, the changes between
two snapshots, a line diff (difflib) for the history page, each version's full state and a
word-level comparison of any two. No writes here."""

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from .models import PARAGRAPH_BREAK, Article, ArticleRevision, body_without_links

# The fields an editor cares about, in the order the history page shows them.
TRACKED_FIELDS = (
    "title",
    "slug",
    "summary",
    "body",
    "correction_note",
    "author",
    "topics",
    "status",
    "published_at",
    "editors_pick_until",
    "source",
    "canonical_url",
    # The lead image (its stored rendition's name: a new upload is a new name) and its words.
    "lead_image",
    "lead_image_alt",
    "lead_image_caption",
    "lead_image_credit",
)


def _as_json(value):
    if isinstance(value, datetime):
        # To the second: the admin form drops microseconds, which is not an editorial change.
        return value.isoformat(timespec="seconds")
    if isinstance(value, FieldFile):
        return value.name or ""
    return value


# What readers see of a story: a change to any of these after publication shows "Updated".
READER_VISIBLE_FIELDS = ("title", "summary", "body", "correction_note")
# What "Restore" brings back. Status and dates move only through the workflow (publish,
# schedule, archive), the origin fields belong to the feed the story came from.
RESTORED_FIELDS = ("title", "slug", "summary", "body", "correction_note", "author", "topics")
READABLE_STATUSES = (Article.Status.PUBLISHED, Article.Status.ARCHIVED)


def snapshot(article: Article) -> dict:
    """The tracked fields of an article as stored in the database right now (JSON values)."""
    return snapshot_of(Article.objects.select_related("source").get(pk=article.pk))


def snapshot_of(stored: Article) -> dict:
    """The tracked fields of an article loaded from the database (with its source and
    topics), as JSON values."""
    values = {name: _as_json(getattr(stored, name)) for name in TRACKED_FIELDS if name != "topics"}
    values["source"] = stored.source.name if stored.source else None
    values["topics"] = sorted(topic.name for topic in stored.topics.all())
    return values


def was_readable(state: dict | None, *, now: datetime | None = None) -> bool:
    """Whether readers could open the article in this snapshot: published or archived, with
    its publication time passed."""
    if not state or state.get("status") not in READABLE_STATUSES or not state.get("published_at"):
        return False
    return datetime.fromisoformat(state["published_at"]) <= (now or timezone.now())


def _reader_text(name: str, value) -> object:
    # What a reader sees: the body's paragraphs (a browser posts "\r\n" for "\n", and blank
    # lines between paragraphs are not words, nor is a link added to words already there),
    # other fields without surrounding spaces.
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n")
    if name == "body":
        return [p.strip() for p in PARAGRAPH_BREAK.split(body_without_links(text)) if p.strip()]
    return text.strip()


def reader_visible_change(before: dict, after: dict) -> bool:
    """Whether a save changed what readers read (title, summary, body, correction note), not
    merely its spacing or line endings."""
    return any(
        _reader_text(name, before.get(name)) != _reader_text(name, after.get(name))
        for name in READER_VISIBLE_FIELDS
    )


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


# --- Every version's state, and comparing any two -----------------------------------------


def state_before(revision: ArticleRevision, *, state_after: dict) -> dict:
    """The tracked fields just before a revision, from the state just after it."""
    before = dict(state_after)
    for name, change in revision.changes.items():
        before[name] = change.get("old")
    return before


def states_after(revisions: Iterable[ArticleRevision], *, current: dict) -> dict[int, dict]:
    """{revision id: the tracked fields just after it}, for revisions given newest first and
    the article's current snapshot. A revision's own snapshot is used when it has one; older
    revisions, recorded without, are worked out by undoing the newer changes one by one."""
    states = {}
    state = current
    for revision in revisions:
        if revision.snapshot:
            state = {**state, **revision.snapshot}
        states[revision.pk] = state
        state = state_before(revision, state_after=state)
    return states


def state_after(revision: ArticleRevision, *, current: dict) -> dict:
    """The tracked fields just after one revision."""
    if revision.snapshot and set(TRACKED_FIELDS) <= set(revision.snapshot):
        return dict(revision.snapshot)
    # This revision and every newer one, in the history page's order.
    newer = ArticleRevision.objects.filter(article_id=revision.article_id).filter(
        Q(created_at__gt=revision.created_at)
        | Q(created_at=revision.created_at, id__gte=revision.pk)
    )
    return states_after(newer.order_by("-created_at", "-id"), current=current)[revision.pk]


@dataclass(frozen=True)
class Segment:
    kind: str  # "same", "added" or "removed"
    text: str


@dataclass(frozen=True)
class FieldComparison:
    field: str
    label: str
    # Paragraphs, each a list of segments: words kept, removed and added.
    paragraphs: list[list[Segment]]


# Words and the spaces between them, apart: "return" stays the same word before a new one.
WORDS = re.compile(r"\s+|\S+")


def _word_diff(old: str, new: str) -> list[Segment]:
    a, b = WORDS.findall(old), WORDS.findall(new)
    segments = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            segments.append(Segment("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            segments.append(Segment("removed", "".join(a[i1:i2])))
        if j2 > j1:
            segments.append(Segment("added", "".join(b[j1:j2])))
    return segments


def _paragraphs(value) -> list[str]:
    if value is None:
        return []
    return [p.strip() for p in PARAGRAPH_BREAK.split(str(value)) if p.strip()]


def _list_diff(old: list, new: list) -> list[list[Segment]]:
    # Topics: each name kept, removed or added, on one line.
    names = sorted({*old, *new})
    segments = []
    for index, name in enumerate(names):
        kind = "same" if name in old and name in new else "removed" if name in old else "added"
        separator = ", " if index < len(names) - 1 else ""
        segments.append(Segment(kind, f"{name}{separator}"))
    return [segments] if segments else []


def text_diff(old, new) -> list[list[Segment]]:
    """Word-level differences, paragraph by paragraph: unchanged paragraphs are matched first
    (so a long body costs little), then the words of each changed one are compared."""
    if isinstance(old, list) or isinstance(new, list):
        return _list_diff(list(old or []), list(new or []))
    a, b = _paragraphs(old), _paragraphs(new)
    paragraphs = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            paragraphs.extend([Segment("same", text)] for text in a[i1:i2])
            continue
        old_part, new_part = a[i1:i2], b[j1:j2]
        for index in range(max(len(old_part), len(new_part))):
            before = old_part[index] if index < len(old_part) else ""
            after = new_part[index] if index < len(new_part) else ""
            paragraphs.append(_word_diff(before, after))
    return paragraphs


def compare(older: dict, newer: dict) -> list[FieldComparison]:
    """Each tracked field that differs between two states, as word-level differences, in
    TRACKED_FIELDS order. Values stay text: the template escapes them."""
    comparisons = []
    for name in TRACKED_FIELDS:
        old, new = older.get(name), newer.get(name)
        if name == "topics":
            old, new = sorted(old or []), sorted(new or [])
        if old == new:
            continue
        label = Article._meta.get_field(name).verbose_name.capitalize()
        comparisons.append(FieldComparison(field=name, label=label, paragraphs=text_diff(old, new)))
    return comparisons
