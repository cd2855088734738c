"""The trust survey's two endpoints: the signed-in reader's form (answer, not now, never
again) and the already-randomized answer a private-mode browser sends."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api_throttles import KeyedAddressRateThrottle

from . import services
from .selectors import survey_ask_of, survey_offer_remember
from .survey import ASK_EVERY_DAYS, EPSILON

CHOOSE = "Choose an answer, “Not now” or “Don't ask me again”. Nothing was saved."
THANKS = (
    "Thank you. Your answer was randomized (ε = {epsilon:g}) before we stored it, with nothing "
    "that links it to you; we will not ask again for {days} days."
)


@login_required
@require_POST
def survey(request):
    action = request.POST.get("action", "")
    user = request.user
    try:
        if action == "answer":
            services.survey_answer_record(user=user, answer=request.POST.get("answer", ""))
            said = THANKS.format(epsilon=EPSILON, days=ASK_EVERY_DAYS)
        elif action == "later":
            services.survey_put_off(user=user)
            said = f"We will not ask again for {ASK_EVERY_DAYS} days."
        elif action == "never":
            services.survey_dismiss(user=user)
            said = "We will not ask you this again."
        else:
            said = CHOOSE
    except ValidationError as error:
        said = " ".join(error.messages)
    survey_offer_remember(session=request.session, ask=survey_ask_of(user=user), said=said)
    return redirect(reverse("news:home") + "#trust-survey")


class BrowserAnswerThrottle(KeyedAddressRateThrottle):
    """Answers counted per client address, which the throttle's cache keeps only as a keyed
    hash and only for its window: no address is stored with, or beside, an answer. A browser
    answers once every 90 days; many browsers behind one address still fit."""

    scope = "trust_survey"
    rate = "20/day"


# A browser endpoint of the site's own pages, not part of the documented API.
@extend_schema(exclude=True)
class BrowserAnswerView(APIView):
    """One answer a private-mode browser randomized itself, as a form field `answer`.

    No authentication and no CSRF check, on purpose: the browser sends it without cookies
    (`credentials: "omit"`), so there is no session a forged request could act with, and an
    answer changes no one's data: it adds one randomized answer to the survey's totals, which
    any client can do; the throttle bounds how many."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [BrowserAnswerThrottle]
    parser_classes = [FormParser]

    def post(self, request):
        answer = request.data.get("answer", "") if hasattr(request.data, "get") else ""
        try:
            services.survey_randomized_answer_record(answer=str(answer))
        except ValidationError as error:
            raise exceptions.ValidationError(error.messages) from None
        response = Response(status=status.HTTP_204_NO_CONTENT)
        response["Cache-Control"] = "no-store"
        return response


survey_browser_answer = BrowserAnswerView.as_view()
