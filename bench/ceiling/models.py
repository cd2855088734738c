"""The site's stories, read as a bare app would: an unmanaged model over the same table."""

from django.db import models


class Story(models.Model):
    slug = models.SlugField()
    title = models.CharField(max_length=300)
    summary = models.TextField()
    status = models.CharField(max_length=20)
    published_at = models.DateTimeField(null=True)

    class Meta:
        managed = False
        db_table = "news_article"
        app_label = "ceiling"

    def __str__(self) -> str:
        return self.title
