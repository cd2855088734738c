"""The recommender's category of personal data: the reader's front page, kept briefly."""

from django.conf import settings

from privacy.registry import DataCategory, LegalBasis, register

from .feed_cache import reader_feed_erase, reader_feed_rows

register(
    DataCategory(
        key="feed_cache",
        title="Your front page, kept briefly",
        position=90,
        # Not a table: one entry in the cache (Redis), sealed with your encryption key.
        models=(),
        user_path=None,
        purpose=(
            "To show your front page again quickly, and to keep a story you just read off it "
            "until it is in your reading history; encrypted with your key. The page is "
            "forgotten as soon as you read a story or change a choice."
        ),
        legal_basis=LegalBasis.CONTRACT,
        retention=lambda: (
            f"{settings.FEED_READER_CACHE_SECONDS} seconds at most; a story just read, until "
            f"it is in your history ({settings.FEED_PENDING_READ_SECONDS} seconds at most)"
        ),
        exporter=reader_feed_rows,
        eraser=reader_feed_erase,
    ),
)
