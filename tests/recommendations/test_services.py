"""Retrain, activation, rollback, the lock, failures, and articles published between retrains."""

import logging
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from news.models import Article
from news.services import article_publish
from recommendations import services, training
from recommendations.active import active_model
from recommendations.models import ActiveModel, ArticleVector, ModelVersion
from recommendations.selectors import retrain_last_failure
from recommendations.services import RetrainResult, model_retrain, model_rollback
from recommendations.similar import more_like_this

from .conftest import story

pytestmark = pytest.mark.django_db
Status = ModelVersion.Status


def _artifact(version: ModelVersion) -> Path:
    return Path(settings.RECOMMENDER_ARTIFACT_DIR) / version.artifact_name


def test_a_new_version_is_activated_whole_and_served(newsroom):
    first = model_retrain()
    second = model_retrain()
    assert (first.version, second.version) == (1, 2)
    assert ActiveModel.objects.get().version.version == 2
    assert active_model().version == 2
    # No half-written file is ever left where a process could pick it up.
    assert sorted(p.name for p in Path(settings.RECOMMENDER_ARTIFACT_DIR).iterdir()) == [
        "model-v000001.joblib",
        "model-v000002.joblib",
    ]


def test_every_process_picks_up_a_newly_activated_version_without_restart(newsroom):
    model_retrain()
    model_retrain()
    assert active_model().version == 2
    # Another process (a worker, another web server) switches back to v1; this process has
    # only its own short-lived marker and must follow within the reload interval.
    ActiveModel.objects.update(version=ModelVersion.objects.get(version=1))
    with time_machine.travel(
        timezone.now() + timedelta(seconds=settings.RECOMMENDER_RELOAD_SECONDS + 1)
    ):
        assert active_model().version == 1


def test_rollback_serves_the_previous_version_and_says_when_there_is_none(newsroom):
    model_retrain()
    model_retrain()
    assert model_rollback().version == 1
    assert active_model().version == 1
    with pytest.raises(ValidationError, match="No earlier model version"):
        model_rollback()
    assert model_rollback(to_version=2).version == 2
    with pytest.raises(ValidationError, match="already active"):
        model_rollback(to_version=2)


def test_rollback_skips_a_version_whose_artifact_is_damaged(newsroom):
    for _ in range(3):
        model_retrain()
    _artifact(ModelVersion.objects.get(version=2)).write_bytes(b"not a model")
    assert model_rollback().version == 1


def test_only_the_last_five_versions_are_kept(newsroom):
    for _ in range(7):
        model_retrain()
    ready = ModelVersion.objects.filter(status=Status.READY)
    assert sorted(ready.values_list("version", flat=True)) == [3, 4, 5, 6, 7]
    pruned = ModelVersion.objects.filter(status=Status.PRUNED)
    assert sorted(pruned.values_list("version", flat=True)) == [1, 2]
    assert all(not _artifact(v).exists() for v in pruned)
    assert all(_artifact(v).is_file() for v in ready)


def test_a_damaged_active_artifact_falls_back_to_the_previous_version(newsroom, caplog):
    model_retrain()
    model_retrain()
    _artifact(ModelVersion.objects.get(version=2)).write_bytes(b"\x00" * 64)
    with caplog.at_level(logging.ERROR, logger="recommendations.active"):
        loaded = active_model()
    assert loaded.version == 1
    assert "v2 cannot be used" in caplog.text


def test_with_no_loadable_artifact_the_site_serves_without_a_model(newsroom, client, caplog):
    model_retrain()
    _artifact(ModelVersion.objects.get(version=1)).unlink()
    with caplog.at_level(logging.ERROR, logger="recommendations.active"):
        response = client.get("/")
    assert response.status_code == 200
    assert "No recommender model can be loaded" in caplog.text
    assert newsroom.stories["space"][0].title in response.content.decode()


