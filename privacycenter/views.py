"""The privacy center and the public privacy pages. Thin: parse, call a service, render."""

from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts import services as accounts_services
from accounts.forms import PurposesForm
from accounts.selectors import preferences_region, reader_profile
from common.error_pages import error_page
from newsroom.dashboard import trust_panel
from privacy import erasure, local_reports, selectors, services
from privacy.browser_signals import signals_for
from privacy.forms import DeleteAccountForm, DisplayNameForm, NoticeCheckedForm, PersonalizationForm
from privacy.models import ConsentRecord
from privacy.purposes import (
    POPULAR_COUNTING,
    PURPOSES,
    READING_HISTORY,
    REGION,
    SWITCHABLE_PURPOSES,
)
from privacy.reauth import password_checks_limited
from privacy.registry import categories
from trust.selectors import incidents_published

from .data_display import readable_tables
from .selectors import interest_profile

LEDGER_DAYS = 90


@require_GET
def gpc_json(request):
    """Global Privacy Control support statement (https://privacycg.github.io/gpc-spec/)."""
    return JsonResponse({"gpc": True, "lastUpdate": settings.GPC_LAST_UPDATE})


@require_GET
@vary_on_headers("Sec-GPC", "DNT")
def gpc_page(request):
    """Global Privacy Control in plain words: what the site does while a browser sends it, and
    whether this browser sends it now (the footer's "We honour Global Privacy Control")."""
    return render(
        request,
        "privacy/gpc.html",
        {
            "signals": signals_for(request),
            "reading_history": READING_HISTORY,
            "popular_counting": POPULAR_COUNTING,
            "purposes": PURPOSES.values(),
            "gpc_last_update": settings.GPC_LAST_UPDATE,
        },
    )


@require_GET
def transparency(request):
    """The public privacy budget ledger: every differentially private release, in plain words;
    and the daily digests of the consent-receipt chains."""
    return render(
        request,
        "privacy/transparency.html",
        {
            "ledger": selectors.ledger_summary(days=LEDGER_DAYS),
            "consent_digests": selectors.consent_digests_published(days=LEDGER_DAYS),
            "local_reports": local_reports.local_releases_recent(days=LEDGER_DAYS),
            "days": LEDGER_DAYS,
            "epsilon_per_day": settings.DP_EPSILON_PER_DAY,
            "contribution_bound": settings.DP_CONTRIBUTION_BOUND,
            "click_through_bound": settings.DP_CLICK_THROUGH_CONTRIBUTION_BOUND,
            "optin": selectors.optin_rates(),
            "threshold": settings.DP_SUPPRESSION_THRESHOLD,
            # Disclosed whenever some readers see the editors' order instead of their own.
            "holdout_percent": f"{100 * settings.PERSONALIZATION_HOLDOUT_SHARE:g}"
            if settings.PERSONALIZATION_HOLDOUT_SHARE > 0
            else "",
            "incidents": incidents_published(),
            "trust": trust_panel(),
        },
    )


# --- The privacy center (signed-in readers) -----------------------------------------------

HISTORY_PAGE_SIZE = 25
ACTIVITY_PAGE_SIZE = 50


@login_required
@require_GET
def center(request):
    """Everything held about the reader on one screen, with a shortcut to every right."""
    states = selectors.purpose_states(user=request.user, signals=signals_for(request))
    return render(
        request,
        "privacy/center.html",
        {
            "snapshots": selectors.data_counts(user=request.user),
            "profile": reader_profile(user=request.user),
            "purpose_states": states.values(),
            "to_reconfirm": [state.purpose for state in states.values() if state.to_reconfirm],
        },
    )


