"""API of the reader's own reading history."""

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from news.serializers import ArticleOutputSerializer
from privacy import selectors, services


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
