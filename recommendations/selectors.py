"""Reads of the recommender's own tables shared by pages and tasks: the record of retrains for
editors. The feed is `recommendations.feed`, "More like this" `recommendations.similar`."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import ModelVersion


def model_versions_recent(*, limit: int = 20) -> QuerySet[ModelVersion]:
    return ModelVersion.objects.order_by("-version")[:limit]


def retrain_last_failure() -> ModelVersion | None:
    """The latest retrain that did not produce a serving model, if it is newer than the
    latest one that did: what an editors' dashboard should warn about."""
    bad = [ModelVersion.Status.FAILED, ModelVersion.Status.REJECTED]
    latest_bad = ModelVersion.objects.filter(status__in=bad).order_by("-version").first()
    latest_good = (
        ModelVersion.objects.filter(activated_at__isnull=False).order_by("-version").first()
    )
    if latest_bad and (latest_good is None or latest_bad.version > latest_good.version):
        return latest_bad
    return None


def model_rollback_target(*, active: ModelVersion | None) -> ModelVersion | None:
    """The version "Roll back" would serve: the newest ready one older than the serving one
    (None: there is nothing to roll back to)."""
    if active is None:
        return None
    ready = ModelVersion.objects.filter(status=ModelVersion.Status.READY)
    return ready.filter(version__lt=active.version).order_by("-version").first()


def model_held_back(*, active: ModelVersion | None) -> ModelVersion | None:
    """The newest version trained after the serving one that retraining kept from serving
    (it did worse on an offline check), if any: editors see why, and may serve it anyway."""
    held = ModelVersion.objects.filter(
        status=ModelVersion.Status.READY, activated_at__isnull=True
    ).exclude(error="")
    if active is not None:
        held = held.filter(version__gt=active.version)
    return held.order_by("-version").first()
