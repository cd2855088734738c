"""The editors' admin for topics, sources and articles."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from . import services
from .models import Article, Source, Topic


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "description")
    search_fields = ("name", "description")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "url")
    list_filter = ("kind",)
    search_fields = ("name", "url")


def _bulk(modeladmin, request, queryset, action, verb: str) -> None:
    done, refused = 0, []
    for article in queryset:
        try:
            action(article=article)
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


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ("title", "status", "published_at", "source", "preview_link")
    list_filter = ("status", "topics", "source", "published_at")
    search_fields = ("title", "summary", "body", "author")
    prepopulated_fields = {"slug": ("title",)}
    filter_horizontal = ("topics",)
    date_hierarchy = "published_at"
    list_select_related = ("source",)
    readonly_fields = ("preview_link", "created_at", "updated_at")
    actions = [publish_selected, unpublish_selected]
    fieldsets = (
        (None, {"fields": ("title", "slug", "summary", "body", "author", "topics")}),
        ("Publishing", {"fields": ("status", "published_at", "editors_pick_until")}),
        ("Origin", {"fields": ("source", "canonical_url")}),
        ("Record", {"fields": ("preview_link", "created_at", "updated_at")}),
    )

    @admin.display(description="Preview")
    def preview_link(self, obj: Article) -> str:
        if not obj.pk:
            return "-"
        label = "View on site" if obj.is_live else "Preview"
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">{}</a>', obj.get_absolute_url(), label
        )
