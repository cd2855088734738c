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


class ReadingHistoryEntry(models.Model):
    """One read, kept only for readers at "Topics + reading history" with current consent.

    Which article was read is sealed under the reader's data key; only the time stays in the
    clear, for ordering and the retention purge.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reading_history"
    )
    sealed_article = models.BinaryField()
    read_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-read_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-read_at"], name="history_by_reader"),
            models.Index(fields=["read_at"], name="history_by_age"),
        ]
        constraints = [
            # A read is stored by a queued task; a redelivered task must not add it twice.
            models.UniqueConstraint(fields=["user", "read_at"], name="history_once_per_instant")
        ]

    def __str__(self) -> str:
        return f"Read by reader {self.user_id} at {self.read_at:%Y-%m-%d %H:%M}"


class DailySalt(models.Model):
    """The random key of one day's pseudonyms; destroyed once that day is aggregated, which
    makes the day's events unlinkable to anyone."""

    day = models.DateField(unique=True)
    salt = models.BinaryField()

    def __str__(self) -> str:
        return f"Salt of {self.day}"


class SignalEvent(models.Model):
    """ "This pseudonym read this article on this day", for popularity counts only.

    The pseudonym is HMAC-SHA256(user id) under the day's salt: it links a reader's reads within
    one day (needed to bound each reader's contribution) and to nothing else.
    """

    class ListType(models.TextChoices):
        NONE = "", "Not from a feed"
        PERSONAL = "personal", "Personalized feed"
        NON_PERSONAL = "non_personal", "Non-personal feed"

    day = models.DateField()
    pseudonym = models.CharField(max_length=64)
    article = models.ForeignKey("news.Article", on_delete=models.CASCADE, related_name="+")
    list_type = models.CharField(max_length=20, choices=ListType.choices, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "pseudonym", "article"], name="signal_once_per_day"
            )
        ]
        indexes = [models.Index(fields=["day", "pseudonym"], name="signal_by_day_pseudonym")]

    def __str__(self) -> str:
        return f"Signal on {self.day} for article {self.article_id}"


class AggregateSignal(models.Model):
    """A differentially private count released for one day: per article or per topic."""

    class Kind(models.TextChoices):
        ARTICLE = "article", "Reads per article"
        TOPIC = "topic", "Reads per topic"

    day = models.DateField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    article = models.ForeignKey(
        "news.Article", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    topic = models.ForeignKey(
        "news.Topic", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    noisy_count = models.IntegerField(help_text="Released count; may be negative or zero.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "kind", "article", "topic"], name="aggregate_once_per_day"
            ),
        ]
        indexes = [models.Index(fields=["kind", "-day"], name="aggregate_recent")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.day}: {self.noisy_count}"


class PrivacyBudgetLedger(models.Model):
    """Every differentially private release, with the privacy it cost."""

    day = models.DateField()
    query = models.CharField(max_length=60)
    epsilon = models.FloatField()
    delta = models.FloatField(default=0.0)
    mechanism = models.CharField(max_length=60)
    contribution_bound = models.PositiveIntegerField()
    released_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-day", "query"]
        constraints = [
            models.UniqueConstraint(fields=["day", "query"], name="ledger_once_per_day_query")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.query}: epsilon {self.epsilon}"
