"""The site's user: identified by email address, no username."""

from importlib import import_module

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models

from privacy.levels import Level


class EmailUserManager(UserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


# A followed topic starts at full weight; "Show less like this" lowers it.
DEFAULT_TOPIC_WEIGHT = 1.0


class User(AbstractUser):
    username = None
    first_name = None
    last_name = None
    email = models.EmailField("email address", unique=True)
    display_name = models.CharField(max_length=80, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = EmailUserManager()

    def __str__(self) -> str:
        return self.display_name or self.email

    def get_full_name(self) -> str:
        return self.display_name

    def get_short_name(self) -> str:
        return self.display_name or self.email.split("@")[0]


class Preferences(models.Model):
    """What a reader chose: topics, how much personalization, and a region if they want one."""

    Level = Level  # privacy's recording rules read the same levels

    class Region(models.TextChoices):
        NORTH = "north", "North"
        SOUTH = "south", "South"
        EAST = "east", "East"
        WEST = "west", "West"
        CENTRAL = "central", "Central"

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="preferences")
    level = models.CharField(max_length=20, choices=Level.choices, default=Level.OFF)
    topics = models.ManyToManyField(
        "news.Topic", through="PreferredTopic", related_name="+", blank=True
    )
    blocked_topics = models.ManyToManyField("news.Topic", related_name="+", blank=True)
    # The region a reader picked, sealed under their data key (see privacy.crypto).
    region_sealed = models.BinaryField(null=True, blank=True)
    onboarding_step = models.PositiveSmallIntegerField(default=1)
    onboarding_finished_at = models.DateTimeField(null=True, blank=True)
    browser_signal_seen_at = models.DateTimeField(
        null=True, blank=True, help_text="When we first saw a GPC or DNT signal from this reader."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "preferences"

    def __str__(self) -> str:
        return f"Preferences of reader {self.user_id}"

    @property
    def onboarding_done(self) -> bool:
        return self.onboarding_finished_at is not None


class PreferredTopic(models.Model):
    """A topic a reader follows, with a weight that "Show less like this" lowers."""

    preferences = models.ForeignKey(
        Preferences, on_delete=models.CASCADE, related_name="preferred_topics"
    )
    topic = models.ForeignKey("news.Topic", on_delete=models.CASCADE, related_name="+")
    weight = models.FloatField(default=DEFAULT_TOPIC_WEIGHT)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["preferences", "topic"], name="preferred_topic_once"),
            models.CheckConstraint(
                condition=models.Q(weight__gte=0) & models.Q(weight__lte=1),
                name="preferred_topic_weight_0_1",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.topic_id} ({self.weight:.2f})"


class ReaderSession(AbstractBaseSession):
    """Django's database session, plus the signed-in reader it belongs to.

    The link lets "sign out everywhere" and account erasure end every session of one reader
    at once (deleting the reader cascades here), instead of decoding every session row.
    """

    user = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sessions",
    )

    @classmethod
    def get_session_store_class(cls):
        # The configured engine (this app's `sessions`), found as Django's middleware finds it.
        return import_module(settings.SESSION_ENGINE).SessionStore
