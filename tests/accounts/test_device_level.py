"""The fourth personalization level, "On this device only": offered wherever a level is
chosen; choosing it leaves the server the level and nothing about the reader's interests;
reads at it record nothing; the server's front page for it is the non-personal one."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import services
from accounts.forms import LevelForm
from accounts.levels import LEVEL_EXPLANATIONS
from accounts.models import Preferences, PreferredTopic
from accounts.selectors import reader_profile
from privacy.browser_signals import NO_SIGNALS
from privacy.models import ReadingHistoryEntry, SignalEvent
from privacy.purposes import DIGEST, POPULAR_COUNTING, READING_HISTORY, REGION
from privacy.selectors import NOTHING_RECORDED, consents_current, read_permissions
from tests.factories import ArticleFactory, TopicFactory, reader_choices

pytestmark = pytest.mark.django_db
Level = Preferences.Level
DEVICE = Level.DEVICE


def notices() -> dict:
    return {f"{p.key}_notice": p.notice_sha256 for p in (POPULAR_COUNTING, DIGEST, REGION)}


def test_the_fourth_choice_is_offered_with_its_promise_in_plain_words():
    assert (DEVICE, "On this device only") in Level.choices
    values = [value for value, _ in LevelForm().fields["level"].choices]
    assert values == ["off", "topics", "topics_history", "device"]
    assert "nothing about them is sent to us" in LEVEL_EXPLANATIONS[DEVICE]
    assert "deleted" in LEVEL_EXPLANATIONS[DEVICE]


def test_choosing_it_leaves_the_server_the_level_and_nothing_about_interests(
    client, reader, read_page
):
    science, sport = TopicFactory(), TopicFactory()
    reader_choices(reader, level=Level.TOPICS_HISTORY, counting=True)
    services.preferences_set_topics(user=reader, topic_ids=[science.pk], blocked_ids=[sport.pk])
    client.force_login(reader)
    read_page(client, ArticleFactory(topics=[science]))
    assert ReadingHistoryEntry.objects.filter(user=reader).count() == 1

    services.preferences_set_level(
        user=reader, level=DEVICE, source="preferences", signals=NO_SIGNALS
    )

    preferences = Preferences.objects.get(user=reader)
    assert preferences.level == DEVICE
    assert not PreferredTopic.objects.filter(preferences=preferences).exists()
    assert not preferences.blocked_topics.exists()
    assert not ReadingHistoryEntry.objects.filter(user=reader).exists()
    assert consents_current(user=reader)[READING_HISTORY.key] is False
    profile = reader_profile(user=reader)
    assert profile.level == DEVICE and not profile.personalized


def test_reads_at_it_record_nothing_even_with_counting_on(client, reader, read_page):
    reader_choices(reader, level=Level.TOPICS, counting=True)
    services.preferences_set_level(
        user=reader, level=DEVICE, source="preferences", signals=NO_SIGNALS
    )
    client.force_login(reader)
    signals_before = SignalEvent.objects.count()

    read_page(client, ArticleFactory(topics=[TopicFactory()]))

    assert not ReadingHistoryEntry.objects.filter(user=reader).exists()
    assert SignalEvent.objects.count() == signals_before
    assert read_permissions(user_id=reader.pk, signals=NO_SIGNALS) == NOTHING_RECORDED


def test_the_servers_front_page_for_it_is_the_one_everyone_gets(client, reader):
    reader_choices(reader, level=DEVICE)
    client.force_login(reader)
    html = client.get(reverse("news:home")).content.decode()
    assert "Latest news" in html and "Your front page" not in html
    assert "On this device only" in html
    assert 'data-account-level="device"' in html


def test_the_preferences_page_offers_it_and_keeps_no_topic_with_it(client, reader):
    science = TopicFactory()
    reader_choices(reader, level=Level.TOPICS)
    client.force_login(reader)
    page = client.get(reverse("accounts:preferences")).content.decode()
    assert "On this device only" in page

    response = client.post(
        reverse("accounts:preferences"),
        {"topics": [science.pk], "level": DEVICE, **notices()},
    )

    assert response.status_code == 302
    preferences = Preferences.objects.get(user=reader)
    assert preferences.level == DEVICE
    assert not preferences.preferred_topics.exists()


def test_onboarding_offers_it(client, reader):
    science = TopicFactory()
    client.force_login(reader)
    client.post(reverse("accounts:onboarding_step", args=[1]), {"topics": [science.pk]})
    page = client.get(reverse("accounts:onboarding_step", args=[2])).content.decode()
    assert "On this device only" in page

    client.post(reverse("accounts:onboarding_step", args=[2]), {"level": DEVICE})

    preferences = Preferences.objects.get(user=reader)
    assert preferences.level == DEVICE and not preferences.preferred_topics.exists()
    # Going back to the topics step cannot put topics on the server at this level.
    response = client.post(reverse("accounts:onboarding_step", args=[1]), {"topics": [science.pk]})
    assert "your topics stay in your browser" in response.content.decode()
    assert not Preferences.objects.get(user=reader).preferred_topics.exists()


def test_the_api_refuses_topics_at_it_and_changes_nothing(reader):
    from allauth.account.models import EmailAddress

    from accounts.services import api_token_issue

    EmailAddress.objects.filter(user=reader).update(verified=True)
    reader_choices(reader, level=Level.TOPICS)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=reader).key}")
    science = TopicFactory()

    refused = api.patch(
        "/api/v1/preferences/", {"level": DEVICE, "topics": [science.slug]}, format="json"
    )
    assert refused.status_code == 400
    assert "stay in your browser" in refused.json()["error"]["message"]
    assert Preferences.objects.get(user=reader).level == Level.TOPICS

    accepted = api.patch("/api/v1/preferences/", {"level": DEVICE}, format="json")
    assert accepted.status_code == 200
    assert accepted.json()["level"] == DEVICE
    assert Preferences.objects.get(user=reader).level == DEVICE
