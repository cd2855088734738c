"""Every write of the recommender: retrain under a lock, activate atomically, roll back,
keep the last versions, vectorise articles published between retrains, and count the feed
cards shown (the denominator of click-through rates)."""

from __future__ import annotations

import contextlib
import logging
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from common.queueing import enqueue_on_commit
from news.models import Article, EditorAction
from news.services import editor_action_record

from . import training
from .active import active_model, announce_activation
from .artifacts import ArtifactError, artifact_delete, artifact_save, artifact_verify
from .impressions import (  # noqa: F401  (the feed's impression counters, written in batches)
    FEED_LIST_TYPES,
    feed_impressions_flush,
    feed_impressions_record,
)
from .models import ActiveModel, ArticleVector, ModelVersion, RetrainLock
from .vectors import article_text

logger = logging.getLogger(__name__)

Status = ModelVersion.Status
RETRAIN_LOCK = "retrain"
# The end of a traceback says where it broke; editors get that, not pages of frames.
ERROR_TAIL_CHARS = 4_000


# --- The retrain lock ---------------------------------------------------------------------


def retrain_lock_acquire(*, holder: str, now: datetime | None = None) -> bool:
    """Take the retrain lease unless someone holds an unexpired one. One conditional UPDATE,
    so of two workers racing for it exactly one wins, on PostgreSQL and SQLite alike."""
    now = now or timezone.now()
    # A racing worker may create the row a moment earlier: fine, it exists.
    with contextlib.suppress(IntegrityError):
        RetrainLock.objects.get_or_create(name=RETRAIN_LOCK)
    taken = (
        RetrainLock.objects.filter(name=RETRAIN_LOCK)
        .filter(Q(held_until__isnull=True) | Q(held_until__lte=now))
        .update(
            holder=holder,
            held_until=now + timedelta(seconds=settings.RECOMMENDER_RETRAIN_LOCK_SECONDS),
        )
    )
    return taken == 1


def retrain_lock_release(*, holder: str) -> None:
    RetrainLock.objects.filter(name=RETRAIN_LOCK, holder=holder).update(holder="", held_until=None)


# --- Retrain ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetrainResult:
    status: str  # a ModelVersion status, or "already_running"
    version: int | None = None
    activated: bool = False
    article_count: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    ALREADY_RUNNING = "already_running"


def _run_start(*, trigger: str, now: datetime) -> ModelVersion:
    # A run still marked as training while we hold the lock was cut off (its worker died).
    ModelVersion.objects.filter(status=Status.RUNNING).update(
        status=Status.FAILED, error="Interrupted: the worker stopped before the run finished."
    )
    latest = ModelVersion.objects.aggregate(latest=Max("version"))["latest"] or 0
    run = ModelVersion(version=latest + 1, trigger=trigger, status=Status.RUNNING, started_at=now)
    run.full_clean()
    run.save()
    return run


# An editor's retrain request with no run started this long after it was made was never picked
# up by a worker (its message was lost while the broker was down).
RETRAIN_REQUEST_GRACE = timedelta(minutes=5)


def model_retrain_if_requested(*, now: datetime | None = None) -> RetrainResult | None:
    """Run the retrain an editor asked for when no run has started since (the request's
    message was lost); returns None when there is nothing waiting."""
    now = now or timezone.now()
    asked = (
        EditorAction.objects.filter(
            action=EditorAction.Action.RETRAIN, created_at__lt=now - RETRAIN_REQUEST_GRACE
        )
        .aggregate(latest=Max("created_at"))
        .get("latest")
    )
    if asked is None or ModelVersion.objects.filter(started_at__gte=asked).exists():
        return None
    logger.warning("Running the retrain an editor asked for at %s; it was never queued.", asked)
    return model_retrain(trigger=ModelVersion.Trigger.MANUAL, now=now)


@transaction.atomic
def model_retrain_request(*, editor: str) -> EditorAction:
    """An editor's "retrain now": logged, then run through the Celery task once that is
    committed, so the page answers at once and the work is recorded like the nightly retrain.
    If the broker is down, the periodic `model_retrain_if_requested` sweep runs it later."""
    entry = editor_action_record(editor=editor, action=EditorAction.Action.RETRAIN)
    enqueue_on_commit(
        "recommendations.tasks.model_retrain",
        ModelVersion.Trigger.MANUAL,
        sweep="model_retrain_if_requested",
    )
    return entry


