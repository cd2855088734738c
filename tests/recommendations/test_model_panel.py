"""A retrained model serves only when it is no worse on the offline checks than the one
serving; editors see why one was held back, and move the site to any ready version."""

from html import unescape

import pytest
from django.urls import reverse

from recommendations.models import ActiveModel, ModelVersion
from recommendations.services import model_retrain

from .conftest import STORIES, story

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("news:editor_dashboard")
SERVE = reverse("news:editor_model_rollback")
ROLL_BACK = "Roll back to the previous version"


def _food_stories_that_read_like_space(newsroom) -> None:
    # Filed under food, written about space: their nearest neighbours are space stories.
    for title, body in STORIES["space"]:
        story(title=f"Kitchen notes: {title}", body=body, topics=[newsroom.topics["food"]])


def test_a_retrain_that_does_worse_on_topic_agreement_is_kept_ready_but_not_served(newsroom):
    first = model_retrain()
    _food_stories_that_read_like_space(newsroom)

    second = model_retrain()

    assert first.activated and not second.activated
    assert ActiveModel.objects.get().version.version == first.version
    held = ModelVersion.objects.get(version=second.version)
    before = ModelVersion.objects.get(version=first.version).metrics["topic_agreement"]
    assert held.status == ModelVersion.Status.READY
    assert held.metrics["topic_agreement"] < before
    assert held.error == (
        f"Not activated: its topic agreement {held.metrics['topic_agreement']} is below "
        f"{before}, the serving v1's."
    )


def first_agreement(result) -> float:
    return ModelVersion.objects.get(version=result.version).metrics["topic_agreement"]


def test_a_retrain_at_a_new_number_of_dimensions_serves_though_its_checks_differ(
    newsroom, settings
):
    first = model_retrain()
    _food_stories_that_read_like_space(newsroom)
    settings.RECOMMENDER_SVD_COMPONENTS = 8

    second = model_retrain()

    assert first.activated and second.activated
    served = ActiveModel.objects.get().version
    assert served.version == second.version and served.metrics["dimensions_setting"] == 8
    assert served.error == ""
    # The same check would have held it back at the serving model's shape.
    assert served.metrics["topic_agreement"] < first_agreement(first)


def test_a_retrain_no_worse_than_the_serving_version_serves(newsroom):
    model_retrain()
    again = model_retrain()
    assert again.activated
    assert ActiveModel.objects.get().version.version == again.version


def test_editors_see_why_a_version_was_held_back_and_can_serve_it_and_go_back(
    newsroom, client, editor
):
    model_retrain()
    _food_stories_that_read_like_space(newsroom)
    model_retrain()
    client.force_login(editor)

    page = unescape(client.get(DASHBOARD).content.decode())
    assert "Model v2" in page and "was trained but does not serve." in page
    assert "Not activated: its topic agreement" in page
    # v1 serves and nothing older is ready: there is nothing to roll back to.
    assert ROLL_BACK not in page and "Serve v2" in page and "Serve v1" not in page

    response = client.post(SERVE, {"to_version": "2"}, follow=True)
    page = unescape(response.content.decode())
    assert "Moved forward: model v2 now serves the feed." in page
    assert ActiveModel.objects.get().version.version == 2
    assert "was trained but does not serve" not in page
    assert f"{ROLL_BACK} (v1)" in page

    response = client.post(SERVE, follow=True)
    assert "Rolled back: model v1 now serves the feed." in response.content.decode()
    assert ActiveModel.objects.get().version.version == 1


def test_roll_back_is_not_offered_before_there_is_an_earlier_version(newsroom, client, editor):
    client.force_login(editor)
    assert ROLL_BACK not in client.get(DASHBOARD).content.decode()
    model_retrain()
    assert ROLL_BACK not in client.get(DASHBOARD).content.decode()
    model_retrain()
    assert f"{ROLL_BACK} (v1)" in client.get(DASHBOARD).content.decode()
