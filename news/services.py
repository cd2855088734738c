"""Every write to news content: the editorial workflow with its revision history, feed and
MIND ingest, source polling, the demo-content loader, topic suggestions for untagged
articles, and editors' audit-logged actions on the recommender."""

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

from newsite.queueing import enqueue_on_commit

from . import revisions, topic_suggestions
from .ingest import FeedUnreadable, IncomingEntry, ParsedFeed, feed_parse
from .models import Article, ArticleRevision, EditorAction, Source, SourceError, Topic
from .safe_fetch import FetchError, fetch
from .signals import articles_changed, articles_published

logger = logging.getLogger(__name__)

Status = Article.Status
Origin = ArticleRevision.Origin

# Which status an article may move to from each status.
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    Status.DRAFT: {Status.SCHEDULED, Status.PUBLISHED},
    Status.SCHEDULED: {Status.DRAFT, Status.PUBLISHED},
    Status.PUBLISHED: {Status.DRAFT, Status.ARCHIVED},
    Status.ARCHIVED: {Status.PUBLISHED, Status.DRAFT},
}

# Who a revision names when no editor made the change.
SCHEDULER_LABEL = "Scheduled publishing"
UNKNOWN_EDITOR = "Unknown"


def transition_refusal(*, current: str, to: str) -> str | None:
    """Why an article may not move from one status to another, or None when it may."""
    if to in ALLOWED_TRANSITIONS[current]:
        return None
    return (
        f"An article that is {Status(current).label.lower()} cannot become "
        f"{Status(to).label.lower()}."
    )


def _transition(*, article: Article, to: str) -> None:
    refusal = transition_refusal(current=article.status, to=to)
    if refusal:
        raise ValidationError(refusal)
    article.status = to


# --- Revision history ------------------------------------------------------------------------


def article_revision_record(
    *,
    article: Article,
    before: dict | None,
    changed_by: str,
    origin: str = Origin.EDITOR,
    now: datetime | None = None,
) -> ArticleRevision | None:
    """Record what changed in an article since `before` (a revisions.snapshot taken before the
    save, None for a new article). A save that changed nothing records nothing."""
    changes = revisions.changes_between(before, revisions.snapshot(article))
    if not changes:
        return None
    revision = ArticleRevision(
        article=article,
        changed_by=(changed_by or UNKNOWN_EDITOR)[:150],
        origin=origin,
        changes=changes,
        created_at=now or timezone.now(),
    )
    revision.full_clean()
    revision.save()
    return revision


def _save_with_revision(*, article: Article, changed_by: str, apply: Callable[[], None]) -> Article:
    with transaction.atomic():
        before = revisions.snapshot(article)
        apply()
        article.full_clean()
        article.save()
        article_revision_record(article=article, before=before, changed_by=changed_by)
    return article


def _announce_published(article_ids: list[int]) -> None:
    """Once the publication is committed, tell the layers above (the recommender vectorises
    the stories, so they can be recommended by content before the next retrain)."""
    ids = list(article_ids)
    transaction.on_commit(
        lambda: articles_published.send(sender=Article, article_ids=ids), robust=True
    )


# --- Editorial workflow ---------------------------------------------------------------------


def article_publish(
    *, article: Article, changed_by: str = "", now: datetime | None = None
) -> Article:
    """Publish now. An article published before keeps its original date."""
    now = now or timezone.now()

    def apply():
        _transition(article=article, to=Status.PUBLISHED)
        if article.published_at is None or article.published_at > now:
            article.published_at = now

    _save_with_revision(article=article, changed_by=changed_by, apply=apply)
    _announce_published([article.pk])
    return article


def article_schedule(*, article: Article, publish_at: datetime, changed_by: str = "") -> Article:
    if publish_at <= timezone.now():
        raise ValidationError("A scheduled time must be in the future.")

    def apply():
        _transition(article=article, to=Status.SCHEDULED)
        article.published_at = publish_at

    return _save_with_revision(article=article, changed_by=changed_by, apply=apply)


def article_unpublish(*, article: Article, changed_by: str = "") -> Article:
    """Take an article off the site and back to draft."""
    return _save_with_revision(
        article=article,
        changed_by=changed_by,
        apply=lambda: _transition(article=article, to=Status.DRAFT),
    )


def article_archive(*, article: Article, changed_by: str = "") -> Article:
    return _save_with_revision(
        article=article,
        changed_by=changed_by,
        apply=lambda: _transition(article=article, to=Status.ARCHIVED),
    )


EDITORS_PICK_HOURS = 24


