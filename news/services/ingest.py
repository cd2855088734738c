"""Ingest: RSS/Atom feeds and the MIND data set into articles, and the polling of feed
sources.

An import is one transaction: every good entry of a readable feed (or MIND file) is imported,
each entry that cannot become an article is refused by name with its reason (and logged on
the source), and a fault that is not the entry's (the database busy beyond the retries, a
lost connection) leaves nothing of the import behind. Topic suggestions for the new untagged
articles are asked for once, after the commit, for the whole batch.
"""

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, OperationalError, connection, transaction
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
T = TypeVar("T")

# Seconds to wait before each new attempt when the database is busy: SQLite's "database is
# locked" (another connection is writing; its deferred transactions do not wait for a lock
# they would have to upgrade) and PostgreSQL's deadlock or serialization failures pass once
# the other writer commits. Six attempts over about 8 seconds, then the import fails loudly.
BUSY_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0)
_BUSY_MESSAGES = ("database is locked", "database table is locked", "deadlock detected",
                  "could not serialize access")  # fmt: skip

# Database refusals that are about one entry's data (a value the column cannot hold, a
# duplicate written meanwhile): that entry is refused, the others go on.
ENTRY_REFUSALS = (ValidationError, DataError, IntegrityError)


class ImportAborted(Exception):
    """The import could not finish and nothing of it was kept; the message says why."""


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: int = 0  # entries refused: each is in `problems` and the source's error log
    problems: list[str] | None = None  # one clear line per refused entry, for the command
    source: Source | None = None  # where the entries were filed

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def add(self, other: "ImportResult") -> None:
        for outcome in ("created", "updated", "skipped", "errors"):
            setattr(self, outcome, getattr(self, outcome) + getattr(other, outcome))
        if self.problems is not None:
            self.problems.extend(other.problems or [])

    @property
    def total(self) -> int:
        return self.created + self.updated + self.skipped + self.errors

    def summary(self) -> str:
        return (
            f"created {self.created}, updated {self.updated}, "
            f"skipped {self.skipped}, errors {self.errors}"
        )

    def refusals(self, *, named: int = 10) -> str:
        """One sentence on the refused entries, naming up to `named` of them with the reason,
        for the end of a command's output; empty when none was refused."""
        if not self.errors:
            return ""
        problems = self.problems or []
        shown = "; ".join(problem.rstrip(".") for problem in problems[:named])
        more = f"; and {len(problems) - named} more, listed above" if len(problems) > named else ""
        kept = self.total - self.errors
        return (
            f"Refused {self.errors} of {self.total} entries, which were not imported: "
            f"{shown}{more}. The other {kept} were imported."
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


# Values per query when an import reads what its entries may already be.
LOOKUP_BATCH = 1_000


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), LOOKUP_BATCH):
        yield values[start : start + LOOKUP_BATCH]


def _slug_stem(*, title: str, key: str) -> tuple[str, str]:
    # Feed titles repeat ("Live updates", "Letters"); a digest of the entry id keeps the slug
    # stable across re-imports and distinct between entries.
    base = slugify(title)[:100].strip("-") or "entry"
    return base, hashlib.sha256(key.encode()).hexdigest()


class _ImportBatch:
    """What an import looks up once for all its entries rather than once per entry (each
    lookup a query, 3,000 entries took minutes): the articles its entries may already be, the
    slugs they would take, the topics by name. Kept current as articles are created; what a
    refused entry touched is forgotten, since its savepoint was rolled back."""

    def __init__(self, *, source: Source, entries: list[IncomingEntry], create_topics: bool):
        self.source = source
        self.create_topics = create_topics
        ids = list({e.external_id for e in entries if e.external_id and not e.problem})
        urls = list({e.canonical_url for e in entries if e.canonical_url and not e.problem})
        self.by_id = {
            article.external_id: article
            for chunk in _chunks(ids)
            for article in Article.objects.filter(source=source, external_id__in=chunk)
        }
        self.by_url = {
            article.canonical_url: article
            for chunk in _chunks(urls)
            for article in Article.objects.filter(canonical_url__in=chunk)
        }
        self.ids_read, self.urls_read = set(ids), set(urls)
        candidates = [self._slug(entry, length=8) for entry in entries if not entry.problem]
        self.slugs_taken = {
            slug
            for chunk in _chunks(candidates)
            for slug in Article.objects.filter(slug__in=chunk).values_list("slug", flat=True)
        }
        self.slugs_read = set(candidates)
        self.topics: dict[str, Topic | None] = {}

    def existing_article(self, entry: IncomingEntry) -> Article | None:
        if entry.external_id:
            if entry.external_id not in self.ids_read:
                found = Article.objects.filter(
                    source=self.source, external_id=entry.external_id
                ).first()
                self._remember(found)
            found = self.by_id.get(entry.external_id)
            if found:
                return found
        if entry.canonical_url:
            if entry.canonical_url not in self.urls_read:
                self._remember(Article.objects.filter(canonical_url=entry.canonical_url).first())
            return self.by_url.get(entry.canonical_url)
        return None

    def _remember(self, article: Article | None) -> None:
        if article is None:
            return
        if article.source_id == self.source.pk and article.external_id:
            self.by_id[article.external_id] = article
            self.ids_read.add(article.external_id)
        if article.canonical_url:
            self.by_url[article.canonical_url] = article
            self.urls_read.add(article.canonical_url)

    def created(self, article: Article) -> None:
        self._remember(article)
        self.slugs_taken.add(article.slug)

    def forget(self, entry: IncomingEntry) -> None:
        """After an entry was refused: what it wrote was rolled back, so read it again."""
        for found, read, key in (
            (self.by_id, self.ids_read, entry.external_id),
            (self.by_url, self.urls_read, entry.canonical_url),
        ):
            found.pop(key, None)
            read.discard(key)
        self.topics.clear()

    def _slug(self, entry: IncomingEntry, *, length: int) -> str:
        base, digest = _slug_stem(title=entry.title, key=f"{self.source.pk}:{entry.external_id}")
        return f"{base}-{digest[:length]}"

    def free_slug(self, entry: IncomingEntry) -> str:
        for length in (8, 12, 16, 64):
            slug = self._slug(entry, length=length)
            if slug in self.slugs_taken:
                continue
            if slug not in self.slugs_read and Article.objects.filter(slug=slug).exists():
                self.slugs_taken.add(slug)
                continue
            return slug
        raise ValidationError("Could not find a free address (slug) for this entry.")

    def topics_for(self, names: list[str]) -> list[Topic]:
        topics = []
        for name in dict.fromkeys(names):
            key = name.lower()
            if key not in self.topics:
                self.topics[key] = _topic_for(name, create_missing=self.create_topics)
            if self.topics[key] is not None:
                topics.append(self.topics[key])
        return list(dict.fromkeys(topics))


