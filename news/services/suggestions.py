"""Topic suggestions for untagged articles: train on the labelled ones, store suggestions,
let an editor accept them."""

import logging
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from common.queueing import enqueue_on_commit

from .. import revisions, topic_suggestions
from ..models import Article, EditorAction, Topic, body_without_links
from .articles import UNKNOWN_EDITOR, article_revision_record, editor_action_record

logger = logging.getLogger(__name__)


# Training on the newest labelled articles keeps one suggestion run to a second or two.
SUGGESTION_TRAINING_LIMIT = 5_000


@dataclass(frozen=True)
class TopicSuggestionResult:
    suggested: int
    note: str = ""  # why nothing was suggested, in words an editor can act on


def _suggestion_text(article: Article) -> str:
    return "\n".join(
        [article.title, article.title, article.summary, body_without_links(article.body)]
    )


def article_topics_suggest_later(*, article_ids: list[int]) -> None:
    """Suggest in the background once the new articles are committed, in one task for all of
    them (an import asks once for its whole batch); with the broker down the suggestion is
    made here (a second or two), not lost."""
    enqueue_on_commit(
        "news.tasks.article_topics_suggest",
        article_ids,
        when_broker_down=lambda: article_topics_suggest(article_ids=article_ids),
    )


def article_topics_suggest(*, article_ids: list[int]) -> TopicSuggestionResult:
    """Train the topic classifier on the articles that have topics and store its suggestions
    on those of `article_ids` that still have none."""
    targets = list(Article.objects.filter(pk__in=article_ids, topics__isnull=True).distinct())
    if not targets:
        return TopicSuggestionResult(suggested=0, note="Every chosen article already has topics.")
    labelled = list(
        Article.objects.filter(topics__isnull=False)
        .distinct()
        .order_by("-pk")
        .prefetch_related("topics")[:SUGGESTION_TRAINING_LIMIT]
    )
    try:
        classifier = topic_suggestions.classifier_train(
            texts=[_suggestion_text(a) for a in labelled],
            topic_sets=[{t.pk for t in a.topics.all()} for a in labelled],
        )
    except topic_suggestions.NotEnoughLabels as error:
        return TopicSuggestionResult(suggested=0, note=f"No suggestions: {error}")
    predictions = topic_suggestions.topics_predict(
        classifier=classifier, texts=[_suggestion_text(a) for a in targets]
    )
    names = dict(Topic.objects.filter(pk__in=classifier.topic_ids).values_list("pk", "name"))
    for article, best in zip(targets, predictions, strict=True):
        article.suggested_topics = [
            {"topic_id": topic_id, "name": names[topic_id], "score": score}
            for topic_id, score in best
            if topic_id in names
        ]
    # Plain UPDATEs, a few hundred rows a statement, in one commit (one per article cost a
    # second per hundred): a suggestion is not an edit, so no revision and no updated_at.
    with transaction.atomic():
        Article.objects.bulk_update(targets, ["suggested_topics"], batch_size=500)
    suggested = sum(bool(article.suggested_topics) for article in targets)
    logger.info(
        "Topic suggestions for %d of %d articles, from one classifier trained on %d.",
        suggested,
        len(targets),
        classifier.trained_on,
    )
    note = "" if suggested else "No topic was likely enough to suggest."
    return TopicSuggestionResult(suggested=suggested, note=note)


def article_topic_suggestions_refresh(*, article: Article) -> None:
    """After an editor saved an article: drop suggestions once it has topics; ask for them
    when it has none and none are waiting."""
    has_topics = article.topics.exists()
    if has_topics and article.suggested_topics:
        Article.objects.filter(pk=article.pk).update(suggested_topics=[])
        article.suggested_topics = []
    elif not has_topics and not article.suggested_topics:
        article_topics_suggest_later(article_ids=[article.pk])


@transaction.atomic
def article_topics_accept(*, article: Article, changed_by: str) -> list[Topic]:
    """Give the article its suggested topics, in one revision, and log who accepted them."""
    wanted = [item["topic_id"] for item in article.suggested_topics]
    topics = list(Topic.objects.filter(pk__in=wanted))
    if not topics:
        raise ValidationError("there are no suggested topics to accept.")
    before = revisions.snapshot(article)
    article.topics.set(topics)
    article.suggested_topics = []
    article.save(update_fields=["suggested_topics", "updated_at"])
    article_revision_record(article=article, before=before, changed_by=changed_by)
    editor_action_record(
        editor=changed_by or UNKNOWN_EDITOR,
        action=EditorAction.Action.ACCEPT_TOPICS,
        detail=f"'{article.title[:200]}': {', '.join(t.name for t in topics)}",
    )
    return topics
