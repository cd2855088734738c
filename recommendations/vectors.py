"""The trained content model as it is stored in an artifact: TF-IDF (optionally reduced with
TruncatedSVD) article vectors, topic centroids and affinities, a popularity prior and the
blend weights. Pure numpy/scikit-learn: no database, no reader."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

from news.models import body_without_links

# A large corpus drops words seen in one document only: typos and names that match nothing.
MIN_DF_FROM_DOCUMENTS = 1_000
# SVD only once the corpus has this many stories per dimension kept: with fewer it blurs
# stories that share a few words, and exact TF-IDF vectors are few enough to keep (on the
# demo corpus, 132 stories: leave-one-out HR@10 0.455 at 64 dimensions, 0.470 exact).
SVD_STORIES_PER_DIMENSION = 4


def article_text(*, title: str, summary: str, body: str) -> str:
    # The title twice: it is what the story is about, in the fewest words.
    return f"{title}\n{title}\n{summary}\n{body_without_links(body)}"


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32)


@dataclass
class TextModel:
    """Text to unit vectors: the part of the model shared by training and evaluation."""

    vectorizer: TfidfVectorizer
    svd: TruncatedSVD | None

    def transform(self, texts: list[str]) -> np.ndarray:
        tfidf = self.vectorizer.transform(texts)
        reduced = self.svd.transform(tfidf) if self.svd is not None else tfidf.toarray()
        return normalise_rows(np.asarray(reduced, dtype=np.float32))


def fit_text_model(
    texts: list[str], *, max_features: int, svd_components: int, seed: int = 0
) -> tuple[TextModel, np.ndarray]:
    """Fit TF-IDF (and SVD when the corpus is large enough to need it) and return the model
    with the unit vectors of `texts`."""
    vectorizer = TfidfVectorizer(
        stop_words="english",
        sublinear_tf=True,
        max_features=max_features,
        min_df=2 if len(texts) >= MIN_DF_FROM_DOCUMENTS else 1,
        dtype=np.float32,
    )
    tfidf = vectorizer.fit_transform(texts)
    svd = None
    reduce = tfidf.shape[0] > SVD_STORIES_PER_DIMENSION * svd_components
    if reduce and tfidf.shape[1] > svd_components:
        svd = TruncatedSVD(n_components=svd_components, random_state=seed, n_iter=5)
        reduced = svd.fit_transform(tfidf)
    else:
        reduced = tfidf.toarray()
    return TextModel(vectorizer=vectorizer, svd=svd), normalise_rows(np.asarray(reduced))


@dataclass
class RecommenderModel:
    """Everything one model version knows. Rows of `vectors` and `popularity` follow
    `article_ids` (sorted); rows of `topic_centroids` and `topic_affinity` follow `topic_ids`."""

    version: int
    trained_at: datetime
    text_model: TextModel
    article_ids: np.ndarray
    vectors: np.ndarray
    popularity: np.ndarray
    topic_ids: np.ndarray
    topic_centroids: np.ndarray
    topic_affinity: np.ndarray
    topic_popularity: np.ndarray
    weights: dict[str, float]
    metadata: dict = field(default_factory=dict)
    # Per article: its DP count stands clear of the noise, so it may be called popular. None
    # in versions trained before it was kept (every counted story may then be).
    popular_clear: np.ndarray | None = None

    def popular_rows(self, rows: np.ndarray) -> np.ndarray:
        """Whether the stories at `rows` (-1: unseen by the model) may be called popular."""
        seen = rows >= 0
        clear = getattr(self, "popular_clear", None)  # absent from older pickled versions
        if clear is None:
            return seen
        return seen & clear[np.maximum(rows, 0)]

    @property
    def dimensions(self) -> int:
        return int(self.vectors.shape[1])

    def rows_for(self, ids: np.ndarray) -> np.ndarray:
        """Row of each article id in `vectors`, or -1 for articles the model has not seen."""
        ids = np.asarray(ids, dtype=np.int64)
        if not len(self.article_ids):
            return np.full(len(ids), -1, dtype=np.int64)
        positions = np.searchsorted(self.article_ids, ids)
        positions = np.minimum(positions, len(self.article_ids) - 1)
        found = self.article_ids[positions] == ids
        return np.where(found, positions, -1)

    def topic_rows(self) -> dict[int, int]:
        return {int(topic_id): row for row, topic_id in enumerate(self.topic_ids)}

    def vectorise(self, texts: list[str]) -> np.ndarray:
        return self.text_model.transform(texts)
