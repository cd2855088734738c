"""Migration 0013 ties every receipt written before it to the version it names, so a version
that was dated in the past no longer claims the receipts given before it existed."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from privacy.models import ConsentRecord, PolicyVersion
from privacy.purposes import POPULAR_COUNTING, PURPOSES
from privacy.selectors import consents_current

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = ("privacy", "0011_readers_per_level_release")


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_receipts_are_tied_to_the_version_they_name_and_versions_keep_their_dates():
    apps = migrate([BEFORE])
    OldVersion = apps.get_model("privacy", "PolicyVersion")
    OldReceipt = apps.get_model("privacy", "ConsentRecord")
    OldUser = apps.get_model("accounts", "User")
    now = timezone.now()
    OldVersion.objects.get_or_create(
        version="2026-11-01",
        defaults={
            "published_at": now - timedelta(days=60),
            "summary_of_changes": "First version.",
            "full_text": "First.",
        },
    )
    # Saved today but dated ten days back, changing purposes: the old check let it claim
    # the receipt given five days ago under the first version.
    OldVersion.objects.create(
        version="2026-11-20",
        published_at=now - timedelta(days=10),
        summary_of_changes="Counting changed.",
        full_text="Second.",
        changes_purposes=True,
    )
    OldVersion.objects.create(
        version="2027-01-01",
        published_at=now + timedelta(days=10),
        summary_of_changes="Later.",
        full_text="Third.",
    )
    for name, version, tag in (
        ("first", "2026-11-01", "a"),
        ("second", "2026-11-20", "b"),
        ("unknown", "1999-01-01", "c"),
    ):
        OldReceipt.objects.create(
            user=OldUser.objects.create(email=f"{name}@example.org", password="!"),
            purpose=POPULAR_COUNTING.key,
            granted=True,
            policy_version=version,
            notice_sha256="0" * 64,
            browser_signal=False,
            source="preferences",
            created_at=now - timedelta(days=5),
            record_hash=tag * 64,
        )

    executor = MigrationExecutor(connection)
    migrate(executor.loader.graph.leaf_nodes())

    receipts = {r.user.email: r for r in ConsentRecord.objects.select_related("policy", "user")}
    readers = {email: receipt.user for email, receipt in receipts.items()}
    assert receipts["first@example.org"].policy.version == "2026-11-01"
    assert receipts["second@example.org"].policy.version == "2026-11-20"
    assert receipts["unknown@example.org"].policy is None
    # The receipt given under the first version no longer counts; the one under the second does.
    assert consents_current(user=readers["first@example.org"])[POPULAR_COUNTING.key] is False
    assert consents_current(user=readers["second@example.org"])[POPULAR_COUNTING.key] is True
    assert consents_current(user=readers["unknown@example.org"])[POPULAR_COUNTING.key] is False

    second = PolicyVersion.objects.get(version="2026-11-20")
    assert second.takes_effect_at == second.published_at == now - timedelta(days=10)
    assert second.changed_purposes == list(PURPOSES)
    assert second.emails_queued_at is not None  # nobody is emailed about changes made before
    assert PolicyVersion.objects.get(version="2026-11-01").changed_purposes == []
    scheduled = PolicyVersion.objects.get(version="2027-01-01")
    assert scheduled.published_at <= timezone.now() < scheduled.takes_effect_at
