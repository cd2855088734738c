"""Consent receipts: append-only, chained, and checked by verify_consent_chains."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from privacy import services
from privacy.browser_signals import BrowserSignals
from privacy.models import ConsentRecord
from privacy.purposes import DIGEST, POLICY_VERSION, READING_HISTORY
from privacy.selectors import consent_is_current
from tests.factories import ReaderFactory

pytestmark = pytest.mark.django_db
NO_SIGNAL = BrowserSignals()


def grant(user, purpose=DIGEST.key, granted=True, signals=NO_SIGNAL):
    return services.consent_set(
        user=user, purpose=purpose, granted=granted, source="privacy_center", signals=signals
    )


def test_a_grant_writes_a_receipt_with_policy_version_and_notice_hash(reader):
    receipt = grant(reader)
    assert receipt.policy_version == POLICY_VERSION
    assert receipt.notice_sha256 == DIGEST.notice_sha256
    assert receipt.previous_hash == ""
    assert consent_is_current(user=reader, purpose=DIGEST.key)


def test_withdrawing_takes_effect_at_once_and_keeps_the_grant_on_record(reader):
    grant(reader)
    grant(reader, granted=False)
    assert not consent_is_current(user=reader, purpose=DIGEST.key)
    assert ConsentRecord.objects.filter(user=reader).count() == 2


def test_receipts_chain_onto_the_previous_one(reader):
    first = grant(reader)
    second = grant(reader, purpose=READING_HISTORY.key)
    assert second.previous_hash == first.record_hash


def test_a_receipt_cannot_be_changed(reader):
    receipt = grant(reader)
    receipt.granted = False
    with pytest.raises(ValueError, match="cannot be changed"):
        receipt.save()
    receipt.refresh_from_db()
    assert receipt.granted is True


def test_withdrawing_something_never_granted_writes_nothing(reader):
    assert grant(reader, granted=False) is None
    assert not ConsentRecord.objects.exists()


def test_an_unknown_purpose_or_stale_notice_is_refused(reader):
    with pytest.raises(ValueError, match="Unknown purpose"):
        grant(reader, purpose="sell_my_data")
    with pytest.raises(ValueError, match="not the current one"):
        services.consent_set(
            user=reader,
            purpose=DIGEST.key,
            granted=True,
            source="privacy_center",
            signals=NO_SIGNAL,
            notice_sha256="f" * 64,
        )
    assert not ConsentRecord.objects.exists()


def test_the_browser_signal_is_recorded_on_the_receipt(reader):
    receipt = grant(reader, signals=BrowserSignals(gpc=True))
    assert receipt.browser_signal is True


def run_verify() -> str:
    out = StringIO()
    call_command("verify_consent_chains", stdout=out)
    return out.getvalue()


def test_verify_passes_on_untouched_chains():
    for reader in ReaderFactory.create_batch(2):
        grant(reader)
        grant(reader, granted=False)
    assert "All 4 consent receipts verified." in run_verify()


def test_verify_detects_an_edited_receipt(reader):
    grant(reader)
    receipt = grant(reader, granted=False)
    # Someone flips a withdrawal back to a grant directly in the database.
    ConsentRecord.objects.filter(pk=receipt.pk).update(granted=True)
    with pytest.raises(CommandError, match="1 problem"):
        run_verify()


def test_verify_detects_a_removed_receipt_in_the_middle(reader):
    first = grant(reader)
    grant(reader, granted=False)
    grant(reader)
    ConsentRecord.objects.filter(pk=first.pk).delete()
    with pytest.raises(CommandError, match="problem"):
        run_verify()


def test_verify_detects_a_receipt_moved_to_another_policy_version(reader):
    from privacy.models import PolicyVersion

    receipt = grant(reader)
    later = services.policy_publish(
        policy=services.policy_draft_save(
            draft=PolicyVersion(version="2026-12-01", summary_of_changes="x", full_text="y")
        )
    )
    # Someone ties an old grant to a later version in the database, to make it count again.
    ConsentRecord.objects.filter(pk=receipt.pk).update(policy=later)
    with pytest.raises(CommandError, match="1 problem"):
        run_verify()