def _topic_for(name: str, *, create_missing: bool) -> Topic | None:
    topic = Topic.objects.filter(name__iexact=name).first()
    if topic is None and create_missing:
        slug = slugify(name)[:80]
        topic = Topic.objects.filter(slug=slug).first()
        if topic is None and slug:
            topic = Topic(name=name[:80], slug=slug)
            topic.full_clean()
            topic.save()
    return topic


@dataclass
class _ImportContext:
    batch: _ImportBatch
    publish: bool
    changed_by: str
    now: datetime
    untagged: list[int]  # new articles without topics: suggestions are asked for the batch


def _entry_import(*, entry: IncomingEntry, context: _ImportContext) -> str:
    """Create, update or skip the article for one entry; returns the outcome's name."""
    if entry.problem:
        raise ValidationError(entry.problem)
    batch, now = context.batch, context.now
    source = batch.source
    article = batch.existing_article(entry)
    if article is None:
        article = Article(
            source=source,
            external_id=entry.external_id,
            slug=batch.free_slug(entry),
            # The feed's own date, for drafts too (publishing one later keeps it); an entry
            # without one gets the import's time, and one dated in the future is not believed
            # beyond now (it would otherwise hide until then, or top the front page for days).
            published_at=min(entry.published_at or now, now),
            **{name: getattr(entry, name) for name in _FEED_FIELDS},
        )
        if context.publish:
            article.status = Status.PUBLISHED
        # Uniqueness was looked up with the batch, and the database's constraints stand
        # behind it (a duplicate written meanwhile refuses the entry in its savepoint);
        # checking each again here cost five queries an article.
        article.full_clean(exclude=["source"], validate_unique=False, validate_constraints=False)
        article.save()
        topics = batch.topics_for(entry.topic_names)
        if topics:
            article.topics.add(*topics)
        article_revision_record(
            article=article,
            before=None,
            changed_by=context.changed_by,
            origin=Origin.FEED,
            now=now,
        )
        batch.created(article)
        if not topics:
            context.untagged.append(article.pk)
        return "created"
    if article.source_id != source.pk or (
        article.external_id and entry.external_id and article.external_id != entry.external_id
    ):
        # Same link as an article from elsewhere (another feed, or written here): one story
        # appears once, and nobody else's article is overwritten.
        return "skipped"
    incoming = {name: getattr(entry, name) for name in _FEED_FIELDS}
    if all(getattr(article, name) == value for name, value in incoming.items()):
        return "skipped"
    if article.revisions.filter(origin=Origin.EDITOR).exists():
        # Once an editor has touched an article, their version wins over later feed updates.
        return "skipped"
    before = revisions.snapshot(article)
    for name, value in incoming.items():
        setattr(article, name, value)
    article.full_clean()
    article.save()
    article_revision_record(
        article=article, before=before, changed_by=context.changed_by, origin=Origin.FEED, now=now
    )
    return "updated"


def _database_busy(error: OperationalError) -> bool:
    return any(message in str(error).lower() for message in _BUSY_MESSAGES)


