"""Story vectors: exact TF-IDF for a catalogue too small to reduce well, SVD to the setting's
dimensions once it has several stories per dimension."""

import random

import numpy as np

from recommendations.vectors import SVD_STORIES_PER_DIMENSION, fit_text_model

WORDS = [f"word{index}" for index in range(400)]


def _stories(count: int) -> list[str]:
    rng = random.Random(7)
    return [" ".join(rng.choice(WORDS) for _ in range(30)) for _ in range(count)]


def test_a_small_catalogue_keeps_exact_tfidf_and_a_larger_one_is_reduced_to_the_setting():
    dimensions = 8
    small = _stories(SVD_STORIES_PER_DIMENSION * dimensions)
    model, vectors = fit_text_model(small, max_features=5_000, svd_components=dimensions)
    assert model.svd is None
    assert vectors.shape == (len(small), len(model.vectorizer.vocabulary_))

    larger = _stories(SVD_STORIES_PER_DIMENSION * dimensions + 1)
    model, vectors = fit_text_model(larger, max_features=5_000, svd_components=dimensions)
    assert model.svd is not None and vectors.shape == (len(larger), dimensions)
    # Unit vectors either way, and a story seen later lands in the same space.
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert model.transform([larger[0]]).shape == (1, dimensions)
