"""Why a story is in the feed, in one plain sentence, with the control that changes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.utils import timezone

from common.reversing import cached_reverse

# Popular enough to say so: at least this share of the most popular story's prior.
POPULAR_FLOOR = 0.5


class ReasonKind:
    TOPIC = "topic"
    RELATED_TOPIC = "related_topic"
    HISTORY = "history"
    POPULAR = "popular"
    PICK = "pick"
    FRESH = "fresh"


@dataclass(frozen=True)
class Reason:
    kind: str
    sentence: str
    control_url: str
    control_label: str
    # The followed topic "Show less like this" would lower; None when there is none.
    show_less_topic_id: int | None = None
    show_less_topic_name: str = ""


def when_read(read_at: datetime, *, now: datetime) -> str:
    """'today', 'yesterday', 'on Monday' within the week, else 'on 3 March'."""
    day, today = timezone.localdate(read_at), timezone.localdate(now)
    days = (today - day).days
    if days <= 0:
        return "today"
    if days == 1:
        return "yesterday"
    if days < 7:
        return f"on {day:%A}"
    return f"on {day.day} {day:%B}"


def _choose_topics(*, signed_in: bool) -> tuple[str, str]:
    if signed_in:
        return cached_reverse("accounts:preferences"), "Choose your topics"
    return cached_reverse("account_signup"), "Sign up to choose your topics"


def because_you_follow(*, topic_id: int, topic_name: str) -> Reason:
    return Reason(
        kind=ReasonKind.TOPIC,
        sentence=f"Because you follow {topic_name}",
        control_url=cached_reverse("accounts:preferences"),
        control_label="Change your topics",
        show_less_topic_id=topic_id,
        show_less_topic_name=topic_name,
    )


def related_to(*, topic_name: str) -> Reason:
    return Reason(
        kind=ReasonKind.RELATED_TOPIC,
        sentence=f"Related to {topic_name}, which you follow",
        control_url=cached_reverse("accounts:preferences"),
        control_label="Change your topics",
    )


def because_you_read(*, title: str, read_at: datetime, now: datetime) -> Reason:
    """Said only of a story placed by the reader's own reads, naming the read that placed it
    (one that shares a topic with the story and is still published)."""
    return Reason(
        kind=ReasonKind.HISTORY,
        sentence=f"Because you read '{title}' {when_read(read_at, now=now)}",
        control_url=cached_reverse("accounts:preferences"),
        control_label="Stop using your reading history",
    )


def popular_today() -> Reason:
    return Reason(
        kind=ReasonKind.POPULAR,
        sentence="Popular today",
        control_url=cached_reverse("privacy:transparency"),
        control_label="How we count popular stories without tracking anyone",
    )


def editors_pick(*, signed_in: bool) -> Reason:
    url, label = _choose_topics(signed_in=signed_in)
    return Reason(
        kind=ReasonKind.PICK, sentence="Editor's pick", control_url=url, control_label=label
    )


def holdout_pick() -> Reason:
    """Every card of a reader in the day's holdout: their page is the editors' order today,
    so no personal reason placed any story on it, and none is claimed."""
    return Reason(
        kind=ReasonKind.PICK,
        sentence="Editor's pick: today your page shows the editors' order, not your personal one",
        control_url=cached_reverse("privacy:transparency") + "#holdout",
        control_label="Why, on some days",
    )


def just_in(*, signed_in: bool) -> Reason:
    url, label = _choose_topics(signed_in=signed_in)
    return Reason(
        kind=ReasonKind.FRESH,
        sentence="One of the newest stories",
        control_url=url,
        control_label=label,
    )


def reason_kind(
    *,
    topic: float,
    related: float,
    history: float,
    popularity: float,
    pick: float,
    freshness: float,
    popularity_share: float,
) -> str:
    """The kind of the part that contributed most to a story's score (each part weighted as
    scored); "Popular today" only at `POPULAR_FLOOR` of the top story's popularity or more."""
    parts = {
        ReasonKind.TOPIC: topic,
        ReasonKind.RELATED_TOPIC: related,
        ReasonKind.HISTORY: history,
        ReasonKind.POPULAR: popularity if popularity_share >= POPULAR_FLOOR else 0.0,
        ReasonKind.PICK: pick,
        ReasonKind.FRESH: freshness,
    }
    kind = max(parts, key=lambda k: parts[k])
    return kind if parts[kind] > 0 else ReasonKind.FRESH


# The parts in the order `reason_kind` weighs them (the first of equal parts wins).
_KIND_ORDER = (
    ReasonKind.TOPIC,
    ReasonKind.RELATED_TOPIC,
    ReasonKind.HISTORY,
    ReasonKind.POPULAR,
    ReasonKind.PICK,
    ReasonKind.FRESH,
)


def reason_kinds(
    *,
    topic: np.ndarray,
    related: np.ndarray,
    history: np.ndarray,
    popularity: np.ndarray,
    pick: np.ndarray,
    freshness: np.ndarray,
    popularity_share: np.ndarray,
) -> list[str]:
    """`reason_kind` of several stories at once (the parts as arrays, a story per entry)."""
    parts = np.stack(
        [
            topic,
            related,
            history,
            np.where(popularity_share >= POPULAR_FLOOR, popularity, 0.0),
            pick,
            freshness,
        ]
    ).astype(np.float64)
    strongest = parts.argmax(axis=0)
    placed = parts[strongest, np.arange(parts.shape[1])] > 0
    return [
        _KIND_ORDER[kind] if ok else ReasonKind.FRESH
        for kind, ok in zip(strongest.tolist(), placed.tolist(), strict=True)
    ]
