"""Admin for the privacy policy versions only: no personal data is ever registered here.

A version is a draft until it is published; published (in effect or scheduled), it is the
record of what readers were told, so it can be neither edited nor deleted: a correction is a
new version, whose form starts from the current text. Thin: the services decide.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils import timezone

from . import selectors, services
from .models import PolicyVersion
from .purposes import PURPOSES

DRAFT_FIELDS = ("version", "takes_effect_at", "summary_of_changes", "full_text")


class PolicyVersionForm(forms.ModelForm):
    publish = forms.BooleanField(
        required=False,
        label="Publish when saved",
        help_text="Once published it can no longer be changed or deleted. It takes effect at "
        "the time above, or at once if that is empty or already past. Readers who had a "
        "feature on whose explanation changed are emailed and asked again.",
    )

    class Meta:
        model = PolicyVersion
        fields = DRAFT_FIELDS


def _state(version: PolicyVersion) -> str:
    if not version.is_published:
        return "Draft"
    if version.takes_effect_at > timezone.now():
        return "Scheduled"
    current = selectors.policy_current()
    return "In effect" if current and current.pk == version.pk else "Replaced"


@admin.register(PolicyVersion)
class PolicyVersionAdmin(admin.ModelAdmin):
    form = PolicyVersionForm
    list_display = (
        "version",
        "state",
        "takes_effect_at",
        "published_at",
        "purposes_changed",
        "summary_of_changes",
    )
    search_fields = ("version", "summary_of_changes")
    actions = ["publish_selected"]

    @admin.display(description="State")
    def state(self, obj) -> str:
        return _state(obj)

    @admin.display(description="Purposes asked again")
    def purposes_changed(self, obj) -> str:
        if not obj.is_published:
            return "(decided when published)"
        titles = [PURPOSES[key].title for key in obj.changed_purposes if key in PURPOSES]
        return ", ".join(titles) or "None"

    def get_fields(self, request, obj=None):
        if obj is not None and obj.is_published:
            return (*DRAFT_FIELDS, "published_at", "purposes_changed")
        return (*DRAFT_FIELDS, "publish")

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_published:
            return ("published_at", "purposes_changed")
        return ()

    def _is_draft(self, obj) -> bool:
        return obj is None or not obj.is_published

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._is_draft(obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._is_draft(obj)

    def get_changeform_initial_data(self, request):
        """A new version starts from the text in force (or scheduled): edit, don't retype."""
        initial = super().get_changeform_initial_data(request)
        latest = selectors.policy_latest_published()
        if latest is not None:
            initial.setdefault("full_text", latest.full_text)
        suggested = timezone.localdate().isoformat()
        if not PolicyVersion.objects.filter(version=suggested).exists():
            initial.setdefault("version", suggested)
        return initial

    def save_model(self, request, obj, form, change):
        services.policy_draft_save(draft=obj)
        if form.cleaned_data.get("publish"):
            self._publish(request, obj)

    def delete_model(self, request, obj):
        services.policy_draft_delete(policy=obj)

    def delete_queryset(self, request, queryset):
        for version in queryset:
            services.policy_draft_delete(policy=version)

    def _publish(self, request, draft: PolicyVersion) -> None:
        try:
            published = services.policy_publish(policy=draft)
        except ValidationError as error:
            messages.error(request, f"{draft.version} stays a draft: {' '.join(error.messages)}")
            return
        when = timezone.localtime(published.takes_effect_at)
        asked = [PURPOSES[key].title for key in published.changed_purposes if key in PURPOSES]
        messages.success(
            request,
            f"Version {published.version} is published and takes effect "
            f"{'now' if when <= timezone.localtime() else f'on {when:%d %B %Y, %H:%M}'}. "
            + (
                f"Readers who had these on are asked again, and emailed: {', '.join(asked)}."
                if asked
                else "No feature's explanation changed: nobody is asked again."
            ),
        )

    @admin.action(description="Publish the selected drafts", permissions=["change"])
    def publish_selected(self, request, queryset):
        for draft in queryset.order_by("takes_effect_at", "pk"):
            self._publish(request, draft)
