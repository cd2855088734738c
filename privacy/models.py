"""Personal data held by the privacy core: consent receipts, keys, history, signals, exports,
the activity log; and the public policy versions and DP releases."""

import secrets
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from .purposes import PURPOSES


def random_event_id() -> int:
    # 63 random bits: a collision among a day's events is a one-in-billions event, and unlike
    # a sequence the id says nothing of when, or in which order, events were written.
    return secrets.randbits(63)


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
    # The version the receipt was given under, as `policy_version` names it (that name is in
    # the keyed hash; `consent_chains_verify` checks the two agree). Whether a grant still
    # counts compares this version with the ones that changed the purpose since, never times.
    policy = models.ForeignKey(
        "PolicyVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The policy version in effect when it was given; empty only on a receipt "
        "naming a version that no longer exists (migration 0012).",
    )
    notice_sha256 = models.CharField(max_length=64)
    browser_signal = models.BooleanField(help_text="A GPC or DNT signal was present.")
    source = models.CharField(max_length=20, choices=Source.choices)
    created_at = models.DateTimeField(default=timezone.now)
    previous_hash = models.CharField(max_length=64, blank=True)
    # HMAC-SHA256 under the consent-chain key (in the key store) of the receipt and its
    # predecessor's hash: nobody without that key can write a receipt that verifies.
    record_hash = models.CharField(max_length=64, unique=True)
    unkeyed_hash = models.CharField(
        max_length=64,
        blank=True,
        help_text="The unkeyed SHA-256 this receipt had before the chain was keyed (migration "
        "0010); empty on receipts written since.",
    )

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


class ConsentChainDigest(models.Model):
    """One day's published digest of every reader's consent-receipt chain head.

    Public on the transparency page: anyone who kept a copy can later show that a receipt
    written before it was rewritten or removed. `heads` maps a keyed code of each reader's id
    (not the id) to their chain's head then, so a later check can tell an erased reader's
    chain (gone with their account) from a removed one.
    """

    day = models.DateField(unique=True, help_text="The day whose end the digest covers.")
    covers_until = models.DateTimeField(help_text="Receipts written before this are covered.")
    published_at = models.DateTimeField(default=timezone.now)
    chains = models.PositiveIntegerField()
    receipts = models.PositiveIntegerField()
    heads = models.JSONField(default=dict, blank=True)
    digest = models.CharField(max_length=64)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"Consent-chain digest of {self.day}: {self.digest[:16]}"


class UserDataKey(models.Model):
    """A reader's AES-256 data key, stored only wrapped under the master key, in the key store
    (a database of its own, `newsite.db_routers`).

    Deleting the row crypto-shreds the reader: everything sealed with the key, in every backup
    of the main database, becomes unreadable. The reader is named by id only: no foreign key
    crosses databases, so `data_key_destroy` is called by erasure and on a reader's deletion.
    """

    user_id = models.BigIntegerField(unique=True)
    wrapped_key = models.BinaryField(help_text="Nonce, then the data key sealed with AES-GCM.")
    master_key_id = models.CharField(
        max_length=16, help_text="Fingerprint of the master key that wrapped the data key."
    )
    created_at = models.DateTimeField(default=timezone.now)
    rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "keystore_data_key"

    def __str__(self) -> str:
        return f"Data key of reader {self.user_id} (master key {self.master_key_id})"


