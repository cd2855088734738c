"""The editorial workflow: status transitions with their revision history, publishing
now or on schedule, editor's picks, and editors' audit-logged actions."""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .. import revisions
from ..models import Article, ArticleRevision, EditorAction
from ..signals import articles_changed, articles_published

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


# --- Editors' actions on the recommender (audit-logged) -----------------------------------


def editor_action_record(*, editor: str, action: str, detail: str = "") -> EditorAction:
    entry = EditorAction(editor=editor[:150], action=action, detail=detail[:300])
    entry.full_clean()
    entry.save()
    return entry
