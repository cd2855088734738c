"""Private mode's pages: the public candidate bundle (the same bytes for everyone, never
reading who asks), the page that turns private mode on, and the switch of a signed-in
reader's account level. The ranking itself runs in the browser (static/privatemode/)."""

import re

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseNotModified
from django.shortcuts import redirect, render
from django.utils.http import parse_etags
from django.views.decorators.http import require_POST, require_safe
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services as accounts_services
from accounts.selectors import reader_profile
from common.api_throttles import KeyedAddressRateThrottle
from news.selectors import topics_all
from privacy.browser_signals import signals_for
from privacy.federated import UpdateRefused, offer_current, update_add
from privacy.ldp import oue
from privacy.levels import Level
from privacy.local_reports import ReportRefused, report_add
from privacy.models import ConsentRecord
from recommendations.weights import FEDERATED_WEIGHTS

from .services import bundle_current

# An hour: a browser or a shared cache asks again at most hourly (a 304 when nothing
# changed); a story withdrawn meanwhile is already left out of the page the server renders.
BUNDLE_MAX_AGE_SECONDS = 3600
_GZIP_REFUSED = re.compile(r"gzip\s*;\s*q\s*=\s*0(\.0*)?\s*(,|$)")


def _accepts_gzip(request) -> bool:
    accepted = request.headers.get("Accept-Encoding", "").lower()
    return "gzip" in accepted and not _GZIP_REFUSED.search(accepted)


@require_safe
def bundle(request):
    """The public candidate bundle. Nothing about the visitor is read (not the session, not
    a cookie), so the answer depends on the URL and the accepted encoding alone."""
    kept = bundle_current()
    gzipped = _accepts_gzip(request)
    etag = kept.gzip_etag if gzipped else kept.etag
    if etag in parse_etags(request.headers.get("If-None-Match", "")):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(
            kept.gzipped if gzipped else kept.body, content_type="application/json"
        )
        if gzipped:
            response["Content-Encoding"] = "gzip"
    response["ETag"] = etag
    response["Cache-Control"] = f"public, max-age={BUNDLE_MAX_AGE_SECONDS}"
    response["Vary"] = "Accept-Encoding"
    # Its cache headers stand for signed-in visitors too (privacy.middleware).
    response.same_for_everyone = True
    return response


@require_safe
def start(request):
    """What private mode is and the switch that turns it on. The page is the same for every
    anonymous visitor and sets no cookie: what they choose is kept by their browser."""
    profile = reader_profile(user=request.user) if request.user.is_authenticated else None
    return render(
        request,
        "privatemode/start.html",
        {
            "topics": topics_all(),
            "profile": profile,
            "account_private": profile is not None and profile.level == Level.DEVICE,
            "level_label": Level(profile.level).label if profile is not None else "",
            **_report_notice(),
            **_federated_notice(),
        },
    )


def _report_notice() -> dict:
    """The numbers the page states about the optional daily report, from the settings."""
    epsilon = settings.PRIVATE_MODE_REPORT_EPSILON
    if epsilon <= 0:
        return {"report_epsilon": 0}
    return {
        "report_epsilon": f"{epsilon:g}",
        "report_one_in": round(1 / oue(epsilon).q),
        "report_minutes": max(1, round(settings.PRIVATE_MODE_REPORT_MAX_DELAY_SECONDS / 60)),
    }


def _federated_notice() -> dict:
    """The privacy the page states for the optional federated update, from the settings."""
    offer = offer_current()
    if offer is None:
        return {"federated_epsilon": 0}
    return {
        "federated_epsilon": f"{offer.epsilon:g}",
        "federated_delta": f"{offer.delta:g}",
        "federated_numbers": len(FEDERATED_WEIGHTS),
    }


