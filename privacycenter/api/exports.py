"""API of copies of one's data, with re-authentication before download."""

from datetime import timedelta

from django.conf import settings
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
from rest_framework.exceptions import NotFound, PermissionDenied, Throttled
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api_errors import error_response
from common.api_throttles import ExportRateThrottle, PasswordRateThrottle
from privacy import exports, selectors
from privacy.models import ExportRequest
from privacy.reauth import ReauthResult, reauth_check_password, reauth_confirm, reauth_is_fresh

from .common import CONFIRM_PASSWORD_HEADER, Conflict, Gone
from .schema import EXPORT_EXAMPLE


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
