"""The editors' admin for topics, sources (with their error log) and articles (with their
revision history, comparing and restoring versions, suggested topics and lead image)."""

from functools import partial

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import escape, format_html

from . import images, revisions, selectors, services, topic_suggestions
from .models import LEAD_IMAGE_ALT_REQUIRED, Article, ArticleRevision, Source, SourceError, Topic


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "description")
    search_fields = ("name", "description")
    prepopulated_fields = {"slug": ("name",)}


class SourceErrorInline(admin.TabularInline):
    """The latest problems of a feed, on its own page: read-only, newest first."""

    model = SourceError
    fields = ("occurred_at", "entry_reference", "message")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False
    verbose_name_plural = "Recent errors (newest first; older ones under Source errors)"

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-occurred_at", "-id")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.action(description="Fetch selected feeds now", permissions=["change"])
def poll_selected(modeladmin, request, queryset):
    for source in queryset:
        if source.kind not in Source.FEED_KINDS or not source.url:
            modeladmin.message_user(
                request, f"'{source.name}' is not a feed with an address.", messages.WARNING
            )
            continue
        result = services.source_poll(source=source)
        level = messages.WARNING if result.errors else messages.SUCCESS
        modeladmin.message_user(request, f"'{source.name}': {result.summary()}.", level)


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "url", "active", "poll_interval_minutes", "last_polled_at")
    list_filter = ("kind", "active", "auto_publish")
    search_fields = ("name", "url")
    readonly_fields = ("last_polled_at",)
    fields = (
        "name",
        "kind",
        "url",
        "active",
        "poll_interval_minutes",
        "auto_publish",
        "last_polled_at",
    )
    inlines = [SourceErrorInline]
    actions = [poll_selected]


@admin.register(SourceError)
class SourceErrorAdmin(admin.ModelAdmin):
    """The whole feed error log, for editors to find a failing source or a broken entry."""

    list_display = ("occurred_at", "source", "entry_reference", "message")
    list_filter = ("source",)
    search_fields = ("message", "entry_reference")
    list_select_related = ("source",)
    date_hierarchy = "occurred_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _bulk(modeladmin, request, queryset, action, verb: str) -> None:
    done, refused = 0, []
    changed_by = revisions.editor_label(request.user)
    for article in queryset:
        try:
            action(article=article, changed_by=changed_by)
            done += 1
        except ValidationError as error:
            refused.append(f"'{article.title}': {' '.join(error.messages)}")
    if done:
        modeladmin.message_user(request, f"{verb} {done} article(s).", messages.SUCCESS)
    for reason in refused:
        modeladmin.message_user(request, f"Not changed {reason}", messages.WARNING)


@admin.action(description="Publish selected articles now", permissions=["change"])
def publish_selected(modeladmin, request, queryset):
    _bulk(modeladmin, request, queryset, services.article_publish, "Published")


@admin.action(description="Unpublish selected articles (back to draft)", permissions=["change"])
def unpublish_selected(modeladmin, request, queryset):
    _bulk(modeladmin, request, queryset, services.article_unpublish, "Unpublished")


