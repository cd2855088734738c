"""The API's one error format, `{"error": {"code", "message", "fields"}}`, produced by one
exception handler for every failure (validation, services' ValidationError, 401/403/404/405/
415/429) and by the site's 404/500 handlers for paths under /api/."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404, JsonResponse
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.views import exception_handler as drf_exception_handler

from . import error_pages

NON_FIELD_KEYS = ("non_field_errors", "__all__")


def _messages(detail) -> list[str]:
    if isinstance(detail, dict):
        return [m for value in detail.values() for m in _messages(value)]
    if isinstance(detail, list):
        return [m for item in detail for m in _messages(item)]
    return [str(detail)]


def _codes(detail) -> list[str]:
    if isinstance(detail, list):
        return [c for item in detail for c in _codes(item)]
    return [getattr(detail, "code", "invalid")]


def _validation_body(detail) -> dict:
    if not isinstance(detail, dict):
        detail = {"non_field_errors": detail if isinstance(detail, list) else [detail]}
    general = [d for key in NON_FIELD_KEYS for d in detail.get(key, [])]
    fields = {key: _messages(value) for key, value in detail.items() if key not in NON_FIELD_KEYS}
    # A service's refusal usually carries its own code ("export_active"): keep it for clients.
    specific = [c for c in _codes(general) if c not in ("invalid", None)]
    message = " ".join(_messages(general)) or "Some fields are not valid; nothing was changed."
    return {"code": specific[0] if specific else "invalid", "message": message, "fields": fields}


def error_body(*, code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


NUL_MESSAGE = (
    "A value in the request contains a NUL character, which no field accepts; nothing was changed."
)


def _carries_nul(request) -> bool:
    """Whether the address or the query parameters hold a NUL character (bodies are checked
    by the serializers' text fields, which refuse it)."""
    if request is None:
        return False
    if "\x00" in request.path:
        return True
    return any(
        "\x00" in key or any("\x00" in value for value in values)
        for key, values in request.query_params.lists()
    )


def exception_handler(exc, context):
    """DRF's handler, with Django's exceptions translated first and every body reshaped."""
    if isinstance(exc, DataError) and _carries_nul(context.get("request")):
        # PostgreSQL refuses NUL in text (psycopg says so before sending the query, so the
        # transaction is intact); a lookup given one is bad input, not our failure. Any other
        # DataError stays a 500: it would be a bug to see, not the caller's mistake.
        exc = exceptions.ValidationError(detail={"non_field_errors": [NUL_MESSAGE]})
    elif isinstance(exc, DjangoValidationError):
        # Services raise Django's ValidationError: bad input, so 400 with its messages.
        exc = exceptions.ValidationError(detail=serializers.as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: a 500, answered by `server_error` below
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"error": _validation_body(exc.detail)}
    else:
        codes = exc.get_codes()
        response.data = error_body(
            code=codes if isinstance(codes, str) else exc.default_code,
            message=" ".join(_messages(exc.detail)),
        )
    return response


# --- Django's own error handlers, for requests that never reach a DRF view ----------------


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def page_not_found(request, exception):
    if _is_api(request):
        body = error_body(code="not_found", message="Not found.")
        return JsonResponse(body, status=404)
    return error_pages.page_not_found(request, exception)


def bad_request(request, exception):
    if _is_api(request):
        body = error_body(code="bad_request", message="The request could not be understood.")
        return JsonResponse(body, status=400)
    return error_pages.bad_request(request, exception)


def permission_denied(request, exception):
    if _is_api(request):
        body = error_body(code="permission_denied", message="You may not do this.")
        return JsonResponse(body, status=403)
    return error_pages.permission_denied(request, exception)


def server_error(request):
    if _is_api(request):
        body = error_body(code="server_error", message="Something went wrong on our side.")
        return JsonResponse(body, status=500)
    return error_pages.server_error(request)


# --- The format in the OpenAPI schema -----------------------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text='Stable, machine-readable: "invalid", "not_found"…')
    message = serializers.CharField(help_text="A sentence for people.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per input field, for validation errors; otherwise empty.",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


ERROR_DESCRIPTIONS = {
    400: "Invalid input; nothing was changed. `fields` says what to fix.",
    401: "Not signed in: send a session cookie or `Authorization: Token <key>`.",
    403: "Signed in but not allowed (or the CSRF token is missing on a session request).",
    404: "Not found (also for anything belonging to another reader).",
    429: "Too many requests: wait the seconds in the `Retry-After` header.",
}

ERROR_EXAMPLES = {
    400: error_body(
        code="invalid",
        message="Some fields are not valid; nothing was changed.",
        fields={"level": ['"max" is not a valid choice.']},
    ),
    401: error_body(
        code="not_authenticated", message="Authentication credentials were not provided."
    ),
    403: error_body(
        code="permission_denied", message="You do not have permission to perform this action."
    ),
    404: error_body(code="not_found", message="Not found."),
    429: error_body(
        code="throttled", message="Request was throttled. Expected available in 42 seconds."
    ),
}


def error_response(status: int, description: str | None = None) -> OpenApiResponse:
    return OpenApiResponse(
        ErrorSerializer,
        description=description or ERROR_DESCRIPTIONS.get(status, "An error."),
        examples=[
            OpenApiExample(
                f"Error {status}",
                value=ERROR_EXAMPLES.get(
                    status, error_body(code="error", message=description or "An error.")
                ),
                response_only=True,
                status_codes=[str(status)],
            )
        ],
    )
