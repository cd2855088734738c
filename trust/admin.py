"""The incident register in the admin: staff may read it, only superusers write it, and
"Mark readers as affected" queues one email to each reader named."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from privacy.registry import categories

from . import services
from .models import Incident


class IncidentForm(forms.ModelForm):
    data_categories = forms.MultipleChoiceField(
        choices=(), required=False, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Incident
        fields = (
            "title",
            "status",
            "summary",
            "what_happened",
            "occurred_at",
            "discovered_at",
            "closed_at",
            "data_categories",
            "readers_affected_count",
            "actions_taken",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The registry's categories, read when the form is made: every app has registered.
        self.fields["data_categories"].choices = [(c.key, c.title) for c in categories()]


class AffectedReadersForm(forms.Form):
    emails = forms.CharField(
        label="Email addresses of the affected readers, one a line",
        widget=forms.Textarea(attrs={"rows": 10, "cols": 60}),
        max_length=200_000,
    )

    def addresses(self) -> list[str]:
        return self.cleaned_data["emails"].split()


def _superuser(request) -> bool:
    return request.user.is_active and request.user.is_superuser


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    form = IncidentForm
    list_display = ("title", "status", "discovered_at", "closed_at", "readers_affected_count")
    list_filter = ("status",)
    search_fields = ("title", "summary")
    readonly_fields = ("affected_readers",)

    # Staff may read the register; only superusers write it (not editors, whatever their
    # group's permissions).
    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_add_permission(self, request):
        return _superuser(request)

    def has_change_permission(self, request, obj=None):
        return _superuser(request)

    def has_delete_permission(self, request, obj=None):
        return _superuser(request)

    def save_model(self, request, obj, form, change):
        services.incident_save(incident=obj)

    @admin.display(description="Affected readers notified")
    def affected_readers(self, obj):
        if obj is None or obj.pk is None:
            return "Save the incident first."
        notices = obj.notices.all()
        sent = notices.filter(sent_at__isnull=False).count()
        link = reverse("admin:trust_incident_affected", args=[obj.pk])
        return format_html(
            '{} marked, {} emailed. <a href="{}">Mark readers as affected</a>',
            notices.count(),
            sent,
            link,
        )

    def get_urls(self):
        affected = self.admin_site.admin_view(self.affected_view)
        return [
            path("<int:object_id>/affected/", affected, name="trust_incident_affected"),
            *super().get_urls(),
        ]

    def affected_view(self, request, object_id: int):
        if not _superuser(request):
            raise PermissionDenied
        incident = get_object_or_404(Incident, pk=object_id)
        form = AffectedReadersForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                queued = services.incident_readers_mark_affected(
                    incident=incident, emails=form.addresses()
                )
            except ValidationError as error:
                form.add_error("emails", error)
            else:
                self.message_user(
                    request,
                    f"{queued} email{'s' if queued != 1 else ''} queued; readers already "
                    "emailed about this incident get nothing more.",
                    messages.SUCCESS,
                )
                return redirect("admin:trust_incident_change", incident.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "incident": incident,
            "form": form,
            "title": f"Mark readers as affected by “{incident.title}”",
        }
        return TemplateResponse(request, "trust/admin_affected.html", context)
