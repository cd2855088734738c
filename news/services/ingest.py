"""Ingest: RSS/Atom feeds and the MIND data set into articles, and the polling of feed
sources."""

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.text import slugify

from .. import revisions
from ..ingest import FeedUnreadable, IncomingEntry, ParsedFeed, feed_parse
from ..models import Article, ArticleRevision, Source, SourceError, Topic
from ..safe_fetch import FetchError, fetch
from .articles import article_revision_record
from .suggestions import article_topics_suggest_later

logger = logging.getLogger(__name__)

Status = Article.Status
Origin = ArticleRevision.Origin


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: int = 0
    problems: list[str] | None = None  # one clear line per refused entry, for the command

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def add(self, other: "ImportResult") -> None:
        for outcome in ("created", "updated", "skipped", "errors"):
            setattr(self, outcome, getattr(self, outcome) + getattr(other, outcome))
        if self.problems is not None:
            self.problems.extend(other.problems or [])

    def summary(self) -> str:
        return (
            f"created {self.created}, updated {self.updated}, "
            f"skipped {self.skipped}, errors {self.errors}"
        )


# Entry fields a feed owns; an update rewrites exactly these.
_FEED_FIELDS = ("title", "summary", "body", "author", "canonical_url")


def source_error_record(
    *, source: Source, message: str, entry_reference: str = "", now: datetime | None = None
) -> SourceError:
    error = SourceError(
        source=source,
        message=message,
        entry_reference=entry_reference[:500],
        occurred_at=now or timezone.now(),
    )
    error.full_clean()
    error.save()
    return error


def _unique_slug(*, title: str, external_id: str) -> str:
    # Feed titles repeat ("Live updates", "Letters"); a digest of the entry id keeps the slug
    # stable across re-imports and distinct between entries.
    base = slugify(title)[:100].strip("-") or "entry"
    digest = hashlib.sha256(external_id.encode()).hexdigest()
    for length in (8, 12, 16, 64):
        slug = f"{base}-{digest[:length]}"
        if not Article.objects.filter(slug=slug).exists():
            return slug
    raise ValidationError("Could not find a free address (slug) for this entry.")


def _topics_for(names: list[str], *, create_missing: bool) -> list[Topic]:
    topics = []
    for name in dict.fromkeys(names):
        topic = Topic.objects.filter(name__iexact=name).first()
        if topic is None and create_missing:
            slug = slugify(name)[:80]
            topic = Topic.objects.filter(slug=slug).first()
            if topic is None and slug:
                topic = Topic(name=name[:80], slug=slug)
                topic.full_clean()
                topic.save()
        if topic is not None:
            topics.append(topic)
    return topics


def _existing_article(*, source: Source, entry: IncomingEntry) -> Article | None:
    if entry.external_id:
        found = Article.objects.filter(source=source, external_id=entry.external_id).first()
        if found:
            return found
    if entry.canonical_url:
        return Article.objects.filter(canonical_url=entry.canonical_url).first()
    return None


def _entry_import(
    *,
    source: Source,
    entry: IncomingEntry,
    publish: bool,
    create_topics: bool,
    changed_by: str,
    now: datetime,
) -> str:
    """Create, update or skip the article for one entry; returns the outcome's name."""
    if entry.problem:
        raise ValidationError(entry.problem)
    article = _existing_article(source=source, entry=entry)
    if article is None:
        article = Article(
            source=source,
            external_id=entry.external_id,
            slug=_unique_slug(title=entry.title, external_id=f"{source.pk}:{entry.external_id}"),
            **{name: getattr(entry, name) for name in _FEED_FIELDS},
        )
        if publish:
            article.status = Status.PUBLISHED
            # An entry dated in the future would otherwise hide until then.
            article.published_at = min(entry.published_at or now, now)
        article.full_clean()
        article.save()
        topics = _topics_for(entry.topic_names, create_missing=create_topics)
        article.topics.set(topics)
        article_revision_record(
            article=article, before=None, changed_by=changed_by, origin=Origin.FEED, now=now
        )
        if not topics:
            # Inside the entry's savepoint: a refused entry queues nothing.
            article_topics_suggest_later(article_ids=[article.pk])
        return "created"
    if article.source_id != source.pk or (
        article.external_id and entry.external_id and article.external_id != entry.external_id
    ):
        # Same link as an article from elsewhere (another feed, or written here): one story
        # appears once, and nobody else's article is overwritten.
        return "skipped"
    if article.revisions.filter(origin=Origin.EDITOR).exists():
        # Once an editor has touched an article, their version wins over later feed updates.
        return "skipped"
    incoming = {name: getattr(entry, name) for name in _FEED_FIELDS}
    if all(getattr(article, name) == value for name, value in incoming.items()):
        return "skipped"
    before = revisions.snapshot(article)
    for name, value in incoming.items():
        setattr(article, name, value)
    article.full_clean()
    article.save()
    article_revision_record(
        article=article, before=before, changed_by=changed_by, origin=Origin.FEED, now=now
    )
    return "updated"


