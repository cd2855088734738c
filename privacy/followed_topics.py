"""Whether a story a reader reads is in a topic they follow, as the read recorder asks it.

The topics a reader follows are kept with their preferences (accounts, a layer above privacy).
Accounts registers how to tell with `followed_topic_source_register` when it starts, as it
registers where the levels are kept, so privacy records the answer without importing it."""

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured

# (user_id, article_id) -> True or False, or None when the reader follows no topic.
FollowedTopicCheck = Callable[..., bool | None]
_source: list[FollowedTopicCheck] = []


def followed_topic_source_register(check: FollowedTopicCheck) -> None:
    """Declare how to tell whether a reader follows one of an article's topics; called once,
    from the accounts app's `ready()`."""
    if _source and _source[0] is not check:
        raise ValueError("A source of followed topics is registered already.")
    _source[:] = [check]


def in_followed_topic(*, user_id: int, article_id: int) -> bool | None:
    if not _source:
        raise ImproperlyConfigured(
            "No app has told privacy how to tell the topics a reader follows "
            "(accounts does, in AccountsConfig.ready)."
        )
    return _source[0](user_id=user_id, article_id=article_id)
