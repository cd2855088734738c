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
