"""`seed_demo` as `make demo` runs it: the first screens are alive. The demo reader is already
onboarded with a few reads, editors and admins go straight to work, and a few weeks of
privacy-protected releases from simulated readers fill the dashboard and the transparency page,
made by the site's own aggregation, within its budget."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from accounts.models import Preferences, User
from accounts.selectors import reader_profile
from demo.services import (
    SIMULATED_DOMAIN,
    simulated_days_release,
    simulated_readers_ensure,
)
from news.models import Article
from privacy.aggregation import aggregate_day
from privacy.models import DailySalt, PrivacyBudgetLedger, SignalEvent
from privacy.purposes import POPULAR_COUNTING, READING_HISTORY
from privacy.selectors import consent_latest, history_for_user
from tests.factories import ArticleFactory, TopicFactory
from trust.models import SurveyAnswer, SurveyAsk

pytestmark = pytest.mark.django_db

DAYS = 3
# Enough simulated readers to count something each day; the demo itself has more.
READERS = 20


@pytest.fixture
def few_simulated_readers(monkeypatch):
    monkeypatch.setattr("demo.management.commands.seed_demo.SIMULATED_READERS", READERS)


@pytest.fixture
def small_content(tmp_path) -> str:
    """A folder with a small demo-content document (the shipped one is 132 stories): the
    demo reader's three topics and one more, a story a day for the last week."""
    slugs = ["science", "technology", "climate", "sports"]
    document = {
        "topics": [{"slug": slug, "name": slug.title()} for slug in slugs],
        "articles": [
            {
                "slug": f"story-{n}",
                "title": f"Story {n}",
                "summary": "A summary.",
                "body": "A body.",
                "topics": [slugs[n % 4], slugs[(n + 1) % 4]] if n % 3 == 0 else [slugs[n % 4]],
                "days_ago": n % 7,
            }
            for n in range(14)
        ],
    }
    (tmp_path / "demo.json").write_text(json.dumps(document), encoding="utf-8")
    return str(tmp_path)


def seed(*args, capture) -> str:
    """seed_demo, with the writes a read queues for after the commit run as they would."""
    out = StringIO()
    with capture(execute=True):
        call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def local_demo(capture, *extra) -> str:
    return seed("--demo-passwords", "--simulated-days", str(DAYS), *extra, capture=capture)


def sign_in(client, email: str, password: str):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def test_the_demo_reader_is_onboarded_with_history_on_and_a_few_reads(
    client, few_simulated_readers, django_capture_on_commit_callbacks
):
    local_demo(django_capture_on_commit_callbacks, "--no-model")
    reader = User.objects.get(email="reader@example.com")
    profile = reader_profile(user=reader)
    assert profile.onboarding_done
    assert profile.level == Preferences.Level.TOPICS_HISTORY
    assert len(profile.topic_names) == 3
    # History was turned on the way a reader turns it on: with a receipt.
    assert consent_latest(user=reader, purpose=READING_HISTORY.key).granted
    assert consent_latest(user=reader, purpose=POPULAR_COUNTING.key) is None
    history = history_for_user(user=reader)
    assert len(history) == 5
    assert all(item.read_at < timezone.now() for item in history)
    assert all(item.article.published_at < item.read_at for item in history)

    response = sign_in(client, "reader@example.com", "reader-demo-pass")
    assert response["Location"] == reverse("news:home")


def test_the_demo_editor_and_admin_sign_in_to_the_site_not_to_the_reader_onboarding(
    client, small_content, django_capture_on_commit_callbacks
):
    seed(
        "--demo-passwords",
        "--no-model",
        "--dir",
        small_content,
        capture=django_capture_on_commit_callbacks,
    )
    for role in ("editor", "admin"):
        client.logout()
        response = sign_in(client, f"{role}@example.com", f"{role}-demo-pass")
        assert response["Location"] == reverse("news:home"), role
        # Never onboarded, yet not sent there: the onboarding is the readers'.
        staff = User.objects.get(email=f"{role}@example.com")
        assert not reader_profile(user=staff).onboarding_done


