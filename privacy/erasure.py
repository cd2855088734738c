"""Erasure: of one category, or of the whole account, proven by the registry afterwards.

Account erasure destroys the reader's data key first (so every sealed copy, backups included,
is unreadable from that moment), runs every registry erase handler in one transaction, ends
every session (they cascade with the account), and leaves a single activity-log event that
names nobody. Then it asks every registry collector again for the erased identity and reports
what it found: zero everywhere, or the erasure is not reported as complete.

The event is linked to the request by a random receipt number, shown to the reader in the
receipt and the email and never stored: the event keeps only its SHA-256. A code derived from
the account id (an HMAC of a small integer) would be reversed by trying every id in seconds by
anyone holding the key; 128 random bits cannot be tried. So the site can still prove it did
what was asked, to whoever shows the number (the reader, or anyone they give it to), and to
nobody else.
"""

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from .audit import Action, audit_record
from .crypto import data_key_destroy
from .models import PrivacyAuditEvent
from .registry import categories, category
from .signals import reader_data_changed_send

CONFIRMATION_WORD = "DELETE"
DATA_KEY_CATEGORY = "data_key"
# 128 bits: as unguessable as a data key, so the event it fingerprints links to no one.
RECEIPT_ID_BYTES = 16
Actor = PrivacyAuditEvent.Actor

# What stays after an account erasure, and why: shown on the receipt and in the email.
KEPT_AFTER_ERASURE: tuple[tuple[str, str], ...] = (
    (
        "One activity-log entry: the time, the categories erased, and a fingerprint of the "
        "receipt number above, which only you were given (not your name, email address or "
        "account number, and nothing it can be worked out from).",
        "To prove we carried out your request (legal obligation), to you or anyone you show "
        "the receipt number to; deleted after {audit_days} days.",
    ),
    (
        'Reads you counted toward "popular" on days already counted.',
        "They exist only inside noisy daily totals that cannot be linked to anyone.",
    ),
    (
        "Your encryption key, in backups of our key store taken before today.",
        "Those backups are kept at most {key_store_backup_days} days; once they are gone, no "
        "copy of your encrypted data in any backup can be read by anyone, us included.",
    ),
)


class ErasureRefused(ValidationError):
    """The request was refused before anything was erased."""


@dataclass(frozen=True)
class ErasureReceipt:
    erased_at: datetime
    erased: dict[str, int]  # category title -> rows removed
    remaining: dict[str, int] = field(default_factory=dict)  # title -> rows found afterwards
    kept: tuple[tuple[str, str], ...] = ()
    # Shown to the reader once, in the receipt and its email; the site keeps only its hash.
    receipt_id: str = ""

    @property
    def complete(self) -> bool:
        return not any(self.remaining.values())

    def as_session_data(self) -> dict:
        """Counts and names only: safe to keep in the visitor's (now anonymous) session."""
        return {
            "erased_at": self.erased_at.isoformat(),
            "erased": self.erased,
            "remaining": self.remaining,
            "kept": [list(item) for item in self.kept],
            "receipt_id": self.receipt_id,
        }


def category_erase(*, user, key: str) -> int:
    """Erase one category a reader may erase on its own; returns how many rows went."""
    try:
        entry = category(key)
    except KeyError as error:
        raise ValidationError("There is no such category of data.") from error
    if not entry.reader_erasable:
        raise ValidationError(
            f"{entry.title} cannot be erased on its own: delete the account to remove it."
        )
    with transaction.atomic():
        removed = entry.erase_for(user=user)
        items = "item" if removed == 1 else "items"
        audit_record(
            user=user,
            action=Action.CATEGORY_ERASED,
            category=key,
            detail=f"{entry.title}: {removed} {items} erased",
        )
        # A page ranked from the erased rows must not be served again.
        reader_data_changed_send(user_id=user.pk)
    return removed


def _kept() -> tuple[tuple[str, str], ...]:
    return tuple(
        (
            what,
            why.format(
                audit_days=settings.PRIVACY_AUDIT_RETENTION_DAYS,
                key_store_backup_days=settings.KEY_STORE_BACKUP_RETENTION_DAYS,
            ),
        )
        for what, why in KEPT_AFTER_ERASURE
    )


def account_erase(*, user, password: str, confirmation: str) -> ErasureReceipt:
    """Erase a reader's account and every piece of data held about them."""
    if not user.is_authenticated or not user.check_password(password or ""):
        raise ErasureRefused("That password is not right. Nothing was erased.")
    if (confirmation or "").strip() != CONFIRMATION_WORD:
        raise ErasureRefused(
            f"Type {CONFIRMATION_WORD} in capitals to confirm. Nothing was erased."
        )
    user_id, email = user.pk, user.email
    ordered = sorted(categories(), key=lambda entry: entry.erase_order)
    receipt_id = secrets.token_urlsafe(RECEIPT_ID_BYTES)
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user_id).exists()
        # First: from here on, every sealed copy is noise.
        key_destroyed = data_key_destroy(user_id=user_id)
        erased = {entry.title: entry.erase_for(user=user) for entry in ordered}
        # Its own category's eraser finds the key already gone: the receipt counts it here.
        erased[category(DATA_KEY_CATEGORY).title] += int(key_destroyed)
        PrivacyAuditEvent.objects.create(
            user=None,
            subject_hash=receipt_fingerprint(receipt_id=receipt_id),
            actor=Actor.READER,
            action=Action.ACCOUNT_ERASED,
            detail=", ".join(entry.key for entry in ordered)[:200],
        )
        reader_data_changed_send(user_id=user_id)
    receipt = ErasureReceipt(
        erased_at=timezone.now(),
        erased=erased,
        remaining=erasure_verify(user_id=user_id, email=email),
        kept=_kept(),
        receipt_id=receipt_id,
    )
    _receipt_send(email=email, receipt=receipt)
    return receipt


def receipt_fingerprint(*, receipt_id: str) -> str:
    """What the activity-log event keeps of a receipt number: its SHA-256, so a copy of the
    database cannot be used to claim someone else's receipt. No key is needed: the number is
    random, so unlike an account id there is nothing to enumerate."""
    return hashlib.sha256(receipt_id.strip().encode()).hexdigest()


def erasure_event_for_receipt(*, receipt_id: str) -> PrivacyAuditEvent | None:
    """The erasure event a receipt number belongs to: how the site proves, when shown the
    number, that it carried out that request and when. None for an unknown number."""
    if not receipt_id or not receipt_id.strip():
        return None
    return PrivacyAuditEvent.objects.filter(
        action=Action.ACCOUNT_ERASED, subject_hash=receipt_fingerprint(receipt_id=receipt_id)
    ).first()


def erasure_verify(*, user_id: int, email: str) -> dict[str, int]:
    """Ask every registry collector for the erased identity; returns rows found per category."""
    ghost = get_user_model()(pk=user_id, email=email)  # never saved: only its id and email
    return {entry.title: len(entry.rows_for(user=ghost)) for entry in categories()}


def _receipt_send(*, email: str, receipt: ErasureReceipt) -> None:
    """The one use of the address after erasure: held in memory until this email is sent."""
    context = {
        "receipt": receipt,
        "site_name": settings.SITE_NAME,
        "key_destroyed": receipt.erased.get(category(DATA_KEY_CATEGORY).title, 0) > 0,
        "key_store_backup_days": settings.KEY_STORE_BACKUP_RETENTION_DAYS,
    }
    send_mail(
        subject=f"{settings.SITE_NAME}: your account has been erased",
        message=render_to_string("privacy/email/erasure_receipt.txt", context),
        from_email=None,
        recipient_list=[email],
    )
