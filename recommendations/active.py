"""The model this process serves with, picked up without a restart when another version is
activated: a cheap marker (cache, else the `ActiveModel` row, re-read every few seconds)
says which version is active, and the artifact is loaded again only when the marker changes.
A missing or damaged artifact falls back to the newest loadable older version, else to no
model at all, with a log line; it never breaks a page."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from .artifacts import ArtifactError, artifact_load
from .models import ActiveModel, ModelVersion
from .vectors import RecommenderModel

logger = logging.getLogger(__name__)

MARKER_KEY = "recommendations:active-marker"
NO_MODEL = "none"


@dataclass(frozen=True)
class LoadedModel:
    version_id: int  # ModelVersion primary key, for fresh-article vectors
    model: RecommenderModel

    @property
    def version(self) -> int:
        return self.model.version


class _ProcessState:
    def __init__(self) -> None:
        self.marker: str | None = None
        self.loaded: LoadedModel | None = None
        self.lock = threading.Lock()


_state = _ProcessState()


def _marker_from_database() -> str:
    active = ActiveModel.objects.select_related("version").filter(pk=ActiveModel.SINGLETON_ID)
    row = active.first()
    if row is None:
        return NO_MODEL
    return f"{row.version_id}:{row.version.artifact_sha256}"


def active_marker(*, found: dict | None = None) -> str:
    """Which version is active; from `found` (a read of several keys that asked for
    `MARKER_KEY` too), else from the cache, else from the database."""
    marker = (found or {}).get(MARKER_KEY) or cache.get(MARKER_KEY)
    if marker is None:
        marker = _marker_from_database()
        cache.set(MARKER_KEY, marker, timeout=settings.RECOMMENDER_RELOAD_SECONDS)
    return marker


def announce_activation() -> None:
    """Make every process look at the pointer again: now for this one, after the commit for
    the rest (before it, they could cache the old pointer again)."""
    cache.delete(MARKER_KEY)
    transaction.on_commit(lambda: cache.delete(MARKER_KEY))


def _load(version: ModelVersion) -> LoadedModel:
    model = artifact_load(name=version.artifact_name, sha256=version.artifact_sha256)
    return LoadedModel(version_id=version.pk, model=model)


def _load_for(marker: str) -> LoadedModel | None:
    if marker == NO_MODEL:
        return None
    version_id = int(marker.split(":", 1)[0])
    active = ModelVersion.objects.filter(pk=version_id).first()
    if active is not None:
        try:
            return _load(active)
        except ArtifactError as error:
            logger.error("Active recommender model v%s cannot be used: %s", active.version, error)
    older = ModelVersion.objects.filter(status=ModelVersion.Status.READY).exclude(pk=version_id)
    if active is not None:
        older = older.filter(version__lt=active.version)
    for candidate in older.order_by("-version"):
        try:
            loaded = _load(candidate)
        except ArtifactError as error:
            logger.error("Fallback model v%s cannot be used either: %s", candidate.version, error)
            continue
        logger.warning("Serving with recommender model v%s instead.", candidate.version)
        return loaded
    logger.error("No recommender model can be loaded; feeds rank without one.")
    return None


def active_model(*, found: dict | None = None) -> LoadedModel | None:
    """The model to serve with, or None when there is none (or none can be loaded).
    `found`: as for `active_marker`."""
    marker = active_marker(found=found)
    if marker == _state.marker:
        return _state.loaded
    with _state.lock:
        if marker != _state.marker:
            _state.loaded = _load_for(marker)
            _state.marker = marker
    return _state.loaded


def loaded_model_forget() -> None:
    """Drop what this process holds (tests; a process about to be recycled)."""
    with _state.lock:
        _state.marker = None
        _state.loaded = None