def test_simulated_readers_days_are_released_by_the_sites_aggregation_within_budget(
    client, few_simulated_readers, small_content, django_capture_on_commit_callbacks
):
    output = local_demo(django_capture_on_commit_callbacks, "--no-model", "--dir", small_content)
    today = timezone.localdate()
    released = sorted(set(PrivacyBudgetLedger.objects.values_list("day", flat=True)))
    assert len(released) == DAYS
    assert released[-1] < today and released[-1] - released[0] == timedelta(days=DAYS - 1)
    for day in released:
        spent = PrivacyBudgetLedger.objects.filter(day=day).aggregate(e=Sum("epsilon"))["e"]
        assert spent == pytest.approx(settings.DP_EPSILON_PER_DAY)
    # Released as every night: nothing left that links a read to anyone.
    assert not SignalEvent.objects.exists()
    assert not DailySalt.objects.filter(day__in=released).exists()
    assert "released with differential privacy" in output

    simulated = User.objects.filter(email__endswith=f"@{SIMULATED_DOMAIN}")
    assert simulated.count() == READERS
    assert not any(user.has_usable_password() for user in simulated)
    refused = sign_in(client, simulated.first().email, "")
    assert refused.status_code == 200 and "_auth_user_id" not in client.session

    client.force_login(User.objects.get(email="editor@example.com"))
    dashboard = client.get(reverse("news:editor_dashboard"))
    assert [chart.slug for chart in dashboard.context["dashboard"].charts if chart.is_empty] == []
    transparency = client.get(reverse("privacy:transparency"))
    ledger_days = [entry.day for entry in transparency.context["ledger"]]
    assert ledger_days == sorted(released, reverse=True)

    # Most simulated readers answered the trust survey once, within the simulated days; each
    # stored answer is randomized and carries its week, never its reader.
    asked = SurveyAsk.objects.filter(user__email__endswith=f"@{SIMULATED_DOMAIN}")
    assert 0 < asked.count() == SurveyAnswer.objects.count() <= READERS
    assert all(today - timedelta(days=DAYS) <= ask.asked_on < today for ask in asked)
    assert "answers to the trust survey" in output


def test_seeding_the_local_demo_again_changes_nothing(
    few_simulated_readers, small_content, django_capture_on_commit_callbacks
):
    local_demo(django_capture_on_commit_callbacks, "--no-model", "--dir", small_content)
    reader = User.objects.get(email="reader@example.com")
    before = (
        User.objects.count(),
        PrivacyBudgetLedger.objects.count(),
        len(history_for_user(user=reader)),
        Preferences.objects.get(user=reader).updated_at,
    )
    output = local_demo(django_capture_on_commit_callbacks, "--no-model", "--dir", small_content)
    after = (
        User.objects.count(),
        PrivacyBudgetLedger.objects.count(),
        len(history_for_user(user=reader)),
        Preferences.objects.get(user=reader).updated_at,
    )
    assert after == before
    assert "onboarded already" in output
    assert f"no day of the last {DAYS} was left to release" in output


def test_seed_demo_without_a_local_flag_simulates_nothing(
    small_content, django_capture_on_commit_callbacks
):
    seed("--no-model", "--dir", small_content, capture=django_capture_on_commit_callbacks)
    assert not PrivacyBudgetLedger.objects.exists()
    assert not User.objects.filter(email__endswith=f"@{SIMULATED_DOMAIN}").exists()


@pytest.mark.parametrize("days", ["-1", "91"])
def test_simulated_days_out_of_range_are_refused_before_anything_is_written(
    days, django_capture_on_commit_callbacks
):
    with pytest.raises(CommandError, match="--simulated-days must be between 0 and 90"):
        seed("--simulated-days", days, capture=django_capture_on_commit_callbacks)
    assert not Article.objects.exists() and not User.objects.exists()


def test_a_day_the_nightly_job_released_already_is_left_as_it_was():
    ArticleFactory(topics=[TopicFactory()], published_at=timezone.now() - timedelta(days=5))
    simulated_readers_ensure(count=10)
    yesterday = timezone.localdate() - timedelta(days=1)
    aggregate_day(day=yesterday)  # the real nightly run, before any simulation
    ledger_before = list(PrivacyBudgetLedger.objects.values_list("pk", "epsilon"))

    result = simulated_days_release(days=1)
    assert result.days_released == 0 and result.reads == 0
    assert list(PrivacyBudgetLedger.objects.values_list("pk", "epsilon")) == ledger_before
    assert not SignalEvent.objects.exists()


def test_days_before_any_story_was_out_spend_no_budget():
    ArticleFactory(topics=[TopicFactory()], published_at=timezone.now() - timedelta(days=2))
    simulated_readers_ensure(count=10)
    simulated_days_release(days=5)
    released = set(PrivacyBudgetLedger.objects.values_list("day", flat=True))
    today = timezone.localdate()
    # At most the day the story came out on (if before noon, when the simulated reads begin)
    # and yesterday; the three days before it released nothing and spent nothing.
    assert today - timedelta(days=1) in released
    assert released <= {today - timedelta(days=2), today - timedelta(days=1)}
