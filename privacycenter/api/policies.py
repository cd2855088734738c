"""API of the public policy versions."""

from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from privacy import selectors

from .schema import POLICY_EXAMPLE


class PolicySerializer(serializers.Serializer):
    version = serializers.CharField()
    published_at = serializers.DateTimeField(help_text="When it was published.")
    takes_effect_at = serializers.DateTimeField(
        help_text="When it took effect: never before it was published."
    )
    summary_of_changes = serializers.CharField()
    full_text = serializers.CharField()
    changes_purposes = serializers.BooleanField(
        help_text="It changed the explanation of at least one optional purpose."
    )
    changed_purposes = serializers.ListField(
        child=serializers.CharField(),
        help_text="The purposes whose explanation it changed: readers who had one on were "
        "asked to confirm it again; the others stayed as they were.",
    )


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
