"""Topic suggestions for articles that arrive without topics: a TF-IDF + logistic regression
(one-vs-rest) classifier trained on the articles editors have already given topics.

Pure functions, no database: the service in news.services loads the labelled articles, calls
`classifier_train` and stores what `topics_predict` returns on the article for an editor to
accept or change. Only article text is used, never anything about readers.
"""

from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

# Fewer labelled articles than this teach the classifier too little to be worth showing.
MIN_LABELLED_ARTICLES = 20
# A topic needs a few examples of its own before the classifier can learn to recognise it.
MIN_EXAMPLES_PER_TOPIC = 3
# Suggest at most this many topics, each at least this likely.
MAX_SUGGESTIONS = 3
MIN_SCORE = 0.2


class NotEnoughLabels(Exception):
    """Too few labelled articles (or topics) to train on; the message says how many."""


@dataclass(frozen=True)
class TopicClassifier:
    vectorizer: TfidfVectorizer
    model: OneVsRestClassifier
    topic_ids: list[int]
    trained_on: int


def classifier_train(
    *, texts: list[str], topic_sets: list[set[int]], min_labelled: int = MIN_LABELLED_ARTICLES
) -> TopicClassifier:
    """Train on articles with their topics. Topics with too few examples are left out (the
    classifier could not recognise them anyway)."""
    if len(texts) < min_labelled:
        raise NotEnoughLabels(
            f"Only {len(texts)} articles have topics; suggestions start at {min_labelled}."
        )
    counts: dict[int, int] = {}
    for topics in topic_sets:
        for topic_id in topics:
            counts[topic_id] = counts.get(topic_id, 0) + 1
    topic_ids = sorted(t for t, n in counts.items() if n >= MIN_EXAMPLES_PER_TOPIC)
    # One-vs-rest needs, for each topic, articles with it and articles without it.
    topic_ids = [t for t in topic_ids if counts[t] < len(texts)]
    if len(topic_ids) < 2:
        raise NotEnoughLabels(
            f"Fewer than two topics have {MIN_EXAMPLES_PER_TOPIC} or more labelled articles."
        )
    labels = np.array([[t in topics for t in topic_ids] for topics in topic_sets], dtype=int)
    vectorizer = TfidfVectorizer(
        sublinear_tf=True, min_df=1, max_df=0.9, stop_words="english", max_features=50_000
    )
    matrix = vectorizer.fit_transform(texts)
    # Balanced: a rare topic would otherwise never reach a useful score.
    model = OneVsRestClassifier(LogisticRegression(max_iter=1000, class_weight="balanced", C=4.0))
    model.fit(matrix, labels)
    return TopicClassifier(
        vectorizer=vectorizer, model=model, topic_ids=topic_ids, trained_on=len(texts)
    )


def topics_predict(
    *, classifier: TopicClassifier, texts: list[str]
) -> list[list[tuple[int, float]]]:
    """For each text, the most likely topics as (topic id, probability), best first."""
    if not texts:
        return []
    scores = classifier.model.predict_proba(classifier.vectorizer.transform(texts))
    results = []
    for row in np.atleast_2d(scores):
        best = np.argsort(-row, kind="stable")[:MAX_SUGGESTIONS]
        results.append(
            [
                (classifier.topic_ids[i], round(float(row[i]), 3))
                for i in best
                if row[i] >= MIN_SCORE
            ]
        )
    return results
