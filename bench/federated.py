"""Federated tuning of the blend simulated on real readers (MIND): every reader a private-mode
browser sending, from its own reads, one clipped update of the blend weights noised for local
DP (`recommendations.federated`, as static/privatemode/federated.js computes it; epsilon and
delta are the site's settings, the clips compared are `--clips`, the noise's sigma is
`privacy.federated.noise_sigma`'s). How
far the averaged update and the step along it are from the ones a central server would take
with every browser's exact update, and from the weights training tunes centrally on the DP
counts, as the number of browsers grows; and leave-one-out HR@10 at those weights.

`python -m bench.federated --mind ../shared/mind-dev [--seeds 3] [--browsers 100,all,1000,allx10]
[--clips 1,0.25,0.1]`

Each MIND reader with at least two reads is one browser; its last read is held out (protocol
v2, as bench/ldp.py), the others are its reads. A browser's update is the mean over its newest
reads (at most the bundle's 20) of the pairwise logistic loss's gradient of each read against
every story it never read, each read scored with the reads before it and the topics of those
reads followed, at the default blend (the weights the site serves before any tuning), with
popularity from the central DP release (epsilon 1) and no freshness (MIND has no publication
time). "all x k" counts each reader as k browsers, each drawing its own noise. The step is
the one training tries first at full length: along the average, less its part along the
weights, as long as the weights (share 1.0 of `federated.STEP_SHARES`); weights are compared
after scaling to unit length (an order depends on their direction only), freshness left out
(with no publication time it orders nothing). Everything is seeded but the central release's
OpenDP noise.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import timedelta

import numpy as np
from rich.progress import Progress

EPSILON = 1.0
STEP_SHARE = 1.0


def _setup():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsite.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()


def _browser_gradients(released, training_reads, *, reference, max_reads, progress):
    """Every browser's exact update (before clipping and noise) at the default blend, and
    how many reads it learned from."""
    from recommendations.federated import part_features, read_gradient, weight_vector
    from recommendations.offline.protocols import offline_reader
    from recommendations.weights import DEFAULT_WEIGHTS

    catalogue = released.catalogue
    candidates = released.candidates(reference)
    count = len(catalogue.ids)
    zeros = np.zeros(count)
    w = weight_vector(DEFAULT_WEIGHTS)
    gradients, used = [], []
    task = progress.add_task("browsers' updates", total=len(training_reads))
    for reads in training_reads.values():
        rows = [catalogue.row_of[r.news_id] for r in reads]  # oldest first
        others = np.setdiff1d(np.arange(count), rows)
        newest = list(range(len(rows) - 1, -1, -1))[:max_reads]
        total = np.zeros(len(w))
        for position in newest:
            reader = offline_reader(
                vectors=catalogue.vectors,
                topic_matrix=catalogue.topic_matrix,
                topic_ids=catalogue.topic_ids,
                rows=np.array(rows[:position], dtype=np.int64),
                follow="read_topics",
            )
            features = part_features(
                candidates=candidates, reader=reader, freshness=zeros, pick=zeros
            )
            total += read_gradient(features=features, read=rows[position], others=others, w=w)
        gradients.append(total / len(newest))
        used.append(len(newest))
        progress.advance(task)
    return np.array(gradients), np.array(used)


def _unit(v: np.ndarray) -> np.ndarray:
    """`v` at unit length without its freshness part: MIND gives no publication time, so
    freshness orders nothing here and its weight is whatever a tie left it."""
    from recommendations.weights import FEDERATED_WEIGHTS

    kept = np.array([name != "freshness" for name in FEDERATED_WEIGHTS])
    return v[kept] / np.linalg.norm(v[kept])


def _step(update: np.ndarray) -> np.ndarray:
    """The weights one step along `update` from the default blend, as training steps."""
    from recommendations.federated import weight_vector, weights_stepped
    from recommendations.weights import DEFAULT_WEIGHTS

    return weight_vector(weights_stepped(DEFAULT_WEIGHTS, average=update, share=STEP_SHARE))


def _hr(released, reads, held_out, *, reference, weights) -> float:
    import copy

    from recommendations.offline.metrics import hit_rank
    from recommendations.offline.protocols import offline_scores

    variant = copy.copy(released)
    variant.weights, variant.tune, variant._blends = weights, False, {}
    catalogue = released.catalogue
    hits = 0
    for user, held in held_out.items():
        history = np.array(
            [catalogue.row_of[r.news_id] for r in reads[user] if r.news_id != held], np.int64
        )
        allowed = np.ones(len(catalogue.ids), dtype=bool)
        allowed[history] = False
        candidates = np.flatnonzero(allowed)
        scores = offline_scores(variant, history, reference=reference, follow="read_topics")
        rank = hit_rank(
            scores[candidates], int(np.searchsorted(candidates, catalogue.row_of[held]))
        )
        hits += rank <= 10
    return hits / len(held_out)


def run(data, *, seeds: int, browsers: list[str], clips: list[float], progress) -> dict:
    from django.conf import settings

    from privacy.federated import noise_sigma
    from recommendations.federated import clip, weight_vector
    from recommendations.offline.mind import reader_reads
    from recommendations.offline.protocols import Catalogue, Released, without_held_out
    from recommendations.offline.release import PopularityPlan
    from recommendations.weights import DEFAULT_WEIGHTS, FEDERATED_WEIGHTS

    catalogue = Catalogue(data, seed=0, topics="category")
    reads = reader_reads(data)
    held_out = {user: rs[-1].news_id for user, rs in reads.items() if len(rs) >= 2}
    training_reads = without_held_out(reads, held_out)
    days = sorted({read.day for rs in reads.values() for read in rs})
    reference = days[-1] + timedelta(days=1)
    released = Released(
        catalogue, training_reads, plan=PopularityPlan(epsilon=EPSILON), weights={}, tune=True
    )
    tuned = released.blend(reference)
    browsing = {user: training_reads[user] for user in held_out}
    max_reads = 20
    exact, used = _browser_gradients(
        released, browsing, reference=reference, max_reads=max_reads, progress=progress
    )
    norms = np.linalg.norm(exact, axis=1)

    def as_weights(vector: np.ndarray) -> dict[str, float]:
        return DEFAULT_WEIGHTS | dict(zip(FEDERATED_WEIGHTS, vector.tolist(), strict=True))

    tuned_unit = _unit(weight_vector(tuned))
    hr = {
        "default blend": _hr(
            released, reads, held_out, reference=reference, weights=dict(DEFAULT_WEIGHTS)
        ),
        "tuned centrally (training's held-out tuning, central DP counts)": _hr(
            released, reads, held_out, reference=reference, weights=tuned
        ),
    }
    rows, centrals = [], {}
    everyone = len(exact)
    task = progress.add_task("federated averages", total=seeds * len(browsers) * len(clips))
    for bound in clips:
        sigma = noise_sigma(
            epsilon=settings.FEDERATED_EPSILON, delta=settings.FEDERATED_DELTA, clip=bound
        )
        clipped = np.array([clip(g, bound=bound) for g in exact])
        central = clipped.mean(axis=0)
        central_weights = _step(central)
        centrals[bound] = {
            "sigma": sigma,
            "clipped_share": float((norms > bound).mean()),
            "average": central,
            "weights": central_weights,
            "to_tuned": float(np.linalg.norm(_unit(central_weights) - tuned_unit)),
            "hr": _hr(
                released,
                reads,
                held_out,
                reference=reference,
                weights=as_weights(central_weights),
            ),
        }
        rows += _rows(
            browsers,
            seeds=seeds,
            clipped=clipped,
            sigma=sigma,
            bound=bound,
            central=central,
            central_weights=central_weights,
            tuned_unit=tuned_unit,
            hit_rate=lambda stepped: _hr(
                released, reads, held_out, reference=reference, weights=as_weights(stepped)
            ),
            advance=lambda: progress.advance(task),
        )
    return {
        "readers": everyone,
        "reads_used": float(used.mean()),
        "norms": (float(np.median(norms)), float(np.percentile(norms, 90)), float(norms.max())),
        "tuned": weight_vector(tuned),
        "hr": hr,
        "centrals": centrals,
        "rows": rows,
    }


def _rows(
    browsers,
    *,
    seeds,
    clipped,
    sigma,
    bound,
    central,
    central_weights,
    tuned_unit,
    hit_rate,
    advance,
):
    """One row per number of browsers: each seed draws them (readers with repetition when
    there are more browsers than readers) and each browser's own noise."""
    everyone = len(clipped)
    rows = []
    for label in browsers:
        copies = int(label.split("x")[1]) if label.startswith("allx") else 1
        n = everyone * copies if label.startswith("all") else int(label)
        cosines, to_central, to_tuned, hits = [], [], [], []
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            chosen = (
                np.repeat(np.arange(everyone), copies)
                if label.startswith("all")
                else rng.choice(everyone, size=n, replace=n > everyone)
            )
            noised = clipped[chosen] + rng.normal(0.0, sigma, size=(len(chosen), len(central)))
            average = noised.mean(axis=0)
            stepped = _step(average)
            cosines.append(float(_unit(average) @ _unit(central)))
            to_central.append(float(np.linalg.norm(_unit(stepped) - _unit(central_weights))))
            to_tuned.append(float(np.linalg.norm(_unit(stepped) - tuned_unit)))
            hits.append(hit_rate(stepped))
            advance()
        rows.append(
            {
                "clip": bound,
                "browsers": label,
                "n": len(chosen),
                "cosine": (np.mean(cosines), np.std(cosines)),
                "to_central": (np.mean(to_central), np.std(to_central)),
                "to_tuned": (np.mean(to_tuned), np.std(to_tuned)),
                "hr": (np.mean(hits), np.std(hits)),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mind", required=True, help="A MIND-format folder.")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--browsers", default="100,all,1000,allx10,allx100", help="Numbers, all, allxK."
    )
    parser.add_argument("--clips", default="1,0.25,0.1", help="L2 clips to compare.")
    options = parser.parse_args()
    _setup()
    from django.conf import settings

    from recommendations.offline.mind import mind_load
    from recommendations.weights import FEDERATED_WEIGHTS

    data = mind_load(options.mind)
    started = time.perf_counter()
    with Progress() as progress:
        result = run(
            data,
            seeds=options.seeds,
            browsers=options.browsers.split(","),
            clips=[float(c) for c in options.clips.split(",")],
            progress=progress,
        )
    names = ", ".join(FEDERATED_WEIGHTS)

    def weights(vector) -> str:
        return "(" + ", ".join(f"{v:.3g}" for v in vector) + ")"

    print(
        f"{len(data.news)} stories; {result['readers']} browsers (readers with 2+ reads), "
        f"{result['reads_used']:.1f} reads each on average; epsilon "
        f"{settings.FEDERATED_EPSILON:g}, delta {settings.FEDERATED_DELTA:g}; {options.seeds} "
        f"seeds; {time.perf_counter() - started:.0f} s\n"
    )
    median, p90, top = result["norms"]
    print(
        f"Update norms before clipping: median {median:.3f}, 90th percentile {p90:.3f}, "
        f"max {top:.3f}. Weights ({names}) tuned centrally: {weights(result['tuned'])}.\n"
    )
    print("| weights | LOO HR@10 |")
    print("| --- | --- |")
    for label, value in result["hr"].items():
        print(f"| {label} | {value:.4f} |")
    for bound, central in result["centrals"].items():
        print(
            f"| central step at clip {bound:g} ({central['clipped_share']:.0%} clipped; every "
            f"browser's exact update, no noise): {weights(central['weights'])}, "
            f"{central['to_tuned']:.3f} from the tuned | {central['hr']:.4f} |"
        )
    print()
    print(
        "| clip (sigma) | browsers | cosine of the average with the central one | distance "
        "to the central step | distance to the centrally tuned | LOO HR@10 at the step |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for row in result["rows"]:
        sigma = result["centrals"][row["clip"]]["sigma"]
        cells = [
            f"{row[key][0]:.3f} ± {row[key][1]:.3f}" for key in ("cosine", "to_central", "to_tuned")
        ]
        print(
            f"| {row['clip']:g} ({sigma:.2f}) | {row['browsers']} ({row['n']:,}) "
            f"| {' | '.join(cells)} | {row['hr'][0]:.4f} ± {row['hr'][1]:.4f} |"
        )


if __name__ == "__main__":
    main()
