"""Public privacy endpoints."""

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.http import require_GET


@require_GET
def gpc_json(request):
    """Global Privacy Control support statement (https://privacycg.github.io/gpc-spec/)."""
    return JsonResponse({"gpc": True, "lastUpdate": settings.GPC_LAST_UPDATE})