class ScheduleForm(forms.Form):
    """The time the "Schedule" action publishes the chosen articles at."""

    publish_at = forms.DateTimeField(
        label="Publish at",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={
            "required": "Give the date and time to publish them at.",
            "invalid": "Give the date and time as in 2026-12-24 18:30.",
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["publish_at"].help_text = (
            f"Time zone: {timezone.get_current_timezone_name()}. They go live when scheduled "
            f"publishing next runs after that time (every minute with Celery beat)."
        )

    def clean_publish_at(self):
        publish_at = self.cleaned_data["publish_at"]
        refusal = services.schedule_time_refusal(publish_at=publish_at)
        if refusal:
            raise ValidationError(refusal)
        return publish_at


@admin.action(description="Schedule selected articles…", permissions=["change"])
def schedule_selected(modeladmin, request, queryset):
    """First shows a page asking for the time; its form posts the same action back."""
    form = ScheduleForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        schedule = partial(services.article_schedule, publish_at=form.cleaned_data["publish_at"])
        _bulk(modeladmin, request, queryset, schedule, "Scheduled")
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": "Schedule articles",
        "articles": queryset,
        "form": form,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/news/article/schedule.html", context)


@admin.action(
    description="Archive selected articles (kept readable, off the lists)", permissions=["change"]
)
def archive_selected(modeladmin, request, queryset):
    _bulk(modeladmin, request, queryset, services.article_archive, "Archived")


@admin.action(description="Pin as editor's pick for 24 h", permissions=["change"])
def pin_selected(modeladmin, request, queryset):
    pin = partial(services.article_pin, hours=services.EDITORS_PICK_HOURS)
    _bulk(modeladmin, request, queryset, pin, "Pinned")


@admin.action(description="Accept suggested topics", permissions=["change"])
def accept_suggested_topics(modeladmin, request, queryset):
    _bulk(modeladmin, request, queryset, services.article_topics_accept, "Gave topics to")


@admin.action(description="Suggest topics now (articles without topics)", permissions=["change"])
def suggest_topics_now(modeladmin, request, queryset):
    result = services.article_topics_suggest(
        article_ids=list(queryset.values_list("pk", flat=True))
    )
    if result.suggested:
        modeladmin.message_user(
            request, f"Suggested topics for {result.suggested} article(s).", messages.SUCCESS
        )
    if result.note:
        modeladmin.message_user(request, result.note, messages.WARNING)


class ArticleAdminForm(forms.ModelForm):
    """Status changes typed into the form follow the same workflow as the bulk actions. A lead
    image upload is checked and resized here (news.images), and stored only when the whole
    form is saved; the upload itself is never kept."""

    lead_image_upload = forms.FileField(
        label="Upload a lead image",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
        help_text=f"{images.ACCEPTED}, up to {images.MAX_BYTES // (1024 * 1024)} MB and "
        f"{images.MAX_PIXELS // 1_000_000} megapixels. Resized once to at most "
        f"{images.LARGE_BOX[0]} px wide for the article page and {images.CARD_BOX[0]} px for "
        f"cards; its metadata (camera, time, GPS position) is removed. Replaces the current one.",
    )
    lead_image_remove = forms.BooleanField(
        label="Remove the lead image",
        required=False,
        help_text="Also empties its alt text, caption and credit.",
    )

    class Meta:
        model = Article
        fields = (
            "title", "slug", "summary", "body", "correction_note", "author", "topics", "status",
            "published_at", "editors_pick_until", "source", "canonical_url",
            "lead_image_alt", "lead_image_caption", "lead_image_credit",
        )  # fmt: skip
        help_texts = {
            "body": escape(
                "Plain text; a blank line starts a new paragraph. A link is written "
                '<a href="https://example.org/page">its words</a> (https addresses only).'
            )
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lead_image: images.LeadImage | None = None
        self.lead_image_removed: list[str] = []

    def clean(self):
        cleaned = super().clean()
        self._clean_lead_image(cleaned)
        status, published_at = cleaned.get("status"), cleaned.get("published_at")
        if published_at is None and status == Article.Status.PUBLISHED:
            # Publishing with the time left empty means "now", as the Publish action does.
            cleaned["published_at"] = timezone.now()
        elif status == Article.Status.SCHEDULED and self._scheduling(published_at):
            refusal = services.schedule_time_refusal(publish_at=published_at)
            if refusal:
                self.add_error("published_at", refusal)
        return cleaned

    def _clean_lead_image(self, cleaned) -> None:
        upload, remove = cleaned.get("lead_image_upload"), cleaned.get("lead_image_remove")
        if upload and remove:
            self.add_error(
                "lead_image_remove", "Either upload a new image or remove this one, not both."
            )
            return
        if remove:
            # Taken off the form's article now, so its checks see an article without an image;
            # the files go only once the save is committed (ArticleAdmin.save_model).
            self.lead_image_removed = images.lead_image_detach(article=self.instance)
            for name in ("lead_image_alt", "lead_image_caption", "lead_image_credit"):
                cleaned[name] = ""
            return
        if not upload:
            return
        try:
            self.lead_image = images.lead_image_prepare(upload=upload)
        except ValidationError as error:
            self.add_error("lead_image_upload", error)
            return
        # With an image already there, the article's own check says it (Article.clean).
        if not self.instance.lead_image and not (cleaned.get("lead_image_alt") or "").strip():
            self.add_error("lead_image_alt", LEAD_IMAGE_ALT_REQUIRED)

    def _scheduling(self, published_at) -> bool:
        """Whether this save schedules the story (anew, or for another time). Saving a story
        already scheduled, whose time came a moment ago, only edits it: the next run of
        scheduled publishing publishes it."""
        stored = self.instance
        if not stored.pk or stored.status != Article.Status.SCHEDULED or published_at is None:
            return True
        # The form shows whole seconds; the stored time may carry microseconds.
        return stored.published_at.replace(microsecond=0) != published_at.replace(microsecond=0)

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        refusal = services.article_slug_refusal(slug=slug, article_pk=self.instance.pk)
        if refusal:
            raise ValidationError(refusal)
        return slug

    def clean_status(self):
        status = self.cleaned_data["status"]
        if self.instance.pk and status != self.instance.status:
            stored = Article.objects.get(pk=self.instance.pk).status
            refusal = services.transition_refusal(current=stored, to=status)
            if refusal:
                raise ValidationError(refusal)
        return status


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    form = ArticleAdminForm
    list_display = ("title", "status", "published_at", "source", "preview_link")
    list_filter = ("status", "topics", "source", "published_at")
    search_fields = ("title", "summary", "body", "author")
    prepopulated_fields = {"slug": ("title",)}
    filter_horizontal = ("topics",)
    date_hierarchy = "published_at"
    list_select_related = ("source",)
    readonly_fields = (
        "lead_image_preview",
        "suggested_topics_box",
        "content_updated_at",
        "preview_link",
        "history_link",
        "previous_addresses",
        "external_id",
        "created_at",
        "updated_at",
    )
    actions = [
        publish_selected,
        schedule_selected,
        unpublish_selected,
        archive_selected,
        pin_selected,
        accept_suggested_topics,
        suggest_topics_now,
    ]
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "title",
                    "slug",
                    "summary",
                    "body",
                    "author",
                    "topics",
                    "suggested_topics_box",
                )  # fmt: skip
            },
        ),
        (
            "Corrections",
            {
                "fields": ("correction_note", "content_updated_at"),
                "description": "When the title, summary, body or note of a published story "
                'changes, readers see "Updated" with the time, and the note if there is one. '
                "Other changes (topics, byline, slug, a save with no change) do not show.",
            },
        ),
        (
            "Lead image",
            {
                "fields": (
                    "lead_image_preview",
                    "lead_image_upload",
                    "lead_image_remove",
                    "lead_image_alt",
                    "lead_image_caption",
                    "lead_image_credit",
                ),
                "description": "Optional. Shown on the story's cards and above its text; the "
                "caption and credit under it on the article page.",
            },
        ),
        ("Publishing", {"fields": ("status", "published_at", "editors_pick_until")}),
        ("Origin", {"fields": ("source", "canonical_url", "external_id")}),
        (
            "Record",
            {
                "fields": (
                    "preview_link",
                    "history_link",
                    "previous_addresses",
                    "created_at",
                    "updated_at",
                )
            },
        ),
    )

    def save_model(self, request, obj, form, change):
        # The stored state before this save; topics are saved later, in save_related.
        form._revision_before = revisions.snapshot(obj) if change else None
        if form.lead_image is not None:
            images.lead_image_attach(article=obj, image=form.lead_image)
        super().save_model(request, obj, form, change)
        images.lead_image_files_forget(names=form.lead_image_removed)

    def delete_model(self, request, obj):
        images.lead_image_files_forget(names=images.lead_image_names(article=obj))
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for article in queryset.exclude(lead_image=""):
            images.lead_image_files_forget(names=images.lead_image_names(article=article))
        super().delete_queryset(request, queryset)

    @admin.display(description="Current image")
    def lead_image_preview(self, obj: Article) -> str:
        if not obj.lead_image_card:
            return "None."
        # Shown at half the card rendition's size: enough to recognise it.
        width = min(240, obj.lead_image_card_width or 240)
        height = round(width * (obj.lead_image_card_height or 0) / (obj.lead_image_card_width or 1))
        return format_html(
            '<img src="{}" width="{}" height="{}" alt="{}" class="lead-image-preview"> '
            '<a href="{}" target="_blank" rel="noopener">Full size ({} × {} px)</a>',
            obj.lead_image_card.url,
            width,
            height,
            obj.lead_image_alt,
            obj.lead_image.url,
            obj.lead_image_width,
            obj.lead_image_height,
        )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # The admin wraps the whole save in one transaction, so the revision and the change
        # it describes are written together.
        services.article_revision_record(
            article=form.instance,
            before=getattr(form, "_revision_before", None),
            changed_by=revisions.editor_label(request.user),
        )
        services.article_topic_suggestions_refresh(article=form.instance)

    def get_urls(self):
        history = self.admin_site.admin_view(self.revisions_view)
        compare = self.admin_site.admin_view(self.revisions_compare_view)
        restore = self.admin_site.admin_view(self.revision_restore_view)
        accept = self.admin_site.admin_view(self.accept_topics_view)
        return [
            path("<int:object_id>/revisions/", history, name="news_article_revisions"),
            path(
                "<int:object_id>/revisions/compare/",
                compare,
                name="news_article_revisions_compare",
            ),
            path(
                "<int:object_id>/revisions/<int:revision_id>/restore/",
                restore,
                name="news_article_revision_restore",
            ),
            path(
                "<int:object_id>/accept-suggested-topics/",
                accept,
                name="news_article_accept_topics",
            ),
            *super().get_urls(),
        ]

    def accept_topics_view(self, request, object_id: int):
        """The change form's "Accept suggested topics" button: one click, one revision."""
        article = get_object_or_404(Article, pk=object_id)
        if request.method != "POST" or not self.has_change_permission(request, article):
            raise PermissionDenied
        try:
            topics = services.article_topics_accept(
                article=article, changed_by=revisions.editor_label(request.user)
            )
        except ValidationError as error:
            self.message_user(request, f"Not changed: {' '.join(error.messages)}", messages.WARNING)
        else:
            names = ", ".join(t.name for t in topics)
            self.message_user(request, f"Topics set to {names}.", messages.SUCCESS)
        return redirect("admin:news_article_change", object_id)

    @admin.display(description="Suggested topics")
    def suggested_topics_box(self, obj: Article) -> str:
        if not obj.pk:
            return "Suggested after saving, if you leave the topics empty."
        if obj.suggested_topics:
            items = ", ".join(
                f"{item['name']} ({round(100 * item['score'])}%)" for item in obj.suggested_topics
            )
            # formaction: the change form itself (with its CSRF token) posts to the accept
            # view, so accepting is one click on the page the editor is reading.
            return format_html(
                '{} <button type="submit" class="button" formaction="{}">'
                'Accept suggested topics</button> <span class="help">or choose topics '
                "above and save (unsaved edits are not kept by the button)</span>",
                items,
                reverse("admin:news_article_accept_topics", args=[obj.pk]),
            )
        if obj.topics.exists():
            return "-"
        labelled = Article.objects.filter(topics__isnull=False).distinct().count()
        if labelled < topic_suggestions.MIN_LABELLED_ARTICLES:
            return (
                f"No suggestion: only {labelled} articles have topics so far; suggestions "
                f"start at {topic_suggestions.MIN_LABELLED_ARTICLES}."
            )
        return "No suggestion yet (none was likely enough). Choose topics above."

    def revisions_view(self, request, object_id: int):
        """Every recorded change of one article, newest first, each field as a line diff."""
        if not request.user.has_perm("news.view_articlerevision"):
            raise PermissionDenied
        article = get_object_or_404(Article, pk=object_id)
        entries = [
            (revision, revisions.field_diffs(revision.changes))
            for revision in selectors.article_revisions(article=article)
        ]
        history = [revision for revision, _ in entries]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Revision history: {article.title}",
            "article": article,
            "entries": entries,
            "compare_older": history[1].pk if len(history) > 1 else None,
            "compare_newer": history[0].pk if history else None,
            "can_restore": self.has_change_permission(request, article),
        }
        return TemplateResponse(request, "admin/news/article/revisions.html", context)

    def _revision_of(self, article: Article, revision_id) -> ArticleRevision | None:
        try:
            return article.revisions.get(pk=int(revision_id))
        except (TypeError, ValueError, ArticleRevision.DoesNotExist):
            return None

    def revisions_compare_view(self, request, object_id: int):
        """Any two versions side by side: what changed between them, word by word."""
        if not request.user.has_perm("news.view_articlerevision"):
            raise PermissionDenied
        article = get_object_or_404(Article, pk=object_id)
        history_url = reverse("admin:news_article_revisions", args=[article.pk])
        older = self._revision_of(article, request.GET.get("older"))
        newer = self._revision_of(article, request.GET.get("newer"))
        if older is None or newer is None:
            self.message_user(
                request, "Choose two versions of this article to compare.", messages.WARNING
            )
            return redirect(history_url)
        if (older.created_at, older.pk) > (newer.created_at, newer.pk):
            older, newer = newer, older  # always read from the earlier to the later
        current = revisions.snapshot(article)
        comparisons = revisions.compare(
            revisions.state_after(older, current=current),
            revisions.state_after(newer, current=current),
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Compare versions: {article.title}",
            "article": article,
            "older_label": f"Version of {older.label()}",
            "newer_label": f"Version of {newer.label()}",
            "comparisons": comparisons,
            "restore": None,
        }
        return TemplateResponse(request, "admin/news/article/revision_compare.html", context)

    def revision_restore_view(self, request, object_id: int, revision_id: int):
        """GET: what restoring this version would change. POST: restore it, as a new revision."""
        article = get_object_or_404(Article, pk=object_id)
        if not (
            request.user.has_perm("news.view_articlerevision")
            and self.has_change_permission(request, article)
        ):
            raise PermissionDenied
        revision = get_object_or_404(ArticleRevision, pk=revision_id, article=article)
        history_url = reverse("admin:news_article_revisions", args=[article.pk])
        if request.method == "POST":
            return self._restore(request, article, revision, history_url)
        current = revisions.snapshot(article)
        target = revisions.state_after(revision, current=current)
        restored = {**current, **{name: target.get(name) for name in revisions.RESTORED_FIELDS}}
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Restore an earlier version: {article.title}",
            "article": article,
            "older_label": "Now",
            "newer_label": f"After restoring the version of {revision.label()}",
            "comparisons": revisions.compare(current, restored),
            "restore": revision,
        }
        return TemplateResponse(request, "admin/news/article/revision_compare.html", context)

    def _restore(self, request, article: Article, revision: ArticleRevision, history_url: str):
        try:
            result = services.article_revision_restore(
                article=article, revision=revision, changed_by=revisions.editor_label(request.user)
            )
        except ValidationError as error:
            self.message_user(request, f"Not restored: {' '.join(error.messages)}", messages.ERROR)
            return redirect(history_url)
        services.article_topic_suggestions_refresh(article=Article.objects.get(pk=article.pk))
        if result.revision is None:
            self.message_user(
                request,
                f"The article already reads as in the version of {revision.label()}; nothing "
                f"changed.",
                messages.INFO,
            )
        else:
            self.message_user(
                request,
                f"Restored the version of {revision.label()} as a new revision. Status and "
                f"dates were left as they were.",
                messages.SUCCESS,
            )
        if result.missing_topics:
            self.message_user(
                request,
                f"Not brought back, as they no longer exist: the topics "
                f"{', '.join(result.missing_topics)}.",
                messages.WARNING,
            )
        return redirect(history_url)

    @admin.display(description="Revision history")
    def history_link(self, obj: Article) -> str:
        if not obj.pk:
            return "-"
        count = obj.revisions.count()
        return format_html(
            '<a href="{}">{} revision(s), with what changed</a>',
            reverse("admin:news_article_revisions", args=[obj.pk]),
            count,
        )

    @admin.display(description="Earlier addresses")
    def previous_addresses(self, obj: Article) -> str:
        if not obj.pk:
            return "-"
        old = [reverse("news:article", kwargs={"slug": r.old_slug}) for r in obj.old_slugs.all()]
        if not old:
            return "None: the slug has not changed since the story went out."
        return f"{', '.join(old)} (each leads readers here with a permanent redirect)"

    @admin.display(description="Preview")
    def preview_link(self, obj: Article) -> str:
        if not obj.pk:
            return "-"
        label = "View on site" if obj.is_live else "Preview"
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">{}</a>', obj.get_absolute_url(), label
        )
