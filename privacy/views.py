"""The privacy center and the public privacy pages. Thin: parse, call a service, render."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import services as accounts_services
from accounts.forms import PurposesForm
from accounts.selectors import preferences_region, reader_profile

from . import erasure, selectors, services
from .browser_signals import signals_for
from .forms import DeleteAccountForm, DisplayNameForm, NoticeCheckedForm
from .models import ConsentRecord
from .purposes import PURPOSES, READING_HISTORY, SWITCHABLE_PURPOSES

LEDGER_DAYS = 90


@require_GET
def gpc_json(request):
    """Global Privacy Control support statement (https://privacycg.github.io/gpc-spec/)."""
    return JsonResponse({"gpc": True, "lastUpdate": settings.GPC_LAST_UPDATE})


@require_GET
def transparency(request):
    """The public privacy budget ledger: every differentially private release, in plain words."""
    return render(
        request,
        "privacy/transparency.html",
        {
            "ledger": selectors.ledger_summary(days=LEDGER_DAYS),
            "days": LEDGER_DAYS,
            "epsilon_per_day": settings.DP_EPSILON_PER_DAY,
            "contribution_bound": settings.DP_CONTRIBUTION_BOUND,
            "click_through_bound": settings.DP_CLICK_THROUGH_CONTRIBUTION_BOUND,
        },
    )


# --- The privacy center (signed-in readers) -----------------------------------------------

HISTORY_PAGE_SIZE = 25
ACTIVITY_PAGE_SIZE = 50


@login_required
@require_GET
def center(request):
    """Everything held about the reader on one screen, with a shortcut to every right."""
    snapshots = selectors.data_held(user=request.user)
    return render(
        request,
        "privacy/center.html",
        {
            "snapshots": snapshots,
            "profile": reader_profile(user=request.user),
            "to_reconfirm": selectors.purposes_to_reconfirm(user=request.user),
        },
    )


@login_required
@require_GET
def data(request):
    return render(
        request,
        "privacy/data.html",
        {
            "snapshots": selectors.data_held(user=request.user),
            "name_form": DisplayNameForm(initial={"display_name": request.user.display_name}),
        },
    )


@login_required
@require_POST
def data_correct(request):
    form = DisplayNameForm(request.POST)
    if form.is_valid():
        try:
            accounts_services.user_correct_display_name(
                user=request.user, display_name=form.cleaned_data["display_name"]
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, "Your display name was corrected.")
    else:
        messages.error(request, "That name is too long (80 characters at most). Nothing changed.")
    return redirect("privacy:data")


@login_required
@require_POST
def category_erase(request, key: str):
    try:
        removed = erasure.category_erase(user=request.user, key=key)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Erased {removed} item{'s' if removed != 1 else ''}.")
    return redirect("privacy:data")


@login_required
@require_GET
def profile(request):
    interest = selectors.interest_profile(user=request.user)
    return render(
        request, "privacy/profile.html", {"interest": interest, "chart": _chart(interest)}
    )


def _chart(interest) -> dict:
    """Geometry of the server-rendered SVG bar chart: one row per topic, two segments."""
    row_height, label_width, bar_width = 28, 150, 300
    longest = max((bar.total for bar in interest.bars), default=0) or 1
    rows = []
    for index, bar in enumerate(interest.bars):
        chosen = round(bar_width * bar.chosen_weight / longest)
        history = round(bar_width * bar.history_share / longest)
        rows.append(
            {
                "bar": bar,
                "y": index * row_height,
                "text_y": index * row_height + 18,
                "chosen_x": label_width,
                "chosen_width": chosen,
                "history_x": label_width + chosen,
                "history_width": history,
                "value_x": label_width + chosen + history + 6,
            }
        )
    return {
        "rows": rows,
        "width": label_width + bar_width + 60,
        "height": max(len(rows), 1) * row_height,
        "label_width": label_width,
    }


@login_required
@require_POST
def profile_reset(request):
    removed = services.recommendations_reset(user=request.user)
    messages.success(
        request,
        f"Recommendations reset: {removed} history entr{'ies' if removed != 1 else 'y'} deleted, "
        "your topics back to equal weight. Your chosen topics are unchanged.",
    )
    return redirect("privacy:profile")


@login_required
@require_GET
def history(request):
    entries = selectors.history_for_user(user=request.user)
    page = Paginator(entries, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "privacy/history.html",
        {"page": page, "profile": reader_profile(user=request.user)},
    )


@login_required
@require_POST
def history_delete(request, entry_id: int):
    if not services.history_entry_delete(user=request.user, entry_id=entry_id):
        raise Http404("No such entry in your history.")
    messages.success(request, "That entry was deleted from your history.")
    return redirect("privacy:history")


@login_required
@require_POST
def history_clear(request):
    removed = services.history_clear(user=request.user)
    messages.success(request, f"Your reading history was cleared ({removed} entries deleted).")
    return redirect("privacy:history")


@login_required
@require_http_methods(["GET", "POST"])
def consents(request):
    user, signals = request.user, signals_for(request)
    current = selectors.consents_current(user=user)
    if request.method == "POST":
        form = PurposesForm(request.POST)
        if form.is_valid():
            try:
                accounts_services.preferences_set_purposes(
                    user=user,
                    wanted=form.wanted,
                    region=form.cleaned_data["region_name"],
                    source=ConsentRecord.Source.PRIVACY_CENTER,
                    signals=signals,
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, "Your choices were saved and apply from now on.")
                return redirect("privacy:consents")
    else:
        preferences = accounts_services.preferences_for(user=user)
        form = PurposesForm(
            initial={
                **{p.key: current[p.key] for p in SWITCHABLE_PURPOSES},
                "region_name": preferences_region(preferences=preferences),
            }
        )
    return render(request, "privacy/consents.html", _consents_context(request, form, current))


def _consents_context(request, form, current: dict[str, bool]) -> dict:
    user = request.user
    return {
        "form": form,
        "signals": signals_for(request),
        "profile": reader_profile(user=user),
        "history_on": current[READING_HISTORY.key],
        "reading_history": READING_HISTORY,
        "to_reconfirm": [PURPOSES[key] for key in selectors.purposes_to_reconfirm(user=user)],
        "policy": selectors.policy_current(),
        "receipts": selectors.consent_receipts(user=user),
    }


@login_required
@require_POST
def consent_choice(request):
    """One purpose turned on or off: re-confirmation after a policy change, or the reading
    history switch (the top personalization level)."""
    form = NoticeCheckedForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.non_field_errors()) or "That choice was not valid.")
        return redirect("privacy:consents")
    purpose, turn_on = form.cleaned_data["purpose"], form.cleaned_data["turn_on"]
    try:
        services.purpose_choose(
            user=request.user,
            purpose=purpose,
            granted=turn_on,
            notice_sha256=form.cleaned_data["notice"],
            source=ConsentRecord.Source.PRIVACY_CENTER,
            signals=signals_for(request),
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        state = "on" if turn_on else "off"
        messages.success(request, f"{PURPOSES[purpose].title}: {state}, from now on.")
    return redirect("privacy:consents")


@login_required
@require_POST
def personalization(request):
    """Restriction and objection: pause personalization (Off, topics kept) or resume it."""
    signals = signals_for(request)
    if request.POST.get("action") == "resume":
        try:
            accounts_services.personalization_resume(user=request.user, signals=signals)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, "Personalization resumed at “Topics only”.")
    else:
        accounts_services.personalization_pause(user=request.user, signals=signals)
        messages.success(
            request, "Personalization paused. Your front page now uses nothing about you."
        )
    return redirect(
        "privacy:profile" if request.POST.get("next_page") == "profile" else "privacy:center"
    )


