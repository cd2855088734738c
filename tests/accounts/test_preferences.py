"""The preferences page, and the front page following what a reader chose."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import Preferences
from accounts.selectors import preferences_region
from privacy.browser_signals import NO_SIGNALS
from privacy.models import ConsentRecord
from privacy.purposes import DIGEST, POPULAR_COUNTING, READING_HISTORY, REGION
from privacy.selectors import consents_current
from tests.factories import ArticleFactory, TopicFactory

pytestmark = pytest.mark.django_db
Level = Preferences.Level
URL = reverse("accounts:preferences")


def notices() -> dict:
    return {f"{p.key}_notice": p.notice_sha256 for p in (POPULAR_COUNTING, DIGEST, REGION)}


@pytest.fixture
def science(db):
    return TopicFactory(name="Science", slug="science")


@pytest.fixture
def sport(db):
    return TopicFactory(name="Sport", slug="sport")


@pytest.fixture
def onboarded(client, reader, science):
    services.preferences_set_topics(user=reader, topic_ids=[science.pk])
    services.preferences_set_level(
        user=reader, level=Level.TOPICS_HISTORY, source="onboarding", signals=NO_SIGNALS
    )
    client.force_login(reader)
    return reader


def test_preferences_page_shows_the_current_choices(client, onboarded, science):
    form = client.get(URL).context["form"]
    assert form["level"].value() == Level.TOPICS_HISTORY
    assert [getattr(t, "pk", t) for t in form["topics"].value()] == [science.pk]
    assert form["digest"].value() is False


def test_lowering_the_level_withdraws_the_history_consent(client, onboarded, science):
    response = client.post(URL, {"topics": [science.pk], "level": Level.TOPICS, **notices()})
    assert response.status_code == 302
    assert Preferences.objects.get(user=onboarded).level == Level.TOPICS
    assert consents_current(user=onboarded)[READING_HISTORY.key] is False
    latest = ConsentRecord.objects.filter(user=onboarded).latest("created_at", "id")
    assert (latest.purpose, latest.granted, latest.source) == (
        READING_HISTORY.key,
        False,
        ConsentRecord.Source.PREFERENCES,
    )


def test_turning_a_purpose_on_then_off_writes_two_receipts(client, onboarded, science):
    base = {"topics": [science.pk], "level": Level.TOPICS_HISTORY, **notices()}
    client.post(URL, {**base, "popular_counting": "on"})
    assert consents_current(user=onboarded)[POPULAR_COUNTING.key] is True
    client.post(URL, base)
    receipts = ConsentRecord.objects.filter(user=onboarded, purpose=POPULAR_COUNTING.key)
    assert [r.granted for r in receipts.order_by("created_at", "id")] == [True, False]
    # Saving the same choices again writes nothing new.
    client.post(URL, base)
    assert receipts.count() == 2


def test_turning_region_off_forgets_the_region(client, onboarded, science):
    base = {"topics": [science.pk], "level": Level.TOPICS, **notices()}
    client.post(URL, {**base, "region": "on", "region_name": "west"})
    assert preferences_region(preferences=Preferences.objects.get(user=onboarded)) == "west"
    client.post(URL, {**base, "region_name": "west"})
    assert preferences_region(preferences=Preferences.objects.get(user=onboarded)) == ""


def test_personalization_needs_a_topic_but_off_does_not(client, onboarded):
    refused = client.post(URL, {"level": Level.TOPICS, **notices()})
    assert "Pick at least one topic, or set personalization to Off." in refused.content.decode()
    assert Preferences.objects.get(user=onboarded).level == Level.TOPICS_HISTORY

    accepted = client.post(URL, {"level": Level.OFF, **notices()})
    assert accepted.status_code == 302
    assert Preferences.objects.get(user=onboarded).level == Level.OFF


def test_a_bad_submission_changes_nothing_at_all(client, onboarded, science, sport):
    before = list(ConsentRecord.objects.values_list("pk", flat=True))
    response = client.post(
        URL,
        {"topics": [sport.pk], "level": "bogus", "digest": "on", **notices()},
    )
    assert response.status_code == 200
    preferences = Preferences.objects.get(user=onboarded)
    assert list(preferences.topics.all()) == [science]
    assert list(ConsentRecord.objects.values_list("pk", flat=True)) == before


def test_front_page_puts_chosen_topics_first_from_the_next_page(client, onboarded, science, sport):
    now = timezone.now()
    ArticleFactory(title="Fresh sport story", topics=[sport], published_at=now)
    ArticleFactory(
        title="Older science story", topics=[science], published_at=now - timedelta(days=2)
    )
    html = client.get(reverse("news:home")).content.decode()
    assert html.index("Older science story") < html.index("Fresh sport story")
    assert "Stories in your topics first: Science" in html

    client.post(URL, {"topics": [sport.pk], "level": Level.TOPICS, **notices()})
    html = client.get(reverse("news:home")).content.decode()
    assert html.index("Fresh sport story") < html.index("Older science story")


def test_front_page_leaves_out_blocked_topics(client, onboarded, science, sport):
    ArticleFactory(title="Blocked sport story", topics=[sport])
    ArticleFactory(title="Science story", topics=[science])
    client.post(
        URL,
        {"topics": [science.pk], "blocked_topics": [sport.pk], "level": Level.TOPICS, **notices()},
    )
    html = client.get(reverse("news:home")).content.decode()
    assert "Science story" in html
    assert "Blocked sport story" not in html


def test_with_personalization_off_the_front_page_uses_nothing_personal(
    client, onboarded, science, sport
):
    now = timezone.now()
    ArticleFactory(title="Fresh sport story", topics=[sport], published_at=now)
    ArticleFactory(
        title="Older science story", topics=[science], published_at=now - timedelta(days=2)
    )
    client.post(URL, {"topics": [science.pk], "level": Level.OFF, **notices()})
    html = client.get(reverse("news:home")).content.decode()
    assert html.index("Fresh sport story") < html.index("Older science story")
    assert "Personalization is off" in html


def test_preferences_need_a_signed_in_reader(client):
    assert client.get(URL)["Location"].startswith(reverse("account_login"))


def test_each_purpose_box_is_described_by_its_explanation_for_screen_readers(client, reader):
    import re

    client.force_login(reader)
    html = client.get(reverse("accounts:preferences")).content.decode()
    boxes = re.findall(r'<input type="checkbox" name="(\w+)"[^>]*aria-describedby="([^"]+)"', html)
    assert boxes, "no purpose box found"
    for name, described_by in boxes:
        for target in described_by.split():
            # Every id a box points at exists, and the one for the purpose holds its notice.
            assert f'id="{target}"' in html, (name, target)
        assert f'id="id_{name}_helptext"' in html, name
