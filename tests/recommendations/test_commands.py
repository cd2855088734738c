"""`retrain`, `rollback_model` and the demo's first model, as an operator runs them."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from news.models import Article
from recommendations.models import ActiveModel, ModelVersion
from recommendations.services import retrain_lock_acquire

pytestmark = pytest.mark.django_db


def run(name, *args) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue()


def test_retrain_then_rollback(newsroom):
    assert "Model v1 active: 9 articles" in run("retrain")
    assert "Model v2 active" in run("retrain")
    assert "Model v1 active again (was v2)." in run("rollback_model")
    assert ActiveModel.objects.get().version.version == 1
    assert "Model v2 active again (was v1)." in run("rollback_model", "--to", "2")


def test_rollback_with_nothing_to_go_back_to_says_so(newsroom):
    with pytest.raises(CommandError, match="Nothing changed: No model is active"):
        run("rollback_model")
    run("retrain")
    with pytest.raises(CommandError, match="Nothing changed: No earlier model version"):
        run("rollback_model")
    with pytest.raises(CommandError, match="There is no model v7"):
        run("rollback_model", "--to", "7")


def test_a_failed_retrain_exits_non_zero_and_keeps_the_model(newsroom):
    run("retrain")
    Article.objects.update(status=Article.Status.DRAFT)
    with pytest.raises(CommandError, match="Retrain v2 failed; the active model is unchanged"):
        run("retrain")
    assert ActiveModel.objects.get().version.version == 1


def test_retrain_while_another_runs_is_refused(newsroom):
    retrain_lock_acquire(holder="nightly-worker")
    with pytest.raises(CommandError, match="Another retrain is running"):
        run("retrain")
    assert not ModelVersion.objects.exists()


def test_retrain_can_be_queued_for_a_worker(newsroom):
    # Tests run Celery eagerly, so the queued retrain has run when the command returns.
    assert "Retrain queued" in run("retrain", "--queue")
    assert ModelVersion.objects.get().trigger == ModelVersion.Trigger.MANUAL


def test_the_demo_gets_a_model_once():
    output = run("seed_demo", "--no-accounts")
    assert "Recommender: model v1 trained on" in output
    assert "Recommender: model v1 already active." in run("seed_demo", "--no-accounts")
    assert ModelVersion.objects.count() == 1