@login_required
@require_GET
def activity(request):
    page = Paginator(selectors.activity_for_user(user=request.user), ACTIVITY_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "privacy/activity.html", {"page": page})


@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request):
    form = DeleteAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            receipt = erasure.account_erase(
                user=request.user,
                password=form.cleaned_data["password"],
                confirmation=form.cleaned_data["confirmation"],
            )
        except erasure.ErasureRefused as error:
            form.add_error(None, error)
        else:
            logout(request)  # the session row is already gone with the account
            request.session[ERASURE_RECEIPT_KEY] = receipt.as_session_data()
            return redirect("privacy:erased")
    return render(
        request,
        "privacy/delete_account.html",
        {"form": form, "snapshots": selectors.data_held(user=request.user)},
    )


ERASURE_RECEIPT_KEY = "privacy_erasure_receipt"


@require_GET
def erased(request):
    receipt = request.session.get(ERASURE_RECEIPT_KEY)
    if receipt is None:
        return redirect("news:home")
    return render(request, "privacy/erased.html", {"receipt": receipt})


# --- Public pages -------------------------------------------------------------------------


@require_GET
def policy(request, version: str | None = None):
    versions = selectors.policy_versions()
    if not versions:
        raise Http404("No policy has been published yet.")
    shown = (
        versions[0]
        if version is None
        else next((v for v in versions if v.version == version), None)
    )
    if shown is None:
        raise Http404("There is no such version of the policy.")
    position = versions.index(shown)
    previous = versions[position + 1] if position + 1 < len(versions) else None
    return render(
        request,
        "privacy/policy.html",
        {
            "policy": shown,
            "is_current": position == 0,
            "versions": versions,
            "previous": previous,
            "changes": selectors.policy_changes(older=previous, newer=shown) if previous else [],
        },
    )


@require_GET
def what_we_collect(request):
    from .registry import categories

    return render(
        request,
        "privacy/what_we_collect.html",
        {
            "categories": categories(),
            "purposes": PURPOSES.values(),
            "epsilon_per_day": settings.DP_EPSILON_PER_DAY,
        },
    )