@transaction.atomic
def model_rollback_by_editor(*, editor: str, to_version: int | None = None) -> ModelVersion:
    """Serve an earlier model version and log who did it; a refusal logs nothing."""
    previous = model_active_version()
    version = model_rollback(to_version=to_version)
    editor_action_record(
        editor=editor,
        action=EditorAction.Action.ROLLBACK,
        detail=f"From v{previous.version if previous else '-'} to v{version.version}",
    )
    return version


def model_retrain(*, trigger: str = ModelVersion.Trigger.MANUAL, now=None) -> RetrainResult:
    """Train a new version from article content and DP counts; activate it if its offline
    checks pass. A failure leaves the active model serving and is recorded for editors."""
    now = now or timezone.now()
    holder = uuid.uuid4().hex
    if not retrain_lock_acquire(holder=holder, now=now):
        logger.warning("Recommender retrain skipped: another retrain holds the lock.")
        return RetrainResult(status=RetrainResult.ALREADY_RUNNING)
    started = time.perf_counter()
    try:
        run = _run_start(trigger=trigger, now=now)
        try:
            result = training.build_model(version=run.version, now=now)
            model = result.model
            run.article_count = len(model.article_ids)
            run.aggregate_days = model.metadata["aggregate_days"]
            run.epsilon = model.metadata["epsilon"]
            run.metrics = model.metadata["metrics"]
            run.trained_at = now
            if result.problems:
                run.status = Status.REJECTED
                run.error = " ".join(result.problems)
                logger.error("Recommender v%s rejected: %s", run.version, run.error)
            else:
                run.artifact_name, run.artifact_sha256 = artifact_save(model=model)
                run.status = Status.READY
        except Exception as error:
            logger.exception("Recommender retrain v%s failed; the active model stays.", run.version)
            artifact_delete(name=run.artifact_name)
            run.status = Status.FAILED
            run.artifact_name = run.artifact_sha256 = ""
            run.error = (
                f"{type(error).__name__}: {error}\n\n" + traceback.format_exc()[-ERROR_TAIL_CHARS:]
            )
        run.duration_seconds = time.perf_counter() - started
        held_back = None
        if run.status == Status.READY:
            held_back = activation_refusal(version=run, active=model_active_version())
            if held_back:
                # Kept ready, not served: an editor may still serve it from the panel.
                run.error = f"Not activated: {held_back}."
                logger.warning("Recommender v%s not activated: %s", run.version, held_back)
        run.save()
        if run.status == Status.READY and not held_back:
            try:
                model_activate(version=run, now=now)
            except ValidationError as error:
                # E.g. the artifact was removed between writing and activating it.
                logger.error("Recommender v%s not activated: %s", run.version, error.messages[0])
                run.status, run.error = Status.FAILED, " ".join(error.messages)
                run.save(update_fields=["status", "error"])
        if run.status == Status.READY and not held_back:
            versions_prune()
            logger.info(
                "Recommender v%s active: %s articles, %.1f s.",
                run.version,
                run.article_count,
                run.duration_seconds,
            )
        return RetrainResult(
            status=run.status,
            version=run.version,
            activated=run.status == Status.READY and not held_back,
            article_count=run.article_count,
            seconds=run.duration_seconds,
            problems=[run.error] if run.error else [],
        )
    finally:
        retrain_lock_release(holder=holder)


# --- Activation, rollback, pruning --------------------------------------------------------

# The offline checks a new version must not do worse on than the one serving, to serve
# without an editor's say: how often an article's nearest neighbour shares its topic.
NO_WORSE_CHECKS = ("topic_agreement",)


def activation_refusal(*, version: ModelVersion, active: ModelVersion | None) -> str | None:
    """Why a freshly trained version should not replace the serving one by itself: it does
    worse on an offline check (None: it may serve)."""
    if active is None or active.pk == version.pk:
        return None
    new_metrics, old_metrics = version.metrics or {}, active.metrics or {}
    shapes = new_metrics.get("dimensions_setting"), old_metrics.get("dimensions_setting")
    if None not in shapes and shapes[0] != shapes[1]:
        # The number of dimensions is the operator's setting: a model trained at a new one
        # is a deliberate change, and the checks only compare models of the same shape.
        return None
    for name in NO_WORSE_CHECKS:
        new, old = new_metrics.get(name), old_metrics.get(name)
        if new is not None and old is not None and new < old:
            return (
                f"its {name.replace('_', ' ')} {new} is below {old}, the serving "
                f"v{active.version}'s"
            )
    return None