class LegacyUserDataKey(models.Model):
    """Empty, never written, and holds no key material (migration 0010 emptied it and dropped
    its key columns): it only keeps the join `accounts.sessions` still asks for
    (`user__data_key`) valid until that join is dropped; then delete this model."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="data_key"
    )

    def __str__(self) -> str:
        return f"Placeholder for reader {self.user_id}"


class KeyStoreSecret(models.Model):
    """A site secret kept in the key store, wrapped under the master key like the data keys:
    the key-check value (proves the configured master key is the one the store was made with)
    and the consent-chain key (keys the receipts' hash chain)."""

    name = models.CharField(max_length=40, unique=True)
    wrapped_value = models.BinaryField(help_text="Nonce, then the secret sealed with AES-GCM.")
    master_key_id = models.CharField(max_length=16)
    created_at = models.DateTimeField(default=timezone.now)
    rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "keystore_secret"

    def __str__(self) -> str:
        return f"Key-store secret {self.name} (master key {self.master_key_id})"


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

    class Meta:
        # In the key store: a stolen main database cannot recompute anyone's pseudonym.
        db_table = "keystore_daily_salt"

    def __str__(self) -> str:
        return f"Salt of {self.day}"


class SignalEvent(models.Model):
    """ "This pseudonym read this article on this day", for popularity counts only.

    The pseudonym is HMAC-SHA256(user id) under the day's salt: it links a reader's reads within
    one day (needed to bound each reader's contribution) and to nothing else. No time finer
    than the day: not even the id, which is random rather than a sequence that would order the
    events and so match them to the time-stamped history entries written alongside.
    """

    id = models.BigIntegerField(primary_key=True, default=random_event_id, editable=False)

    class ListType(models.TextChoices):
        NONE = "", "Not from a feed"
        PERSONAL = "personal", "Personalized feed"
        # The same feed for everyone: editors' picks, fresh and DP popular stories.
        EDITORIAL = "editorial", "Non-personal (editorial) feed"
        # A personalized reader shown the editors' order for the day (the holdout that makes
        # the personalization uplift causal).
        HOLDOUT = "holdout", "Editors' order shown to a personalized reader (holdout)"

    day = models.DateField()
    pseudonym = models.CharField(max_length=64)
    article = models.ForeignKey("news.Article", on_delete=models.CASCADE, related_name="+")
    list_type = models.CharField(max_length=20, choices=ListType.choices, blank=True)
    # Whether the story was in a topic the reader followed when they read it; None when they
    # followed none. One bit, the same for most readers: it makes the event no more linkable,
    # and lets the nightly release count how loyal readers are to their topics.
    in_followed_topic = models.BooleanField(null=True, blank=True)

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
    """A differentially private count released for one day: per article, per topic, or per
    feed list type (reads that came from a personalised or a non-personal feed card)."""

    class Kind(models.TextChoices):
        ARTICLE = "article", "Reads per article"
        TOPIC = "topic", "Reads per topic"
        LIST_TYPE = "list_type", "Reads per feed list type"

    day = models.DateField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    article = models.ForeignKey(
        "news.Article", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    topic = models.ForeignKey(
        "news.Topic", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    list_type = models.CharField(
        max_length=20, choices=SignalEvent.ListType.choices, blank=True, default=""
    )
    noisy_count = models.IntegerField(help_text="Released count; may be negative or zero.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "kind", "article", "topic"], name="aggregate_once_per_day"
            ),
            # Article and topic are NULL on these rows, and NULLs never collide in a unique
            # index: the list type needs its own guarantee.
            models.UniqueConstraint(
                fields=["day", "list_type"],
                condition=models.Q(kind="list_type"),
                name="aggregate_list_type_once_per_day",
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
    # Public like the epsilon: with the mechanism it says how far noise moves a released count,
    # so the editors' dashboard can say it. Empty on releases recorded before it was kept.
    noise_scale = models.FloatField(null=True, blank=True)
    released_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-day", "query"]
        constraints = [
            models.UniqueConstraint(fields=["day", "query"], name="ledger_once_per_day_query")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.query}: epsilon {self.epsilon}"


POLICY_IS_FINAL = (
    "Version {version} is published: what readers were told cannot be changed or deleted. "
    "Write a new version instead (the add form starts from the current text)."
)


class PolicyVersion(models.Model):
    """One version of the privacy policy, in plain language.

    A draft until it is published (`privacy.services.policy_publish`); from then on a record of
    what readers were told, which can be neither changed nor deleted. It takes effect at the
    time asked for, never before it was published. Publishing keeps the notice of every
    optional purpose as it reads then; the purposes whose notice differs from the previous
    version's are its `changed_purposes`, and only those are asked again: until a reader
    confirms one, their earlier grant of it counts as withdrawn.
    """

    version = models.CharField(max_length=20, unique=True, help_text='For example "2026-12-01".')
    takes_effect_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When it takes effect. Left empty, or a time already past when it is "
        "published, it takes effect at once; a later time schedules it.",
    )
    published_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Empty while it is a draft."
    )
    summary_of_changes = models.TextField(help_text="What changed since the previous version.")
    full_text = models.TextField(help_text="The whole policy. Blank lines separate paragraphs.")
    purpose_notices = models.JSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text="Each optional purpose's notice when it was published, by purpose key.",
    )
    changed_purposes = models.JSONField(
        default=list,
        blank=True,
        editable=False,
        help_text="The purposes whose notice differs from the previous version's.",
    )
    emails_queued_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the emails to readers who had a changed purpose on were queued.",
    )

    class Meta:
        ordering = [models.F("takes_effect_at").desc(nulls_first=True), "-id"]
        constraints = [
            # Published means in effect or scheduled, never before its publication.
            models.CheckConstraint(
                condition=models.Q(published_at__isnull=True)
                | models.Q(
                    takes_effect_at__isnull=False, takes_effect_at__gte=models.F("published_at")
                ),
                name="policy_takes_effect_once_published",
            )
        ]

    def __str__(self) -> str:
        return f"Privacy policy {self.version}"

    def save(self, *args, **kwargs):
        # A published version is a record of what readers were told: never rewritten.
        if self._stored_is_published():
            raise ValidationError(POLICY_IS_FINAL.format(version=self.version))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self._stored_is_published():
            raise ValidationError(POLICY_IS_FINAL.format(version=self.version))
        return super().delete(*args, **kwargs)

    def _stored_is_published(self) -> bool:
        return (
            self.pk is not None
            and type(self).objects.filter(pk=self.pk, published_at__isnull=False).exists()
        )

    @property
    def is_published(self) -> bool:
        return self.published_at is not None

    @property
    def changes_purposes(self) -> bool:
        return bool(self.changed_purposes)

    def paragraphs(self) -> list[str]:
        text = self.full_text.replace("\r\n", "\n")
        return [p.strip() for p in text.split("\n\n") if p.strip()]


