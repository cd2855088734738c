"""Onboarding wizard, the account overview and the preferences page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from common.error_pages import error_page
from privacy.browser_signals import signals_for
from privacy.purposes import SWITCHABLE_PURPOSES
from privacy.selectors import consents_current

from . import services
from .forms import LevelForm, PreferencesForm, PurposesForm, TopicsForm
from .levels import LEVEL_EXPLANATIONS
from .selectors import preferences_region

STEP_FORMS = {1: TopicsForm, 2: LevelForm, 3: PurposesForm}
STEP_TEMPLATES = {
    1: "accounts/onboarding_topics.html",
    2: "accounts/onboarding_level.html",
    3: "accounts/onboarding_purposes.html",
}


def _bad_request(request, message: str):
    return error_page(request, 400, "That cannot be done", message)


def _initial_for_step(preferences, step: int) -> dict:
    if step == 1:
        return {
            "topics": list(preferences.topics.all()),
            "blocked_topics": list(preferences.blocked_topics.all()),
        }
    if step == 2:
        return {"level": preferences.level}
    return {}


def _save_step(request, step: int, form) -> None:
    signals, user = signals_for(request), request.user
    data = form.cleaned_data
    if step == 1:
        services.onboarding_save_topics(
            user=user,
            topic_ids=[t.pk for t in data["topics"]],
            blocked_ids=[t.pk for t in data["blocked_topics"]],
            signals=signals,
        )
    elif step == 2:
        services.onboarding_save_level(user=user, level=data["level"], signals=signals)
    else:
        services.onboarding_save_purposes(
            user=user, wanted=form.wanted, region=data["region_name"], signals=signals
        )


@login_required
def onboarding(request):
    preferences = services.preferences_for(user=request.user)
    if preferences.onboarding_done:
        return redirect("accounts:preferences")
    return redirect("accounts:onboarding_step", step=preferences.onboarding_step)


@login_required
@require_http_methods(["GET", "POST"])
def onboarding_step(request, step: int):
    if step not in STEP_FORMS:
        return _bad_request(request, "There is no such onboarding step.")
    preferences = services.preferences_for(user=request.user)
    signals = signals_for(request)

    if request.method == "POST" and "skip" in request.POST:
        try:
            services.onboarding_skip(user=request.user, signals=signals)
        except ValidationError as error:
            return _bad_request(request, " ".join(error.messages))
        messages.info(request, "Personalization is off. You can turn it on in Preferences.")
        return redirect("news:home")

    if preferences.onboarding_done:
        if request.method == "POST":
            return _bad_request(
                request, "Onboarding is already finished; change anything in Preferences."
            )
        return redirect("accounts:preferences")
    if step > preferences.onboarding_step:
        if request.method == "POST":
            return _bad_request(request, "Finish the earlier step first.")
        return redirect("accounts:onboarding_step", step=preferences.onboarding_step)

    form_class = STEP_FORMS[step]
    if request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            try:
                _save_step(request, step, form)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                if step == len(STEP_FORMS):
                    messages.success(request, "All set. Your front page now follows your choices.")
                    return redirect("news:home")
                return redirect("accounts:onboarding_step", step=step + 1)
    else:
        form = form_class(initial=_initial_for_step(preferences, step))
    return render(
        request,
        STEP_TEMPLATES[step],
        {
            "form": form,
            "step": step,
            "steps": len(STEP_FORMS),
            "signals": signals,
            "level_explanations": LEVEL_EXPLANATIONS,
        },
    )


@login_required
@require_http_methods(["GET"])
def account_overview(request):
    """The "Account" page: sign-in details and where each is changed (allauth's pages)."""
    return render(request, "accounts/account.html")


@login_required
@require_http_methods(["GET", "POST"])
def preferences_edit(request):
    preferences = services.preferences_for(user=request.user)
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.preferences_update(
                    user=request.user,
                    topic_ids=[t.pk for t in data["topics"]],
                    blocked_ids=[t.pk for t in data["blocked_topics"]],
                    level=data["level"],
                    wanted=form.wanted,
                    region=data["region_name"],
                    signals=signals_for(request),
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, "Preferences saved. They apply from the next page.")
                return redirect(reverse("accounts:preferences"))
    else:
        current = consents_current(user=request.user)
        form = PreferencesForm(
            initial={
                **_initial_for_step(preferences, 1),
                **_initial_for_step(preferences, 2),
                **{p.key: current[p.key] for p in SWITCHABLE_PURPOSES},
                "region_name": preferences_region(preferences=preferences),
            }
        )
    return render(
        request,
        "accounts/preferences.html",
        {"form": form, "signals": signals_for(request), "preferences": preferences},
    )
