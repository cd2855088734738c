"""Pages of the privacy center for a copy of one's data: ask, watch it build, confirm the
password, download."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods

from common.error_pages import error_page
from privacy import exports, selectors
from privacy.forms import ConfirmPasswordForm
from privacy.reauth import ReauthResult, reauth_confirm, reauth_is_fresh, too_many_attempts_message

WRONG_PASSWORD_MESSAGE = "That is not your password. Nothing was downloaded."


@login_required
@require_http_methods(["GET", "POST"])
def export_page(request):
    if request.method == "POST":
        try:
            exports.export_request_create(user=request.user)
        except ValidationError as error:
            # A double submit lands here too: the first request is the one being built.
            level = messages.INFO if error.code == "export_active" else messages.ERROR
            messages.add_message(request, level, " ".join(error.messages))
        else:
            messages.success(
                request, "We are building your copy. We will email you when it is ready."
            )
        return redirect("privacy:export")
    export_list = selectors.exports_for_user(user=request.user)
    return render(
        request,
        "privacy/export.html",
        {
            "exports": export_list,
            "active": any(export.is_active for export in export_list),
            "hours": settings.PRIVACY_EXPORT_RETENTION_HOURS,
            "per_day": settings.PRIVACY_EXPORTS_PER_DAY,
            "reauth_minutes": settings.PRIVACY_REAUTH_SECONDS // 60,
        },
    )


@login_required
@require_GET
def export_status(request, export_id):
    """The status of one export, polled by htmx while it builds."""
    export = selectors.export_for_user(user=request.user, export_id=export_id)
    if export is None:
        raise Http404  # someone else's export, or none: the same answer
    if not request.headers.get("HX-Request"):
        return redirect("privacy:export")  # without htmx the full page shows the same
    return render(request, "privacy/partials/export_status.html", {"export": export})


def _unavailable(request, error: exports.ExportUnavailable):
    if isinstance(error, exports.ExportNotFound):
        raise Http404
    if isinstance(error, exports.ExportExpired):
        return render(
            request,
            "privacy/export_gone.html",
            {"hours": settings.PRIVACY_EXPORT_RETENTION_HOURS},
            status=410,
        )
    message = (
        "This copy could not be built. Ask for a new one on the export page."
        if error.export.status == error.export.Status.FAILED
        else "This copy is still being built. The export page shows its progress."
    )
    return error_page(request, 409, "Not ready to download", message)


@login_required
@require_GET
def export_download(request, export_id):
    # Ownership and state first: a wrong or expired link gets its answer without a password.
    try:
        exports.export_downloadable(user=request.user, export_id=export_id)
    except exports.ExportUnavailable as error:
        return _unavailable(request, error)
    if not reauth_is_fresh(request):
        query = urlencode({"next": request.get_full_path()})
        return redirect(f"{reverse('privacy:export_confirm_password')}?{query}")
    try:
        path = exports.export_download_path(user=request.user, export_id=export_id)
        stream = path.open("rb")
    except exports.ExportUnavailable as error:
        return _unavailable(request, error)
    except FileNotFoundError:  # deleted by the purge a moment ago
        return _unavailable(request, exports.ExportExpired())
    response = FileResponse(
        stream,
        as_attachment=True,
        filename=f"{settings.SITE_NAME.lower()}-my-data-{export_id}.zip",
        content_type="application/zip",
    )
    # Personal data: no browser or proxy keeps a copy.
    response["Cache-Control"] = "no-store"
    return response


def _next_url(request, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("privacy:export")


@login_required
@require_http_methods(["GET", "POST"])
def export_confirm_password(request):
    if request.method == "POST":
        form = ConfirmPasswordForm(request.POST)
        if form.is_valid():
            result = reauth_confirm(request, password=form.cleaned_data["password"])
            if result is ReauthResult.CONFIRMED:
                return redirect(_next_url(request, form.cleaned_data["next"]))
            form.add_error(
                "password",
                WRONG_PASSWORD_MESSAGE
                if result is ReauthResult.WRONG_PASSWORD
                else too_many_attempts_message(),
            )
            status = 429 if result is ReauthResult.TOO_MANY_ATTEMPTS else 200
            return _confirm_page(request, form, status=status)
    else:
        form = ConfirmPasswordForm(initial={"next": _next_url(request, request.GET.get("next"))})
    return _confirm_page(request, form)


def _confirm_page(request, form, status: int = 200):
    return render(
        request,
        "privacy/export_confirm_password.html",
        {"form": form, "minutes": settings.PRIVACY_REAUTH_SECONDS // 60},
        status=status,
    )
