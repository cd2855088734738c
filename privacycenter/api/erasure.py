"""API of account erasure."""

from django.contrib.auth import logout
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api_errors import error_body
from common.api_throttles import PasswordRateThrottle
from privacy.erasure import CONFIRMATION_WORD, account_erase


class AccountEraseApi(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [*APIView.throttle_classes, PasswordRateThrottle]

    class InputSerializer(serializers.Serializer):
        password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})
        confirmation = serializers.CharField(help_text=f'Type "{CONFIRMATION_WORD}".')

    class OutputSerializer(serializers.Serializer):
        erased_at = serializers.DateTimeField()
        erased = serializers.DictField(
            child=serializers.IntegerField(), help_text="Rows removed per category."
        )
        remaining = serializers.DictField(
            child=serializers.IntegerField(), help_text="Rows found afterwards (should be none)."
        )
        kept = serializers.ListField(
            child=serializers.ListField(child=serializers.CharField()),
            help_text="What is kept, and why (e.g. an anonymous audit line).",
        )

    @extend_schema(
        operation_id="account_erase",
        summary="Delete your account and all your data",
        description=(
            f'Needs your password and the word "{CONFIRMATION_WORD}". Erases every category '
            "of data, destroys your encryption key, revokes your token and signs out every "
            "session. Irreversible. Wrong password or word: 400, nothing erased."
        ),
        request=InputSerializer,
        responses={200: OutputSerializer},
        examples=[
            OpenApiExample(
                "Erase",
                value={"password": "correct horse", "confirmation": CONFIRMATION_WORD},
                request_only=True,
            ),
            OpenApiExample(
                "Refused",
                value=error_body(
                    code="invalid", message="That password is not right. Nothing was erased."
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
        receipt = account_erase(
            user=request.user,
            password=data.validated_data["password"],
            confirmation=data.validated_data["confirmation"],
        )
        logout(request._request)  # the session row went with the account; drop the cookie too
        return Response(self.OutputSerializer(receipt.as_session_data()).data)
