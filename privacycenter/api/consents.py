"""API of consents and their receipts."""

from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services as accounts_services
from common.api_errors import error_body
from privacy import selectors
from privacy.browser_signals import signals_for
from privacy.models import ConsentRecord
from privacy.purposes import PURPOSES

from .schema import CONSENTS_EXAMPLE


class PurposeStateSerializer(serializers.Serializer):
    purpose = serializers.CharField()
    title = serializers.CharField()
    granted = serializers.BooleanField(
        help_text="On now (a grant given before a policy version changed this purpose's "
        "explanation does not count until confirmed again)."
    )
    notice = serializers.CharField(help_text="The explanation to show before asking.")
    notice_sha256 = serializers.CharField(help_text="Send it back when changing this purpose.")


class DiffPieceSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["same", "removed", "added"])
    text = serializers.CharField()


class RewordingSerializer(serializers.Serializer):
    before = serializers.CharField(help_text="As it was, with a few words around the change.")
    after = serializers.CharField(help_text="As it is now, with the same words around it.")


class PurposeChangeSerializer(serializers.Serializer):
    purpose = serializers.CharField(source="purpose.key")
    title = serializers.CharField(source="purpose.title")
    version = serializers.CharField(help_text="The policy version that changed it.")
    summary_of_changes = serializers.CharField()
    diff = DiffPieceSerializer(
        many=True,
        help_text="The notice word by word, from the words you agreed to to those asked now.",
    )
    rewordings = RewordingSerializer(many=True)


class ReceiptSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConsentRecord
        fields = (
            "purpose",
            "granted",
            "policy_version",
            "notice_sha256",
            "browser_signal",
            "source",
            "created_at",
            "record_hash",
        )


class ConsentsOutputSerializer(serializers.Serializer):
    purposes = PurposeStateSerializer(many=True)
    to_reconfirm = serializers.ListField(
        child=serializers.CharField(),
        help_text="Purposes you had on before a policy version changed their explanation: off "
        "until you confirm them again (send a grant with the current notice_sha256).",
    )
    changes = PurposeChangeSerializer(
        many=True, help_text="What changed in each purpose of `to_reconfirm`."
    )
    browser_signal = serializers.BooleanField(
        help_text="This request carried GPC or DNT: only choices made with it present count."
    )
    receipts = ReceiptSerializer(many=True)


def _consents_output(request) -> dict:
    user = request.user
    states = selectors.purpose_states(user=user)
    return ConsentsOutputSerializer(
        {
            "purposes": [
                {
                    "purpose": key,
                    "title": purpose.title,
                    "granted": states[key].on,
                    "notice": purpose.notice,
                    "notice_sha256": purpose.notice_sha256,
                }
                for key, purpose in PURPOSES.items()
            ],
            "to_reconfirm": [key for key, state in states.items() if state.to_reconfirm],
            "changes": selectors.reconsent_requests(user=user),
            "browser_signal": signals_for(request).present,
            "receipts": selectors.consent_receipts(user=user),
        }
    ).data


class ConsentsApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        purpose = serializers.ChoiceField(choices=list(PURPOSES))
        granted = serializers.BooleanField()
        notice_sha256 = serializers.RegexField(
            r"^[0-9a-f]{64}$",
            help_text="The `notice_sha256` of the notice shown to the reader.",
            error_messages={"invalid": "Send the notice_sha256 given with the purpose."},
        )

    @extend_schema(
        operation_id="consents_retrieve",
        summary="Your consents and receipts",
        description="Every optional purpose, whether it is on now, its notice and the notice's "
        "hash; purposes to confirm again after a policy change; every receipt, newest first.",
        responses={200: ConsentsOutputSerializer},
        examples=[OpenApiExample("Consents", value=CONSENTS_EXAMPLE, response_only=True)],
        tags=["privacy"],
    )
    def get(self, request):
        return Response(_consents_output(request))

    @extend_schema(
        operation_id="consents_change",
        summary="Turn one purpose on or off",
        description=(
            "Records a receipt (policy version, notice hash, time, GPC/DNT presence). "
            "`notice_sha256` must be the current notice's hash from GET: a stale or forged one "
            "is refused with code `stale_notice` and changes nothing. `reading_history` is the "
            "top personalization level: turning it on needs at least one followed topic. "
            "Under GPC/DNT, a grant sent with the signal present is an explicit opt-in."
        ),
        request=InputSerializer,
        responses={200: ConsentsOutputSerializer},
        examples=[
            OpenApiExample(
                "Turn the digest on",
                value={
                    "purpose": "digest",
                    "granted": True,
                    "notice_sha256": PURPOSES["digest"].notice_sha256,
                },
                request_only=True,
            ),
            OpenApiExample(
                "Stale notice",
                value=error_body(
                    code="stale_notice",
                    message="The explanation of this choice has changed since it was shown. "
                    "Read it again and resubmit. Nothing was changed.",
                ),
                response_only=True,
                status_codes=["400"],
            ),
        ],
        tags=["privacy"],
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        accounts_services.purpose_choose(
            user=request.user,
            purpose=data.validated_data["purpose"],
            granted=data.validated_data["granted"],
            notice_sha256=data.validated_data["notice_sha256"],
            source=ConsentRecord.Source.PRIVACY_CENTER,
            signals=signals_for(request),
        )
        return Response(_consents_output(request))
