"""Reads the privacy center's pages compose from several apps."""

from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.db.models import prefetch_related_objects

from accounts.models import Preferences
from privacy.purposes import READING_HISTORY
from privacy.selectors import history_for_user, purposes_to_reconfirm


@dataclass(frozen=True)
class InterestBar:
    topic: str
    chosen_weight: float  # 0..1, from the topics the reader follows
    history_share: float  # 0..1, share of their recent reads in this topic
    blocked: bool = False

    @property
    def total(self) -> float:
        return self.chosen_weight + self.history_share


@dataclass(frozen=True)
class InterestProfile:
    level: str
    bars: list[InterestBar]
    history_used: bool
    history_entries: int
    # At the top level, but reading history awaits confirmation after a policy change: the
    # feed leaves it out meanwhile, as the recording does.
    history_awaits_confirmation: bool = False


def interest_profile(*, user) -> InterestProfile:
    """What the recommender uses about the reader: chosen topics and their weights, plus, at
    the top level, which topics their own reading history leans to."""
    preferences = (
        Preferences.objects.filter(user=user)
        .prefetch_related("preferred_topics__topic", "blocked_topics")
        .first()
    )
    if preferences is None:
        return InterestProfile(
            level=Preferences.Level.OFF, bars=[], history_used=False, history_entries=0
        )
    # The same recent reads the feed uses, no more.
    history = history_for_user(user=user, limit=settings.RECOMMENDER_HISTORY_LIMIT)
    at_top_level = preferences.level == Preferences.Level.TOPICS_HISTORY
    awaits = at_top_level and READING_HISTORY.key in purposes_to_reconfirm(user=user)
    history_used = at_top_level and not awaits
    reads_per_topic: Counter[str] = Counter()
    if history_used:
        # Each article read counts once, however often it was read.
        read = list({item.article.pk: item.article for item in history if item.article}.values())
        prefetch_related_objects(read, "topics")
        for article in read:
            reads_per_topic.update(topic.name for topic in article.topics.all())
    total_reads = sum(reads_per_topic.values()) or 1
    chosen = {p.topic.name: p.weight for p in preferences.preferred_topics.all()}
    blocked = {t.name for t in preferences.blocked_topics.all()}
    names = sorted(set(chosen) | set(reads_per_topic) | blocked)
    bars = [
        InterestBar(
            topic=name,
            chosen_weight=0.0 if name in blocked else chosen.get(name, 0.0),
            history_share=0.0 if name in blocked else reads_per_topic[name] / total_reads,
            blocked=name in blocked,
        )
        for name in names
    ]
    bars.sort(key=lambda bar: (bar.blocked, -bar.total, bar.topic))
    return InterestProfile(
        level=preferences.level,
        bars=bars,
        history_used=history_used,
        history_entries=len(history),
        history_awaits_confirmation=awaits,
    )
