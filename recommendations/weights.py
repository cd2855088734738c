"""The blend's weights: the one place the feed, training's tuning and the offline evaluation
read how much each part of a story's score counts."""

from __future__ import annotations

# How much each part counts in the blend. Popularity and freshness are tuned on held-out days
# of DP counts when there are some (training.tune_blend); the split below is used when not.
DEFAULT_WEIGHTS = {
    "topic": 1.0,  # the article is in a topic the reader follows (times its weight)
    "content": 0.8,  # similarity to the reader's topics and reads
    "popularity": 0.3,
    "freshness": 0.3,
    "pick": 0.4,  # an editor's pick, in the non-personal feed
}
# The weights a private-mode browser's federated update moves, in the order of its vector
# (shipped in the bundle for static/privatemode/federated.js): those training's held-out
# criterion can judge. An editor's pick is left out: no held-out day has one to judge it by.
FEDERATED_WEIGHTS = ("topic", "content", "popularity", "freshness")
POPULARITY_AND_FRESHNESS = DEFAULT_WEIGHTS["popularity"] + DEFAULT_WEIGHTS["freshness"]
# The shares of popularity in (popularity + freshness) training tries.
POPULARITY_SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)
# How much popularity and freshness weigh together, against topic 1.0 and content 0.8: about
# geometric from under the usual to far over topic and content together, for where a few hits
# are most of what anyone reads (real readers, 2026-12-02: popularity about 6 served them best).
POPULARITY_AND_FRESHNESS_TOTALS = (
    0.5,
    POPULARITY_AND_FRESHNESS,
    0.75,
    1.0,
    1.5,
    2.0,
    3.0,
    4.0,
    6.0,
    8.0,
    12.0,
)
# A topic the reader does not follow counts at this share of its affinity with one they do.
RELATED_TOPIC_SHARE = 0.5
# At the top level, this share of content similarity comes from the reader's own reads.
HISTORY_SHARE = 0.5
# An editor's pick counts at this share of its weight in a personal feed.
PERSONAL_PICK_SHARE = 0.5
