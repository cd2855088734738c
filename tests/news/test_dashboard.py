"""The editors' dashboard: six accessible charts of aggregates with small counts hidden, the
recommender panel with audited retrain and rollback, and who may see and use any of it."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from news.models import EditorAction
from privacy.aggregation import aggregate_day
from privacy.models import AggregateSignal, LevelCountRelease, PrivacyBudgetLedger, SignalEvent
from recommendations.models import ActiveModel, FeedImpressionCount, ModelVersion
from recommendations.services import model_retrain
from tests.factories import (
    AdminFactory,
    ArticleFactory,
    ReaderFactory,
    TopicFactory,
    reader_choices,
)
from tests.recommendations.conftest import newsroom  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("news:editor_dashboard")
RETRAIN = reverse("news:editor_model_retrain")
ROLLBACK = reverse("news:editor_model_rollback")


def days_ago(n: int):
    return timezone.localdate() - timedelta(days=n)


def topic_count(topic, n, *, day=1):
    AggregateSignal.objects.create(
        day=days_ago(day), kind=AggregateSignal.Kind.TOPIC, topic=topic, noisy_count=n
    )


def article_count(article, n, *, day=1):
    AggregateSignal.objects.create(
        day=days_ago(day), kind=AggregateSignal.Kind.ARTICLE, article=article, noisy_count=n
    )


def list_type_count(list_type, n, *, day=1):
    AggregateSignal.objects.create(
        day=days_ago(day), kind=AggregateSignal.Kind.LIST_TYPE, list_type=list_type, noisy_count=n
    )


def levels_released(*, day=1, noise_scale=None, **counts):
    """One night's release of readers per level, with its ledger line."""
    for level, n in counts.items():
        LevelCountRelease.objects.create(day=days_ago(day), level=level, noisy_count=n)
    ledger(0.02, day=day, query="readers_per_level", noise_scale=noise_scale)


def shown(list_type, n, *, day=1):
    FeedImpressionCount.objects.create(day=days_ago(day), list_type=list_type, count=n)


def ledger(epsilon, *, day=1, query="reads_per_article", noise_scale=None):
    PrivacyBudgetLedger.objects.create(
        day=days_ago(day),
        query=query,
        epsilon=epsilon,
        mechanism="discrete Laplace",
        contribution_bound=20,
        noise_scale=noise_scale,
    )


def section(html: str, slug: str) -> str:
    """The markup of one chart (its figure element)."""
    match = re.search(
        rf'<figure class="chart" aria-labelledby="{slug}-caption">(.*?)</figure>', html, re.S
    )
    assert match, f"no chart {slug}"
    return match.group(1)


def hidden_rows(chart_html: str) -> dict[str, str]:
    table = chart_html.split('<table class="visually-hidden">', 1)[1]
    rows = re.findall(r'<th scope="row">(.*?)</th><td>(.*?)</td>', table)
    return {label: value.replace("&lt;", "<") for label, value in rows}


@pytest.fixture
def k(settings):
    settings.DP_SUPPRESSION_THRESHOLD = 10
    return 10


@pytest.fixture
def released(k):
    """A fortnight of releases: two topics, three articles, both feeds, a budget."""
    world, quiet = TopicFactory(name="World"), TopicFactory(name="Gardening")
    big = ArticleFactory(title="Election results", topics=[world])
    small = ArticleFactory(title="Tulip bulbs", topics=[quiet])
    old = ArticleFactory(title="Old story", topics=[world])
    for day in (1, 2):
        topic_count(world, 30, day=day)
        topic_count(quiet, 2, day=day)
        article_count(big, 25, day=day)
        article_count(small, 3, day=day)
        ledger(1 / 3, day=day)
        ledger(1 / 3, day=day, query="reads_per_topic")
    article_count(old, 500, day=9)  # older than the top-articles week
    list_type_count("personal", 40)
    list_type_count("editorial", 6)
    shown("personal", 400)
    shown("editorial", 300)
    shown("personal", 9999, day=0)  # today: no released reads to divide yet
    levels_released(off=40, topics=120, topics_history=15)
    return {"big": big, "small": small, "old": old}


def test_the_dashboard_draws_seven_accessible_charts_without_script(client, editor, released):
    client.force_login(editor)

    response = client.get(DASHBOARD)

    html = response.content.decode()
    assert response.status_code == 200
    # The six of reading and the daily opt-in rate; the uplift has too few reads to draw.
    svgs = re.findall(r"<svg [^>]*>.*?</svg>", html, re.S)
    assert len(svgs) == 7
    for svg in svgs:
        assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    assert html.count('<table class="visually-hidden">') == 7
    assert "<script" not in html


