"""Public privacy pages as anyone, signed in or not, sees them."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from privacy.aggregation import aggregate_day
from privacy.models import PrivacyBudgetLedger
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
    # Each release with its share of the day's epsilon, its own bound, and how far its noise
    # moves a count: two standard deviations of discrete Laplace noise of scale
    # bound / epsilon (variance 2e^(-1/b) / (1 - e^(-1/b))^2): 1 / 0.9 gives 2.31, so ±3;
    # one topic a story, 1 / 0.05 = 20 gives 799.8, so ±57; 20 / 0.03 = 667 gives 889,000
    # (the list types' share on a day without the level snapshot, after the opt-in and
    # followed-topic counts), so ±1886.
    assert (
        f"{on_day} we published reads per article with ε = 0.9 (discrete Laplace noise, which "
        "moves each count by less than about ±3 19 times in 20; each reader counted for at "
        "most 1 article)" in html
    )
    assert (
        f"{on_day} we published reads per topic with ε = 0.05 (discrete Laplace noise, which "
        "moves each count by less than about ±57 19 times in 20;" in html
    )
    assert (
        f"{on_day} we published reads from personalised and non-personal feed cards "
        "with ε = 0.03 (discrete Laplace noise, which moves each count by less than about "
        "±1886 19 times in 20; each reader counted for at most 20 articles)" in html
    )
    assert (
        f"{on_day} we published readers with each optional purpose on at the day&#x27;s end with "
        "ε = 0.01 (discrete Laplace noise, which moves each count by less than about ±1131 19 "
        "times in 20; each reader counted at most once in each count)" in html
    )
    assert "each reader counts for at most 1 article a day" in html
    assert "Total ε that day" in html and "ε = 1</td>" in html
    assert "What differential privacy means for you" in html
    assert "<caption>" in html and '<th scope="col">Day</th>' in html


def test_a_release_recorded_before_its_noise_scale_was_kept_says_nothing_of_it(client):
    PrivacyBudgetLedger.objects.create(
        day=timezone.localdate() - timedelta(days=3),
        query="reads_per_article",
        epsilon=1 / 3,
        mechanism="discrete Laplace",
        contribution_bound=20,
    )
    html = client.get(reverse("privacy:transparency")).content.decode()
    assert "with ε = 0.3333 (discrete Laplace noise; each reader counted for at most 20" in html
    assert "19 times in 20" not in html


def test_the_transparency_page_is_public_and_says_when_nothing_was_released(client):
    assert reverse("privacy:transparency") == "/privacy/transparency/"
    response = client.get("/privacy/transparency/")
    assert response.status_code == 200
    assert "Nothing has been published yet." in response.content.decode()


def test_the_transparency_page_only_answers_reads(client):
    assert client.post(reverse("privacy:transparency")).status_code == 405
