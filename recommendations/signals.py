"""What the recommender hears from the layers below it: the shared non-personal feed is
forgotten when what it shows changes, a reader's kept page when their data changes, and
newly published stories are vectorised."""

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from common.queueing import enqueue_on_commit
from news.models import Article, Topic
from news.signals import articles_changed, articles_published
from privacy.signals import reader_data_changed, reader_read_queued

from .feed.pool import candidate_pool_published
from .feed_cache import (
    catalogue_changed,
    public_feed_forget,
    reader_feed_forget_now,
    reader_feed_read_noted,
)
from .models import ActiveModel


@receiver(reader_data_changed)
def _reader_feed_forget(*, user_id: int, **kwargs) -> None:
    # Sent after the commit (privacy.signals): the next home page is computed anew.
    reader_feed_forget_now(user_id=user_id)


@receiver(reader_read_queued)
def _reader_feed_read(*, user_id: int, article_id: int, read_epoch: float, **kwargs) -> None:
    # The read is on its way to the history: the next pages leave the story out already.
    reader_feed_read_noted(user_id=user_id, article_id=article_id, read_epoch=read_epoch)


@receiver(articles_published)
@receiver(articles_changed)
def _rank_with_published(**kwargs) -> None:
    # Sent after the commit, when stories went live (published now, or scheduled and due):
    # the next home page is ranked from candidates that hold them, not kept from before.
    candidate_pool_published()
    public_feed_forget()


@receiver(articles_published)
def _vectorise_published(*, article_ids: list[int], **kwargs) -> None:
    enqueue_on_commit(
        "recommendations.tasks.articles_vectorise",
        list(article_ids),
        sweep="articles_vectorise_fresh",
    )


def _forget_after_commit(sender=None, **kwargs) -> None:
    # Now, and again after the commit: a page computed meanwhile would be cached again.
    changed = _stories_changed(sender, kwargs)
    catalogue_changed(article_ids=changed)
    transaction.on_commit(lambda: catalogue_changed(article_ids=changed))


def _stories_changed(sender, kwargs) -> list[int] | None:
    """The stories that changed, or None when what every page depends on did (a topic, the
    model): readers' kept pages are dropped only for what they show."""
    instance = kwargs.get("instance")
    if isinstance(instance, Article):
        return [instance.pk]
    if "article_ids" in kwargs:
        return list(kwargs["article_ids"])
    if sender is Article.topics.through and kwargs.get("pk_set"):  # from a topic's side
        return list(kwargs["pk_set"])
    return None


receiver(post_save, sender=Article)(_forget_after_commit)
receiver(post_delete, sender=Article)(_forget_after_commit)
receiver(m2m_changed, sender=Article.topics.through)(_forget_after_commit)
receiver(articles_changed)(_forget_after_commit)
receiver(post_save, sender=ActiveModel)(_forget_after_commit)
# Cards and reasons name topics: a renamed or removed one is not shown from a kept page.
receiver(post_save, sender=Topic)(_forget_after_commit)
receiver(post_delete, sender=Topic)(_forget_after_commit)
