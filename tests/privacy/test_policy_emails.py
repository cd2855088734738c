"""Readers who had a purpose on that a new policy version changed are emailed once, with what
changed and a link to confirm: through the site's email and Celery, never twice."""

from datetime import timedelta

import pytest
import time_machine
from celery.exceptions import Retry
from django.utils import timezone

from accounts.services import preferences_set_level
from newsite.celery import app as celery_app
from privacy import services, tasks
from privacy.browser_signals import NO_SIGNALS
from privacy.models import PolicyChangeEmail, PolicyVersion, PrivacyAuditEvent
from privacy.purposes import DIGEST, POPULAR_COUNTING, READING_HISTORY
from privacy.registry import category
from tests.conftest import DEAD_REDIS, celery_broker
from tests.factories import ReaderFactory, reader_choices
from tests.mail import FlakyMailServer

pytestmark = pytest.mark.django_db
SITE = "https://news.example.org"


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = SITE
    settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture
def counting_rewritten(settings):
    settings.PRIVACY_SIGNAL_RETENTION_HOURS = 24  # "within 48 hours" becomes "within 24 hours"


def grant(user, purpose, granted=True):
    services.consent_set(
        user=user, purpose=purpose.key, granted=granted, source="preferences", signals=NO_SIGNALS
    )


@pytest.fixture
def readers(db):
    """Who had what on when the version is published."""
    counting = reader_choices(ReaderFactory(email="counting@example.org"), counting=True)
    history_only = reader_choices(ReaderFactory(email="history@example.org"))
    nothing = ReaderFactory(email="nothing@example.org")
    withdrew = reader_choices(
        ReaderFactory(email="withdrew@example.org"), level="topics", counting=True
    )
    grant(withdrew, POPULAR_COUNTING, granted=False)
    digest_only = ReaderFactory(email="digest@example.org")
    grant(digest_only, DIGEST)
    gone = reader_choices(ReaderFactory(email="gone@example.org", is_active=False), counting=True)
    return {
        "counting": counting,
        "history_only": history_only,
        "nothing": nothing,
        "withdrew": withdrew,
        "digest_only": digest_only,
        "gone": gone,
    }


def publish(capture, version="2026-12-01", *, when=None) -> PolicyVersion:
    with capture(execute=True):
        draft = services.policy_draft_save(
            draft=PolicyVersion(
                version=version,
                takes_effect_at=when,
                summary_of_changes="Raw counting entries are deleted sooner.",
                full_text="The whole policy.",
            )
        )
        return services.policy_publish(policy=draft)


def test_publishing_emails_each_reader_whose_purpose_changed_once(
    readers, counting_rewritten, mailoutbox, django_capture_on_commit_callbacks
):
    published = publish(django_capture_on_commit_callbacks)
    assert published.changed_purposes == [POPULAR_COUNTING.key]
    # Only the reader who still had counting on: not the one who turned it off, nor readers
    # whose choices the version did not touch, nor a deactivated account.
    assert [message.to for message in mailoutbox] == [["counting@example.org"]]
    email = mailoutbox[0]
    assert "1 feature you had on is off until you confirm" in email.subject
    assert f"{SITE}/privacy/consents/#reconfirm" in email.body
    assert f"{SITE}/privacy/policy/2026-12-01/" in email.body
    assert "Raw counting entries are deleted sooner." in email.body
    assert 'Count my reads toward "popular"' in email.body
    assert 'Before: "…deleted once counted, within 48 hours. If it stays…"' in email.body
    assert 'Now:    "…deleted once counted, within 24 hours. If it stays…"' in email.body
    assert READING_HISTORY.title not in email.body  # unchanged: not asked, not mentioned
    assert "If you do nothing, it stays off" in email.body
    sent = PolicyChangeEmail.objects.get()
    assert sent.user == readers["counting"] and sent.sent_at is not None
    logged = PrivacyAuditEvent.objects.get(user=readers["counting"], action="policy_change_emailed")
    assert logged.actor == PrivacyAuditEvent.Actor.SYSTEM
    assert logged.detail == "Policy version 2026-12-01"


def test_running_the_tasks_again_sends_nothing_twice(
    readers, counting_rewritten, mailoutbox, django_capture_on_commit_callbacks
):
    published = publish(django_capture_on_commit_callbacks)
    assert len(mailoutbox) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.policy_change_emails_queue(published.pk) == 0  # nobody left to queue
        assert tasks.policy_change_emails_queue_due() == 0
    # A redelivered message for the same reader finds the email already sent.
    assert tasks.policy_change_email_send(published.pk, readers["counting"].pk) is False
    assert len(mailoutbox) == 1
    assert PolicyChangeEmail.objects.count() == 1


def test_a_version_that_changes_no_purpose_emails_nobody(
    readers, mailoutbox, django_capture_on_commit_callbacks
):
    publish(django_capture_on_commit_callbacks)
    assert mailoutbox == []


