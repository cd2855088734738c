"""The editorial workflow: status transitions with their revision history (and what an edit
means for readers: the "Updated" line, old addresses kept), restoring an earlier version,
publishing now or on schedule, editor's picks, and editors' audit-logged actions."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateformat import format as date_format

from .. import revisions
from ..models import Article, ArticleRevision, ArticleSlugRedirect, EditorAction, Topic
from ..signals import articles_changed, articles_published

logger = logging.getLogger(__name__)


Status = Article.Status
Origin = ArticleRevision.Origin

# Which status an article may move to from each status.
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    Status.DRAFT: {Status.SCHEDULED, Status.PUBLISHED},
    # Scheduled to scheduled: moved to another time.
    Status.SCHEDULED: {Status.DRAFT, Status.PUBLISHED, Status.SCHEDULED},
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
    restored_from: ArticleRevision | None = None,
) -> ArticleRevision | None:
    """Record what changed in an article since `before` (a revisions.snapshot taken before the
    save, None for a new article), and what that means for readers: a readable story whose
    words changed shows "Updated", and an address readers may have seen keeps working. Every
    path that saves an article (workflow, admin, ingest, restore) ends here. A save that
    changed nothing records nothing."""
    now = now or timezone.now()
    after = revisions.snapshot(article)
    changes = revisions.changes_between(before, after)
    if not changes:
        return None
    revision = ArticleRevision(
        article=article,
        changed_by=(changed_by or UNKNOWN_EDITOR)[:150],
        origin=origin,
        changes=changes,
        snapshot=after,
        restored_from=restored_from,
        created_at=now,
    )
    revision.full_clean()
    revision.save()
    if before is not None:
        _update_mark(article=article, before=before, after=after, revision=revision, now=now)
        _old_address_keep(article=article, before=before, after=after, now=now)
    return revision


def _last_readable_state(*, article: Article, after: dict, latest: ArticleRevision) -> dict | None:
    """What readers last saw of an article that is readable again (republished or restored
    from draft): the newest earlier version that was readable, or None if none was."""
    history = list(article.revisions.order_by("-created_at", "-id"))
    states = revisions.states_after(history, current=after)
    earlier = [states[revision.pk] for revision in history if revision.pk != latest.pk]
    # And the version before the oldest revision (a story written before revisions existed).
    earlier.append(revisions.state_before(history[-1], state_after=states[history[-1].pk]))
    return next((state for state in earlier if revisions.was_readable(state)), None)


def _update_mark(
    *, article: Article, before: dict, after: dict, revision: ArticleRevision, now: datetime
) -> None:
    # Only what readers read counts: topics, pins, slugs or a save that changed line endings
    # are not corrections. A story fixed while off the site shows it once back.
    if not revisions.was_readable(after, now=now):
        return
    if revisions.was_readable(before, now=now):
        seen = before
    else:
        seen = _last_readable_state(article=article, after=after, latest=revision)
        if seen is None:  # its first publication
            return
    if revisions.reader_visible_change(seen, after):
        Article.objects.filter(pk=article.pk).update(content_updated_at=now)
        article.content_updated_at = now


def _old_address_keep(*, article: Article, before: dict, after: dict, now: datetime) -> None:
    old_slug, new_slug = before.get("slug"), after.get("slug")
    if old_slug == new_slug:
        return
    # A current slug always wins over an old one: its own earlier address (renamed back) or a
    # stale one of another article is dropped rather than left to shadow it.
    ArticleSlugRedirect.objects.filter(old_slug=new_slug).delete()
    published_at = before.get("published_at")
    # An address readers may have seen (published, archived, or unpublished since): links
    # to it lead to the story's new address. A draft's or a scheduled story's never went out.
    if published_at and datetime.fromisoformat(published_at) <= now:
        ArticleSlugRedirect.objects.update_or_create(
            old_slug=old_slug, defaults={"article": article, "created_at": now}
        )


def article_slug_refusal(*, slug: str, article_pk: int | None = None) -> str | None:
    """Why an article may not take this slug, or None when it may: an earlier address of
    another story keeps leading readers' links to that story."""
    taken = (
        ArticleSlugRedirect.objects.filter(old_slug=slug)
        .exclude(article_id=article_pk)
        .select_related("article")
        .first()
    )
    if taken is None:
        return None
    return (
        f"The address '{slug}' was used by '{taken.article.title}' until it was renamed, and "
        f"links to it still lead there. Choose another slug."
    )


@dataclass(frozen=True)
class RestoreResult:
    revision: ArticleRevision | None  # None: the article already matched that version
    missing_topics: list[str]  # topics of that version deleted since: not brought back


def article_revision_restore(
    *, article: Article, revision: ArticleRevision, changed_by: str, now: datetime | None = None
) -> RestoreResult:
    """Bring back an earlier version's words, slug, byline and topics as a new revision
    (history is never rewritten). Status and dates stay as they are: those move through the
    workflow. Refused, changing nothing, when the version's slug is now another story's."""
    if revision.article_id != article.pk:
        raise ValidationError("That revision belongs to another article.")
    with transaction.atomic():
        # Locked: two editors restoring at once restore one after the other.
        article = Article.objects.select_for_update().get(pk=article.pk)
        before = revisions.snapshot(article)
        target = revisions.state_after(revision, current=before)
        refusal = article_slug_refusal(slug=target["slug"], article_pk=article.pk)
        if refusal:
            raise ValidationError(refusal)
        for name in revisions.RESTORED_FIELDS:
            if name != "topics":
                setattr(article, name, target.get(name) or "")
        wanted = target.get("topics") or []
        topics = list(Topic.objects.filter(name__in=wanted))
        article.full_clean()
        article.save()
        article.topics.set(topics)
        recorded = article_revision_record(
            article=article, before=before, changed_by=changed_by, now=now, restored_from=revision
        )
    missing = sorted(set(wanted) - {topic.name for topic in topics})
    return RestoreResult(revision=recorded, missing_topics=missing)


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


def schedule_time_refusal(
    *, publish_at: datetime | None, now: datetime | None = None
) -> str | None:
    """Why a story cannot be scheduled for this time, in words an editor can act on."""
    if publish_at is None:
        return "Give the date and time to publish it at, or choose Published to publish it now."
    if publish_at <= (now or timezone.now()):
        when = date_format(timezone.localtime(publish_at), "j F Y, H:i")
        return (
            f"{when} has already passed: a scheduled time must be in the future. Choose a "
            f"later time, or choose Published to publish it now."
        )
    return None


def article_schedule(*, article: Article, publish_at: datetime, changed_by: str = "") -> Article:
    """Schedule a draft, or move a scheduled story to another time."""
    refusal = schedule_time_refusal(publish_at=publish_at)
    if refusal:
        raise ValidationError(refusal)

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
    stored = Article.objects.filter(pk__in=due).select_related("source").prefetch_related("topics")
    ArticleRevision.objects.bulk_create(
        ArticleRevision(
            article_id=article.pk,
            changed_by=SCHEDULER_LABEL,
            origin=Origin.SYSTEM,
            created_at=now,
            changes={"status": {"old": Status.SCHEDULED, "new": Status.PUBLISHED}},
            snapshot=revisions.snapshot_of(article),
        )
        for article in stored
    )
    _announce_published(due)
    return published


# --- Editors' actions on the recommender (audit-logged) -----------------------------------


def editor_action_record(*, editor: str, action: str, detail: str = "") -> EditorAction:
    entry = EditorAction(editor=editor[:150], action=action, detail=detail[:300])
    entry.full_clean()
    entry.save()
    return entry