class PolicyChangeEmail(models.Model):
    """That a reader was emailed about a policy version which changed a purpose they had on.

    One per reader and version (the constraint is what makes a retried or repeated task send
    nothing twice); it holds no content, only which version and when.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="policy_change_emails"
    )
    policy = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    claimed_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "policy"], name="policy_email_once_per_reader")
        ]

    def __str__(self) -> str:
        return f"Policy-change email to reader {self.user_id} about version {self.policy_id}"


class PrivacyAuditEvent(models.Model):
    """One privacy action in a reader's activity log: who, what, which category, when.

    Never content: no article, no address, no value. Append-only. The single event left after
    an account erasure carries no user, only a keyed hash of the erased account's id.
    """

    class Actor(models.TextChoices):
        READER = "reader", "You"
        SYSTEM = "system", "The site (automatic)"

    class Action(models.TextChoices):
        CONSENT_GRANTED = "consent_granted", "Turned a purpose on"
        CONSENT_WITHDRAWN = "consent_withdrawn", "Turned a purpose off"
        LEVEL_CHANGED = "level_changed", "Changed the personalization level"
        PERSONALIZATION_PAUSED = "personalization_paused", "Paused personalization"
        PERSONALIZATION_RESUMED = "personalization_resumed", "Resumed personalization"
        PROFILE_RESET = "profile_reset", "Reset recommendations"
        DATA_CORRECTED = "data_corrected", "Corrected data"
        HISTORY_ENTRY_DELETED = "history_entry_deleted", "Deleted a reading-history entry"
        HISTORY_CLEARED = "history_cleared", "Cleared the reading history"
        CATEGORY_ERASED = "category_erased", "Erased a category of data"
        EXPORT_REQUESTED = "export_requested", "Asked for a copy of the data"
        EXPORT_READY = "export_ready", "Copy of the data ready"
        EXPORT_FAILED = "export_failed", "Copy of the data failed"
        EXPORT_DOWNLOADED = "export_downloaded", "Downloaded the copy of the data"
        EXPORT_EXPIRED = "export_expired", "Copy of the data expired and was deleted"
        POLICY_CHANGE_EMAILED = "policy_change_emailed", "Emailed about a policy change"
        ACCOUNT_ERASED = "account_erased", "Erased the account"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="privacy_events",
    )
    subject_hash = models.CharField(
        max_length=64, blank=True, help_text="Keyed hash of an erased account's id."
    )
    actor = models.CharField(max_length=10, choices=Actor.choices, default=Actor.READER)
    action = models.CharField(max_length=30, choices=Action.choices)
    category = models.CharField(max_length=40, blank=True, help_text="Data registry key.")
    detail = models.CharField(max_length=200, blank=True, help_text="Counts and names, no content.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="audit_by_reader"),
            models.Index(fields=["created_at"], name="audit_by_age"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} at {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Activity-log events cannot be changed.")
        super().save(*args, **kwargs)


class ExportRequest(models.Model):
    """A reader's request for a copy of their data, built by a Celery task into a private file."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to start"
        BUILDING = "building", "Being built"
        READY = "ready", "Ready to download"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired and deleted"

    ACTIVE = (Status.PENDING, Status.BUILDING)

    # Unguessable: the id appears in download links.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="export_requests"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    created_at = models.DateTimeField(default=timezone.now)
    ready_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    file_name = models.CharField(
        max_length=200, blank=True, help_text="Inside the private exports folder; never served."
    )
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="export_by_reader")]
        constraints = [
            # A double submit or two tabs can never start two builds for one reader.
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(status__in=["pending", "building"]),
                name="one_active_export_per_reader",
            )
        ]

    def __str__(self) -> str:
        return f"Export {self.pk} ({self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class LevelCountRelease(models.Model):
    """A differentially private count of readers at one personalization level, as the nightly
    release saw them when it released `day` (its ledger line is `readers_per_level`). The
    levels are the accounts app's choices, stored as it names them: privacy imports no app."""

    day = models.DateField()
    level = models.CharField(max_length=20)
    noisy_count = models.IntegerField(help_text="Released count; may be negative or zero.")

    class Meta:
        ordering = ["-day", "level"]
        constraints = [
            models.UniqueConstraint(fields=["day", "level"], name="level_count_once_per_day")
        ]

    def __str__(self) -> str:
        return f"Readers at level {self.level} on {self.day}: {self.noisy_count}"


