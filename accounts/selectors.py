"""Reads of a reader's preferences, shared by pages, the feed and the API."""

from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Count, Exists, OuterRef, QuerySet

from common.db_functions import ANY_READER, one_reader_sql
from news.models import Article
from privacy.crypto import LoadedDataKey, data_key_loaded_with, decrypt_for_user
from privacy.levels import SERVER_PERSONALIZED_LEVELS

from .models import Preferences, PreferredTopic

REGION_CONTEXT = "preferences.region"


@dataclass(frozen=True)
class ReaderProfile:
    level: str = Preferences.Level.OFF
    topic_weights: dict[int, float] = field(default_factory=dict)
    topic_names: tuple[str, ...] = ()
    blocked_topic_ids: frozenset[int] = frozenset()
    onboarding_done: bool = False

    @property
    def topic_name_of(self) -> dict[int, str]:
        """Followed topic id -> name (`topic_names` follows `topic_weights`' order)."""
        if len(self.topic_names) != len(self.topic_weights):
            return {}
        return dict(zip(self.topic_weights, self.topic_names, strict=True))

    @property
    def personalized(self) -> bool:
        """Whether the server ranks this reader's page from their topics (at "On this device
        only" their browser does, from the public bundle)."""
        return self.level in SERVER_PERSONALIZED_LEVELS and bool(self.topic_weights)


ANONYMOUS_PROFILE = ReaderProfile()


def preferences_loaded_with(user) -> tuple[Preferences | None, LoadedDataKey] | None:
    """(preferences, None when the reader has made no choice yet; their wrapped data key) as
    read with their session (`accounts.sessions`); None when they were not read with it."""
    key = data_key_loaded_with(user)
    related = user.__class__.preferences
    if key is None or not related.is_cached(user):
        return None
    return related.related.get_cached_value(user), key


@one_reader_sql
def _reader_profile_sql() -> QuerySet:
    # One query of plain values: the feed asks for this on every page. A row per (chosen
    # topic, blocked topic) pair, a few dozen at most: cheaper than a query for each.
    return Preferences.objects.filter(user_id=ANY_READER).values_list(
        "level",
        "onboarding_finished_at",
        "preferred_topics__topic_id",
        "preferred_topics__weight",
        "preferred_topics__topic__name",
        "blocked_topics__id",
    )


def reader_profile(*, user) -> ReaderProfile:
    """What the feed may use about this visitor: nothing for anonymous visitors."""
    if not user.is_authenticated:
        return ANONYMOUS_PROFILE
    with connection.cursor() as cursor:
        cursor.execute(_reader_profile_sql(), [user.pk])
        rows = cursor.fetchall()
    if not rows:
        return ANONYMOUS_PROFILE
    chosen: dict[int, tuple[float, str]] = {}
    blocked = set()
    for _, _, topic_id, weight, name, blocked_id in rows:
        if topic_id is not None:
            chosen[topic_id] = (weight, name)
        if blocked_id is not None:
            blocked.add(blocked_id)
    level, onboarding_finished_at = rows[0][:2]
    by_name = sorted(chosen.items(), key=lambda item: item[1][1])
    return ReaderProfile(
        level=level,
        topic_weights={topic_id: weight for topic_id, (weight, _) in by_name},
        topic_names=tuple(name for _, (_, name) in by_name),
        blocked_topic_ids=frozenset(blocked),
        onboarding_done=onboarding_finished_at is not None,
    )


def preferences_region(*, preferences: Preferences) -> str:
    """The reader's chosen region, decrypted; empty when none is kept."""
    if not preferences.region_sealed:
        return ""
    return decrypt_for_user(
        user_id=preferences.user_id,
        ciphertext=bytes(preferences.region_sealed),
        context=REGION_CONTEXT,
    )


def preferences_detail(*, user) -> Preferences | None:
    """The reader's preferences with their topics, for showing (None before any choice)."""
    return (
        Preferences.objects.filter(user=user)
        .prefetch_related("preferred_topics__topic", "blocked_topics")
        .first()
    )


def personalization_level_counts() -> dict[str, int]:
    """How many readers (not staff) chose each personalization level, every level included,
    each reader at exactly one: the exact counts the nightly release noises
    (`privacy.aggregation`, registered in AccountsConfig.ready). Never shown as they are:
    editors see only the released noisy counts, never a list of people."""
    rows = (
        Preferences.objects.filter(user__is_staff=False)
        .values("level")
        .annotate(readers=Count("pk"))
        .order_by()
    )
    counts = dict.fromkeys(Preferences.Level.values, 0)
    counts.update({row["level"]: row["readers"] for row in rows})
    return counts


def read_in_followed_topic(*, user_id: int, article_id: int) -> bool | None:
    """Whether the article is in a topic the reader follows (a weight "Show less like this"
    has not taken to 0), None when they follow none: the flag a counted read carries into the
    nightly release of how loyal readers are to their topics (`privacy.aggregation`,
    registered in AccountsConfig.ready). One query."""
    shared = Article.topics.through.objects.filter(
        article_id=article_id, topic_id=OuterRef("topic_id")
    )
    followed = list(
        PreferredTopic.objects.filter(preferences__user_id=user_id, weight__gt=0)
        .annotate(shared=Exists(shared))
        .values_list("shared", flat=True)
    )
    return any(followed) if followed else None
