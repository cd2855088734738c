"""The artifact store: model versions as joblib files in private storage (never under a
public URL), each written whole before it can be named and checked against its SHA-256
before it is loaded, since loading a pickle runs whatever it contains."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import joblib
from django.conf import settings

from .vectors import RecommenderModel


class ArtifactError(Exception):
    """An artifact is missing, damaged or not what its version row says."""


def artifact_dir() -> Path:
    directory = Path(settings.RECOMMENDER_ARTIFACT_DIR)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory


def artifact_name(*, version: int) -> str:
    return f"model-v{version:06d}.joblib"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def artifact_save(*, model: RecommenderModel) -> tuple[str, str]:
    """Write the model and return (file name, sha256). The file appears under its name only
    once complete (write to a temporary file, fsync, rename), so no process ever opens half
    an artifact."""
    directory = artifact_dir()
    name = artifact_name(version=model.version)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".partial-", suffix=".joblib")
    try:
        with os.fdopen(handle, "wb") as out:
            joblib.dump(model, out, compress=3)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, directory / name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return name, _sha256(directory / name)


def artifact_verify(*, name: str, sha256: str) -> Path:
    path = artifact_dir() / name
    if not name or not path.is_file():
        raise ArtifactError(f"Artifact {name or '(none)'} is missing.")
    if _sha256(path) != sha256:
        raise ArtifactError(f"Artifact {name} does not match its checksum (damaged or replaced).")
    return path


def artifact_load(*, name: str, sha256: str) -> RecommenderModel:
    path = artifact_verify(name=name, sha256=sha256)
    try:
        model = joblib.load(path)
    except Exception as error:  # a truncated or foreign file fails in many ways
        raise ArtifactError(f"Artifact {name} cannot be read: {error}") from error
    if not isinstance(model, RecommenderModel):
        raise ArtifactError(f"Artifact {name} does not hold a recommender model.")
    return model


def artifact_delete(*, name: str) -> None:
    if name:
        (artifact_dir() / name).unlink(missing_ok=True)
