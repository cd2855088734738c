"""API of accounts: API tokens for apps (create with email and password, revoke) and the
reader's preferences (topics, blocked topics, personalization level)."""

from allauth.account.adapter import get_adapter as get_account_adapter
from django.conf import settings
from django.core.exceptions import ValidationError
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied, Throttled
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api_errors import error_body, error_response
from common.api_throttles import (
    UNAVAILABLE_RETRY_SECONDS,
    PasswordRateThrottle,
    rate_limits_available,
)
from news.models import Topic
from privacy.browser_signals import signals_for

from . import selectors, services
from .adapters import AccountAdapter
from .backends import SecondFactor, second_factor_check
from .levels import LEVEL_EXPLANATIONS
from .models import Preferences


def _too_many_attempts(error: ValidationError | None = None) -> Throttled:
    if (error is not None and error.code == "rate_limits_unavailable") or (
        error is None and not rate_limits_available()
    ):
        return Throttled(
            wait=UNAVAILABLE_RETRY_SECONDS,
            detail=AccountAdapter.error_messages["rate_limits_unavailable"],
        )
    minutes = settings.PASSWORD_FAILURE_WINDOW_SECONDS // 60
    return Throttled(
        wait=settings.PASSWORD_FAILURE_WINDOW_SECONDS,
        detail=f"Too many wrong passwords or codes. Wait {minutes} minutes and try again.",
    )


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """The schema's `tokenAuth`: knox's token authentication, sent as `Token <token>` (over
    drf-spectacular's own knox entry, which names it differently)."""

    target_class = "knox.auth.TokenAuthentication"
    name = "tokenAuth"
    priority = 1

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=self.target.authenticate_header(None)
        )


class TokenApi(APIView):
    """POST: exchange email + password (+ the second factor, when set) for a token. DELETE:
    revoke the caller's token."""

    def get_authenticators(self):
        # Creating a token proves identity with the password itself: no session (so no CSRF
        # check) and no earlier token are involved.
        if getattr(self.request, "method", None) == "POST":
            return []
        return super().get_authenticators()

    def get_authenticate_header(self, request):
        # A wrong password is a 401 with the scheme to use next, not a bare 403.
        return "Token"

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "POST" else [IsAuthenticated()]

    def get_throttles(self):
        throttles = super().get_throttles()
        return [*throttles, PasswordRateThrottle()] if self.request.method == "POST" else throttles

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})
        code = serializers.CharField(
            required=False,
            allow_blank=True,
            help_text="With two-factor authentication on: the code your authenticator app "
            "shows now, or one of your recovery codes.",
        )

    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField(
            source="key",
            help_text="Shown this once: the site keeps only a digest of it. Keep it secret.",
        )
        created = serializers.DateTimeField()

    @extend_schema(
        operation_id="auth_token_create",
        summary="Get an API token",
        description=(
            "Exchange your email address and password for a token; send it as "
            "`Authorization: Token <token>`. The token is shown in this answer only: the site "
            "stores just a digest of it and cannot show it again. One token per reader: "
            "asking again issues a new token and the earlier one stops working at once. "
            "Refused (403, code `email_unverified`) until the "
            "address is verified. With two-factor authentication on, also send `code`: the "
            "code your authenticator app shows, or a recovery code (401 `mfa_required` "
            "without it, `mfa_code_invalid` when wrong or already used). Wrong passwords "
            "and codes are counted per account and per address, with the site's sign-in "
            "page: 429 beyond the limit."
        ),
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            401: error_response(401, "Wrong email address or password, or second factor."),
            403: error_response(403, "The email address is not verified yet."),
            429: error_response(429, "Too many attempts; wait `Retry-After` seconds."),
        },
        examples=[
            OpenApiExample(
                "Sign in",
                value={"email": "reader@example.com", "password": "correct horse"},
                request_only=True,
            ),
            OpenApiExample(
                "A token",
                value={
                    "token": "5c3a0e9d2b7f41c6a8e0d4b19f27c3e6a1d58b0c7e924f3da6b81e05c9f47d2a",
                    "created": "2026-11-23T09:00:00Z",
                },
                response_only=True,
                status_codes=["200"],
            ),
        ],
        auth=[],
        tags=["auth"],
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            # allauth's check, as on the sign-in page: failures counted per account and per
            # address in the same counters, refused beyond them (and while they cannot count).
            user = get_account_adapter(request._request).authenticate(
                request._request, email=values["email"], password=values["password"]
            )
        except ValidationError as error:
            raise _too_many_attempts(error) from error
        if user is None:
            # The same answer for an unknown address and a wrong password: no enumeration.
            raise AuthenticationFailed("That email address and password do not match.")
        second = second_factor_check(request._request, user=user, code=values.get("code"))
        if second is SecondFactor.MISSING:
            raise AuthenticationFailed(
                "Two-factor authentication is on for this account: send the code your "
                "authenticator app shows (or a recovery code) as `code`.",
                code="mfa_required",
            )
        if second is SecondFactor.WRONG:
            raise AuthenticationFailed(
                "That code is not right, or was already used. No token was issued.",
                code="mfa_code_invalid",
            )
        if second is SecondFactor.TOO_MANY_ATTEMPTS:
            raise _too_many_attempts()
        try:
            token = services.api_token_issue(user=user)
        except ValidationError as error:
            raise PermissionDenied(detail=" ".join(error.messages), code=error.code) from error
        return Response(self.OutputSerializer(token).data)

    @extend_schema(
        operation_id="auth_token_revoke",
        summary="Revoke your API token",
        description="Deletes the caller's token; every app using it is signed out at once.",
        request=None,
        responses={204: OpenApiResponse(description="Revoked (or there was none).")},
        tags=["auth"],
    )
    def delete(self, request):
        services.api_token_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PreferredTopicSerializer(serializers.Serializer):
    slug = serializers.CharField(source="topic.slug")
    name = serializers.CharField(source="topic.name")
    weight = serializers.FloatField(help_text='1.0; lowered by "Show less like this".')


class BlockedTopicSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class PreferencesApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        topics = serializers.SlugRelatedField(
            slug_field="slug", queryset=Topic.objects.all(), many=True, required=False
        )
        blocked_topics = serializers.SlugRelatedField(
            slug_field="slug", queryset=Topic.objects.all(), many=True, required=False
        )
        level = serializers.ChoiceField(choices=Preferences.Level.choices, required=False)

    class OutputSerializer(serializers.Serializer):
        level = serializers.ChoiceField(choices=Preferences.Level.choices)
        level_explanation = serializers.CharField()
        topics = PreferredTopicSerializer(many=True)
        blocked_topics = BlockedTopicSerializer(many=True)

    def _output(self, user) -> dict:
        preferences = selectors.preferences_detail(user=user)
        level = preferences.level if preferences else Preferences.Level.OFF
        return self.OutputSerializer(
            {
                "level": level,
                "level_explanation": LEVEL_EXPLANATIONS[level],
                "topics": sorted(
                    preferences.preferred_topics.all() if preferences else [],
                    key=lambda p: p.topic.name,
                ),
                "blocked_topics": preferences.blocked_topics.all() if preferences else [],
            }
        ).data

    @extend_schema(
        operation_id="preferences_retrieve",
        summary="Your preferences",
        description="The topics you follow (with their weights), the topics you blocked, and "
        "your personalization level, explained.",
        responses={200: OutputSerializer},
        examples=[
            OpenApiExample(
                "Preferences",
                value={
                    "level": "topics",
                    "level_explanation": LEVEL_EXPLANATIONS[Preferences.Level.TOPICS],
                    "topics": [{"slug": "science", "name": "Science", "weight": 1.0}],
                    "blocked_topics": [{"slug": "sport", "name": "Sport"}],
                },
                response_only=True,
            )
        ],
        tags=["preferences"],
    )
    def get(self, request):
        return Response(self._output(request.user))

    @extend_schema(
        operation_id="preferences_partial_update",
        summary="Change your preferences",
        description=(
            "Send only what changes. `topics` and `blocked_topics` replace the whole list "
            "(topic slugs). `level`: off, topics or topics_history; topics_history is the "
            "reading-history consent, recorded with a receipt. A level other than off needs "
            "at least one topic. A GPC or DNT header is noted as on the site. All or nothing."
        ),
        request=InputSerializer,
        responses={200: OutputSerializer},
        examples=[
            OpenApiExample(
                "Follow science, block sport, topics only",
                value={"topics": ["science"], "blocked_topics": ["sport"], "level": "topics"},
                request_only=True,
            ),
            OpenApiExample(
                "Refused",
                value=error_body(
                    code="invalid",
                    message="Pick at least one topic before turning personalization on.",
                ),
                response_only=True,
                status_codes=["400"],
            ),
        ],
        tags=["preferences"],
    )
    def patch(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        services.preferences_change(
            user=request.user,
            signals=signals_for(request),
            topic_ids=[t.pk for t in values["topics"]] if "topics" in values else None,
            blocked_ids=[t.pk for t in values["blocked_topics"]]
            if "blocked_topics" in values
            else None,
            level=values.get("level"),
        )
        return Response(self._output(request.user))
