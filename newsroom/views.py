"""The editors' workspace: the privacy-safe analytics dashboard and the recommender panel.
Editors and superusers only; every count is an aggregate, never one reader's data."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from news.permissions import can_manage_model, is_editor
from news.revisions import editor_label
from recommendations.services import (
    model_active_version,
    model_retrain_request,
    model_rollback_by_editor,
)

from .dashboard import dashboard_build


def _guarded(check):
    """Anonymous visitors are sent to sign in; signed-in people without the role get 403."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not check(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


@require_GET
@_guarded(is_editor)
def dashboard(request):
    context = {
        "dashboard": dashboard_build(),
        "can_manage_model": can_manage_model(request.user),
    }
    return render(request, "news/editor/dashboard.html", context)


@require_POST
@_guarded(can_manage_model)
def model_retrain(request):
    model_retrain_request(editor=editor_label(request.user))
    messages.success(
        request, "Retrain started. The new version appears below once it has been checked."
    )
    return redirect("news:editor_dashboard")


@require_POST
@_guarded(can_manage_model)
def model_rollback(request):
    raw = request.POST.get("to_version", "").strip()
    if raw and not (raw.isdigit() and len(raw) < 10):
        messages.error(request, "Choose a version number to roll back to.")
        return redirect("news:editor_dashboard")
    active = model_active_version()
    previous = active.version if active is not None else None
    try:
        version = model_rollback_by_editor(
            editor=editor_label(request.user), to_version=int(raw) if raw else None
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        moved = "Rolled back" if previous is None or version.version < previous else "Moved forward"
        messages.success(request, f"{moved}: model v{version.version} now serves the feed.")
    return redirect("news:editor_dashboard")
