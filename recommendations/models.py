"""Model versions, the active-model pointer, the retrain lock and vectors of fresh articles.

Nothing here relates to a reader: the recommender learns from article content and
differentially private counts only, and a reader's profile is built per request.
"""

from django.db import models
from django.utils import timezone


class ModelVersion(models.Model):
    """One retrain: its outcome, the artifact it produced and what it was trained on.

    Failed and rejected runs are kept too, so editors can see why the model did not change.
    """

    class Status(models.TextChoices):
        RUNNING = "running", "Training"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        REJECTED = "rejected", "Rejected by offline checks"
        PRUNED = "pruned", "Artifact removed (older than the kept versions)"

    class Trigger(models.TextChoices):
        NIGHTLY = "nightly", "Nightly schedule"
        MANUAL = "manual", "On demand"
        DEMO = "demo", "Demo set-up"

    version = models.PositiveIntegerField(unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.MANUAL)
    started_at = models.DateTimeField(default=timezone.now)
    trained_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    article_count = models.PositiveIntegerField(default=0)
    aggregate_days = models.PositiveIntegerField(
        default=0, help_text="Days of DP counts the popularity prior was built from."
    )
    epsilon = models.FloatField(
        default=0.0, help_text="Total epsilon of the DP releases this version learned from."
    )
    metrics = models.JSONField(default=dict, blank=True)
    artifact_name = models.CharField(max_length=100, blank=True)
    artifact_sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"Model v{self.version} ({self.get_status_display().lower()})"


class ActiveModel(models.Model):
    """The one row saying which version serves; switching it is the whole activation."""

    SINGLETON_ID = 1

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    activated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Active: v{self.version.version}"


class RetrainLock(models.Model):
    """A lease taken with one conditional UPDATE, so two retrains never overlap on any
    database, across any number of workers; a crashed holder's lease simply runs out."""

    name = models.CharField(max_length=40, unique=True)
    holder = models.CharField(max_length=64, blank=True)
    held_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Lock {self.name}"


class ArticleVector(models.Model):
    """An article published after its model version was trained, vectorised on publish."""

    article = models.ForeignKey("news.Article", on_delete=models.CASCADE, related_name="+")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    vector = models.BinaryField(help_text="float32, L2-normalised.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["model_version", "article"], name="article_vector_once_per_version"
            )
        ]

    def __str__(self) -> str:
        return f"Vector of article {self.article_id} for model {self.model_version_id}"


class FeedImpressionCount(models.Model):
    """How many feed cards were shown per day and list type: one plain counter row, no visitor
    in it, the denominator of the editors' click-through rates."""

    class ListType(models.TextChoices):
        PERSONAL = "personal", "Personalised feed"
        EDITORIAL = "editorial", "Non-personal (editorial) feed"
        # A personalized reader shown the editors' order that day: the control group.
        HOLDOUT = "holdout", "Holdout (editors' order for personalized readers)"

    day = models.DateField()
    list_type = models.CharField(max_length=20, choices=ListType.choices)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "list_type"], name="impressions_once_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.get_list_type_display()} on {self.day}: {self.count} cards shown"
