"""Consent receipts: append-only, hash-chained per reader."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from .purposes import PURPOSES


class ConsentRecord(models.Model):
    class Source(models.TextChoices):
        ONBOARDING = "onboarding", "Onboarding"
        PREFERENCES = "preferences", "Preferences page"
        PRIVACY_CENTER = "privacy_center", "Privacy center"
        POLICY_RECONSENT = "policy_reconsent", "Policy re-consent"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consent_records"
    )
    purpose = models.CharField(max_length=40, choices=[(k, p.title) for k, p in PURPOSES.items()])
    granted = models.BooleanField()
    policy_version = models.CharField(max_length=20)
    notice_sha256 = models.CharField(max_length=64)
    browser_signal = models.BooleanField(help_text="A GPC or DNT signal was present.")
    source = models.CharField(max_length=20, choices=Source.choices)
    created_at = models.DateTimeField(default=timezone.now)
    previous_hash = models.CharField(max_length=64, blank=True)
    record_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["user_id", "created_at", "id"]
        indexes = [models.Index(fields=["user", "purpose", "-created_at"], name="consent_latest")]

    def __str__(self) -> str:
        state = "granted" if self.granted else "withdrawn"
        return f"{self.get_purpose_display()} {state} at {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        # Receipts are append-only: an existing one is never rewritten.
        if self.pk is not None:
            raise ValueError("Consent receipts cannot be changed.")
        super().save(*args, **kwargs)


class UserDataKey(models.Model):
    """A reader's AES-256 data key, stored only wrapped under the master key.

    Deleting the row crypto-shreds the reader: everything sealed with the key, backups included,
    becomes unreadable.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="data_key"
    )
    wrapped_key = models.BinaryField(help_text="Nonce, then the data key sealed with AES-GCM.")
    master_key_id = models.CharField(
        max_length=16, help_text="Fingerprint of the master key that wrapped the data key."
    )
    created_at = models.DateTimeField(default=timezone.now)
    rotated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Data key of reader {self.user_id} (master key {self.master_key_id})"
