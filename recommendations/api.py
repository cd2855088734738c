"""The caller's feed through the API: one page of stories, each with the reason it is there.
Anonymous callers (and readers with personalization Off) get the non-personal feed."""

from django.db.models import prefetch_related_objects
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import reader_profile
from common.api_pagination import MAX_PAGE_SIZE, page_size_field
from news.api import ARTICLE_EXAMPLE
from news.serializers import ArticleOutputSerializer

from .feed.page import feed_page


class FeedReasonSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="topic, related_topic, history, popular, pick or fresh.")
    sentence = serializers.CharField(help_text="The reason in plain words.")


class FeedItemSerializer(serializers.Serializer):
    article = ArticleOutputSerializer()
    reason = FeedReasonSerializer()


class FeedApi(APIView):
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer):
        page = serializers.IntegerField(
            required=False, min_value=1, default=1, help_text="Page number, from 1."
        )
        page_size = page_size_field()

    class OutputSerializer(serializers.Serializer):
        personalized = serializers.BooleanField(
            help_text="Whether anything about the caller shaped this feed."
        )
        page = serializers.IntegerField()
        page_size = serializers.IntegerField(help_text="Stories per page, as asked or the site's.")
        num_pages = serializers.IntegerField()
        count = serializers.IntegerField()
        results = FeedItemSerializer(many=True)

    @extend_schema(
        operation_id="feed_retrieve",
        summary="Your feed, with the reason for every story",
        description=(
            "One page of the caller's feed. Signed in with personalization on: ordered by the "
            "topics they follow (and, at the top level, their own reads). Otherwise, and for "
            "anonymous callers, the non-personal feed: editors' picks, fresh and "
            "privately-counted popular stories. Paged: `page` from 1 (a page past the end gives "
            f"the last page), `page_size` from 1 to {MAX_PAGE_SIZE} stories (the site's page size "
            "when left out); any other value is a 400 that names the parameter."
        ),
        # The input serializer's own fields: their bounds are the schema's.
        parameters=[InputSerializer],
        responses={200: OutputSerializer},
        examples=[
            OpenApiExample(
                "A personal feed",
                value={
                    "personalized": True,
                    "page": 1,
                    "page_size": 20,
                    "num_pages": 1,
                    "count": 1,
                    "results": [
                        {
                            "article": ARTICLE_EXAMPLE,
                            "reason": {"kind": "topic", "sentence": "Because you follow Science"},
                        }
                    ],
                },
                response_only=True,
            )
        ],
        tags=["feed"],
    )
    def get(self, request):
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        profile = reader_profile(user=request.user)
        page = feed_page(
            user=request.user,
            page_number=params.validated_data["page"],
            page_size=params.validated_data.get("page_size"),
            profile=profile,
        )
        prefetch_related_objects([item.article for item in page.object_list], "source", "topics")
        output = self.OutputSerializer(
            {
                "personalized": profile.personalized,
                "page": page.number,
                "page_size": page.paginator.per_page,
                "num_pages": page.paginator.num_pages,
                "count": page.paginator.count,
                "results": list(page.object_list),
            }
        )
        return Response(output.data)