@transaction.atomic
def model_activate(*, version: ModelVersion, now: datetime | None = None) -> ModelVersion:
    """Point every process at this version in one row update; its artifact must be whole."""
    now = now or timezone.now()
    version.refresh_from_db()
    if version.status != Status.READY:
        raise ValidationError(
            f"Model v{version.version} cannot serve: it is {version.get_status_display().lower()}."
        )
    try:
        artifact_verify(name=version.artifact_name, sha256=version.artifact_sha256)
    except ArtifactError as error:
        raise ValidationError(f"Model v{version.version} cannot serve: {error}") from error
    # Serialise concurrent activations on the pointer row.
    ActiveModel.objects.select_for_update().filter(pk=ActiveModel.SINGLETON_ID).first()
    ActiveModel.objects.update_or_create(
        pk=ActiveModel.SINGLETON_ID, defaults={"version": version, "activated_at": now}
    )
    version.activated_at = now
    version.save(update_fields=["activated_at"])
    announce_activation()
    return version


def model_active_version() -> ModelVersion | None:
    active = ActiveModel.objects.select_related("version").filter(pk=ActiveModel.SINGLETON_ID)
    row = active.first()
    return row.version if row else None


def model_rollback(*, to_version: int | None = None) -> ModelVersion:
    """Serve an earlier version again: the given one, else the newest ready one older than
    the active version whose artifact is intact."""
    active = model_active_version()
    if to_version is not None:
        target = ModelVersion.objects.filter(version=to_version).first()
        if target is None:
            raise ValidationError(f"There is no model v{to_version}.")
        if active is not None and target.pk == active.pk:
            raise ValidationError(f"Model v{to_version} is already active.")
        return model_activate(version=target)
    if active is None:
        raise ValidationError("No model is active, so there is nothing to roll back from.")
    older = ModelVersion.objects.filter(status=Status.READY, version__lt=active.version)
    for candidate in older.order_by("-version"):
        try:
            return model_activate(version=candidate)
        except ValidationError as error:
            logger.warning("Skipping v%s for rollback: %s", candidate.version, error.messages[0])
    raise ValidationError(
        f"No earlier model version is available to roll back to from v{active.version}."
    )


def versions_prune() -> int:
    """Keep the artifacts of the newest versions (and the active one); remove the rest.
    The rows stay, as the record of what was trained when."""
    active = model_active_version()
    ready = list(ModelVersion.objects.filter(status=Status.READY).order_by("-version"))
    keep = {v.pk for v in ready[: settings.RECOMMENDER_KEEP_VERSIONS]}
    if active is not None:
        keep.add(active.pk)
    pruned = 0
    for version in ready:
        if version.pk in keep:
            continue
        artifact_delete(name=version.artifact_name)
        ArticleVector.objects.filter(model_version=version).delete()
        version.status = Status.PRUNED
        version.save(update_fields=["status"])
        pruned += 1
    return pruned


# --- Articles published between retrains --------------------------------------------------


def articles_vectorise(*, article_ids: list[int]) -> int:
    """Vectorise published articles the active model has not seen, so they can be recommended
    by content before the next retrain. Safe to repeat; without a model it does nothing."""
    loaded = active_model()
    if loaded is None or not article_ids:
        return 0
    unseen = [
        a for a, row in zip(article_ids, loaded.model.rows_for(article_ids), strict=True) if row < 0
    ]
    done = set(
        ArticleVector.objects.filter(
            model_version_id=loaded.version_id, article_id__in=unseen
        ).values_list("article_id", flat=True)
    )
    rows = list(
        Article.objects.published()
        .filter(pk__in=[a for a in unseen if a not in done])
        .values_list("pk", "title", "summary", "body")
    )
    if not rows:
        return 0
    vectors = loaded.model.vectorise(
        [article_text(title=t, summary=s, body=b) for _, t, s, b in rows]
    )
    ArticleVector.objects.bulk_create(
        [
            ArticleVector(
                article_id=pk,
                model_version_id=loaded.version_id,
                vector=np.asarray(vector, dtype=np.float32).tobytes(),
            )
            for (pk, *_), vector in zip(rows, vectors, strict=True)
        ],
        ignore_conflicts=True,
    )
    return len(rows)


def articles_vectorise_fresh(*, now: datetime | None = None, limit: int = 500) -> int:
    """Vectorise recent articles that went live by any path (admin form, importers)."""
    now = now or timezone.now()
    since = now - timedelta(days=settings.RECOMMENDER_CANDIDATE_DAYS)
    recent = (
        Article.objects.published(now=now)
        .filter(published_at__gte=since)
        .order_by("-published_at")
        .values_list("pk", flat=True)[:limit]
    )
    return articles_vectorise(article_ids=list(recent))
