"""The trust score on the transparency page and the editors' dashboard: nothing but the count
of answers until there are enough, then the estimate with its intervals and an SVG chart."""

from datetime import date

import pytest
from django.urls import reverse

from tests.factories import EditorFactory
from trust import estimators
from trust.models import SurveyAnswer
from trust.selectors import survey_counts, trust_report
from trust.survey import SERVER_MECHANISM, guaranteed_epsilon

pytestmark = pytest.mark.django_db


def stored(**counts):
    """Stored (already randomized) answers, as the survey leaves them."""
    SurveyAnswer.objects.bulk_create(
        SurveyAnswer(
            day=date(2027, 3, 8),
            answer=answer,
            mechanism=SERVER_MECHANISM,
            epsilon=guaranteed_epsilon(),
        )
        for answer, how_many in counts.items()
        for _ in range(how_many)
    )


def page(client, name) -> str:
    response = client.get(reverse(name))
    assert response.status_code == 200
    return response.content.decode()


def test_too_few_answers_show_only_how_many_there_are(client, settings):
    settings.TRUST_SURVEY_MIN_ANSWERS = 100
    stored(very=2, somewhat=1)
    html = page(client, "privacy:transparency")
    assert "Not enough answers yet (3 of 100)" in html
    assert "Mean comfort" not in html and "trust-score-title" not in html
    client.force_login(EditorFactory())
    assert "Not enough answers yet (3 of 100)" in page(client, "news:editor_dashboard")


def test_enough_answers_show_the_estimate_with_intervals_and_a_chart(client, settings):
    settings.TRUST_SURVEY_MIN_ANSWERS = 100
    stored(not_at_all=10, slightly=15, somewhat=20, very=40, completely=35, prefer_not=10)
    report = trust_report()
    assert report.enough and report.n == 130
    # The page's numbers are the estimator's, corrected for the randomization.
    estimate = estimators.estimate(survey_counts())
    very = estimate.share(3)
    assert very.estimate > 40 / 130  # the raw share is pulled toward 1/6; the estimate is not
    html = page(client, "privacy:transparency")
    assert "Mean comfort, from 1 (not at all) to 5 (completely)" in html
    assert report.mean_text in html and "95% interval" in html
    assert '<svg role="img" aria-labelledby="trust-score-title trust-score-desc"' in html
    # Each share with its interval, cut to what a share can be (0 to 100%).
    line = report.shares[3]
    assert line.text == f"{100 * very.estimate:.0f}% ({100 * very.low:.0f}% to 100%)"
    assert f'<th scope="row">Very comfortable</th><td>{line.text}</td>' in html
    assert "k-ary randomized response, ε = 1" in html
    client.force_login(EditorFactory())
    dashboard = page(client, "news:editor_dashboard")
    assert report.mean_text in dashboard and "trust-score-title" in dashboard
