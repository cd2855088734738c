"""Admin for the privacy policy versions only: no personal data is ever registered here.

A published version is a record of what readers were told, so it cannot be edited or deleted
once it is in effect; a correction is a new version.
"""

from django.contrib import admin
from django.utils import timezone

from .models import PolicyVersion


@admin.register(PolicyVersion)
class PolicyVersionAdmin(admin.ModelAdmin):
    list_display = ("version", "published_at", "changes_purposes", "summary_of_changes")
    ordering = ("-published_at",)
    search_fields = ("version", "summary_of_changes")

    def _in_effect(self, obj) -> bool:
        return obj is not None and obj.published_at <= timezone.now()

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not self._in_effect(obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not self._in_effect(obj)
