"""A Celery task that meets a transient fault is retried by a real worker, waiting longer each
time, and its effect happens exactly once however often it runs."""

import pytest
from celery.contrib.testing.worker import start_worker
from celery.exceptions import Retry
from celery.signals import task_retry
from django.core import mail
from django.db import OperationalError

from newsite.celery import app as celery_app
from privacy import exports as privacy_exports
from privacy import tasks as privacy_tasks
from privacy.exports import export_request_create, exports_root
from privacy.models import ExportRequest
from tests.conftest import worker_wait_until
from tests.factories import ReaderFactory, reader_choices

# Real Celery workers on the real broker (each xdist worker has its own broker database).
pytestmark = pytest.mark.django_db(transaction=True)


class JitterAtCeiling:
    """Celery waits a random time up to the backoff ceiling ("full jitter"). Drawing the
    ceiling itself keeps the test deterministic and shows the schedule Celery computes."""

    def randrange(self, stop: int) -> int:
        return stop - 1


@pytest.fixture
def flaky_database(monkeypatch):
    """The database refuses the export task's connection twice, then works again."""
    real_build = privacy_exports.export_build
    attempts = []

    def build(**kwargs):
        attempts.append(kwargs)
        if len(attempts) <= 2:
            raise OperationalError("connection to server at 127.0.0.1 refused")
        return real_build(**kwargs)

    monkeypatch.setattr(privacy_exports, "export_build", build)
    monkeypatch.setattr("celery.utils.time.random", JitterAtCeiling())
    return attempts


@pytest.fixture
def requested_waits():
    """The countdown of every retry the task asks for, as the worker handles it."""
    waits = []

    def record(sender=None, reason=None, **kwargs):
        if sender.name == privacy_tasks.export_build.name:
            waits.append(reason.when)

    task_retry.connect(record, weak=False)
    yield waits
    task_retry.disconnect(record)


def test_an_export_build_is_retried_with_growing_waits_and_built_once(
    settings, tmp_path, flaky_database, requested_waits, eager_celery
):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    reader = reader_choices(ReaderFactory())
    celery_app.conf.task_always_eager = False  # queued on Redis, built by the worker
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        export = export_request_create(user=reader)
        assert worker_wait_until(
            lambda: ExportRequest.objects.get(pk=export.pk).status == ExportRequest.Status.READY
        )

    assert len(flaky_database) == 3  # two refused attempts, then the build
    assert requested_waits == [1, 2]  # exponential backoff: each wait doubles
    export.refresh_from_db()
    files = sorted(path.name for path in exports_root().iterdir())
    assert files == [export.file_name]  # one copy, and no partial file from the failed tries
    assert len(mail.outbox) == 1  # the reader is told once

    # Idempotent: a redelivered message builds nothing more and sends no second email.
    ready_at = export.ready_at
    assert privacy_tasks.export_build.apply(args=[str(export.pk)]).get() is None
    export.refresh_from_db()
    assert export.ready_at == ready_at
    assert sorted(path.name for path in exports_root().iterdir()) == files
    assert len(mail.outbox) == 1


def test_a_fault_that_does_not_go_away_is_retried_with_doubling_waits_then_given_up(
    settings, tmp_path, monkeypatch
):
    """The whole schedule, attempt by attempt (`retries` is what a redelivered retry carries):
    each attempt asks for twice the previous wait, and after the last retry the task fails
    with the original error instead of retrying forever."""
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    export = ExportRequest.objects.create(user=reader_choices(ReaderFactory()))

    def refused(**kwargs):
        raise OperationalError("connection to server at 127.0.0.1 refused")

    monkeypatch.setattr(privacy_exports, "export_build", refused)
    monkeypatch.setattr("celery.utils.time.random", JitterAtCeiling())
    task = privacy_tasks.export_build
    waits = []
    for attempt in range(task.max_retries):
        with pytest.raises(Retry) as retried:  # eager calls raise the retry they ask for
            task.apply(args=[str(export.pk)], retries=attempt)
        waits.append(retried.value.when)
    assert waits == [1, 2, 4, 8, 16]
    with pytest.raises(OperationalError):
        task.apply(args=[str(export.pk)], retries=task.max_retries).get()
    assert ExportRequest.objects.get(pk=export.pk).status == ExportRequest.Status.PENDING
