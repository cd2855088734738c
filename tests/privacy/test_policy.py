"""Versioned policies: drafts and publication, public pages with word-level changes, and
re-consent for exactly the purposes a version changed, tied to the version it was given under.

A purpose's notice changes here as it does on a real site: its period is a setting
(`PRIVACY_SIGNAL_RETENTION_HOURS` is in "count my reads toward popular"), changed before the
new version is published."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from privacy import services
from privacy.browser_signals import NO_SIGNALS
from privacy.models import ConsentRecord, PolicyVersion, ReadingHistoryEntry, SignalEvent
from privacy.purposes import POPULAR_COUNTING, READING_HISTORY, SWITCHABLE_PURPOSES
from privacy.registry import categories
from privacy.selectors import consents_current, purposes_to_reconfirm
from tests.factories import AdminFactory, reader_choices

pytestmark = pytest.mark.django_db


def publish(
    version: str, *, text: str = "Clearer words.", when=None, summary: str = ""
) -> PolicyVersion:
    """Write a draft and publish it, as the privacy officer does in the admin."""
    draft = services.policy_draft_save(
        draft=PolicyVersion(
            version=version,
            takes_effect_at=when,
            summary_of_changes=summary or f"Changes in {version}.",
            full_text=text,
        )
    )
    return services.policy_publish(policy=draft)


@pytest.fixture
def counting_reader(client, reader):
    reader_choices(reader, counting=True)
    client.force_login(reader)
    return reader


@pytest.fixture
def counting_rewritten(settings):
    """The notice of "count my reads toward popular" now says 24 hours, not 48."""
    assert settings.PRIVACY_SIGNAL_RETENTION_HOURS == 48
    settings.PRIVACY_SIGNAL_RETENTION_HOURS = 24


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


def test_a_new_version_marks_the_words_that_changed_and_keeps_earlier_ones(client):
    first = PolicyVersion.objects.get()
    kept, reworded = first.paragraphs()[0], first.paragraphs()[1]
    rest = first.paragraphs()[2:]
    new_text = "\n\n".join(
        [kept, reworded.replace("display name", "chosen name"), *rest, "A brand new paragraph."]
    )
    publish("2026-12-01", text=new_text)
    html = client.get(reverse("privacy:policy")).content.decode()
    assert "Version 2026-12-01" in html
    # One word changed in a paragraph: that word is marked, not the whole paragraph.
    assert '<del><span class="visually-hidden">Removed: </span>display</del>' in html
    assert '<ins><span class="visually-hidden">Added: </span>chosen</ins>' in html
    assert "your email address, your" in html  # the paragraph's other words, unmarked
    assert '<ins><span class="visually-hidden">Added: </span>A brand new paragraph.</ins>' in html
    earlier = client.get(reverse("privacy:policy_version", args=["2026-11-01"]))
    assert "an earlier version" in earlier.content.decode()


def test_the_diff_is_escaped(client):
    publish("2026-12-01", text="We <script>alert(1)</script> nothing.")
    html = client.get(reverse("privacy:policy")).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_scheduled_version_is_not_shown_before_it_takes_effect(client):
    later = timezone.now() + timedelta(days=30)
    publish("2027-01-01", text="Later.", when=later)
    assert "Version 2026-11-01" in client.get(reverse("privacy:policy")).content.decode()
    assert client.get(reverse("privacy:policy_version", args=["2027-01-01"])).status_code == 404
    with time_machine.travel(later + timedelta(minutes=1)):
        assert "Version 2027-01-01" in client.get(reverse("privacy:policy")).content.decode()


def test_an_unknown_version_is_404(client):
    assert client.get(reverse("privacy:policy_version", args=["1999-01-01"])).status_code == 404


# --- Taking effect, and receipts tied to their version ------------------------------------


def test_a_version_dated_in_the_past_takes_effect_when_published(
    client, counting_reader, counting_rewritten, article, read_page
):
    # The reader turned counting on yesterday, under the first version's words.
    yesterday = timezone.now() - timedelta(days=1)
    ConsentRecord.objects.filter(user=counting_reader).update(created_at=yesterday)
    # A version dated two days ago that changes those words: under the old time comparison,
    # the reader's grant (given after that date) counted as given under the new text.
    published = publish("2026-11-30", when=timezone.now() - timedelta(days=2))
    assert published.takes_effect_at == published.published_at
    assert published.changed_purposes == [POPULAR_COUNTING.key]
    assert consents_current(user=counting_reader)[POPULAR_COUNTING.key] is False
    assert purposes_to_reconfirm(user=counting_reader) == [POPULAR_COUNTING.key]
    read_page(client, article)
    assert not SignalEvent.objects.exists()


def test_receipts_name_the_version_they_were_given_under(counting_reader, counting_rewritten):
    first = PolicyVersion.objects.get()
    receipt = ConsentRecord.objects.get(user=counting_reader, purpose=POPULAR_COUNTING.key)
    assert receipt.policy == first and receipt.policy_version == first.version
    second = publish("2026-12-01")
    renewed = services.consent_set(
        user=counting_reader,
        purpose=POPULAR_COUNTING.key,
        granted=True,
        source="privacy_center",
        signals=NO_SIGNALS,
    )
    assert renewed.policy == second and renewed.policy_version == "2026-12-01"


def test_a_new_version_cannot_take_effect_before_a_scheduled_one():
    later = timezone.now() + timedelta(days=10)
    publish("2027-01-01", when=later)
    draft = services.policy_draft_save(
        draft=PolicyVersion(version="2026-12-15", summary_of_changes="x", full_text="y")
    )
    with pytest.raises(ValidationError, match="must take effect after it"):
        services.policy_publish(policy=draft)
    draft.refresh_from_db()
    assert draft.published_at is None  # still a draft: nothing published


def test_a_published_version_cannot_be_changed_or_deleted_by_any_path():
    published = publish("2026-12-01")
    published.full_text = "Rewritten afterwards."
    with pytest.raises(ValidationError, match="cannot be changed or deleted"):
        services.policy_draft_save(draft=published)
    with pytest.raises(ValidationError, match="cannot be changed or deleted"):
        services.policy_draft_delete(policy=published)
    with pytest.raises(ValidationError, match="already published"):
        services.policy_publish(policy=published)
    published.refresh_from_db()
    assert published.full_text == "Clearer words."


# --- Asking again for exactly what changed --------------------------------------------------


def test_only_the_purpose_whose_notice_changed_is_asked_again(
    client, counting_reader, counting_rewritten, article, read_page
):
    publish("2026-12-01", summary="Raw counting entries are deleted sooner.")
    # Counting is off until confirmed; reading history, whose words did not change, stays on.
    assert purposes_to_reconfirm(user=counting_reader) == [POPULAR_COUNTING.key]
    assert consents_current(user=counting_reader)[READING_HISTORY.key] is True
    assert "Our privacy policy changed" in client.get(reverse("news:home")).content.decode()
    read_page(client, article)
    assert ReadingHistoryEntry.objects.filter(user=counting_reader).count() == 1
    assert not SignalEvent.objects.exists()

    html = client.get(reverse("privacy:consents")).content.decode()
    assert 'id="reconfirm-popular_counting"' in html
    assert 'id="reconfirm-reading_history"' not in html
    assert "Raw counting entries are deleted sooner." in html  # the version's own summary
    # What changed for it, word by word: 48 became 24, nothing else.
    assert '<del><span class="visually-hidden">Removed: </span>48</del>' in html
    assert '<ins><span class="visually-hidden">Added: </span>24</ins>' in html
    assert "Before: “…deleted once counted, within 48 hours. If it stays…”" in html
    assert "Now: “…deleted once counted, within 24 hours. If it stays…”" in html


def test_confirming_again_counts_under_the_new_version(
    client, counting_reader, counting_rewritten, article, read_page
):
    publish("2026-12-01")
    client.post(reverse("privacy:consent_choice"), choice(POPULAR_COUNTING, True))
    receipt = ConsentRecord.objects.filter(
        user=counting_reader, purpose=POPULAR_COUNTING.key
    ).latest("created_at")
    assert receipt.granted and receipt.policy_version == "2026-12-01"
    assert receipt.notice_sha256 == POPULAR_COUNTING.notice_sha256  # the 24-hour words
    read_page(client, article)
    assert SignalEvent.objects.count() == 1
    assert purposes_to_reconfirm(user=counting_reader) == []
    assert "Our privacy policy changed" not in client.get(reverse("news:home")).content.decode()


def test_leaving_a_purpose_off_records_it_and_ends_the_banner(
    client, counting_reader, counting_rewritten
):
    publish("2026-12-01")
    client.post(reverse("privacy:consent_choice"), choice(POPULAR_COUNTING, False))
    latest = ConsentRecord.objects.filter(
        user=counting_reader, purpose=POPULAR_COUNTING.key
    ).latest("created_at")
    assert latest.granted is False
    assert purposes_to_reconfirm(user=counting_reader) == []
    assert "Our privacy policy changed" not in client.get(reverse("news:home")).content.decode()


def test_a_version_that_changes_no_notice_asks_nothing(client, counting_reader):
    published = publish("2026-12-01", text="Clearer words everywhere.")
    assert published.changed_purposes == []
    assert consents_current(user=counting_reader)[POPULAR_COUNTING.key] is True
    assert "Our privacy policy changed" not in client.get(reverse("news:home")).content.decode()


def test_a_scheduled_change_asks_nothing_until_it_takes_effect(counting_reader, counting_rewritten):
    later = timezone.now() + timedelta(days=3)
    publish("2026-12-05", when=later)
    assert consents_current(user=counting_reader)[POPULAR_COUNTING.key] is True
    with time_machine.travel(later + timedelta(seconds=1)):
        assert consents_current(user=counting_reader)[POPULAR_COUNTING.key] is False


def test_a_forged_notice_on_reconfirmation_changes_nothing(
    client, counting_reader, counting_rewritten
):
    publish("2026-12-01")
    before = ConsentRecord.objects.count()
    data = {**choice(POPULAR_COUNTING, True), "notice": "f" * 64}
    response = client.post(reverse("privacy:consent_choice"), data, follow=True)
    assert "has changed since it was shown" in response.content.decode()
    assert ConsentRecord.objects.count() == before


# --- Every page says the same ---------------------------------------------------------------


def test_a_reader_who_does_not_confirm_has_the_purpose_off_on_every_page(
    client, reader, settings, article, read_page
):
    reader_choices(reader, counting=True)  # "Topics + reading history" and counting
    client.force_login(reader)
    settings.PRIVACY_HISTORY_RETENTION_DAYS = 60  # reading history's words change
    publish("2026-12-01")
    read_page(client, article)
    assert not ReadingHistoryEntry.objects.exists()  # recording stopped
    assert SignalEvent.objects.count() == 1  # counting, unchanged, goes on

    history = client.get(reverse("privacy:history")).content.decode()
    assert "we keep which articles you read" not in history
    assert "We are not recording your reading" in history
    assert "confirm it again" in history

    center = client.get(reverse("privacy:center")).content.decode()
    assert "Keep my reading history</strong>: off until you confirm it again" in center
    assert "Count my reads toward &quot;popular&quot;</strong>: on." in center

    consents = client.get(reverse("privacy:consents")).content.decode()
    assert "It is <strong>off</strong> until you confirm it again" in consents

    preferences = client.get(reverse("accounts:preferences")).content.decode()
    assert 'id="reconfirm-notice"' in preferences
    assert "Keep my reading history: off" in preferences

    profile = client.get(reverse("privacy:profile")).content.decode()
    assert "Your reading history is not used" in profile
    api = client.get("/api/v1/privacy/consents/").json()
    assert api["to_reconfirm"] == [READING_HISTORY.key]
    assert {p["purpose"]: p["granted"] for p in api["purposes"]}[READING_HISTORY.key] is False


def test_saving_preferences_is_no_answer_to_a_policy_change(client, counting_reader, settings):
    from accounts.models import Preferences

    settings.PRIVACY_HISTORY_RETENTION_DAYS = 60
    settings.PRIVACY_SIGNAL_RETENTION_HOURS = 24
    publish("2026-12-01")
    preferences = Preferences.objects.get(user=counting_reader)
    before = ConsentRecord.objects.count()
    response = client.post(
        reverse("accounts:preferences"),
        {
            "topics": [preferences.preferred_topics.first().topic_id],
            "level": "topics_history",  # left as it was shown
            **{f"{p.key}_notice": p.notice_sha256 for p in SWITCHABLE_PURPOSES},
        },
    )
    assert response.status_code == 302
    # Neither purpose was granted nor withdrawn by a save that did not answer the question.
    assert ConsentRecord.objects.count() == before
    assert purposes_to_reconfirm(user=counting_reader) == [
        READING_HISTORY.key,
        POPULAR_COUNTING.key,
    ]


def test_what_we_collect_lists_every_registry_category_with_its_retention(client, settings):
    settings.PRIVACY_HISTORY_RETENTION_DAYS = 61
    html = client.get(reverse("privacy:what_we_collect")).content.decode()
    for entry in categories():
        assert entry.title.replace('"', "&quot;") in html
    assert "61 days" in html
    assert "Count my reads toward &quot;popular&quot;" in html


# --- The admin -------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client):
    client.force_login(AdminFactory())
    return client


def test_published_versions_cannot_be_rewritten_or_deleted_in_the_admin(admin_client):
    current = PolicyVersion.objects.get()
    scheduled = publish("2027-01-01", when=timezone.now() + timedelta(days=3))
    assert admin_client.get(reverse("admin:privacy_policyversion_changelist")).status_code == 200
    for version in (current, scheduled):
        change = reverse("admin:privacy_policyversion_change", args=[version.pk])
        page = admin_client.get(change).content.decode()
        assert 'name="_save"' not in page  # shown read-only
        response = admin_client.post(
            change,
            {"version": version.version, "summary_of_changes": "Rewritten", "full_text": "New"},
        )
        assert response.status_code == 403
        delete = reverse("admin:privacy_policyversion_delete", args=[version.pk])
        assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    bulk = admin_client.post(
        reverse("admin:privacy_policyversion_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [current.pk, scheduled.pk],
            "post": "yes",
        },
    )
    assert bulk.status_code in (200, 403)
    assert PolicyVersion.objects.filter(pk__in=[current.pk, scheduled.pk]).count() == 2
    current.refresh_from_db()
    assert current.summary_of_changes == "First version."


def test_the_add_form_starts_from_the_current_text(admin_client):
    current = PolicyVersion.objects.get()
    page = admin_client.get(reverse("admin:privacy_policyversion_add"))
    assert page.context["adminform"].form.initial["full_text"] == current.full_text
    assert "Publish when saved" in page.content.decode()


def test_drafts_are_edited_and_deleted_then_published_from_the_admin(admin_client):
    current = PolicyVersion.objects.get()
    add = admin_client.post(
        reverse("admin:privacy_policyversion_add"),
        {"version": "2026-12-01", "summary_of_changes": "Draft.", "full_text": current.full_text},
    )
    assert add.status_code == 302
    draft = PolicyVersion.objects.get(version="2026-12-01")
    assert draft.published_at is None
    assert "Version 2026-11-01" in admin_client.get(reverse("privacy:policy")).content.decode()

    change = reverse("admin:privacy_policyversion_change", args=[draft.pk])
    # Asked to take effect yesterday: it takes effect when published, not before.
    yesterday = timezone.localtime() - timedelta(days=1)
    response = admin_client.post(
        change,
        {
            "version": "2026-12-01",
            "takes_effect_at_0": yesterday.strftime("%Y-%m-%d"),
            "takes_effect_at_1": yesterday.strftime("%H:%M:%S"),
            "summary_of_changes": "Shorter sentences.",
            "full_text": current.full_text + "\n\nOne more paragraph.",
            "publish": "on",
        },
        follow=True,
    )
    assert "is published and takes effect now" in response.content.decode()
    draft.refresh_from_db()
    assert draft.published_at is not None and draft.takes_effect_at >= draft.published_at
    assert "Version 2026-12-01" in admin_client.get(reverse("privacy:policy")).content.decode()

    spare = services.policy_draft_save(
        draft=PolicyVersion(version="spare", summary_of_changes="x", full_text="y")
    )
    delete = reverse("admin:privacy_policyversion_delete", args=[spare.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert not PolicyVersion.objects.filter(version="spare").exists()


def test_editors_cannot_publish_policy_versions(client, editor):
    client.force_login(editor)
    assert client.get(reverse("admin:privacy_policyversion_changelist")).status_code == 403


def test_the_admin_action_publishes_drafts_and_says_why_one_cannot_be(admin_client):
    scheduled = publish("2027-01-01", when=timezone.now() + timedelta(days=3))
    draft = services.policy_draft_save(
        draft=PolicyVersion(version="2026-12-10", summary_of_changes="x", full_text="y")
    )
    response = admin_client.post(
        reverse("admin:privacy_policyversion_changelist"),
        {"action": "publish_selected", "_selected_action": [draft.pk]},
        follow=True,
    )
    html = response.content.decode()
    assert "2026-12-10 stays a draft" in html and "must take effect after it" in html
    draft.refresh_from_db()
    assert draft.published_at is None
    later = services.policy_draft_save(
        draft=PolicyVersion(
            version="2027-02-01",
            summary_of_changes="x",
            full_text="y",
            takes_effect_at=scheduled.takes_effect_at + timedelta(days=30),
        )
    )
    admin_client.post(
        reverse("admin:privacy_policyversion_changelist"),
        {"action": "publish_selected", "_selected_action": [later.pk]},
    )
    later.refresh_from_db()
    assert later.is_published and later.takes_effect_at > scheduled.takes_effect_at
