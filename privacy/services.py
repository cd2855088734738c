"""Writes of consent receipts, and the check of their hash chains."""

import hashlib
import json
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from .browser_signals import BrowserSignals
from .models import ConsentRecord
from .purposes import POLICY_VERSION, PURPOSES
from .selectors import consents_current


def _receipt_hash(record: ConsentRecord) -> str:
    canonical = json.dumps(
        {
            "user": record.user_id,
            "purpose": record.purpose,
            "granted": record.granted,
            "policy_version": record.policy_version,
            "notice_sha256": record.notice_sha256,
            "browser_signal": record.browser_signal,
            "source": record.source,
            "created_at": record.created_at.isoformat(),
            "previous_hash": record.previous_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@transaction.atomic
def consent_set(
    *,
    user,
    purpose: str,
    granted: bool,
    source: str,
    signals: BrowserSignals,
    notice_sha256: str | None = None,
) -> ConsentRecord | None:
    """Record a grant or withdrawal, if it changes the reader's current state.

    `notice_sha256` is the hash of the notice the reader was shown; when given it must match
    the current notice, so a receipt never claims agreement to words the reader did not see.
    Returns the new receipt, or None when nothing changed.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"Unknown purpose: {purpose}")
    current_notice = PURPOSES[purpose].notice_sha256
    if notice_sha256 is not None and notice_sha256 != current_notice:
        raise ValueError("The notice shown is not the current one.")
    # Lock the reader's row so two receipts never chain onto the same predecessor.
    get_user_model().objects.select_for_update().filter(pk=user.pk).exists()
    previous = ConsentRecord.objects.filter(user=user).order_by("-created_at", "-id").first()
    latest_for_purpose = (
        ConsentRecord.objects.filter(user=user, purpose=purpose)
        .order_by("-created_at", "-id")
        .first()
    )
    current = bool(latest_for_purpose and latest_for_purpose.granted)
    if latest_for_purpose is not None and current == granted:
        return None
    if latest_for_purpose is None and not granted:
        return None  # off by default: nothing to withdraw
    record = ConsentRecord(
        user=user,
        purpose=purpose,
        granted=granted,
        policy_version=POLICY_VERSION,
        notice_sha256=current_notice,
        browser_signal=signals.present,
        source=source,
        created_at=timezone.now(),
        previous_hash=previous.record_hash if previous else "",
    )
    record.record_hash = _receipt_hash(record)
    record.full_clean()
    record.save()
    return record


def consents_set(
    *, user, wanted: dict[str, bool], source: str, signals: BrowserSignals
) -> list[ConsentRecord]:
    """Apply several purpose switches at once; returns the receipts written."""
    with transaction.atomic():
        current = consents_current(user=user)
        written = []
        for purpose, granted in wanted.items():
            if current.get(purpose, False) != granted:
                record = consent_set(
                    user=user, purpose=purpose, granted=granted, source=source, signals=signals
                )
                if record:
                    written.append(record)
        return written


@dataclass(frozen=True)
class ChainProblem:
    user_id: int
    record_id: int
    problem: str


def consent_chains_verify() -> tuple[int, list[ChainProblem]]:
    """Recompute every reader's receipt chain. Returns (receipts checked, problems)."""
    problems: list[ChainProblem] = []
    checked = 0
    previous_by_user: dict[int, str] = {}
    for record in ConsentRecord.objects.order_by("user_id", "created_at", "id").iterator():
        checked += 1
        expected_previous = previous_by_user.get(record.user_id, "")
        if record.previous_hash != expected_previous:
            problems.append(
                ChainProblem(record.user_id, record.pk, "does not follow the previous receipt")
            )
        if _receipt_hash(record) != record.record_hash:
            problems.append(
                ChainProblem(record.user_id, record.pk, "content does not match its hash")
            )
        previous_by_user[record.user_id] = record.record_hash
    return checked, problems
