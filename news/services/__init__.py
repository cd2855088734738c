"""Every write to news content, by sub-domain: the editorial workflow (articles), feed and
MIND ingest with source polling (ingest), the demo-content loader (demo) and topic
suggestions (suggestions). Callers use `news.services.<name>`; the names below are the
public ones."""

from .articles import (  # noqa: F401
    ALLOWED_TRANSITIONS,
    EDITORS_PICK_HOURS,
    SCHEDULER_LABEL,
    UNKNOWN_EDITOR,
    RestoreResult,
    article_archive,
    article_pin,
    article_publish,
    article_revision_record,
    article_revision_restore,
    article_schedule,
    article_slug_refusal,
    article_unpublish,
    articles_publish_due,
    editor_action_record,
    schedule_time_refusal,
    transition_refusal,
)
from .demo import (  # noqa: F401
    DEMO_MAX_DAYS_AGO,
    DemoLoadResult,
    demo_content_load,
)
from .ingest import (  # noqa: F401
    BUSY_RETRY_DELAYS,
    MIND_SOURCE_NAME,
    ImportAborted,
    ImportResult,
    PollSummary,
    feed_entries_import,
    feed_import,
    feed_source_for_import,
    mind_rows_import,
    mind_source_get,
    source_error_record,
    source_errors_purge,
    source_poll,
    sources_poll_due,
)
from .suggestions import (  # noqa: F401
    SUGGESTION_TRAINING_LIMIT,
    TopicSuggestionResult,
    article_topic_suggestions_refresh,
    article_topics_accept,
    article_topics_suggest,
    article_topics_suggest_later,
)
