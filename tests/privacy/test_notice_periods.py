"""The periods a reader agrees to are the periods the site applies: notices, level
explanations and the purge read one setting, and a period written by hand fails `check`."""

from dataclasses import replace
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.checks import level_explanations_state_the_settings_periods
from accounts.levels import LEVEL_EXPLANATIONS, LEVEL_TEMPLATES, Level
from privacy import services
from privacy.browser_signals import NO_SIGNALS
from privacy.checks import notices_state_the_settings_periods
from privacy.models import ConsentRecord, ReadingHistoryEntry
from privacy.purposes import OPTIONAL_PURPOSES, READING_HISTORY
from tests.factories import reader_choices

pytestmark = pytest.mark.django_db


def test_an_operator_who_shortens_history_retention_changes_every_promise_and_the_purge(
    client, reader, article, settings, record_read
):
    settings.PRIVACY_HISTORY_RETENTION_DAYS = 30
    settings.PRIVACY_SIGNAL_RETENTION_HOURS = 36
    client.force_login(reader)
    page = client.get(reverse("accounts:preferences")).content.decode()
    assert "for 30 days" in page  # the "Topics + reading history" level
    assert "within 36 hours" in page  # "count my reads toward popular"
    assert "90 days" not in page and "48 hours" not in page
    assert "Each entry is deleted after 30 days" in READING_HISTORY.notice
    assert "for 30 days" in LEVEL_EXPLANATIONS[Level.TOPICS_HISTORY]

    # A receipt given now proves agreement to the 30-day words.
    reader_choices(reader)  # Topics + reading history
    receipt = ConsentRecord.objects.filter(user=reader, purpose=READING_HISTORY.key).latest("id")
    assert receipt.notice_sha256 == READING_HISTORY.notice_sha256
    settings.PRIVACY_HISTORY_RETENTION_DAYS = 90
    assert receipt.notice_sha256 != READING_HISTORY.notice_sha256

    # And the purge keeps the same promise.
    settings.PRIVACY_HISTORY_RETENTION_DAYS = 30
    now = timezone.now()
    for days_ago in (31, 29):
        record_read(user=reader, article=article, signals=NO_SIGNALS, now=now - timedelta(days_ago))
    assert services.retention_purge(now=now)["history entries"] == 1
    assert [(now - e.read_at).days for e in ReadingHistoryEntry.objects.all()] == [29]


def test_the_shipped_notices_pass_the_check(db):
    # `check` also opens the key store with the master key (privacy.E011): a database test.
    call_command("check")  # raises SystemCheckError on any error
    assert notices_state_the_settings_periods() == []
    assert level_explanations_state_the_settings_periods() == []


def test_a_notice_that_states_a_period_by_hand_fails_the_check():
    by_hand = replace(
        READING_HISTORY, retention_template="Each entry is deleted after 90 days, or sooner."
    )
    problems = notices_state_the_settings_periods(purposes=[by_hand, *OPTIONAL_PURPOSES[1:]])
    assert [p.id for p in problems] == ["privacy.E001"]
    assert "'90 days' by hand" in problems[0].msg and "Keep my reading history" in problems[0].msg


def test_a_notice_naming_a_setting_that_is_not_a_period_fails_the_check(settings):
    settings.PRIVACY_HISTORY_RETENTION_DAYS = 0
    problems = notices_state_the_settings_periods()
    assert [p.id for p in problems] == ["privacy.E001"]
    assert "PRIVACY_HISTORY_RETENTION_DAYS" in problems[0].msg


def test_a_level_explanation_that_states_a_period_by_hand_fails_the_check():
    templates = {**LEVEL_TEMPLATES, Level.TOPICS_HISTORY: "We keep your history for 3 months."}
    problems = level_explanations_state_the_settings_periods(templates=templates)
    assert [p.id for p in problems] == ["accounts.E001"]
    assert "'3 months' by hand" in problems[0].msg
