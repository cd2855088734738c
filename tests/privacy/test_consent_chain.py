"""The consent receipts' chain is keyed (HMAC under a key in the key store) and anchored by a
daily digest published on the transparency page: a rewrite shows, even with the chain
recomputed."""

import hashlib
import importlib
from io import StringIO
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from privacy import services, tasks
from privacy.browser_signals import BrowserSignals
from privacy.crypto import consent_chain_key
from privacy.models import ConsentChainDigest, ConsentRecord, KeyStoreSecret
from privacy.purposes import DIGEST, POPULAR_COUNTING
from tests.factories import ReaderFactory

pytestmark = pytest.mark.django_db
rekey = importlib.import_module("privacy.migrations.0010_rekey_consent_chain_drop_main_keys")


def receipts_for(reader, count=3) -> list[ConsentRecord]:
    for granted in [True, False, True][:count]:
        services.consent_set(
            user=reader,
            purpose=DIGEST.key,
            granted=granted,
            source="privacy_center",
            signals=BrowserSignals(),
        )
    return list(ConsentRecord.objects.filter(user=reader).order_by("created_at", "id"))


def rewrite_chain(receipts: list[ConsentRecord], *, link) -> None:
    """As someone who can write to the database would: change the first receipt, then
    recompute every hash after it with `link`."""
    previous = ""
    for index, receipt in enumerate(receipts):
        if index == 0:
            receipt.granted = not receipt.granted
        receipt.previous_hash = previous
        receipt.record_hash = link(receipt)
        ConsentRecord.objects.filter(pk=receipt.pk).update(
            granted=receipt.granted,
            previous_hash=receipt.previous_hash,
            record_hash=receipt.record_hash,
        )
        previous = receipt.record_hash


def unkeyed_sha256(receipt) -> str:
    # The chain's old, unkeyed link: anyone can compute it.
    return services.unkeyed_receipt_hash(receipt)


def problems() -> list[str]:
    return [problem.problem for problem in services.consent_chains_verify().problems]


def test_receipts_are_chained_with_a_key_kept_in_the_key_store(reader):
    receipts = receipts_for(reader)
    key = consent_chain_key()
    assert KeyStoreSecret.objects.filter(name="consent-chain").exists()
    assert "keystore_secret" not in connections["default"].introspection.table_names()
    assert receipts[0].record_hash != unkeyed_sha256(receipts[0])
    assert receipts[0].record_hash == services.receipt_hash(receipts[0], key=key)
    assert receipts[1].previous_hash == receipts[0].record_hash
    assert problems() == []


def test_a_rewritten_receipt_fails_verification_even_with_a_recomputed_chain(reader):
    rewrite_chain(receipts_for(reader), link=unkeyed_sha256)
    found = problems()
    assert found and all("keyed hash" in problem for problem in found)
    with pytest.raises(CommandError, match="problem"):
        call_command("verify_consent_chains", stdout=StringIO(), stderr=StringIO())


def test_a_rewrite_made_with_the_chain_key_shows_against_an_earlier_digest(reader):
    receipts = receipts_for(reader)
    services.consent_digest_publish(day=timezone.localdate())
    assert problems() == []

    key = consent_chain_key()  # an insider holding the key store too
    rewrite_chain(receipts, link=lambda receipt: services.receipt_hash(receipt, key=key))
    assert [p for p in problems() if "digest of" in p]


def test_a_removed_receipt_shows_against_an_earlier_digest(reader):
    receipts = receipts_for(reader)
    services.consent_digest_publish(day=timezone.localdate())
    ConsentRecord.objects.filter(pk=receipts[-1].pk).delete()
    assert [p for p in problems() if "digest of" in p]


def test_an_erased_readers_chain_leaves_earlier_digests_valid(
    reader, django_capture_on_commit_callbacks
):
    receipts_for(reader)
    receipts_for(ReaderFactory(), count=1)
    services.consent_digest_publish(day=timezone.localdate())
    with django_capture_on_commit_callbacks(execute=True):
        reader.delete()  # an account erasure removes the receipts with the account
    assert problems() == []


def test_the_daily_digest_is_published_once_and_shown_on_the_transparency_page(client, reader):
    receipts_for(reader)
    yesterday_digest = tasks.consent_digest_publish()  # beat runs it just after midnight
    assert tasks.consent_digest_publish() == yesterday_digest  # a second run changes nothing
    assert ConsentChainDigest.objects.count() == 1

    today = services.consent_digest_publish(day=timezone.localdate())
    assert today.chains == 1 and today.receipts == 3
    # Chains are named by a keyed code, not by the reader's id.
    assert [len(code) for code in today.heads] == [64] and str(reader.pk) not in today.heads

    page = client.get(reverse("privacy:transparency")).content.decode()
    assert today.digest in page and yesterday_digest in page


def test_unkeyed_receipts_are_rekeyed_once_by_the_data_migration_and_it_is_recorded(reader):
    receipts = receipts_for(reader, count=2) + receipts_for(ReaderFactory(), count=1)
    # As written before the chain was keyed.
    by_user: dict[int, str] = {}
    for receipt in receipts:
        receipt.previous_hash = by_user.get(receipt.user_id, "")
        receipt.record_hash = unkeyed_sha256(receipt)
        ConsentRecord.objects.filter(pk=receipt.pk).update(
            previous_hash=receipt.previous_hash, record_hash=receipt.record_hash
        )
        by_user[receipt.user_id] = receipt.record_hash
    assert problems()

    editor = SimpleNamespace(connection=connections["default"])
    rekey.rekey_consent_chain(apps, editor)
    rekey.rekey_consent_chain(apps, editor)  # once: a second run changes nothing

    assert problems() == []
    report = services.consent_chains_verify()
    assert report.rekeyed == 3
    for receipt in receipts:
        assert ConsentRecord.objects.get(pk=receipt.pk).unkeyed_hash == receipt.record_hash
    out = StringIO()
    call_command("verify_consent_chains", stdout=out)
    assert "3 were re-keyed from the unkeyed chain" in out.getvalue()


def test_an_unkeyed_receipt_altered_before_rekeying_stops_the_migration(reader):
    [receipt] = receipts_for(reader, count=1)
    ConsentRecord.objects.filter(pk=receipt.pk).update(
        record_hash=hashlib.sha256(b"forged").hexdigest(), purpose=POPULAR_COUNTING.key
    )
    with pytest.raises(RuntimeError, match="altered before the chain was keyed"):
        rekey.rekey_consent_chain(apps, SimpleNamespace(connection=connections["default"]))
