"""The browser's federated update is the one the recommender's Python computes:
static/privatemode/federated.js, run by node on a bundle built from the fixture newsroom,
against `recommendations.federated` on the same bundle (`part_features` from the one scoring
function, `read_gradient`), reader by reader; and its clip and Gaussian noise as stated."""

import json
import subprocess
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from privatemode.bundle import bundle_decode, bundle_reader
from privatemode.services import bundle_build
from recommendations.federated import part_features, read_gradient
from recommendations.weights import FEDERATED_WEIGHTS

from .conftest import RANKING_JS, node_or_skip, topic_ids

pytestmark = pytest.mark.django_db
HOUR = 3600
FEDERATED_JS = RANKING_JS.parent / "federated.js"
RUNNER = RANKING_JS.parents[2] / "tests" / "privatemode" / "run_federated.mjs"


def _python_gradient(decoded, *, topics, reads, names, max_reads):
    """federated.js's `gradient`, from the recommender's own functions: each of the newest
    reads among the candidates against the stories published by then that were never opened,
    scored with the reads before it, at the bundle's weights."""
    assert list(names) == list(FEDERATED_WEIGHTS)
    w = np.array([decoded.weights[name] for name in names])
    rows = {int(article_id): row for row, article_id in enumerate(decoded.ids)}
    opened = [article_id for article_id, _ in reads]
    positions = [p for p, (article_id, _) in enumerate(reads) if article_id in rows][:max_reads]
    if not positions:
        return None
    half_life = decoded.constants["freshness_half_life_hours"]
    total = np.zeros(len(names))
    for position in positions:
        article_id, at = reads[position]
        reader, _ = bundle_reader(decoded, topics=topics, reads=reads[position + 1 :])
        hours = np.maximum(at - decoded.published, 0.0) / 3600
        features = part_features(
            candidates=decoded.candidates,
            reader=reader,
            freshness=0.5 ** (hours / half_life),
            pick=(decoded.pick_until > at).astype(float),
        )
        others = np.flatnonzero((decoded.published <= at) & ~np.isin(decoded.ids, opened))
        total += read_gradient(features=features, read=rows[article_id], others=others, w=w)
    return total / len(positions)


def _browser(bundle, cases, noise):
    completed = subprocess.run(
        [node_or_skip(), str(RUNNER), RANKING_JS.as_uri(), FEDERATED_JS.as_uri()],
        input=json.dumps({"bundle": bundle, "cases": cases, "noise": noise}),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


NOISE = {"seed": 7, "count": 20_000, "update": [3.0, 4.0, 0.0, 0.0], "clip": 1.0, "sigma": 2.0}


def test_the_browsers_update_is_the_python_gradient_of_the_same_reads(newsroom):
    built_at = timezone.now()
    bundle = bundle_build(now=built_at)
    decoded = bundle_decode(bundle)
    names = bundle["federated"]["weights"]
    now = built_at.timestamp() + 600
    ids = [int(i) for i in decoded.ids]  # newest first
    space, food, sport, politics = (newsroom[n] for n in ("Space", "Food", "Sport", "Politics"))
    readers = {
        "follows Space, read two Space stories": (
            topic_ids(space),
            [(ids[0], now - HOUR), (ids[4], now - 20 * HOUR)],
            5,
        ),
        "follows Food and Sport, read across topics": (
            topic_ids(food, sport),
            [(ids[k], now - (k + 1) * 5 * HOUR) for k in (1, 2, 6, 9, 13, 20)],
            20,
        ),
        "follows Politics, more reads than it learns from": (
            topic_ids(politics),
            [(ids[k], now - (k + 1) * 3 * HOUR) for k in (3, 7, 11, 15, 19, 23, 27)],
            3,
        ),
        "follows nothing: popularity and freshness only": ([], [(ids[2], now - 2 * HOUR)], 20),
        "read nothing among the candidates": (topic_ids(space), [(10**9, now - HOUR)], 20),
    }
    cases = [
        {
            "topics": [list(t) for t in topics],
            "reads": [list(r) for r in reads],
            "names": names,
            "maxReads": max_reads,
        }
        for topics, reads, max_reads in readers.values()
    ]

    in_browser = _browser(bundle, cases, NOISE)["gradients"]

    for (name, (topics, reads, max_reads)), got in zip(readers.items(), in_browser, strict=True):
        expected = _python_gradient(
            decoded, topics=topics, reads=reads, names=names, max_reads=max_reads
        )
        if expected is None:
            assert got is None, name
            continue
        assert got == pytest.approx(expected.tolist(), rel=1e-9, abs=1e-12), name
        # A real signal, not zeros: the reads pull some weight one way.
        assert np.abs(expected).max() > 1e-3, name


def test_the_browser_clips_the_update_then_adds_standard_normal_noise_times_sigma(newsroom):
    result = _browser(bundle_build(now=timezone.now() - timedelta(minutes=1)), [], NOISE)

    # [3, 4] has norm 5: clipped to 1 it keeps its direction.
    assert result["clipped"] == pytest.approx([0.6, 0.8, 0.0, 0.0])
    expected = np.array(result["clipped"]) + NOISE["sigma"] * np.array(result["first"])
    assert result["noised"] == pytest.approx(expected.tolist())
    draws = np.array(result["normals"])
    assert len(draws) == NOISE["count"] and np.isfinite(draws).all()
    # Standard normal: 20,000 draws put the mean within 0.03 and the spread within 0.02 of
    # 0 and 1 (over four standard errors), and the tails where a normal's are.
    assert abs(draws.mean()) < 0.03 and abs(draws.std() - 1) < 0.02
    assert abs((np.abs(draws) > 1.96).mean() - 0.05) < 0.008
