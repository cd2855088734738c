"""The trust survey's one question, its answers, and the randomized response that every answer
goes through before it is stored (k-ary randomized response, from OpenDP).

With probability p the answer given is kept, otherwise one of the k - 1 others is drawn
uniformly: p = e^ε / (e^ε + k - 1). Each stored answer then says little about the person who
gave it (ε-local differential privacy), while many answers together still estimate how
readers answered (trust.estimators).
"""

import math
from dataclasses import dataclass
from functools import cache

from opendp.measurements import make_randomized_response
from opendp.mod import Measurement, binary_search_param, enable_features

# OpenDP's own modules, not its prelude: the prelude also loads opendp.extras (its scikit-learn,
# polars and examples helpers), a web worker's largest import (bench/README.md, worker peak).
enable_features("contrib")

QUESTION = "How comfortable are you with how this site uses your data?"


@dataclass(frozen=True)
class Answer:
    key: str
    label: str
    # On the 1-5 comfort scale; None for "prefer not to say".
    score: int | None


ANSWERS = (
    Answer("not_at_all", "Not at all comfortable", 1),
    Answer("slightly", "Slightly comfortable", 2),
    Answer("somewhat", "Somewhat comfortable", 3),
    Answer("very", "Very comfortable", 4),
    Answer("completely", "Completely comfortable", 5),
    Answer("prefer_not", "Prefer not to say", None),
)
ANSWER_KEYS = tuple(answer.key for answer in ANSWERS)
ANSWER_CHOICES = [(answer.key, answer.label) for answer in ANSWERS]
K = len(ANSWERS)

# The privacy of one answer: at most 1, as the question states next to it.
EPSILON = 1.0
# Where the randomization happened, stored with each answer.
SERVER_MECHANISM = "k-ary randomized response (OpenDP), on the server"
BROWSER_MECHANISM = "k-ary randomized response, in the browser"
MECHANISMS = (SERVER_MECHANISM, BROWSER_MECHANISM)

# How often a signed-in reader is asked at most.
ASK_EVERY_DAYS = 90


def keep_probability(epsilon: float, k: int = K) -> float:
    """p: the chance that the answer given is the one stored."""
    return math.exp(epsilon) / (math.exp(epsilon) + k - 1)


def other_probability(epsilon: float, k: int = K) -> float:
    """q: the chance that one given other answer is stored instead."""
    return 1 / (math.exp(epsilon) + k - 1)


@cache
def _measurement() -> tuple[Measurement, float]:
    """OpenDP's randomized response at the largest keep probability whose privacy loss OpenDP
    itself bounds by EPSILON (its float arithmetic would put e^ε/(e^ε+k-1) a hair above it),
    and the ε it guarantees."""
    make = lambda prob: make_randomized_response(list(ANSWER_KEYS), prob)  # noqa: E731
    prob = binary_search_param(
        make, d_in=1, d_out=EPSILON, bounds=(1 / K, keep_probability(EPSILON))
    )
    measurement = make(prob)
    return measurement, measurement.map(1)


def guaranteed_epsilon() -> float:
    return _measurement()[1]


def randomize(answer: str) -> str:
    """The answer to store in place of `answer` (one of ANSWER_KEYS)."""
    if answer not in ANSWER_KEYS:
        raise ValueError(f"Not an answer: {answer!r}")
    return _measurement()[0](answer)