def _entries_import(
    *,
    source: Source,
    entries: list[IncomingEntry],
    publish: bool,
    create_topics: bool,
    on_progress: Callable[[IncomingEntry, str, str], None] | None,
    now: datetime | None,
) -> ImportResult:
    now = now or timezone.now()
    result = ImportResult(problems=[])
    changed_by = f"Feed: {source.name}"[:150]
    for entry in entries:
        message = ""
        try:
            # One savepoint per entry: a refused entry leaves nothing half-written and does
            # not stop the others.
            with transaction.atomic():
                outcome = _entry_import(
                    source=source,
                    entry=entry,
                    publish=publish,
                    create_topics=create_topics,
                    changed_by=changed_by,
                    now=now,
                )
        except (ValidationError, DatabaseError) as error:
            outcome = "errors"
            message = (
                " ".join(error.messages)
                if isinstance(error, ValidationError)
                else f"Could not be saved: {error}"
            )
            result.problems.append(f"{entry.reference}: {message}")
            source_error_record(
                source=source, message=message, entry_reference=entry.reference, now=now
            )
        result.count(outcome)
        if on_progress:
            on_progress(entry, outcome, message)
    return result


def feed_entries_import(
    *,
    source: Source,
    feed: ParsedFeed,
    on_progress: Callable[[IncomingEntry, str, str], None] | None = None,
    now: datetime | None = None,
) -> ImportResult:
    """Import a parsed feed's entries into a source: new entries become articles (drafts, or
    published when the source auto-publishes), changed ones are updated unless an editor has
    edited them, unchanged ones are skipped. Refused entries go to the source's error log."""
    if feed.warning:
        source_error_record(source=source, message=feed.warning, now=now)
    return _entries_import(
        source=source,
        entries=feed.entries,
        publish=source.auto_publish,
        # Feed categories are free text; only topics editors already made are attached.
        create_topics=False,
        on_progress=on_progress,
        now=now,
    )


MIND_SOURCE_NAME = "MIND news data set"


def mind_source_get() -> Source:
    source, _ = Source.objects.get_or_create(
        name=MIND_SOURCE_NAME,
        defaults={"kind": Source.Kind.DATASET, "active": False, "url": ""},
    )
    return source


def mind_rows_import(
    *,
    entries: list[IncomingEntry],
    publish: bool = False,
    on_progress: Callable[[IncomingEntry, str, str], None] | None = None,
    now: datetime | None = None,
) -> ImportResult:
    """Import parsed MIND news.tsv rows; each category becomes a topic if there is none yet."""
    return _entries_import(
        source=mind_source_get(),
        entries=entries,
        publish=publish,
        create_topics=True,
        on_progress=on_progress,
        now=now,
    )


def feed_source_for_import(*, name: str | None, url: str | None, feed: ParsedFeed) -> Source:
    """The source a one-off `import_feed` files entries under: the named one, else the one with
    this feed address, else one named after the feed. Sources made here are not polled until
    an editor turns them on, so a one-off import never starts regular fetching by itself."""
    if not name and url:
        existing = Source.objects.filter(url=url).first()
        if existing:
            return existing
    name = (name or feed.title or "Imported feed")[:120]
    source = Source.objects.filter(name=name).first()
    if source:
        return source
    # A feed read from a file has no address: such a source can never be polled.
    source = Source(name=name, kind=feed.kind, url=url or "", active=False)
    source.full_clean()
    source.save()
    return source


# --- Polling ---------------------------------------------------------------------------------


def source_poll(
    *, source: Source, now: datetime | None = None, fetcher: Callable | None = None
) -> ImportResult:
    """Fetch and import one feed now. A feed that cannot be fetched or read is logged on the
    source; nothing is written for it."""
    now = now or timezone.now()
    try:
        fetched = (fetcher or fetch)(source.url)
        feed = feed_parse(fetched.content)
    except (FetchError, FeedUnreadable) as error:
        source_error_record(source=source, message=str(error), now=now)
        return ImportResult(errors=1, problems=[str(error)])
    return feed_entries_import(source=source, feed=feed, now=now)


@dataclass
class PollSummary:
    polled: int = 0
    result: ImportResult | None = None


def _claim(*, source: Source, now: datetime) -> bool:
    # Compare-and-set on last_polled_at: of two overlapping beat runs, only one fetches.
    claimed = Source.objects.filter(pk=source.pk, last_polled_at=source.last_polled_at).update(
        last_polled_at=now
    )
    return claimed == 1


def sources_poll_due(
    *, now: datetime | None = None, fetcher: Callable | None = None
) -> PollSummary:
    """Poll every active feed whose interval has passed since its last poll. A failing feed
    counts as polled too, so it is retried at its interval rather than every minute."""
    now = now or timezone.now()
    summary = PollSummary(result=ImportResult(problems=[]))
    feeds = Source.objects.filter(active=True, kind__in=Source.FEED_KINDS).exclude(url="")
    for source in feeds:
        if not source.is_due(now=now) or not _claim(source=source, now=now):
            continue
        result = source_poll(source=source, now=now, fetcher=fetcher)
        summary.polled += 1
        summary.result.add(result)
        logger.info("Polled %s: %s", source.name, result.summary())
    source_errors_purge(now=now)
    return summary


def source_errors_purge(*, now: datetime | None = None) -> int:
    """Forget feed errors older than INGEST_ERROR_RETENTION_DAYS: the log is for fixing
    today's problems, not an archive."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.INGEST_ERROR_RETENTION_DAYS)
    deleted, _ = SourceError.objects.filter(occurred_at__lt=cutoff).delete()
    return deleted
