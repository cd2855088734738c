"""Cache invalidation: the shared non-personal feed is forgotten when what it shows changes."""

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from news.models import Article, Topic
from news.signals import articles_changed

from .feed_cache import public_feed_forget
from .models import ActiveModel


def _forget_after_commit(**kwargs) -> None:
    # Now, and again after the commit: a page computed meanwhile would be cached again.
    public_feed_forget()
    transaction.on_commit(public_feed_forget)


receiver(post_save, sender=Article)(_forget_after_commit)
receiver(post_delete, sender=Article)(_forget_after_commit)
receiver(m2m_changed, sender=Article.topics.through)(_forget_after_commit)
receiver(articles_changed)(_forget_after_commit)
receiver(post_save, sender=ActiveModel)(_forget_after_commit)
# Cards and reasons name topics: a renamed or removed one is not shown from a kept page.
receiver(post_save, sender=Topic)(_forget_after_commit)
receiver(post_delete, sender=Topic)(_forget_after_commit)