@login_required
@require_POST
def account_level(request):
    """A signed-in reader turns private mode on for their account (the level "On this device
    only": the server keeps that and nothing about their interests) or off again (level Off)."""
    turn_on = request.POST.get("private_mode") == "on"
    try:
        accounts_services.preferences_set_level(
            user=request.user,
            level=Level.DEVICE if turn_on else Level.OFF,
            source=ConsentRecord.Source.PREFERENCES,
            signals=signals_for(request),
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("privatemode:start")
    messages.success(
        request,
        "Private mode is on: pick your topics below; they stay in this browser."
        if turn_on
        else "Private mode is off, and this browser's copy of your topics and reads is deleted.",
    )
    return redirect("privatemode:start")


# A report is one bit per candidate (about 2,000: 344 base64 characters) and two short
# strings; far more than that is not a report.
REPORT_MAX_BYTES = 16_384
REPORT_FIELDS = {"bundle_version", "day", "bits"}


class ReportRateThrottle(KeyedAddressRateThrottle):
    """Reports counted per client address, which the throttle's cache keeps only as a keyed
    hash and only for its window: no address is stored with, or beside, a report."""

    scope = "private_report"


# A browser endpoint of the site's own pages, not part of the documented API.
@extend_schema(exclude=True)
class ReportView(APIView):
    """One browser's daily local DP report: a bit vector randomized in the browser, for the
    bundle version and day it names. Added to that day's per-story sums and not kept.

    No authentication and no CSRF check, on purpose: the browser sends it without cookies
    (`credentials: "omit"`), so there is no session a forged request could act with, and a
    report changes no one's data: it adds one randomized vote to public sums, which any
    client can do, and the throttle and the checks on each report bound."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [ReportRateThrottle]

    def post(self, request):
        length = request.META.get("CONTENT_LENGTH") or "0"
        if not length.isdigit() or int(length) > REPORT_MAX_BYTES:
            raise exceptions.ValidationError(
                [f"A report is at most {REPORT_MAX_BYTES} bytes. Nothing was stored."]
            )
        data = request.data
        if not isinstance(data, dict) or set(data) != REPORT_FIELDS:
            raise exceptions.ValidationError(
                [
                    "A report is a JSON object with bundle_version, day and bits, and nothing "
                    "else. Nothing was stored."
                ]
            )
        try:
            report_add(version=data["bundle_version"], day=data["day"], bits=data["bits"])
        except ReportRefused as error:
            raise exceptions.ValidationError([f"{error} Nothing was stored."]) from None
        response = Response(status=status.HTTP_204_NO_CONTENT)
        response["Cache-Control"] = "no-store"
        return response


report = ReportView.as_view()


# An update is a handful of numbers and a day; far more than that is not an update.
FEDERATED_MAX_BYTES = 1_024
FEDERATED_FIELDS = {"day", "update"}


class FederatedRateThrottle(KeyedAddressRateThrottle):
    """Updates counted per client address, kept by the throttle's cache only as a keyed hash
    and only for its window, as reports are."""

    scope = "private_federated"


@extend_schema(exclude=True)
class FederatedView(APIView):
    """One browser's daily federated update of the blend weights: clipped and noised in the
    browser (static/privatemode/federated.js), kept with its day only until the day is
    averaged. No authentication and no CSRF check, for the reasons ReportView gives: sent
    without cookies, it acts for no one, and it adds one noised vector to a public average."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [FederatedRateThrottle]

    def post(self, request):
        length = request.META.get("CONTENT_LENGTH") or "0"
        if not length.isdigit() or int(length) > FEDERATED_MAX_BYTES:
            raise exceptions.ValidationError(
                [f"An update is at most {FEDERATED_MAX_BYTES} bytes. Nothing was stored."]
            )
        data = request.data
        if not isinstance(data, dict) or set(data) != FEDERATED_FIELDS:
            raise exceptions.ValidationError(
                [
                    "An update is a JSON object with day and update, and nothing else. "
                    "Nothing was stored."
                ]
            )
        try:
            update_add(day=data["day"], vector=data["update"], size=len(FEDERATED_WEIGHTS))
        except UpdateRefused as error:
            raise exceptions.ValidationError([f"{error} Nothing was stored."]) from None
        response = Response(status=status.HTTP_204_NO_CONTENT)
        response["Cache-Control"] = "no-store"
        return response


federated = FederatedView.as_view()