def test_counts_under_k_read_as_below_k_and_draw_no_bar(client, editor, released, k):
    client.force_login(editor)
    html = client.get(DASHBOARD).content.decode()

    topics = section(html, "topic-reads")
    assert hidden_rows(topics) == {"World": "60", "Gardening": "<10"}
    # The suppressed bar is empty, so its length cannot give the hidden count away.
    assert re.search(r'width="0\.0"[^>]*></rect>\s*<text[^>]*>&lt;10</text>', topics)
    assert "4</text>" not in topics

    daily = section(html, "daily-reads")
    # Oldest first, each day the sum of its per-article counts.
    assert list(hidden_rows(daily).items()) == [
        (days_ago(9).strftime("%d %b"), "500"),
        (days_ago(2).strftime("%d %b"), "28"),
        (days_ago(1).strftime("%d %b"), "28"),
    ]


def test_popularity_charts_say_how_many_reads_a_reader_adds(client, editor, released, settings):
    client.force_login(editor)
    settings.DP_CONTRIBUTION_BOUND = 1
    html = client.get(DASHBOARD).content.decode()
    # Three charts, each describing itself in its drawing and its table for screen readers,
    # and in a note under it that sighted editors see.
    assert html.count("each counting reader adds at most 1 read a day") == 9
    notes = re.findall(r'<p class="chart-note" aria-hidden="true">([^<]*)</p>', html)
    assert sum("each counting reader adds at most 1 read a day" in note for note in notes) == 3
    settings.DP_CONTRIBUTION_BOUND = 3
    html = client.get(DASHBOARD).content.decode()
    assert html.count("each counting reader adds at most 3 reads a day") == 9


def test_the_counting_charts_say_how_far_noise_moves_their_numbers(client, editor, released):
    client.force_login(editor)
    # Releases recorded before the ledger kept their noise scale: nothing to say of them.
    assert "Noise moves" not in client.get(DASHBOARD).content.decode()

    # Discrete Laplace of scale b has variance 2e^(-1/b) / (1 - e^(-1/b))^2, about 2b^2:
    # 799.8 at b = 20, 7.835 at b = 2, 320,000 at b = 400. The margin is two standard
    # deviations of what a number adds up.
    PrivacyBudgetLedger.objects.filter(query="reads_per_topic").update(noise_scale=20.0)
    PrivacyBudgetLedger.objects.filter(query="reads_per_article").update(noise_scale=2.0)
    ledger(0.05, query="reads_per_list_type", noise_scale=400.0)
    html = client.get(DASHBOARD).content.decode()

    # A topic's total adds two released days: 2 x sqrt(2 x 799.8) = 80.
    assert "Noise moves each total by less than about ±80, 19 times in 20." in section(
        html, "topic-reads"
    )
    # Each of the two days adds two article counts: 2 x sqrt(2 x 7.835) = 8; day 9's release
    # kept no scale.
    assert "Noise moves a day's total by less than about ±8, 19 times in 20." in unescape(
        section(html, "daily-reads")
    )
    # An article's total adds its two released days: 8 again.
    assert "Noise moves each total by less than about ±8, 19 times in 20." in section(
        html, "top-articles"
    )
    # One released day of reads per feed: 2 x sqrt(320,000) = 1,131.
    assert "Noise moves each feed's reads by less than about ±1131, 19 times in 20." in unescape(
        section(html, "click-through")
    )


def test_top_articles_are_the_last_weeks_most_read(client, editor, released):
    client.force_login(editor)
    html = client.get(DASHBOARD).content.decode()

    rows = hidden_rows(section(html, "top-articles"))
    assert list(rows) == ["Election results", "Tulip bulbs"]
    assert rows == {"Election results": "50", "Tulip bulbs": "<10"}
    assert "Old story" not in html


def test_click_through_is_shown_only_when_both_counts_reach_k(client, editor, released):
    client.force_login(editor)
    html = client.get(DASHBOARD).content.decode()

    rows = hidden_rows(section(html, "click-through"))
    # 40 reads from 400 personalised cards; today's 9,999 cards have no reads released yet.
    assert rows["Personalised feed"] == "10.0%"
    assert rows["Non-personal (editorial) feed"] == "not enough data"
    assert "<td>&lt;10</td><td>300</td><td>not enough data</td>" in html


