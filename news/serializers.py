"""How articles and topics look in the API; shared by the news, feed and history endpoints."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import Article, Topic


class TopicOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Topic
        fields = ("slug", "name", "description")


class LeadImageOutputSerializer(serializers.Serializer):
    """An article's lead image: two renditions (no metadata), its alt text, caption and credit."""

    url = serializers.CharField(
        source="lead_image.url", help_text="The image, at most 1200 px wide."
    )
    width = serializers.IntegerField(source="lead_image_width")
    height = serializers.IntegerField(source="lead_image_height")
    card_url = serializers.CharField(
        source="lead_image_card.url", help_text="A smaller copy for lists, at most 480 px wide."
    )
    card_width = serializers.IntegerField(source="lead_image_card_width")
    card_height = serializers.IntegerField(source="lead_image_card_height")
    alt = serializers.CharField(
        source="lead_image_alt", help_text="What the image shows, for who cannot see it."
    )
    caption = serializers.CharField(source="lead_image_caption")
    credit = serializers.CharField(source="lead_image_credit")


class ArticleOutputSerializer(serializers.ModelSerializer):
    topics = TopicOutputSerializer(many=True, read_only=True)
    source = serializers.SerializerMethodField()
    url = serializers.CharField(source="get_absolute_url", read_only=True)
    lead_image = serializers.SerializerMethodField()

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
            "lead_image",
        )

    def get_source(self, article: Article) -> str | None:
        return article.source.name if article.source_id else None

    @extend_schema_field(LeadImageOutputSerializer(allow_null=True))
    def get_lead_image(self, article: Article) -> dict | None:
        if not article.lead_image or not article.lead_image_card:
            return None
        return LeadImageOutputSerializer(article).data


class ArticleDetailOutputSerializer(ArticleOutputSerializer):
    body = serializers.CharField(
        read_only=True,
        help_text="Plain text, paragraphs separated by blank lines; links to https addresses "
        'are written <a href="https://...">words</a>, the only markup it holds.',
    )

    class Meta(ArticleOutputSerializer.Meta):
        fields = (*ArticleOutputSerializer.Meta.fields, "body")
