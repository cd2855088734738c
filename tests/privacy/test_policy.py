"""Versioned policies: public pages with the changes, and re-consent after a purpose change."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from privacy.models import ConsentRecord, PolicyVersion, SignalEvent
from privacy.purposes import POPULAR_COUNTING
from privacy.registry import categories
from privacy.selectors import consents_current, purposes_to_reconfirm
from tests.factories import reader_choices

pytestmark = pytest.mark.django_db


def publish(version: str, *, changes_purposes: bool, text: str, when=None) -> PolicyVersion:
    return PolicyVersion.objects.create(
        version=version,
        published_at=when or timezone.now(),
        summary_of_changes=f"Changes in {version}.",
        full_text=text,
        changes_purposes=changes_purposes,
    )


@pytest.fixture
def counting_reader(client, reader):
    reader_choices(reader, counting=True)
    client.force_login(reader)
    return reader


def choice(purpose, turn_on: bool) -> dict:
    return {
        "purpose": purpose.key,
        "notice": purpose.notice_sha256,
        "turn_on": "1" if turn_on else "0",
    }


def test_the_public_policy_page_shows_the_first_version(client):
    html = client.get(reverse("privacy:policy")).content.decode()
    assert "Version 2026-11-01" in html
    assert "Global Privacy Control" in html


def test_a_new_version_shows_what_changed_and_keeps_earlier_ones(client):
    first = PolicyVersion.objects.get()
    kept = first.paragraphs()[0]
    publish("2026-12-01", changes_purposes=False, text=f"{kept}\n\nA brand new paragraph.")
    html = client.get(reverse("privacy:policy")).content.decode()
    assert "Version 2026-12-01" in html
    assert '<ins><span class="visually-hidden">Added: </span>A brand new paragraph.</ins>' in html
    assert "Removed: </span>" in html  # the first version's other paragraphs went
    earlier = client.get(reverse("privacy:policy_version", args=["2026-11-01"]))
    assert "an earlier version" in earlier.content.decode()


def test_a_scheduled_version_is_not_shown_before_it_takes_effect(client):
    publish(
        "2027-01-01", changes_purposes=True, text="Later.", when=timezone.now() + timedelta(days=30)
    )
    assert "Version 2026-11-01" in client.get(reverse("privacy:policy")).content.decode()
    assert client.get(reverse("privacy:policy_version", args=["2027-01-01"])).status_code == 404


def test_an_unknown_version_is_404(client):
    assert client.get(reverse("privacy:policy_version", args=["1999-01-01"])).status_code == 404


def test_a_purpose_change_pauses_consents_until_each_is_confirmed(
    client, counting_reader, article, read_page
):
    publish("2026-12-01", changes_purposes=True, text="Counting now also covers newsletters.")
    # Until the reader answers, the earlier grants count as withdrawn: nothing is recorded.
    assert consents_current(user=counting_reader)[POPULAR_COUNTING.key] is False
    home = client.get(reverse("news:home")).content.decode()
    assert "Our privacy policy changed" in home
    read_page(client, article)
    assert not SignalEvent.objects.exists()

    client.post(reverse("privacy:consent_choice"), choice(POPULAR_COUNTING, True))
    receipt = ConsentRecord.objects.filter(
        user=counting_reader, purpose=POPULAR_COUNTING.key
    ).latest("created_at")
    assert receipt.granted and receipt.policy_version == "2026-12-01"
    read_page(client, article)
    assert SignalEvent.objects.count() == 1
    # Reading history, granted by the level, still waits for its own answer.
    assert purposes_to_reconfirm(user=counting_reader) == ["reading_history"]


def test_leaving_a_purpose_off_records_it_and_ends_the_banner(client, counting_reader):
    from privacy.purposes import READING_HISTORY

    publish("2026-12-01", changes_purposes=True, text="Changed.")
    client.post(reverse("privacy:consent_choice"), choice(POPULAR_COUNTING, False))
    client.post(reverse("privacy:consent_choice"), choice(READING_HISTORY, False))
    latest = ConsentRecord.objects.filter(
        user=counting_reader, purpose=POPULAR_COUNTING.key
    ).latest("created_at")
    assert latest.granted is False
    assert purposes_to_reconfirm(user=counting_reader) == []
    assert "Our privacy policy changed" not in client.get(reverse("news:home")).content.decode()


def test_a_version_that_changes_no_purpose_asks_nothing(client, counting_reader):
    publish("2026-12-01", changes_purposes=False, text="Clearer words.")
    assert consents_current(user=counting_reader)[POPULAR_COUNTING.key] is True
    assert "Our privacy policy changed" not in client.get(reverse("news:home")).content.decode()


def test_a_forged_notice_on_reconfirmation_changes_nothing(client, counting_reader):
    publish("2026-12-01", changes_purposes=True, text="Changed.")
    before = ConsentRecord.objects.count()
    data = {**choice(POPULAR_COUNTING, True), "notice": "f" * 64}
    response = client.post(reverse("privacy:consent_choice"), data, follow=True)
    assert "has changed since it was shown" in response.content.decode()
    assert ConsentRecord.objects.count() == before


def test_what_we_collect_lists_every_registry_category_with_its_retention(client, settings):
    settings.PRIVACY_HISTORY_RETENTION_DAYS = 61
    html = client.get(reverse("privacy:what_we_collect")).content.decode()
    for entry in categories():
        assert entry.title.replace('"', "&quot;") in html
    assert "61 days" in html
    assert "Count my reads toward &quot;popular&quot;" in html


def test_admins_publish_versions_but_cannot_rewrite_one_in_effect(client, db):
    from tests.factories import AdminFactory

    client.force_login(AdminFactory())
    current = PolicyVersion.objects.get()
    assert client.get(reverse("admin:privacy_policyversion_changelist")).status_code == 200
    response = client.post(
        reverse("admin:privacy_policyversion_change", args=[current.pk]),
        {"version": current.version, "summary_of_changes": "Rewritten", "full_text": "New"},
    )
    assert response.status_code == 403
    current.refresh_from_db()
    assert current.summary_of_changes == "First version."
    scheduled = publish(
        "2027-01-01", changes_purposes=False, text="Later.", when=timezone.now() + timedelta(days=3)
    )
    page = client.get(reverse("admin:privacy_policyversion_change", args=[scheduled.pk]))
    assert page.status_code == 200 and "Save" in page.content.decode()


def test_editors_cannot_publish_policy_versions(client, editor):
    client.force_login(editor)
    assert client.get(reverse("admin:privacy_policyversion_changelist")).status_code == 403