def test_the_privacy_budget_per_day_adds_up_each_days_releases(client, editor, released):
    client.force_login(editor)
    html = client.get(DASHBOARD).content.decode()

    rows = hidden_rows(section(html, "budget"))
    # Day 1 also released the readers per level (0.02).
    assert rows == {days_ago(2).strftime("%d %b"): "0.667", days_ago(1).strftime("%d %b"): "0.687"}


def test_levels_show_the_last_released_noisy_counts_not_the_live_ones(client, editor, settings):
    settings.DP_SUPPRESSION_THRESHOLD = 3
    for _ in range(3):
        reader_choices(ReaderFactory(), level="topics")
    reader_choices(ReaderFactory(), level="topics_history")
    levels_released(day=2, off=50, topics=60, topics_history=70)
    levels_released(day=1, off=-2, topics=14, topics_history=3)
    client.force_login(editor)

    html = client.get(DASHBOARD).content.decode()

    # The latest release, small (and negative) ones hidden; never the live 0, 3 and 1.
    assert hidden_rows(section(html, "levels")) == {
        "Off": "<3",
        "Topics only": "14",
        "Topics + reading history": "3",
    }
    assert "released with differential privacy for " + days_ago(1).strftime("%d %b") in html
    # With a count hidden, shares would let it be worked out: none is shown.
    assert '<th scope="row">Topics only</th><td>14</td><td>-</td>' in html


def test_level_shares_are_of_the_released_counts_once_every_level_reaches_k(
    client, editor, settings
):
    settings.DP_SUPPRESSION_THRESHOLD = 1
    levels_released(off=10, topics=20, topics_history=10)
    client.force_login(editor)

    html = client.get(DASHBOARD).content.decode()

    assert '<th scope="row">Topics only</th><td>20</td><td>50%</td>' in html
    assert '<th scope="row">Off</th><td>10</td><td>25%</td>' in html


def test_levels_say_how_far_noise_moves_them(client, editor, settings):
    settings.DP_SUPPRESSION_THRESHOLD = 1
    levels_released(off=400, topics=900, topics_history=300, noise_scale=100.0)
    client.force_login(editor)

    html = unescape(client.get(DASHBOARD).content.decode())

    # Discrete Laplace of scale 100: variance about 2 x 100^2, two deviations about 283.
    assert "Noise moves each count by less than about ±283, 19 times in 20." in section(
        html, "levels"
    )


def test_before_any_release_no_level_count_is_shown(client, editor, settings):
    settings.DP_SUPPRESSION_THRESHOLD = 1
    for level in ("off", "topics", "topics", "topics_history"):
        reader_choices(ReaderFactory(), level=level)
    client.force_login(editor)

    html = client.get(DASHBOARD).content.decode()

    levels = section(html, "levels")
    assert "Nothing released yet." in levels and "<svg" not in levels
    assert "Topics only</th><td>" not in html


def test_one_reader_changing_level_shows_nowhere_until_the_next_release(
    client, editor, settings, article
):
    from accounts.services import preferences_set_level
    from privacy.browser_signals import NO_SIGNALS

    settings.DP_SUPPRESSION_THRESHOLD = 1
    readers = [reader_choices(ReaderFactory(), level="topics") for _ in range(4)]
    # The night's release (a budget so large the noise is 0, to compare with what was true).
    SignalEvent.objects.create(day=days_ago(1), pseudonym="p1", article=article)
    aggregate_day(day=days_ago(1), epsilon=1e6)
    client.force_login(editor)
    before = hidden_rows(section(client.get(DASHBOARD).content.decode(), "levels"))
    assert before == {
        "Off": "<1",
        "Topics only": "4",
        "Topics + reading history": "<1",
        "On this device only": "<1",
    }
    assert PrivacyBudgetLedger.objects.filter(query="readers_per_level").count() == 1

    preferences_set_level(user=readers[0], level="off", source="preferences", signals=NO_SIGNALS)

    after = hidden_rows(section(client.get(DASHBOARD).content.decode(), "levels"))
    assert after == before


def test_the_dashboard_never_names_a_reader(client, editor, released, settings):
    settings.DP_SUPPRESSION_THRESHOLD = 1
    readers = [
        reader_choices(ReaderFactory(display_name=f"Distinct Person {n}"), counting=True)
        for n in range(3)
    ]
    client.force_login(editor)

    html = client.get(DASHBOARD).content.decode()

    for reader in readers:
        assert reader.email not in html
        assert reader.display_name not in html
        assert reader.email.split("@")[0] not in html