def article_pin(
    *,
    article: Article,
    changed_by: str = "",
    hours: int = EDITORS_PICK_HOURS,
    now: datetime | None = None,
) -> Article:
    """Pin as an editor's pick for the next `hours`. Only articles that are (or will be) on the
    site can be picks: pinning a draft would promise readers something they cannot open."""
    if article.status not in (Status.PUBLISHED, Status.SCHEDULED):
        raise ValidationError(
            f"Only published or scheduled articles can be editor's picks; this one is "
            f"{article.get_status_display().lower()}."
        )
    now = now or timezone.now()

    def apply():
        article.editors_pick_until = now + timedelta(hours=hours)

    return _save_with_revision(article=article, changed_by=changed_by, apply=apply)


@transaction.atomic
def articles_publish_due(*, now: datetime | None = None) -> int:
    """Publish every scheduled article whose time has come; safe to run any number of times."""
    now = now or timezone.now()
    # Locked so two overlapping runs cannot both publish (and record) the same article.
    due = list(
        Article.objects.filter(status=Status.SCHEDULED, published_at__lte=now)
        .select_for_update(skip_locked=True)
        .values_list("pk", flat=True)
    )
    if not due:
        return 0
    published = Article.objects.filter(pk__in=due).update(status=Status.PUBLISHED, updated_at=now)
    transaction.on_commit(lambda: articles_changed.send(sender=Article, article_ids=due))
    ArticleRevision.objects.bulk_create(
        ArticleRevision(
            article_id=pk,
            changed_by=SCHEDULER_LABEL,
            origin=Origin.SYSTEM,
            created_at=now,
            changes={"status": {"old": Status.SCHEDULED, "new": Status.PUBLISHED}},
        )
        for pk in due
    )
    _announce_published(due)
    return published


@dataclass(frozen=True)
class DemoLoadResult:
    topics_created: int
    articles_created: int
    articles_skipped: int


DEMO_MAX_DAYS_AGO = 3650


def _demo_validate(data: dict) -> None:
    """Check the shape of every value before anything is written: a hand-edited document
    gets one clear refusal, never a half-made load or a crash on a wrong type."""
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("articles"), list)
        or not isinstance(data.get("topics", []), list)
    ):
        raise ValidationError("Demo content must be an object with 'topics' and 'articles' lists.")
    for position, item in enumerate(data.get("topics", []), start=1):
        if not isinstance(item, dict) or not item.get("name") or not isinstance(item["name"], str):
            raise ValidationError(f"Demo topic #{position} needs a name.")
        if any(not isinstance(item.get(key, ""), str) for key in ("slug", "description")):
            raise ValidationError(f"Demo topic #{position}: slug and description must be text.")
    required = ("slug", "title", "summary", "body", "topics")
    for position, item in enumerate(data["articles"], start=1):
        if not isinstance(item, dict):
            raise ValidationError(f"Demo article #{position} is not an object.")
        missing = [key for key in required if not item.get(key)]
        if missing:
            raise ValidationError(f"Demo article #{position} lacks {', '.join(missing)}.")
        texts = ("slug", "title", "summary", "body", "author")
        if any(not isinstance(item.get(key, ""), str) for key in texts) or not (
            isinstance(item["topics"], list) and all(isinstance(t, str) for t in item["topics"])
        ):
            raise ValidationError(
                f"Demo article #{position}: {', '.join(texts)} must be text and topics a list "
                "of topic slugs."
            )
        days_ago = item.get("days_ago", 0)
        if (
            isinstance(days_ago, bool)
            or not isinstance(days_ago, int | float)
            or not 0 <= days_ago <= DEMO_MAX_DAYS_AGO
        ):
            raise ValidationError(
                f"Demo article #{position}: days_ago must be a number from 0 to "
                f"{DEMO_MAX_DAYS_AGO}."
            )


@transaction.atomic
def demo_content_load(*, data: dict, now: datetime | None = None) -> DemoLoadResult:
    """Load topics and published articles from a demo-content document.

    Existing rows (matched by slug) are left exactly as they are, so loading twice changes
    nothing. The document is checked whole before anything is written.
    """
    _demo_validate(data)
    now = now or timezone.now()
    topics_created = 0
    topics: dict[str, Topic] = {t.slug: t for t in Topic.objects.all()}
    for item in data.get("topics", []):
        slug = item.get("slug") or slugify(item["name"])
        if slug in topics:
            continue
        topic = Topic(slug=slug, name=item["name"], description=item.get("description", ""))
        topic.full_clean()
        topic.save()
        topics[slug] = topic
        topics_created += 1

    existing = set(Article.objects.values_list("slug", flat=True))
    created = skipped = 0
    for item in data["articles"]:
        if item["slug"] in existing:
            skipped += 1
            continue
        unknown = [slug for slug in item["topics"] if slug not in topics]
        if unknown:
            raise ValidationError(
                f"Article '{item['slug']}' names unknown topics: {', '.join(unknown)}."
            )
        published_at = now - timedelta(days=float(item.get("days_ago", 0)))
        article = Article(
            slug=item["slug"],
            title=item["title"],
            summary=item["summary"],
            body=item["body"],
            author=item.get("author", ""),
            status=Status.PUBLISHED,
            published_at=published_at,
            editors_pick_until=now + timedelta(days=7) if item.get("editors_pick") else None,
        )
        article.full_clean()
        article.save()
        article.topics.set([topics[slug] for slug in item["topics"]])
        existing.add(article.slug)
        created += 1
    return DemoLoadResult(
        topics_created=topics_created, articles_created=created, articles_skipped=skipped
    )


