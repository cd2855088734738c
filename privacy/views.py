"""Public privacy endpoints."""

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from . import selectors

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
        },
    )
