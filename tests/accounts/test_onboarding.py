"""The onboarding wizard: every step, the skip path, browser signals and bad input."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Preferences
from accounts.selectors import preferences_region
from privacy.models import ConsentRecord
from privacy.purposes import DIGEST, POLICY_VERSION, POPULAR_COUNTING, READING_HISTORY, REGION
from privacy.selectors import consents_current
from tests.factories import TopicFactory

pytestmark = pytest.mark.django_db
Level = Preferences.Level


def step_url(step: int) -> str:
    return reverse("accounts:onboarding_step", args=[step])


def notices() -> dict:
    return {f"{p.key}_notice": p.notice_sha256 for p in (POPULAR_COUNTING, DIGEST, REGION)}


@pytest.fixture
def topics(db):
    return [TopicFactory(name=name, slug=name.lower()) for name in ("Science", "Sport", "Food")]


@pytest.fixture
def signed_in(client, reader):
    client.force_login(reader)
    return client


def test_the_full_wizard_saves_topics_level_and_switches(signed_in, reader, topics):
    science, sport, food = topics
    assert signed_in.get(reverse("accounts:onboarding"))["Location"] == step_url(1)

    response = signed_in.post(step_url(1), {"topics": [science.pk], "blocked_topics": [food.pk]})
    assert response["Location"] == step_url(2)
    preferences = Preferences.objects.get(user=reader)
    assert preferences.level == Level.TOPICS  # the default after choosing topics
    page = signed_in.get(step_url(2))
    assert page.context["form"]["level"].value() == Level.TOPICS  # pre-selected

    signed_in.post(step_url(2), {"level": Level.TOPICS_HISTORY})
    response = signed_in.post(
        step_url(3), {"digest": "on", "region": "on", "region_name": "north", **notices()}
    )
    assert response["Location"] == reverse("news:home")

    preferences.refresh_from_db()
    assert preferences.onboarding_done
    assert list(preferences.topics.all()) == [science]
    assert list(preferences.blocked_topics.all()) == [food]
    assert preferences_region(preferences=preferences) == "north"
    assert b"north" not in bytes(preferences.region_sealed)  # stored encrypted
    assert consents_current(user=reader) == {
        READING_HISTORY.key: True,
        POPULAR_COUNTING.key: False,
        DIGEST.key: True,
        REGION.key: True,
    }
    receipt = ConsentRecord.objects.get(user=reader, purpose=READING_HISTORY.key)
    assert receipt.source == ConsentRecord.Source.ONBOARDING
    assert receipt.policy_version == POLICY_VERSION
    assert receipt.notice_sha256 == READING_HISTORY.notice_sha256
    assert receipt.browser_signal is False


def test_every_purpose_is_off_unless_turned_on(signed_in, reader, topics):
    signed_in.post(step_url(1), {"topics": [topics[0].pk]})
    signed_in.post(step_url(2), {"level": Level.TOPICS})
    page = signed_in.get(step_url(3)).content.decode()
    for purpose in (POPULAR_COUNTING, DIGEST, REGION):
        assert purpose.reason in page
    assert "checked" not in page
    signed_in.post(step_url(3), notices())
    assert not any(consents_current(user=reader).values())
    assert not ConsentRecord.objects.filter(user=reader).exists()


@pytest.mark.parametrize("skip_at", [1, 2, 3])
def test_skip_at_any_step_means_off_and_no_optional_consent(signed_in, reader, topics, skip_at):
    if skip_at >= 2:
        signed_in.post(step_url(1), {"topics": [topics[0].pk]})
    if skip_at >= 3:
        signed_in.post(step_url(2), {"level": Level.TOPICS_HISTORY})
    response = signed_in.post(step_url(skip_at), {"skip": "1"})
    assert response["Location"] == reverse("news:home")
    preferences = Preferences.objects.get(user=reader)
    assert preferences.level == Level.OFF
    assert preferences.onboarding_done
    assert not any(consents_current(user=reader).values())
    if skip_at == 3:  # history was granted at step 2, so skipping withdrew it
        assert ConsentRecord.objects.filter(user=reader, granted=False).count() == 1


def test_step_one_needs_a_topic(signed_in, reader, topics):
    response = signed_in.post(step_url(1), {})
    assert "Pick at least one topic to continue." in response.content.decode()
    assert Preferences.objects.get(user=reader).onboarding_step == 1


def test_an_unknown_topic_id_is_refused_and_nothing_saved(signed_in, reader, topics):
    response = signed_in.post(step_url(1), {"topics": [topics[0].pk, 999999]})
    assert response.status_code == 200
    assert "999999 is not one of the available choices" in response.content.decode()
    assert not Preferences.objects.get(user=reader).topics.exists()


def test_a_topic_both_wanted_and_blocked_is_refused(signed_in, reader, topics):
    response = signed_in.post(
        step_url(1), {"topics": [topics[0].pk], "blocked_topics": [topics[0].pk]}
    )
    assert "cannot be both wanted and blocked: Science" in response.content.decode()
    assert not Preferences.objects.get(user=reader).topics.exists()


def test_an_unknown_level_is_refused_and_writes_no_receipt(signed_in, reader, topics):
    signed_in.post(step_url(1), {"topics": [topics[0].pk]})
    response = signed_in.post(step_url(2), {"level": "everything"})
    assert "Choose one of the levels shown." in response.content.decode()
    assert Preferences.objects.get(user=reader).level == Level.TOPICS
    assert not ConsentRecord.objects.exists()


def test_a_tampered_notice_is_refused_and_writes_no_receipt(signed_in, reader, topics):
    signed_in.post(step_url(1), {"topics": [topics[0].pk]})
    signed_in.post(step_url(2), {"level": Level.TOPICS})
    forged = {**notices(), "digest_notice": "0" * 64}
    response = signed_in.post(step_url(3), {"digest": "on", **forged})
    assert "has changed or was altered" in response.content.decode()
    assert not ConsentRecord.objects.exists()
    assert not Preferences.objects.get(user=reader).onboarding_done


def test_region_switched_on_without_a_region_is_explained(signed_in, reader, topics):
    signed_in.post(step_url(1), {"topics": [topics[0].pk]})
    signed_in.post(step_url(2), {"level": Level.TOPICS})
    response = signed_in.post(step_url(3), {"region": "on", "region_name": "", **notices()})
    assert "Pick a region to get local news" in response.content.decode()
    assert not ConsentRecord.objects.exists()


def test_jumping_ahead_is_refused(signed_in, reader, topics):
    assert signed_in.get(step_url(3))["Location"] == step_url(1)
    response = signed_in.post(step_url(3), {"digest": "on", **notices()})
    assert response.status_code == 400
    assert "Finish the earlier step first." in response.content.decode()
    assert not ConsentRecord.objects.exists()


def test_replaying_a_step_after_finishing_changes_nothing(signed_in, reader, topics):
    signed_in.post(step_url(1), {"topics": [topics[0].pk]})
    signed_in.post(step_url(2), {"level": Level.TOPICS})
    signed_in.post(step_url(3), notices())
    replay = signed_in.post(step_url(2), {"level": Level.TOPICS_HISTORY})
    assert replay.status_code == 400
    assert "already finished" in replay.content.decode()
    assert Preferences.objects.get(user=reader).level == Level.TOPICS
    assert not ConsentRecord.objects.exists()


def test_a_post_without_csrf_token_saves_nothing(reader, topics):
    client = Client(enforce_csrf_checks=True)
    client.force_login(reader)
    response = client.post(step_url(1), {"topics": [topics[0].pk]})
    assert response.status_code == 403
    assert "nothing was saved" in response.content.decode()
    assert not Preferences.objects.filter(user=reader, preferred_topics__isnull=False).exists()


def test_onboarding_needs_a_signed_in_reader(client):
    response = client.get(step_url(1))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("header", [{"HTTP_SEC_GPC": "1"}, {"HTTP_DNT": "1"}])
def test_a_browser_privacy_signal_is_shown_and_recorded(signed_in, reader, topics, header):
    page = signed_in.get(step_url(1), **header).content.decode()
    assert "Your browser asks sites not to track you. We honour it" in page
    signed_in.post(step_url(1), {"topics": [topics[0].pk]}, **header)
    assert Preferences.objects.get(user=reader).browser_signal_seen_at is not None

    signed_in.post(step_url(2), {"level": Level.TOPICS_HISTORY}, **header)
    receipt = ConsentRecord.objects.get(user=reader, purpose=READING_HISTORY.key)
    assert receipt.browser_signal is True


def test_without_a_signal_there_is_no_banner(signed_in, topics):
    page = signed_in.get(step_url(1), HTTP_SEC_GPC="0").content.decode()
    assert "Your browser asks sites not to track you" not in page


def test_gpc_json_is_published(client):
    response = client.get("/.well-known/gpc.json")
    assert response.status_code == 200
    assert response.json()["gpc"] is True
    assert response.json()["lastUpdate"]


def test_a_reader_who_joins_after_a_policy_change_is_not_asked_again(
    signed_in, reader, topics, settings
):
    from privacy import services as privacy_services
    from privacy.models import PolicyVersion
    from privacy.selectors import purposes_to_reconfirm

    settings.PRIVACY_HISTORY_RETENTION_DAYS = 60
    draft = privacy_services.policy_draft_save(
        draft=PolicyVersion(version="2026-12-01", summary_of_changes="Sooner.", full_text="Text.")
    )
    published = privacy_services.policy_publish(policy=draft)
    assert published.changed_purposes == [READING_HISTORY.key]

    signed_in.post(step_url(1), {"topics": [topics[0].pk]})
    signed_in.post(step_url(2), {"level": Level.TOPICS_HISTORY})
    signed_in.post(step_url(3), notices())
    # Agreed to the new words, under the new version: nothing to confirm again.
    receipt = ConsentRecord.objects.get(user=reader, purpose=READING_HISTORY.key)
    assert receipt.policy == published and receipt.policy_version == "2026-12-01"
    assert consents_current(user=reader)[READING_HISTORY.key] is True
    assert purposes_to_reconfirm(user=reader) == []
    assert "Our privacy policy changed" not in signed_in.get(reverse("news:home")).content.decode()
