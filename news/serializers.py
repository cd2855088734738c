"""How articles and topics look in the API; shared by the news, feed and history endpoints."""

from rest_framework import serializers

from .models import Article, Topic


class TopicOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Topic
        fields = ("slug", "name", "description")


class ArticleOutputSerializer(serializers.ModelSerializer):
    topics = TopicOutputSerializer(many=True, read_only=True)
    source = serializers.SerializerMethodField()
    url = serializers.CharField(source="get_absolute_url", read_only=True)

    class Meta:
        model = Article
        fields = (
            "id",
            "slug",
            "title",
            "summary",
            "author",
            "published_at",
            "topics",
            "source",
            "url",
            "canonical_url",
        )

    def get_source(self, article: Article) -> str | None:
        return article.source.name if article.source_id else None


class ArticleDetailOutputSerializer(ArticleOutputSerializer):
    class Meta(ArticleOutputSerializer.Meta):
        fields = (*ArticleOutputSerializer.Meta.fields, "body")
