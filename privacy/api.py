"""API of the privacy center: consents and their receipts, reading history, copies of one's
data (with re-authentication before download), account erasure, and the public policy
versions. Every read and write goes through privacy's selectors and services."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import logout
from django.core.exceptions import ValidationError
from django.http import FileResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, Throttled
from rest_framework.generics import ListAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from news.serializers import ArticleOutputSerializer
from newsite.api_errors import error_body, error_response
from newsite.api_throttles import ExportRateThrottle, PasswordRateThrottle

from . import exports, selectors, services
from .browser_signals import signals_for
from .erasure import CONFIRMATION_WORD, account_erase
from .models import ConsentRecord, ExportRequest
from .purposes import PURPOSES
from .reauth import ReauthResult, reauth_check_password, reauth_confirm, reauth_is_fresh

CONFIRM_PASSWORD_HEADER = "X-Confirm-Password"


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "That cannot be done in the current state."


class Gone(APIException):
    status_code = status.HTTP_410_GONE
    default_code = "gone"
    default_detail = "This is gone."


# --- Consents -----------------------------------------------------------------------------


class PurposeStateSerializer(serializers.Serializer):
    purpose = serializers.CharField()
    title = serializers.CharField()
    granted = serializers.BooleanField(
        help_text="On now (a grant from before a policy change "
        "that altered purposes does not count)."
    )
    notice = serializers.CharField(help_text="The explanation to show before asking.")
    notice_sha256 = serializers.CharField(help_text="Send it back when changing this purpose.")


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
        help_text="Purposes you had on before a policy change: confirm them again to keep them.",
    )
    browser_signal = serializers.BooleanField(
        help_text="This request carried GPC or DNT: only choices made with it present count."
    )
    receipts = ReceiptSerializer(many=True)


def _consents_output(request) -> dict:
    user = request.user
    current = selectors.consents_current(user=user)
    return ConsentsOutputSerializer(
        {
            "purposes": [
                {
                    "purpose": key,
                    "title": purpose.title,
                    "granted": current[key],
                    "notice": purpose.notice,
                    "notice_sha256": purpose.notice_sha256,
                }
                for key, purpose in PURPOSES.items()
            ],
            "to_reconfirm": selectors.purposes_to_reconfirm(user=user),
            "browser_signal": signals_for(request).present,
            "receipts": selectors.consent_receipts(user=user),
        }
    ).data


CONSENTS_EXAMPLE = {
    "purposes": [
        {
            "purpose": "digest",
            "title": "Weekly email digest",
            "granted": True,
            "notice": PURPOSES["digest"].notice,
            "notice_sha256": PURPOSES["digest"].notice_sha256,
        }
    ],
    "to_reconfirm": [],
    "browser_signal": False,
    "receipts": [
        {
            "purpose": "digest",
            "granted": True,
            "policy_version": "2026-11-01",
            "notice_sha256": PURPOSES["digest"].notice_sha256,
            "browser_signal": False,
            "source": "privacy_center",
            "created_at": "2026-11-23T09:00:00Z",
            "record_hash": "5d41402abc4b2a76b9719d911017c592" * 2,
        }
    ],
}


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
        services.purpose_choose(
            user=request.user,
            purpose=data.validated_data["purpose"],
            granted=data.validated_data["granted"],
            notice_sha256=data.validated_data["notice_sha256"],
            source=ConsentRecord.Source.PRIVACY_CENTER,
            signals=signals_for(request),
        )
        return Response(_consents_output(request))


# --- Reading history ----------------------------------------------------------------------


class HistoryItemSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="entry_id")
    read_at = serializers.DateTimeField()
    article = ArticleOutputSerializer(allow_null=True, help_text="null if since removed.")


class HistoryApi(ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = HistoryItemSerializer

    class ClearedSerializer(serializers.Serializer):
        deleted = serializers.IntegerField()

    @extend_schema(
        operation_id="history_list",
        summary="Your reading history",
        description="What you read here, newest first, decrypted for you alone. Kept only at "
        "the level Topics + reading history, each entry for a limited number of days.",
        tags=["privacy"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.history_for_user(user=self.request.user)

    @extend_schema(
        operation_id="history_clear",
        summary="Clear your reading history",
        description="Deletes every entry of your reading history at once.",
        request=None,
        responses={200: ClearedSerializer},
        examples=[OpenApiExample("Cleared", value={"deleted": 12}, response_only=True)],
        tags=["privacy"],
    )
    def delete(self, request):
        return Response({"deleted": services.history_clear(user=request.user)})


class HistoryEntryApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="history_entry_delete",
        summary="Delete one history entry",
        description="Deletes one entry of your own history; anyone else's id is 404.",
        request=None,
        responses={204: OpenApiResponse(description="Deleted.")},
        tags=["privacy"],
    )
    def delete(self, request, entry_id):
        if not services.history_entry_delete(user=request.user, entry_id=entry_id):
            raise NotFound("You have no history entry with this id.")
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Copies of one's data -----------------------------------------------------------------


class ExportSerializer(serializers.ModelSerializer):
    status_display = serializers.CharField(source="get_status_display")
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ExportRequest
        fields = (
            "id",
            "status",
            "status_display",
            "progress",
            "created_at",
            "ready_at",
            "expires_at",
            "size_bytes",
            "error",
            "download_url",
        )

    def get_download_url(self, export) -> str | None:
        if export.status != ExportRequest.Status.READY:
            return None
        return f"/api/v1/privacy/exports/{export.pk}/download/"


EXPORT_EXAMPLE = {
    "id": "0b6c3a4e-8f47-4c43-9a53-3c0f4b1b2a10",
    "status": "pending",
    "status_display": "Waiting to start",
    "progress": 0,
    "created_at": "2026-11-23T09:00:00Z",
    "ready_at": None,
    "expires_at": None,
    "size_bytes": None,
    "error": "",
    "download_url": None,
}


class ExportListApi(APIView):
    permission_classes = [IsAuthenticated]

    def get_throttles(self):
        throttles = super().get_throttles()
        return [*throttles, ExportRateThrottle()] if self.request.method == "POST" else throttles

    @extend_schema(
        operation_id="exports_list",
        summary="Your copies of your data",
        description="Your recent requests for a copy of your data, newest first.",
        responses={200: ExportSerializer(many=True)},
        tags=["privacy"],
    )
    def get(self, request):
        mine = selectors.exports_for_user(user=request.user)
        return Response(ExportSerializer(mine, many=True).data)

    @extend_schema(
        operation_id="exports_create",
        summary="Ask for a copy of your data",
        description=(
            "Starts building a ZIP (JSON, CSV, a readable page) in the background: 202 with "
            "the request; poll its status. 409 (`export_active`) while one is being built; "
            f"429 (`export_daily_limit`) after {settings.PRIVACY_EXPORTS_PER_DAY} in 24 hours."
        ),
        request=None,
        responses={
            202: ExportSerializer,
            409: error_response(409, "A copy is already being built."),
        },
        examples=[
            OpenApiExample("Asked", value=EXPORT_EXAMPLE, response_only=True, status_codes=["202"])
        ],
        tags=["privacy"],
    )
    def post(self, request):
        try:
            export = exports.export_request_create(user=request.user)
        except ValidationError as error:
            message = " ".join(error.messages)
            if error.code == "export_daily_limit":
                raise Throttled(detail=message, code=error.code) from error
            raise Conflict(detail=message, code=error.code) from error
        return Response(ExportSerializer(export).data, status=status.HTTP_202_ACCEPTED)


class ExportDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="exports_retrieve",
        summary="The status of one copy",
        description="Status and progress of one of your export requests; anyone else's: 404.",
        responses={200: ExportSerializer},
        examples=[
            OpenApiExample(
                "Building",
                value={
                    **EXPORT_EXAMPLE,
                    "status": "building",
                    "status_display": "Being built",
                    "progress": 40,
                },
                response_only=True,
            )
        ],
        tags=["privacy"],
    )
    def get(self, request, export_id):
        export = selectors.export_for_user(user=request.user, export_id=export_id)
        if export is None:
            raise NotFound("You have no copy with this id.")
        return Response(ExportSerializer(export).data)


class _JsonOnlyNegotiation(BaseContentNegotiation):
    """The download answers a file or a JSON error whatever the client's Accept header says."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _password_confirmed(request) -> bool:
    """Fresh re-authentication: the password in the X-Confirm-Password header (any client),
    or a session confirmed within PRIVACY_REAUTH_SECONDS (POST /api/v1/privacy/reauth/ or the
    web page)."""
    password = request.headers.get(CONFIRM_PASSWORD_HEADER)
    if password is None:
        return reauth_is_fresh(request)
    result = reauth_check_password(user=request.user, password=password)
    if result is ReauthResult.TOO_MANY_ATTEMPTS:
        raise Throttled(detail="Too many wrong passwords. Wait 10 minutes and try again.")
    if result is ReauthResult.WRONG_PASSWORD:
        raise PermissionDenied(
            "That is not your password. Nothing was downloaded.", code="wrong_password"
        )
    return True