def test_the_model_panel_shows_the_active_version_metrics_and_last_failure(client, editor):
    now = timezone.now()
    good = ModelVersion.objects.create(
        version=1,
        status=ModelVersion.Status.READY,
        trained_at=now - timedelta(days=1),
        activated_at=now - timedelta(days=1),
        article_count=120,
        metrics={"holdout_ndcg@10": 0.4321, "topic_agreement": 0.87},
    )
    ActiveModel.objects.create(pk=ActiveModel.SINGLETON_ID, version=good)
    ModelVersion.objects.create(
        version=2, status=ModelVersion.Status.FAILED, error="MemoryError: out of memory"
    )
    client.force_login(editor)

    html = client.get(DASHBOARD).content.decode()

    assert "Serving: <strong>model v1</strong>" in html and "120 articles" in html
    assert '<th scope="col">holdout_ndcg@10</th>' in html and "<td>0.4321</td>" in html
    assert "v1 (serving)" in html
    assert "MemoryError: out of memory" in html
    assert 'role="alert"' in html


@pytest.mark.usefixtures("newsroom")
def test_retrain_now_runs_the_task_and_is_logged(
    client, editor, django_capture_on_commit_callbacks
):
    client.force_login(editor)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(RETRAIN)

    assert response.status_code == 302 and response.url == DASHBOARD
    version = ModelVersion.objects.get()
    assert version.trigger == ModelVersion.Trigger.MANUAL
    assert version.status == ModelVersion.Status.READY
    action = EditorAction.objects.get()
    assert action.action == EditorAction.Action.RETRAIN
    assert action.editor == editor.display_name
    page = client.get(DASHBOARD).content.decode()
    assert "Retrain started" in page and "Serving: <strong>model v1</strong>" in page
    assert f"{editor.display_name}: asked for a retrain" in page


@pytest.mark.usefixtures("newsroom")
def test_roll_back_serves_the_previous_version_and_is_logged(client, editor):
    model_retrain()
    model_retrain()
    client.force_login(editor)

    response = client.post(ROLLBACK, follow=True)

    assert ActiveModel.objects.get().version.version == 1
    assert "Rolled back: model v1 now serves the feed." in response.content.decode()
    action = EditorAction.objects.get()
    assert (action.action, action.detail) == (EditorAction.Action.ROLLBACK, "From v2 to v1")


def test_a_refused_roll_back_says_why_and_logs_nothing(client, editor):
    client.force_login(editor)

    response = client.post(ROLLBACK, {"to_version": "7"}, follow=True)
    assert "There is no model v7." in response.content.decode()
    response = client.post(ROLLBACK, {"to_version": "v7; drop"}, follow=True)
    assert "Choose a version number" in response.content.decode()
    response = client.post(ROLLBACK, follow=True)
    assert "No model is active" in response.content.decode()
    assert not EditorAction.objects.exists()


def test_superusers_reach_the_dashboard(client):
    client.force_login(AdminFactory())
    assert client.get(DASHBOARD).status_code == 200


def test_readers_and_staff_outside_the_editors_group_are_refused(client, reader):
    client.force_login(reader)
    assert client.get(DASHBOARD).status_code == 403
    assert client.post(RETRAIN).status_code == 403
    assert client.post(ROLLBACK).status_code == 403

    staff = ReaderFactory(is_staff=True)
    client.force_login(staff)
    assert client.get(DASHBOARD).status_code == 403
    assert not EditorAction.objects.exists()
    assert not ModelVersion.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for response in (client.get(DASHBOARD), client.post(RETRAIN), client.post(ROLLBACK)):
        assert response.status_code == 302
        assert response.url.startswith(reverse("account_login"))
    assert not EditorAction.objects.exists()


def test_the_model_permission_alone_allows_the_buttons_but_not_the_dashboard(client):
    from django.contrib.auth.models import Permission

    operator = ReaderFactory(is_staff=True)
    operator.user_permissions.add(Permission.objects.get(codename="change_modelversion"))
    client.force_login(operator)

    assert client.get(DASHBOARD).status_code == 403
    response = client.post(ROLLBACK, follow=True)
    assert "No model is active" in response.content.decode()


def test_the_buttons_need_the_forms_security_token(editor):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(editor)

    assert client.post(RETRAIN).status_code == 403
    assert not EditorAction.objects.exists()
