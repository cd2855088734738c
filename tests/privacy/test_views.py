"""Public privacy pages as anyone, signed in or not, sees them."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from privacy.aggregation import aggregate_day
from tests.factories import ArticleFactory

pytestmark = pytest.mark.django_db


def test_the_transparency_page_lists_each_release_in_plain_words(client, settings, topic):
    settings.DP_EPSILON_PER_DAY = 1.0
    settings.DP_CONTRIBUTION_BOUND = 1
    settings.DP_CLICK_THROUGH_CONTRIBUTION_BOUND = 20
    ArticleFactory(topics=[topic], published_at=timezone.now() - timedelta(days=30))
    day = timezone.localdate() - timedelta(days=2)
    aggregate_day(day=day)

    response = client.get(reverse("privacy:transparency"))

    assert response.status_code == 200
    html = response.content.decode()
    on_day = f"On {day.day} {day:%B}"
    # Three releases a day, each with its share of the day's epsilon and its own bound.
    assert (
        f"{on_day} we published reads per article with ε = 0.9 (discrete Laplace noise, "
        "each reader counted for at most 1 article)" in html
    )
    assert f"{on_day} we published reads per topic with ε = 0.05" in html
    assert (
        f"{on_day} we published reads from personalised and non-personal feed cards "
        "with ε = 0.05 (discrete Laplace noise, each reader counted for at most 20 articles)"
        in html
    )
    assert "each reader counts for at most 1 article a day" in html
    assert "Total ε that day" in html and "ε = 1</td>" in html
    assert "What differential privacy means for you" in html
    assert "<caption>" in html and '<th scope="col">Day</th>' in html


def test_the_transparency_page_is_public_and_says_when_nothing_was_released(client):
    assert reverse("privacy:transparency") == "/privacy/transparency/"
    response = client.get("/privacy/transparency/")
    assert response.status_code == 200
    assert "Nothing has been published yet." in response.content.decode()


def test_the_transparency_page_only_answers_reads(client):
    assert client.post(reverse("privacy:transparency")).status_code == 405