class ExportDownloadApi(APIView):
    permission_classes = [IsAuthenticated]
    content_negotiation_class = _JsonOnlyNegotiation

    @extend_schema(
        operation_id="exports_download",
        summary="Download a copy",
        description=(
            "The ZIP file. Needs the password typed recently: send it in the "
            f"`{CONFIRM_PASSWORD_HEADER}` header, or (session clients) confirm it first with "
            "POST /api/v1/privacy/reauth/. Without: 403 `reauth_required`; wrong: 403 "
            "`wrong_password`. 409 while still building or failed; 410 once expired."
        ),
        parameters=[
            OpenApiParameter(
                CONFIRM_PASSWORD_HEADER,
                str,
                location=OpenApiParameter.HEADER,
                required=False,
                description="Your password, for clients without a session.",
            )
        ],
        responses={
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="ZIP."),
            403: error_response(403, "Password not confirmed recently, or wrong."),
            409: error_response(409, "Still being built, or failed."),
            410: error_response(410, "Expired and deleted: ask for a new copy."),
        },
        tags=["privacy"],
    )
    def get(self, request, export_id):
        user = request.user
        # Ownership and state first: a wrong or expired id gets its answer without a password.
        try:
            exports.export_downloadable(user=user, export_id=export_id)
            if not _password_confirmed(request):
                raise PermissionDenied(
                    f"Confirm your password first (POST /api/v1/privacy/reauth/ or the "
                    f"{CONFIRM_PASSWORD_HEADER} header).",
                    code="reauth_required",
                )
            stream = exports.export_download_path(user=user, export_id=export_id).open("rb")
        except exports.ExportNotFound as error:
            raise NotFound("You have no copy with this id.") from error
        except (exports.ExportExpired, FileNotFoundError) as error:
            raise Gone("This copy has expired and was deleted. Ask for a new one.") from error
        except exports.ExportNotReady as error:
            raise Conflict(
                "This copy could not be built; ask for a new one."
                if error.export.status == ExportRequest.Status.FAILED
                else "This copy is still being built.",
                code="not_ready",
            ) from error
        response = FileResponse(
            stream,
            as_attachment=True,
            filename=f"{settings.SITE_NAME.lower()}-my-data-{export_id}.zip",
            content_type="application/zip",
        )
        response["Cache-Control"] = "no-store"  # personal data: no cache keeps a copy
        return response


