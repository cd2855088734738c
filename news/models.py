"""Topics, sources and articles, their revision history and the feed error log. Nothing here
relates to a reader (or to any account: editors are recorded by name, as text)."""

import re
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .safe_fetch import FetchRefused, url_check

PARAGRAPH_BREAK = re.compile(r"(?:\r\n|\r|\n)[ \t]*(?:\r\n|\r|\n)\s*")
# The one piece of markup a body may hold: a link to an https address, written exactly so.
# Everything else in a body is plain text, escaped on the page (an editor's "<b>" shows as typed).
BODY_LINK = re.compile(r'<a href="(https://[^"<>\s]+)">([^<>]+)</a>')
LEAD_IMAGE_ALT_REQUIRED = (
    "Describe the lead image in a few words (alt text) for readers who cannot see it: it is "
    "required whenever the article has an image."
)


def body_link(*, url: str, text: str) -> str:
    """A link as an article body stores it; empty when it could not be read back as one."""
    link = f'<a href="{url}">{text}</a>'
    return link if BODY_LINK.fullmatch(link) else ""


def body_without_links(text: str) -> str:
    """A body's words as a reader reads them: each link reduced to its text."""
    return BODY_LINK.sub(lambda found: found.group(2), text)


def paragraph_html(paragraph: str) -> SafeString:
    """One paragraph of a body as HTML: the text escaped, its links (https only) made links
    that pass on no referrer trust (rel="nofollow noopener")."""
    parts, position = [], 0
    for found in BODY_LINK.finditer(paragraph):
        parts.append(escape(paragraph[position : found.start()]))
        parts.append(
            f'<a href="{escape(found.group(1))}" rel="nofollow noopener">'
            f"{escape(found.group(2))}</a>"
        )
        position = found.end()
    parts.append(escape(paragraph[position:]))
    return mark_safe("".join(parts))  # noqa: S308 (every part escaped above)


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
        DATASET = "dataset", "Imported data set"

    FEED_KINDS = (Kind.RSS, Kind.ATOM)

    name = models.CharField(max_length=120, unique=True)
    url = models.URLField(blank=True, help_text="Feed address; empty for articles written here.")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MANUAL)
    active = models.BooleanField(
        default=True, help_text="Polled automatically (feeds only). Untick to pause a feed."
    )
    poll_interval_minutes = models.PositiveIntegerField(
        default=30, help_text="How often the feed is fetched, in minutes (at least 1)."
    )
    last_polled_at = models.DateTimeField(null=True, blank=True, editable=False)
    auto_publish = models.BooleanField(
        default=False,
        help_text="Publish new entries at once. Off: they arrive as drafts for editors to review.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(poll_interval_minutes__gte=1),
                name="source_poll_interval_at_least_one_minute",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind in self.FEED_KINDS and self.active and not self.url:
            raise ValidationError({"url": "A feed polled automatically needs the feed's address."})
        # Checked whenever it could be fetched; the fetch checks again, as DNS answers change.
        if self.url and self.kind in self.FEED_KINDS:
            try:
                url_check(self.url)
            except FetchRefused as error:
                raise ValidationError({"url": str(error)}) from error

    def is_due(self, *, now: datetime) -> bool:
        """Whether this feed should be fetched now, each source at its own interval."""
        if not self.active or self.kind not in self.FEED_KINDS or not self.url:
            return False
        if self.last_polled_at is None:
            return True
        return self.last_polled_at + timedelta(minutes=self.poll_interval_minutes) <= now


class SourceError(models.Model):
    """One problem met while reading a source: a feed that could not be fetched or parsed, or
    one entry that was refused. Editors read these in the admin to fix or pause a source."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="errors")
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    entry_reference = models.CharField(
        max_length=500, blank=True, help_text="The entry's id or link; empty for the whole feed."
    )
    message = models.TextField()

    class Meta:
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.source}: {self.message[:80]}"


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
    # The feed's own id for the entry (RSS guid, Atom id, MIND NewsID): how a re-read entry is
    # recognised even when its link changed.
    external_id = models.CharField(max_length=500, blank=True)
    topics = models.ManyToManyField(Topic, related_name="articles", blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    published_at = models.DateTimeField(
        null=True, blank=True, help_text="When it went (or goes, if scheduled) live."
    )
    # Set by news.services when a live story's title, summary, body or correction note changes
    # (not for trivial saves): readers see "Updated <time>" with the note.
    content_updated_at = models.DateTimeField(
        "shown to readers as updated at", null=True, blank=True, editable=False
    )
    correction_note = models.CharField(
        max_length=500,
        blank=True,
        help_text='Optional. Shown to readers with the update time, e.g. "An earlier version '
        'gave the wrong date of the vote." Leave empty for a fix that needs no note.',
    )
    editors_pick_until = models.DateTimeField(
        null=True, blank=True, help_text="Pinned as an editor's pick until this time."
    )
    # The lead image as readers get it: two renditions made once from the upload by
    # news.images (at most 1200 and 480 px wide, re-encoded without metadata); the upload
    # itself is never kept. Alt text is required whenever there is an image (clean()). The
    # sizes are written by news.images, not read back from the files (no ImageField
    # width_field: its post_init hook would run for every article loaded).
    lead_image = models.ImageField(upload_to="lead-images/", blank=True, editable=False)
    lead_image_width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    lead_image_height = models.PositiveIntegerField(null=True, blank=True, editable=False)
    lead_image_card = models.ImageField(upload_to="lead-images/", blank=True, editable=False)
    lead_image_card_width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    lead_image_card_height = models.PositiveIntegerField(null=True, blank=True, editable=False)
    lead_image_alt = models.CharField(
        "alt text",
        max_length=300,
        blank=True,
        help_text="What the image shows, for readers who cannot see it. Required with an image.",
    )
    lead_image_caption = models.CharField("caption", max_length=300, blank=True)
    lead_image_credit = models.CharField(
        "credit", max_length=150, blank=True, help_text="Who made the image, e.g. Photo: A. Name."
    )
    # For an article that arrived without topics: [{"topic_id", "name", "score"}], best
    # first, from the classifier in news.topic_suggestions; cleared once topics are set.
    suggested_topics = models.JSONField(default=list, blank=True, editable=False)
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
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~models.Q(external_id=""),
                name="article_unique_external_id_per_source",
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

    def clean(self) -> None:
        if self.lead_image and not self.lead_image_alt.strip():
            raise ValidationError({"lead_image_alt": LEAD_IMAGE_ALT_REQUIRED})

    @property
    def is_live(self) -> bool:
        return (
            self.status == self.Status.PUBLISHED
            and self.published_at is not None
            and self.published_at <= timezone.now()
        )

    @property
    def is_archived(self) -> bool:
        return self.status == self.Status.ARCHIVED

    @property
    def is_readable(self) -> bool:
        """Whether readers may open it: live, or archived after it was published (kept at its
        address with a notice). Drafts and scheduled stories are for editors only."""
        return self.is_live or (
            self.is_archived
            and self.published_at is not None
            and self.published_at <= timezone.now()
        )

    def paragraphs(self) -> list[str]:
        # Blank lines separate paragraphs, whatever the line endings: a browser's form posts
        # "\r\n", a feed or a file "\n".
        return [p.strip() for p in PARAGRAPH_BREAK.split(self.body) if p.strip()]

    def paragraphs_html(self) -> list[SafeString]:
        return [paragraph_html(paragraph) for paragraph in self.paragraphs()]


class ArticleSlugRedirect(models.Model):
    """An address a readable article had before its slug changed: the article page answers
    it with a permanent redirect to the current address, so links out there keep working."""

    old_slug = models.SlugField(max_length=120, unique=True)
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="old_slugs")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.old_slug} -> {self.article.slug}"


class ArticleRevision(models.Model):
    """One save of an article: who (a name, not an account), when, each changed field's old
    and new value, and the tracked fields as they were after the save, so editors can see how
    a story changed and by whom, compare any two versions and restore one."""

    class Origin(models.TextChoices):
        EDITOR = "editor", "Editor"
        FEED = "feed", "Feed ingest"
        SYSTEM = "system", "Scheduled task"

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="revisions")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # A snapshot of the editor's name at the time, deliberately not a link to the account.
    changed_by = models.CharField(max_length=150)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.EDITOR)
    # {"field": {"old": ..., "new": ...}}, values as text (lists for topics); a creation has
    # every old value null.
    changes = models.JSONField(default=dict)
    # Every tracked field after this save (news.revisions.snapshot). Empty on revisions recorded
    # before it existed: their state is worked out from the newer ones (revisions.states_after).
    snapshot = models.JSONField(default=dict, blank=True)
    # Set when this revision brought back an earlier version; history is never rewritten.
    restored_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.article} ({self.created_at:%Y-%m-%d %H:%M}, {self.changed_by})"

    def label(self) -> str:
        """How editors pick a version in a list: when and by whom."""
        when = date_format(timezone.localtime(self.created_at), "j M Y, H:i:s")
        return f"{when} · {self.changed_by}"


class EditorAction(models.Model):
    """The audit log of editors' actions on the recommender and on suggested topics: who (a
    name, not an account, like ArticleRevision), what and when."""

    class Action(models.TextChoices):
        RETRAIN = "retrain", "Asked for a retrain"
        ROLLBACK = "rollback", "Rolled the model back"
        ACCEPT_TOPICS = "accept_topics", "Accepted suggested topics"

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    editor = models.CharField(max_length=150)
    action = models.CharField(max_length=20, choices=Action.choices)
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.editor}: {self.get_action_display()} ({self.created_at:%Y-%m-%d %H:%M})"