@login_required
@require_GET
def data(request):
    snapshots = selectors.data_held(user=request.user)
    tables = readable_tables(snapshots)
    return render(
        request,
        "privacy/data.html",
        {
            "snapshots": snapshots,
            "sections": [(snapshot, tables[snapshot.key]) for snapshot in snapshots],
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
    interest = interest_profile(user=request.user)
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
    removed = accounts_services.recommendations_reset(user=request.user)
    messages.success(
        request,
        f"Recommendations reset: {removed} history entr{'ies' if removed != 1 else 'y'} deleted, "
        "your topics back to equal weight. Your chosen topics are unchanged.",
    )
    return redirect("privacy:profile")


@login_required
@require_GET
def history(request):
    user, signals = request.user, signals_for(request)
    entries = selectors.history_for_user(user=user)
    page = Paginator(entries, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    # What the page says is what the recording code decides for a read now, from the same
    # selector: it never says "we keep" while nothing is kept.
    recording = selectors.read_permissions(user_id=user.pk, signals=signals).history_kept
    state = selectors.purpose_states(user=user, signals=signals)[READING_HISTORY.key]
    return render(
        request,
        "privacy/history.html",
        {
            "page": page,
            "profile": reader_profile(user=user),
            "recording": recording,
            "history_state": state,
            "retention_days": settings.PRIVACY_HISTORY_RETENTION_DAYS,
        },
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
    # The page shows each purpose as it acts on this request, not only what is on file, so it
    # never says "on" while nothing is recorded.
    states = selectors.purpose_states(user=user, signals=signals)
    on_file = {key: state.on for key, state in states.items()}
    in_effect = {key: state.acting for key, state in states.items()}
    region_now = preferences_region(preferences=accounts_services.preferences_for(user=user))
    if request.method == "POST":
        form = PurposesForm(request.POST)
        if form.is_valid():
            saved = _consents_save(request, form, on_file, in_effect, region_now)
            if saved is not None:
                if saved:
                    messages.success(request, "Your choices were saved and apply from now on.")
                else:
                    messages.info(request, "Nothing changed: your choices were already as shown.")
                return redirect("privacy:consents")
    else:
        form = PurposesForm(
            initial={
                **{p.key: in_effect[p.key] for p in SWITCHABLE_PURPOSES},
                "region_name": region_now,
            }
        )
    return render(
        request, "privacy/consents.html", _consents_context(request, form, on_file, in_effect)
    )


def _consents_save(request, form, on_file, in_effect, region_now) -> bool | None:
    """Apply the switches the reader changed from what the page showed them; True when
    something changed, False when nothing did, None when a service refused (on the form).

    A switch left as shown keeps what is on file: a choice paused by the browser's signal is
    neither withdrawn nor turned on by a save that did not touch it. Ticking a paused one is
    the explicit opt-in despite the signal."""
    user, signals = request.user, signals_for(request)
    changed = {key: on for key, on in form.wanted.items() if on != in_effect[key]}
    region_name = form.cleaned_data["region_name"]
    region_moved = form.wanted[REGION.key] and region_name != region_now
    if not changed and not region_moved:
        return False
    wanted = {p.key: changed.get(p.key, on_file[p.key]) for p in SWITCHABLE_PURPOSES}
    despite_signal = [key for key, on in changed.items() if on and on_file[key]]
    before = {key: record.pk for key, record in selectors.consents_latest(user=user).items()}
    try:
        accounts_services.preferences_set_purposes(
            user=user,
            wanted=wanted,
            region=region_name if wanted[REGION.key] and region_moved else region_now,
            source=ConsentRecord.Source.PRIVACY_CENTER,
            signals=signals,
        )
        for key in despite_signal:
            accounts_services.purpose_choose(
                user=user,
                purpose=key,
                granted=True,
                notice_sha256=PURPOSES[key].notice_sha256,
                source=ConsentRecord.Source.PRIVACY_CENTER,
                signals=signals,
            )
    except ValidationError as error:
        form.add_error(None, error)
        return None
    after = {key: record.pk for key, record in selectors.consents_latest(user=user).items()}
    return after != before or region_moved


def _consents_context(request, form, on_file: dict[str, bool], in_effect: dict[str, bool]):
    user, signals = request.user, signals_for(request)
    paused = [key for key in PURPOSES if on_file[key] and not in_effect[key]]
    to_reconfirm = selectors.reconsent_requests(user=user)
    return {
        "form": form,
        "signals": signals,
        "profile": reader_profile(user=user),
        "history_on": in_effect[READING_HISTORY.key],
        "history_paused": READING_HISTORY.key in paused,
        "paused_titles": [PURPOSES[key].title for key in paused if key != READING_HISTORY.key],
        "reading_history": READING_HISTORY,
        "to_reconfirm": to_reconfirm,
        "history_to_reconfirm": any(c.purpose == READING_HISTORY for c in to_reconfirm),
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
        receipt = accounts_services.purpose_choose(
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
        if receipt is None:
            messages.info(
                request, f"Nothing changed: {PURPOSES[purpose].title} was already {state}."
            )
        else:
            messages.success(request, f"{PURPOSES[purpose].title}: {state}, from now on.")
    return redirect("privacy:consents")


@login_required
@require_POST
def personalization(request):
    """Restriction and objection: pause personalization (Off, topics kept) or resume it."""
    form = PersonalizationForm(request.POST)
    if not form.is_valid():
        # A forged or garbled request: refused outright rather than read as "pause".
        return error_page(request, 400, "Bad request", " ".join(form.errors["action"]))
    signals = signals_for(request)
    if form.cleaned_data["action"] == "resume":
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
@password_checks_limited
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
        {
            "form": form,
            "snapshots": selectors.data_counts(user=request.user),
            "key_store_backup_days": settings.KEY_STORE_BACKUP_RETENTION_DAYS,
        },
    )


ERASURE_RECEIPT_KEY = "privacy_erasure_receipt"


@require_GET
def erased(request):
    receipt = request.session.get(ERASURE_RECEIPT_KEY)
    if receipt is None:
        return redirect("news:home")
    if receipt.get("receipt_id"):
        # Shown once: the visitor's session keeps the counts, not the number (the email has it).
        request.session[ERASURE_RECEIPT_KEY] = {**receipt, "receipt_id": ""}
    # Kept in the session as text; shown in the site's date format, not as ISO.
    shown = {**receipt, "erased_at": datetime.fromisoformat(receipt["erased_at"])}
    return render(request, "privacy/erased.html", {"receipt": shown})


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
            "changes": selectors.policy_changes(older=previous, newer=shown) if previous else None,
        },
    )


@require_GET
def what_we_collect(request):

    return render(
        request,
        "privacy/what_we_collect.html",
        {
            "categories": categories(),
            "purposes": PURPOSES.values(),
            "epsilon_per_day": settings.DP_EPSILON_PER_DAY,
        },
    )