class ReauthApi(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [*APIView.throttle_classes, PasswordRateThrottle]

    class InputSerializer(serializers.Serializer):
        password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})

    class OutputSerializer(serializers.Serializer):
        confirmed_until = serializers.DateTimeField()

    @extend_schema(
        operation_id="privacy_reauth",
        summary="Confirm your password (session clients)",
        description=(
            "Marks your session as re-authenticated, as the site's password page does, for "
            f"{settings.PRIVACY_REAUTH_SECONDS // 60} minutes: downloads then need no password. "
            f"Token clients send the `{CONFIRM_PASSWORD_HEADER}` header on the download instead."
        ),
        request=InputSerializer,
        responses={200: OutputSerializer},
        examples=[
            OpenApiExample("Password", value={"password": "correct horse"}, request_only=True),
            OpenApiExample(
                "Confirmed",
                value={"confirmed_until": "2026-11-23T09:10:00Z"},
                response_only=True,
                status_codes=["200"],
            ),
        ],
        tags=["privacy"],
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = reauth_confirm(request._request, password=data.validated_data["password"])
        if result is ReauthResult.TOO_MANY_ATTEMPTS:
            raise Throttled(detail="Too many wrong passwords. Wait 10 minutes and try again.")
        if result is ReauthResult.WRONG_PASSWORD:
            raise serializers.ValidationError({"password": ["That is not your password."]})
        until = timezone.now() + timedelta(seconds=settings.PRIVACY_REAUTH_SECONDS)
        return Response({"confirmed_until": until})


# --- Account erasure ----------------------------------------------------------------------


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


# --- Policy versions (public) -------------------------------------------------------------


class PolicySerializer(serializers.Serializer):
    version = serializers.CharField()
    published_at = serializers.DateTimeField()
    summary_of_changes = serializers.CharField()
    full_text = serializers.CharField()
    changes_purposes = serializers.BooleanField(
        help_text="Readers had to turn optional purposes on again after it."
    )


POLICY_EXAMPLE = {
    "version": "2026-11-01",
    "published_at": "2026-11-01T00:00:00Z",
    "summary_of_changes": "First version.",
    "full_text": "We collect only what you turn on.\n\nYou can take it all away.",
    "changes_purposes": False,
}


class PolicyListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="policies_list",
        summary="Privacy policy versions",
        description="Every published version of the privacy policy, newest first.",
        responses={200: PolicySerializer(many=True)},
        examples=[OpenApiExample("Policies", value=[POLICY_EXAMPLE], response_only=True)],
        tags=["privacy"],
    )
    def get(self, request):
        return Response(PolicySerializer(selectors.policy_versions(), many=True).data)


class PolicyDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="policies_retrieve",
        summary="One privacy policy version",
        description="A published version by its version string, e.g. 2026-11-01.",
        responses={200: PolicySerializer},
        examples=[OpenApiExample("Policy", value=POLICY_EXAMPLE, response_only=True)],
        tags=["privacy"],
    )
    def get(self, request, version):
        found = [p for p in selectors.policy_versions() if p.version == version]
        if not found:
            raise NotFound("There is no published policy with this version.")
        return Response(PolicySerializer(found[0]).data)
