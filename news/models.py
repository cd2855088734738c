"""Topics, sources and articles. Nothing here relates to a reader."""

from django.db import models
from django.urls import reverse
from django.utils import timezone


class Topic(models.Model):
    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.CharField(max_length=280, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("news:topic", kwargs={"slug": self.slug})


class Source(models.Model):
    class Kind(models.TextChoices):
        MANUAL = "manual", "Written here"
        RSS = "rss", "RSS feed"
        ATOM = "atom", "Atom feed"

    name = models.CharField(max_length=120, unique=True)
    url = models.URLField(blank=True, help_text="Feed address; empty for articles written here.")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MANUAL)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ArticleQuerySet(models.QuerySet):
    def published(self, *, now=None):
        now = now or timezone.now()
        return self.filter(status=Article.Status.PUBLISHED, published_at__lte=now)


class Article(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        PUBLISHED = "published", "Published"
        ARCHIVED = "archived", "Archived"

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=120, unique=True)
    summary = models.CharField(max_length=400, blank=True)
    body = models.TextField()
    # A byline, not an account: articles never point at a person's user row.
    author = models.CharField(max_length=120, blank=True)
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="articles"
    )
    canonical_url = models.URLField(max_length=500, blank=True)
    topics = models.ManyToManyField(Topic, related_name="articles", blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    published_at = models.DateTimeField(
        null=True, blank=True, help_text="When it went (or goes, if scheduled) live."
    )
    editors_pick_until = models.DateTimeField(
        null=True, blank=True, help_text="Pinned as an editor's pick until this time."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ArticleQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-id"]
        indexes = [
            # "Recent published" scans: the home page, topic pages and feed candidates.
            models.Index(fields=["status", "-published_at"], name="article_status_recent"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["canonical_url"],
                condition=~models.Q(canonical_url=""),
                name="article_unique_canonical_url",
            ),
            models.CheckConstraint(
                condition=~models.Q(status__in=["scheduled", "published"])
                | models.Q(published_at__isnull=False),
                name="article_live_needs_published_at",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("news:article", kwargs={"slug": self.slug})

    @property
    def is_live(self) -> bool:
        return (
            self.status == self.Status.PUBLISHED
            and self.published_at is not None
            and self.published_at <= timezone.now()
        )

    def paragraphs(self) -> list[str]:
        return [p.strip() for p in self.body.split("\n\n") if p.strip()]