def _in_one_transaction(
    work: Callable[[], T], *, on_retry: Callable[[str], None] | None = None
) -> T:
    """Run `work` in one transaction. While the database is busy, roll back and run it again
    from the start, at most len(BUSY_RETRY_DELAYS) more times; then raise ImportAborted.
    Inside a caller's transaction there is nothing to retry: that transaction is spoiled."""
    delays = () if connection.in_atomic_block else BUSY_RETRY_DELAYS
    attempts = len(delays) + 1
    for attempt, delay in enumerate((*delays, None), 1):
        try:
            with transaction.atomic():
                return work()
        except OperationalError as error:
            if not _database_busy(error):
                raise
            if delay is None:
                tried = f" through {attempts} attempts" if attempts > 1 else ""
                raise ImportAborted(
                    f"The database stayed busy ({error}){tried}: another program is writing "
                    f"to it. Nothing imported; run the import again once it is done."
                ) from error
            message = (
                f"The database is busy ({error}); nothing kept so far. Starting the import "
                f"again in {delay:g} s (attempt {attempt + 1} of {attempts})."
            )
            if on_retry:  # the command prints it
                on_retry(message)
            else:
                logger.warning(message)
            time.sleep(delay)


def _entries_import(
    *,
    source: Source,
    entries: list[IncomingEntry],
    publish: bool,
    create_topics: bool,
    on_progress: Callable[[IncomingEntry, str, str], None] | None,
    now: datetime | None,
) -> ImportResult:
    """Import entries inside the caller's transaction (see _in_one_transaction)."""
    context = _ImportContext(
        batch=_ImportBatch(source=source, entries=entries, create_topics=create_topics),
        publish=publish,
        changed_by=f"Feed: {source.name}"[:150],
        now=now or timezone.now(),
        untagged=[],
    )
    result = ImportResult(problems=[], source=source)
    for entry in entries:
        message = ""
        try:
            # One savepoint per entry: a refused entry leaves nothing half-written and does
            # not stop the others.
            with transaction.atomic():
                outcome = _entry_import(entry=entry, context=context)
        except ENTRY_REFUSALS as error:
            context.batch.forget(entry)
            outcome = "errors"
            message = (
                " ".join(error.messages)
                if isinstance(error, ValidationError)
                else f"Could not be saved: {error}"
            )
            result.problems.append(f"{entry.reference}: {message}")
            source_error_record(
                source=source, message=message, entry_reference=entry.reference, now=context.now
            )
        result.count(outcome)
        if on_progress:
            on_progress(entry, outcome, message)
    if context.untagged:
        # Once for the batch, after the commit: one classifier trained for all of them, not
        # one per article (3,000 entries took 16 minutes that way).
        article_topics_suggest_later(article_ids=context.untagged)
    return result


def _feed_entries_import(
    *,
    source: Source,
    feed: ParsedFeed,
    on_progress: Callable[[IncomingEntry, str, str], None] | None,
    now: datetime | None,
) -> ImportResult:
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


def feed_entries_import(
    *,
    source: Source,
    feed: ParsedFeed,
    on_progress: Callable[[IncomingEntry, str, str], None] | None = None,
    on_retry: Callable[[str], None] | None = None,
    now: datetime | None = None,
) -> ImportResult:
    """Import a parsed feed's entries into a source, in one transaction: new entries become
    articles (drafts, or published when the source auto-publishes), changed ones are updated
    unless an editor has edited them, unchanged ones are skipped. Refused entries are counted
    in `errors` and go to the source's error log; the others are imported. Raises
    ImportAborted, with nothing kept, when the database stays busy."""
    return _in_one_transaction(
        lambda: _feed_entries_import(source=source, feed=feed, on_progress=on_progress, now=now),
        on_retry=on_retry,
    )


def feed_import(
    *,
    feed: ParsedFeed,
    source_name: str | None,
    url: str | None,
    on_progress: Callable[[IncomingEntry, str, str], None] | None = None,
    on_retry: Callable[[str], None] | None = None,
    now: datetime | None = None,
) -> ImportResult:
    """A one-off import (`import_feed`): the source it is filed under (feed_source_for_import)
    and the entries, in one transaction, so an import that fails leaves no source behind
    either. The result names the source."""

    def work() -> ImportResult:
        source = feed_source_for_import(name=source_name, url=url, feed=feed)
        return _feed_entries_import(source=source, feed=feed, on_progress=on_progress, now=now)

    return _in_one_transaction(work, on_retry=on_retry)


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
    on_retry: Callable[[str], None] | None = None,
    now: datetime | None = None,
) -> ImportResult:
    """Import parsed MIND news.tsv rows in one transaction, as feed_entries_import does; each
    category becomes a topic if there is none yet."""
    return _in_one_transaction(
        lambda: _entries_import(
            source=mind_source_get(),
            entries=entries,
            publish=publish,
            create_topics=True,
            on_progress=on_progress,
            now=now,
        ),
        on_retry=on_retry,
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
    """Fetch and import one feed now. A feed that cannot be fetched or read, or whose import
    could not finish, is logged on the source; nothing is written for it."""
    now = now or timezone.now()
    try:
        fetched = (fetcher or fetch)(source.url)
        feed = feed_parse(fetched.content)
        return feed_entries_import(source=source, feed=feed, now=now)
    except (FetchError, FeedUnreadable, ImportAborted) as error:
        source_error_record(source=source, message=str(error), now=now)
        return ImportResult(errors=1, problems=[str(error)], source=source)


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
