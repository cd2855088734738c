"""The incident register: written by superusers only, published on the transparency page once
closed, and each reader marked as affected emailed once, through the site's email and Celery."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from celery.exceptions import Retry
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from privacy.registry import category
from tests.factories import AdminFactory, EditorFactory, ReaderFactory
from tests.mail import FlakyMailServer
from trust import services, tasks
from trust.models import Incident, IncidentNotice

pytestmark = pytest.mark.django_db
SITE = "https://news.example.org"
OCCURRED = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = SITE
    settings.SITE_LAUNCH_DATE = datetime(2026, 11, 1).date()


def incident(**fields) -> Incident:
    values = {
        "title": "A backup copied to the wrong place",
        "summary": "A backup of email addresses was readable by a contractor for two hours.",
        "what_happened": "Internal details for staff.",
        "occurred_at": OCCURRED,
        "discovered_at": OCCURRED + timedelta(hours=2),
        "data_categories": ["email_addresses"],
        "readers_affected_count": 2,
        "actions_taken": "The copy was deleted and access keys were rotated.",
    }
    values.update(fields)
    return services.incident_save(incident=Incident(**values))


def admin_form(**overrides) -> dict:
    data = {
        "title": "Lost laptop",
        "status": "open",
        "summary": "A staff laptop was lost; its disk was encrypted.",
        "what_happened": "Lost on a train.",
        "occurred_at_0": "2027-02-01",
        "occurred_at_1": "09:00:00",
        "discovered_at_0": "2027-02-01",
        "discovered_at_1": "10:00:00",
        "closed_at_0": "",
        "closed_at_1": "",
        "data_categories": ["email_addresses", "preferences"],
        "readers_affected_count": "0",
        "actions_taken": "",
    }
    data.update(overrides)
    return data


# --- Who may write it ------------------------------------------------------------------------


def test_an_editor_can_read_the_register_but_not_add_or_change_it(client):
    existing = incident()
    client.force_login(EditorFactory())
    assert client.get(reverse("admin:trust_incident_changelist")).status_code == 200
    assert client.get(reverse("admin:trust_incident_add")).status_code == 403
    response = client.post(reverse("admin:trust_incident_add"), admin_form())
    assert response.status_code == 403
    change = reverse("admin:trust_incident_change", args=[existing.pk])
    client.post(change, admin_form(title="Rewritten"))
    existing.refresh_from_db()
    assert existing.title == "A backup copied to the wrong place"
    affected = reverse("admin:trust_incident_affected", args=[existing.pk])
    assert client.post(affected, {"emails": "someone@example.org"}).status_code == 403
    assert Incident.objects.count() == 1 and not IncidentNotice.objects.exists()


def test_a_reader_cannot_enter_it(client, reader):
    client.force_login(reader)
    response = client.get(reverse("admin:trust_incident_changelist"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_superuser_registers_an_incident_with_data_categories_from_the_registry(client):
    client.force_login(AdminFactory())
    page = client.get(reverse("admin:trust_incident_add")).content.decode()
    assert category("reading_history").title in page  # the registry's categories to choose
    response = client.post(reverse("admin:trust_incident_add"), admin_form())
    assert response.status_code == 302
    saved = Incident.objects.get()
    assert saved.data_categories == ["email_addresses", "preferences"]
    assert saved.status == Incident.Status.OPEN


def test_a_closed_incident_needs_its_closing_time_and_nothing_is_saved_without_it(client):
    client.force_login(AdminFactory())
    response = client.post(reverse("admin:trust_incident_add"), admin_form(status="closed"))
    assert response.status_code == 200
    assert "A closed incident needs the time it was closed." in response.content.decode()
    assert not Incident.objects.exists()
    with pytest.raises(ValidationError, match="discovered before it happened"):
        incident(discovered_at=OCCURRED - timedelta(days=1))
    with pytest.raises(ValidationError, match="Unknown data categories: shoe_sizes"):
        incident(data_categories=["shoe_sizes"])
    assert not Incident.objects.exists()


# --- Affected readers are emailed once ---------------------------------------------------------


def mark(client, target, emails: str, capture):
    with capture(execute=True):
        return client.post(
            reverse("admin:trust_incident_affected", args=[target.pk]), {"emails": emails}
        )


def test_each_affected_reader_gets_exactly_one_email(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    target = incident()
    ann = ReaderFactory(email="ann@example.org")
    ReaderFactory(email="bob@example.org")
    ReaderFactory(email="carl@example.org")  # not affected
    client.force_login(AdminFactory())

    response = mark(
        client, target, "ann@example.org\nBOB@example.org\n", django_capture_on_commit_callbacks
    )
    assert response.status_code == 302
    assert sorted(m.to[0] for m in mailoutbox) == ["ann@example.org", "bob@example.org"]
    email = mailoutbox[0]
    assert "incident affected your data" in email.subject
    assert "A backup of email addresses was readable" in email.body
    assert "Email addresses" in email.body  # the registry's title of the category
    assert "The copy was deleted" in email.body
    assert f"{SITE}/privacy/transparency/" in email.body
    assert "Internal details for staff." not in email.body
    assert all(n.sent_at for n in IncidentNotice.objects.all())

    # Marked again, with one more reader: only the new one is emailed.
    mark(
        client,
        target,
        "ann@example.org bob@example.org carl@example.org",
        django_capture_on_commit_callbacks,
    )
    assert [m.to[0] for m in mailoutbox[2:]] == ["carl@example.org"]
    # A redelivered message sends nothing.
    notice = IncidentNotice.objects.get(user=ann)
    assert tasks.incident_notice_send(notice.pk) is False
    assert len(mailoutbox) == 3
    assert IncidentNotice.objects.count() == 3


def test_an_unknown_address_changes_nothing(client, mailoutbox, django_capture_on_commit_callbacks):
    target = incident()
    ReaderFactory(email="ann@example.org")
    client.force_login(AdminFactory())
    response = mark(
        client, target, "ann@example.org\nnobody@example.org", django_capture_on_commit_callbacks
    )
    assert response.status_code == 200
    assert "No reader has the address nobody@example.org. Nothing was changed." in (
        response.content.decode()
    )
    assert not IncidentNotice.objects.exists() and mailoutbox == []


def test_a_refused_send_is_retried_and_still_sent_once(settings, mailoutbox):
    settings.EMAIL_BACKEND = "tests.mail.FlakyMailServer"
    FlakyMailServer.refused = 0
    reader = ReaderFactory(email="ann@example.org")
    notice = IncidentNotice.objects.create(incident=incident(), user=reader)
    with pytest.raises(Retry):
        tasks.incident_notice_send.apply(args=[notice.pk])
    notice.refresh_from_db()
    assert notice.sent_at is None and notice.claimed_at is None and mailoutbox == []
    assert tasks.incident_notice_send.apply(args=[notice.pk]).get() is True
    assert tasks.incident_notice_send.apply(args=[notice.pk]).get() is False
    assert [m.to for m in mailoutbox] == [["ann@example.org"]]


def test_a_reader_sees_and_can_have_erased_the_incidents_that_affected_them(reader):
    IncidentNotice.objects.create(incident=incident(), user=reader)
    entry = category("incident_notices")
    [row] = entry.rows_for(user=reader)
    assert row["incident"] == "A backup copied to the wrong place" and row["sent_at"] is None
    assert entry.erase_for(user=reader) == 1
    assert Incident.objects.count() == 1  # the register itself keeps the incident


# --- The transparency page -------------------------------------------------------------------


def transparency(client) -> str:
    response = client.get(reverse("privacy:transparency"))
    assert response.status_code == 200
    return response.content.decode()


def test_the_transparency_page_says_there_were_none_since_launch(client):
    assert "Incidents: 0 since" in transparency(client)
    assert '<time datetime="2026-11-01">1 November 2026</time>' in transparency(client)


def test_a_closed_incident_is_published_with_its_summary_and_an_open_one_only_counted(client):
    incident(title="Still being handled", summary="Not public yet.")
    html = transparency(client)
    assert "Incidents: 1 since" in html and "Not public yet." not in html
    incident(
        status=Incident.Status.CLOSED,
        closed_at=OCCURRED + timedelta(days=1),
    )
    html = transparency(client)
    assert "Incidents: 2 since" in html
    assert "A backup copied to the wrong place" in html
    assert "A backup of email addresses was readable by a contractor for two hours." in html
    assert "Internal details for staff." not in html
    assert "Not public yet." not in html


def test_readers_marked_while_the_broker_is_down_are_emailed_by_the_sweep_once(
    client, mailoutbox, broker_down, django_capture_on_commit_callbacks, caplog
):
    target = incident()
    ReaderFactory(email="ann@example.org")
    ReaderFactory(email="bob@example.org")
    client.force_login(AdminFactory())

    response = mark(
        client, target, "ann@example.org bob@example.org", django_capture_on_commit_callbacks
    )
    # The marking stands and the editor sees no error; nobody was emailed yet.
    assert response.status_code == 302
    assert IncidentNotice.objects.filter(incident=target).count() == 2 and mailoutbox == []
    assert "periodic sweep" in caplog.text

    # A message may still be on its way for a few minutes: the sweep leaves those.
    assert tasks.incident_notices_send_pending.apply().get() == 0
    later = timezone.now() + services.NOTICE_LOST_AFTER + timedelta(minutes=1)
    with time_machine.travel(later):
        assert tasks.incident_notices_send_pending.apply().get() == 2
        assert tasks.incident_notices_send_pending.apply().get() == 0
    assert sorted(m.to[0] for m in mailoutbox) == ["ann@example.org", "bob@example.org"]
    schedule = settings.CELERY_BEAT_SCHEDULE["send-pending-incident-notices"]
    assert schedule["task"] == tasks.incident_notices_send_pending.name
    assert schedule["schedule"] <= 600


def test_the_sweep_keeps_a_notice_the_mail_server_refused_for_its_next_run(settings, mailoutbox):
    settings.EMAIL_BACKEND = "tests.mail.FlakyMailServer"
    FlakyMailServer.refused = 0
    target = incident()
    for email in ("ann@example.org", "bob@example.org"):
        IncidentNotice.objects.create(
            incident=target,
            user=ReaderFactory(email=email),
            queued_at=timezone.now() - services.NOTICE_LOST_AFTER * 2,
        )
    # The first send is refused; the other reader is still emailed.
    assert tasks.incident_notices_send_pending.apply().get() == 1
    assert tasks.incident_notices_send_pending.apply().get() == 1
    assert sorted(m.to[0] for m in mailoutbox) == ["ann@example.org", "bob@example.org"]
    assert IncidentNotice.objects.filter(sent_at__isnull=True).count() == 0
