"""Public API of news content: articles (latest, by topic, searched) and topics. Read-only,
open to everyone; reading an article here records nothing about the caller."""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors
from .models import Topic
from .serializers import (
    ArticleDetailOutputSerializer,
    ArticleOutputSerializer,
    TopicOutputSerializer,
)

ARTICLE_EXAMPLE = {
    "id": 42,
    "slug": "rivers-return",
    "title": "Rivers return to the valley",
    "summary": "After the dam came down, salmon are back.",
    "author": "Staff writer",
    "published_at": "2026-11-23T08:00:00Z",
    "topics": [{"slug": "science", "name": "Science", "description": "Stories about science."}],
    "source": None,
    "url": "/articles/rivers-return/",
    "canonical_url": "",
}


class ArticleListApi(ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = ArticleOutputSerializer

    class FilterSerializer(serializers.Serializer):
        topic = serializers.SlugRelatedField(
            slug_field="slug",
            queryset=Topic.objects.all(),
            required=False,
            error_messages={"does_not_exist": "There is no topic with the slug {value}."},
        )
        q = serializers.CharField(required=False, allow_blank=True, max_length=200)

    @extend_schema(
        operation_id="articles_list",
        summary="List published articles",
        description=(
            "Published articles, newest first. `topic` keeps one topic's articles; `q` "
            "searches titles, summaries and bodies (best matches first). Paginated."
        ),
        parameters=[
            OpenApiParameter("topic", str, description="A topic's slug (see /api/v1/topics/)."),
            OpenApiParameter("q", str, description="Words to search for (up to 200 characters)."),
        ],
        examples=[
            OpenApiExample(
                "A page of articles",
                value={"count": 1, "next": None, "previous": None, "results": [ARTICLE_EXAMPLE]},
                response_only=True,
            )
        ],
        tags=["news"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = self.FilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        topic, query = filters.validated_data.get("topic"), filters.validated_data.get("q")
        if query:
            articles = selectors.articles_search(query=query)
            return articles.filter(topics=topic) if topic is not None else articles
        if topic is not None:
            return selectors.articles_for_topic(topic=topic)
        return selectors.articles_latest()


class ArticleDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="articles_retrieve",
        summary="Read one article",
        description="A published article with its body. Unknown or unpublished: 404.",
        responses={200: ArticleDetailOutputSerializer},
        examples=[
            OpenApiExample(
                "An article",
                value={**ARTICLE_EXAMPLE, "body": "First paragraph.\n\nSecond paragraph."},
                response_only=True,
            )
        ],
        tags=["news"],
    )
    def get(self, request, slug):
        article = selectors.article_visible_to(slug=slug, user=request.user)
        if article is None:
            raise NotFound("There is no published article at this address.")
        return Response(ArticleDetailOutputSerializer(article).data)


class TopicListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="topics_list",
        summary="List topics",
        description="Every topic, by name. Use a topic's `slug` to filter articles or in "
        "preferences.",
        responses={200: TopicOutputSerializer(many=True)},
        examples=[
            OpenApiExample(
                "Topics",
                value=[{"slug": "science", "name": "Science", "description": "Stories."}],
                response_only=True,
            )
        ],
        tags=["news"],
    )
    def get(self, request):
        return Response(TopicOutputSerializer(selectors.topics_all(), many=True).data)