# --- Ingest: feeds and data sets -------------------------------------------------------------


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
            _suggest_topics_after_commit([article.pk])
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


# --- Editors' actions on the recommender (audit-logged) -----------------------------------


def editor_action_record(*, editor: str, action: str, detail: str = "") -> EditorAction:
    entry = EditorAction(editor=editor[:150], action=action, detail=detail[:300])
    entry.full_clean()
    entry.save()
    return entry


# --- Topic suggestions --------------------------------------------------------------------

# Training on the newest labelled articles keeps one suggestion run to a second or two.
SUGGESTION_TRAINING_LIMIT = 5_000


@dataclass(frozen=True)
class TopicSuggestionResult:
    suggested: int
    note: str = ""  # why nothing was suggested, in words an editor can act on


def _suggestion_text(article: Article) -> str:
    return "\n".join([article.title, article.title, article.summary, article.body])


def _suggest_topics_after_commit(article_ids: list[int]) -> None:
    """Suggest in the background once the new articles are committed; with the broker down
    the suggestion is made here (a second or two), not lost."""
    enqueue_on_commit(
        "news.tasks.suggest_topics",
        article_ids,
        when_broker_down=lambda: article_topics_suggest(article_ids=article_ids),
    )


def article_topics_suggest(*, article_ids: list[int]) -> TopicSuggestionResult:
    """Train the topic classifier on the articles that have topics and store its suggestions
    on those of `article_ids` that still have none."""
    targets = list(Article.objects.filter(pk__in=article_ids, topics__isnull=True).distinct())
    if not targets:
        return TopicSuggestionResult(suggested=0, note="Every chosen article already has topics.")
    labelled = list(
        Article.objects.filter(topics__isnull=False)
        .distinct()
        .order_by("-pk")
        .prefetch_related("topics")[:SUGGESTION_TRAINING_LIMIT]
    )
    try:
        classifier = topic_suggestions.classifier_train(
            texts=[_suggestion_text(a) for a in labelled],
            topic_sets=[{t.pk for t in a.topics.all()} for a in labelled],
        )
    except topic_suggestions.NotEnoughLabels as error:
        return TopicSuggestionResult(suggested=0, note=f"No suggestions: {error}")
    predictions = topic_suggestions.topics_predict(
        classifier=classifier, texts=[_suggestion_text(a) for a in targets]
    )
    names = dict(Topic.objects.filter(pk__in=classifier.topic_ids).values_list("pk", "name"))
    suggested = 0
    for article, best in zip(targets, predictions, strict=True):
        stored = [
            {"topic_id": topic_id, "name": names[topic_id], "score": score}
            for topic_id, score in best
            if topic_id in names
        ]
        # A plain UPDATE: a suggestion is not an edit, so no revision and no updated_at.
        Article.objects.filter(pk=article.pk).update(suggested_topics=stored)
        suggested += bool(stored)
    note = "" if suggested else "No topic was likely enough to suggest."
    return TopicSuggestionResult(suggested=suggested, note=note)


def article_topic_suggestions_refresh(*, article: Article) -> None:
    """After an editor saved an article: drop suggestions once it has topics; ask for them
    when it has none and none are waiting."""
    has_topics = article.topics.exists()
    if has_topics and article.suggested_topics:
        Article.objects.filter(pk=article.pk).update(suggested_topics=[])
        article.suggested_topics = []
    elif not has_topics and not article.suggested_topics:
        _suggest_topics_after_commit([article.pk])


@transaction.atomic
def article_topics_accept(*, article: Article, changed_by: str) -> list[Topic]:
    """Give the article its suggested topics, in one revision, and log who accepted them."""
    wanted = [item["topic_id"] for item in article.suggested_topics]
    topics = list(Topic.objects.filter(pk__in=wanted))
    if not topics:
        raise ValidationError("there are no suggested topics to accept.")
    before = revisions.snapshot(article)
    article.topics.set(topics)
    article.suggested_topics = []
    article.save(update_fields=["suggested_topics", "updated_at"])
    article_revision_record(article=article, before=before, changed_by=changed_by)
    editor_action_record(
        editor=changed_by or UNKNOWN_EDITOR,
        action=EditorAction.Action.ACCEPT_TOPICS,
        detail=f"'{article.title[:200]}': {', '.join(t.name for t in topics)}",
    )
    return topics