def test_a_held_lock_keeps_a_second_retrain_out_until_its_lease_runs_out(newsroom):
    assert services.retrain_lock_acquire(holder="worker-on-another-machine")
    result = model_retrain()
    assert result.status == RetrainResult.ALREADY_RUNNING
    assert not ModelVersion.objects.exists()
    # A holder that died never releases; its lease expires and the next retrain proceeds.
    later = timezone.now() + timedelta(seconds=settings.RECOMMENDER_RETRAIN_LOCK_SECONDS + 1)
    with time_machine.travel(later):
        assert model_retrain().activated


@pytest.mark.django_db(transaction=True)
def test_two_retrains_at_once_produce_one_version(newsroom, monkeypatch):
    """Two workers, two database connections: the second one finds the lock taken."""
    inside, may_finish = threading.Event(), threading.Event()
    real_build = training.build_model

    def slow_build(**kwargs):
        inside.set()
        assert may_finish.wait(timeout=30)
        return real_build(**kwargs)

    monkeypatch.setattr(training, "build_model", slow_build)
    results = {}

    def worker(name):
        try:
            results[name] = model_retrain()
        finally:
            connection.close()

    first = threading.Thread(target=worker, args=("first",))
    first.start()
    assert inside.wait(timeout=30)
    second = threading.Thread(target=worker, args=("second",))
    second.start()
    second.join(timeout=30)
    may_finish.set()
    first.join(timeout=60)

    assert results["second"].status == RetrainResult.ALREADY_RUNNING
    assert results["first"].activated
    assert list(ModelVersion.objects.values_list("version", "status")) == [(1, Status.READY)]


def test_a_failed_retrain_keeps_the_active_model_and_is_reported(newsroom, caplog):
    model_retrain()
    # Everything is taken off the site: there is nothing left to learn from.
    Article.objects.update(status=Article.Status.ARCHIVED)
    with caplog.at_level(logging.ERROR, logger="recommendations.services"):
        result = model_retrain(trigger=ModelVersion.Trigger.NIGHTLY)
    assert result.status == Status.FAILED and not result.activated
    assert ActiveModel.objects.get().version.version == 1
    assert active_model().version == 1
    failure = retrain_last_failure()
    assert failure.version == 2 and "no published article" in failure.error
    assert "retrain v2 failed" in caplog.text
    assert not (Path(settings.RECOMMENDER_ARTIFACT_DIR) / "model-v000002.joblib").exists()


def test_a_successful_retrain_clears_the_warning_for_editors(newsroom):
    Article.objects.update(status=Article.Status.ARCHIVED)
    model_retrain()
    assert retrain_last_failure() is not None
    Article.objects.update(status=Article.Status.PUBLISHED)
    model_retrain()
    assert retrain_last_failure() is None


def test_an_article_published_between_retrains_is_recommendable(
    newsroom, django_capture_on_commit_callbacks
):
    model_retrain()
    launch = newsroom.stories["space"][0]
    draft = story(
        title="Second rocket launch puts a satellite into orbit",
        body="Another rocket launch from the coastal pad carried a satellite to orbit.",
        topics=[newsroom.topics["space"]],
        status=Article.Status.DRAFT,
        published_at=None,
    )
    assert draft not in more_like_this(article=launch)

    with django_capture_on_commit_callbacks(execute=True):
        article_publish(article=draft)

    vector = ArticleVector.objects.get(article=draft)
    assert vector.model_version.version == 1
    # Within a minute: once each process's candidates are refreshed.
    later = timezone.now() + timedelta(seconds=settings.RECOMMENDER_CANDIDATE_CACHE_SECONDS + 1)
    with time_machine.travel(later):
        assert more_like_this(article=launch)[0] == draft


def test_publishing_without_a_model_does_nothing_more(newsroom, django_capture_on_commit_callbacks):
    draft = story(title="Quiet story", body="Words.", status="draft", published_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        article_publish(article=draft)
    assert draft.status == Article.Status.PUBLISHED
    assert not ArticleVector.objects.exists()


def test_articles_that_went_live_another_way_get_vectors_from_the_minutely_task(newsroom):
    model_retrain()
    imported = story(title="Imported comet story", body="A comet passes Mars.")
    assert services.articles_vectorise_fresh() == 1
    assert ArticleVector.objects.filter(article=imported).exists()
    assert services.articles_vectorise_fresh() == 0  # running twice changes nothing
