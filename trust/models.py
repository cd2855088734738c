"""The trust survey's stored answers (randomized, linked to nobody), the per-reader record of
when they were last asked, and the incident register with the notices sent to affected
readers."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from privacy.models import random_event_id
from privacy.registry import categories

from .survey import ANSWER_CHOICES, MECHANISMS


class SurveyAnswer(models.Model):
    """One randomized answer: which answer was stored, in which week, by which mechanism at
    which ε. No reader, session, address or time finer than the week; the id is random, not a
    sequence that would order the answers (trust.services says why)."""

    id = models.BigIntegerField(primary_key=True, default=random_event_id, editable=False)
    # The Monday of the week the answer came in.
    day = models.DateField()
    answer = models.CharField(max_length=20, choices=ANSWER_CHOICES)
    mechanism = models.CharField(max_length=80, choices=[(m, m) for m in MECHANISMS])
    epsilon = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["day"], name="trust_answer_day")]

    def __str__(self) -> str:
        return f"Randomized answer of the week of {self.day}"


class SurveyAsk(models.Model):
    """When a signed-in reader last answered or put off the survey, and whether they asked
    never to see it again: all the site keeps about them and the survey (never their answer)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trust_survey_ask"
    )
    asked_on = models.DateField(null=True, blank=True)
    dismissed = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"Trust survey for reader {self.user_id}"


class Incident(models.Model):
    """A security or privacy incident: what happened, when, which kinds of data, how many
    readers, what was done. Its summary is published on the transparency page once closed."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    title = models.CharField(max_length=200)
    summary = models.TextField(
        help_text="Published on the transparency page once the incident is closed: plain words."
    )
    what_happened = models.TextField(help_text="Staff only.")
    occurred_at = models.DateTimeField()
    discovered_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    # Keys of the privacy registry's categories (privacy.registry).
    data_categories = models.JSONField(default=list, blank=True)
    readers_affected_count = models.PositiveIntegerField(default=0)
    actions_taken = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-discovered_at", "-pk"]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        errors = {}
        known = {entry.key for entry in categories()}
        if not isinstance(self.data_categories, list) or not all(
            isinstance(key, str) for key in self.data_categories
        ):
            errors["data_categories"] = "Choose data categories from the list."
        elif unknown := sorted(set(self.data_categories) - known):
            errors["data_categories"] = f"Unknown data categories: {', '.join(unknown)}."
        if self.occurred_at and self.discovered_at and self.discovered_at < self.occurred_at:
            errors["discovered_at"] = "It cannot have been discovered before it happened."
        if self.status == self.Status.CLOSED and not self.closed_at:
            errors["closed_at"] = "A closed incident needs the time it was closed."
        if self.status == self.Status.OPEN and self.closed_at:
            errors["closed_at"] = "An open incident has no closing time: set it to Closed."
        if self.closed_at and self.discovered_at and self.closed_at < self.discovered_at:
            errors["closed_at"] = "It cannot be closed before it was discovered."
        if errors:
            raise ValidationError(errors)


class IncidentNotice(models.Model):
    """That a reader was affected by an incident and is (or was) emailed about it, once."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="notices")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="incident_notices"
    )
    queued_at = models.DateTimeField(default=timezone.now)
    # Set while a worker sends it, so a repeated task sends nothing twice.
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "user"], name="incident_notice_once")
        ]

    def __str__(self) -> str:
        return f"Notice of incident {self.incident_id} to reader {self.user_id}"