def test_a_scheduled_version_emails_when_it_takes_effect(
    readers, counting_rewritten, mailoutbox, django_capture_on_commit_callbacks
):
    later = timezone.now() + timedelta(days=3)
    published = publish(django_capture_on_commit_callbacks, when=later)
    assert mailoutbox == []  # nothing to confirm yet: the words now in effect are unchanged
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.policy_change_emails_queue_due() == 0
    after = time_machine.travel(later + timedelta(minutes=5))
    with after, django_capture_on_commit_callbacks(execute=True):
        assert tasks.policy_change_emails_queue_due() == 1  # the beat's sweep
        assert tasks.policy_change_emails_queue_due() == 0
    assert [message.to for message in mailoutbox] == [["counting@example.org"]]
    published.refresh_from_db()
    assert published.emails_queued_at is not None


def test_a_refused_send_is_retried_and_still_sent_once(
    readers, counting_rewritten, mailoutbox, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):  # no task runs yet
        draft = services.policy_draft_save(
            draft=PolicyVersion(version="2026-12-01", summary_of_changes="x", full_text="y")
        )
        published = services.policy_publish(policy=draft)
    reader = readers["counting"]
    settings.EMAIL_BACKEND = "tests.mail.FlakyMailServer"
    FlakyMailServer.refused = 0
    # The server refuses: the task asks to be retried, and its claim on the reader's email
    # is given back, so the retry can send it...
    with pytest.raises(Retry):
        tasks.policy_change_email_send.apply(args=[published.pk, reader.pk])
    assert FlakyMailServer.refused == 1
    assert not PolicyChangeEmail.objects.exists()
    assert mailoutbox == []
    # ...as the retry, run by the worker, does: once.
    assert tasks.policy_change_email_send.apply(args=[published.pk, reader.pk]).get() is True
    assert len(mailoutbox) == 1
    # A redelivered message, or any later run, sends nothing more.
    assert tasks.policy_change_email_send.apply(args=[published.pk, reader.pk]).get() is False
    assert len(mailoutbox) == 1
    assert PolicyChangeEmail.objects.get().sent_at is not None


def test_a_reader_who_answered_before_the_email_went_gets_none(
    readers, counting_rewritten, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):  # the queue task has not run yet
        draft = services.policy_draft_save(
            draft=PolicyVersion(version="2026-12-01", summary_of_changes="x", full_text="y")
        )
        published = services.policy_publish(policy=draft)
    grant(readers["counting"], POPULAR_COUNTING)  # confirmed under the new words
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.policy_change_emails_queue(published.pk) == 0
    assert tasks.policy_change_email_send(published.pk, readers["counting"].pk) is False
    assert mailoutbox == []


def test_with_the_broker_down_the_sweep_sends_them_later(
    readers, counting_rewritten, mailoutbox, django_capture_on_commit_callbacks
):
    with celery_broker(DEAD_REDIS):
        published = publish(django_capture_on_commit_callbacks)
    celery_app.conf.task_always_eager = True  # the broker is back (tasks run in-process)
    assert mailoutbox == []
    published.refresh_from_db()
    assert published.is_published  # the publication stands
    assert published.emails_queued_at is None  # left for the sweep
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.policy_change_emails_queue_due() == 1
    assert [message.to for message in mailoutbox] == [["counting@example.org"]]


def test_reading_history_is_asked_about_through_its_level(
    readers, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.PRIVACY_HISTORY_RETENTION_DAYS = 60
    publish(django_capture_on_commit_callbacks)
    # Readers at "Topics + reading history": the one who also counts and the history-only one.
    assert sorted(m.to[0] for m in mailoutbox) == ["counting@example.org", "history@example.org"]
    assert "Keep my reading history" in mailoutbox[0].body


def test_the_email_record_is_the_readers_data(
    readers, counting_rewritten, mailoutbox, django_capture_on_commit_callbacks
):
    publish(django_capture_on_commit_callbacks)
    entry = category("policy_change_emails")
    rows = entry.rows_for(user=readers["counting"])
    assert [row["policy_version"] for row in rows] == ["2026-12-01"]
    assert entry.count_for(user=readers["history_only"]) == 0
    assert entry.erase_for(user=readers["counting"]) == 1
    assert not PolicyChangeEmail.objects.exists()


def test_turning_history_off_before_the_change_means_no_email(
    readers, settings, mailoutbox, django_capture_on_commit_callbacks
):
    preferences_set_level(
        user=readers["history_only"], level="topics", source="preferences", signals=NO_SIGNALS
    )
    settings.PRIVACY_HISTORY_RETENTION_DAYS = 60
    publish(django_capture_on_commit_callbacks)
    assert [m.to[0] for m in mailoutbox] == ["counting@example.org"]
