"""Signals other apps listen to, so news does not depend on them."""

from django.dispatch import Signal

# Sent after articles changed in bulk (no post_save), e.g. scheduled articles going live.
articles_changed = Signal()


def _topics_changed(**kwargs) -> None:
    from django.core.cache import cache
    from django.db import transaction

    from .context_processors import NAV_TOPICS_KEY

    # Now, and again after the commit (a page rendered meanwhile may have read the old list).
    cache.delete(NAV_TOPICS_KEY)
    transaction.on_commit(lambda: cache.delete(NAV_TOPICS_KEY))


def connect() -> None:
    from django.db.models.signals import post_delete, post_save

    from .models import Topic

    post_save.connect(_topics_changed, sender=Topic, dispatch_uid="news-nav-topics-save")
    post_delete.connect(_topics_changed, sender=Topic, dispatch_uid="news-nav-topics-delete")
