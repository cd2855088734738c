"""Signals news sends so the apps above it (the recommender) learn what changed without
news importing them; and news's own cache of topic names, forgotten when topics change."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal

from .cards import topics_version
from .context_processors import nav_topics
from .models import Topic

# Sent after articles changed in bulk (no post_save), e.g. scheduled articles going live.
articles_changed = Signal()
# Sent once articles went live (published now or scheduled and due), after the commit, with
# `article_ids`: the recommender vectorises them so they can be recommended by content.
articles_published = Signal()


def _topics_changed(**kwargs) -> None:
    nav_topics.forget()
    topics_version.forget()


def connect() -> None:
    post_save.connect(_topics_changed, sender=Topic, dispatch_uid="news-nav-topics-save")
    post_delete.connect(_topics_changed, sender=Topic, dispatch_uid="news-nav-topics-delete")