class FollowedTopicRelease(models.Model):
    """The differentially private counts of one day's counted reads (the same reads, under the
    same per-reader bound, as the popularity counts) of readers who follow a topic: those in a
    topic they followed, and the others (ledger line `reads_in_followed_topics`). Their ratio
    tells training how loyal readers are to their topics."""

    day = models.DateField(unique=True)
    in_followed = models.IntegerField(help_text="Released count; may be negative or zero.")
    elsewhere = models.IntegerField(help_text="Released count; may be negative or zero.")

    class Meta:
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"Reads on {self.day}: {self.in_followed} in followed topics, {self.elsewhere} not"


class PurposeCountRelease(models.Model):
    """A differentially private count about one optional purpose on `day`: readers with it on
    at the day's end (ledger line `readers_per_purpose`), or readers who turned it on or off
    that day (`consent_changes`)."""

    class Kind(models.TextChoices):
        ON = "on", "Readers with it on at the day's end"
        GRANTED = "granted", "Readers who turned it on that day"
        WITHDRAWN = "withdrawn", "Readers who turned it off that day"

    day = models.DateField()
    purpose = models.CharField(max_length=40)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    noisy_count = models.IntegerField(help_text="Released count; may be negative or zero.")

    class Meta:
        ordering = ["-day", "purpose", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "purpose", "kind"], name="purpose_count_once_per_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.purpose} on {self.day}: {self.noisy_count}"


class LocalReportTally(models.Model):
    """Running sums of one day's local DP reports from private mode against one candidate list
    (a version of the public bundle): per position, how many reports set its bit, and how
    many reports. Each report is added to the sums and kept nowhere else: no row of its own,
    no time, no address, so nothing can later pick one browser's report out. The sums are
    released (privacy.local_reports) and deleted once the day is closed."""

    version = models.CharField(max_length=32, unique=True, help_text="The bundle's report id.")
    day = models.DateField()
    epsilon = models.FloatField(help_text="Each report's local epsilon.")
    article_ids = models.JSONField(help_text="The story at each position of a report.")
    ones = models.JSONField(help_text="Per position, how many reports set its bit.")
    reports = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["day"], name="local_tally_by_day")]

    def __str__(self) -> str:
        return f"Local reports of {self.day} against {self.version}: {self.reports}"


class LocalReportRelease(models.Model):
    """One story's read count for one day estimated from private mode's local DP reports
    (ledger line `local_reads_per_article`), with the variance of that estimate and how many
    reports listed the story among their candidates."""

    day = models.DateField()
    article = models.ForeignKey("news.Article", on_delete=models.CASCADE, related_name="+")
    estimate = models.FloatField(help_text="Unbiased; may be negative.")
    variance = models.FloatField()
    reports = models.PositiveIntegerField()

    class Meta:
        ordering = ["-day", "article_id"]
        constraints = [
            models.UniqueConstraint(fields=["day", "article"], name="local_release_once_per_day")
        ]

    def __str__(self) -> str:
        return f"Local estimate of article {self.article_id} on {self.day}: {self.estimate:.1f}"


class FederatedUpdate(models.Model):
    """One private-mode browser's update of the blend weights for one day: clipped and noised
    on its device (privacy.federated). Its day and its numbers, nothing else: no address, no
    time finer than the day, no session or id, so no row can be told from another's sender.
    Averaged into the day's release and deleted once the day is closed."""

    day = models.DateField()
    vector = models.JSONField(help_text="The noised update, one number per federated weight.")

    class Meta:
        indexes = [models.Index(fields=["day"], name="federated_update_by_day")]

    def __str__(self) -> str:
        return f"Federated update of {self.day}"


class FederatedRelease(models.Model):
    """The average of one day's federated updates (ledger line `federated_blend_update`),
    released only when at least FEDERATED_MIN_UPDATES arrived, with the noise each update
    carried, so training can weigh it."""

    day = models.DateField(unique=True)
    average = models.JSONField(help_text="The mean update, one number per federated weight.")
    updates = models.PositiveIntegerField()
    clip = models.FloatField(help_text="The bound on each update's L2 norm before noise.")
    sigma = models.FloatField(help_text="The Gaussian noise's standard deviation per number.")
    epsilon = models.FloatField()
    delta = models.FloatField()
    released_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"Federated release of {self.day}: {self.updates} updates"
