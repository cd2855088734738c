"""Private mode's local DP reports simulated on real readers (MIND): (a) the error of the OUE
estimates of per-story counts against the number of reporting browsers; (b) recommender
quality on protocol v2 leave-one-out with popularity from local reports only, from the
central DP release only, and from both joined by their variances as training joins them.

`python -m bench.ldp --mind ../shared/mind-dev [--seeds 3] [--scales 1,20] [--readers N]`

(a) Each simulated browser is a MIND reader drawn at random who reports one of their reads,
drawn at random, among all the slice's stories (d = 2,000), randomized bit by bit by OUE at
epsilon 1 as static/privatemode/ldp.js randomizes it; the server's estimator
(privacy.ldp.oue_estimate) against the true counts of the reads reported. The central
release's error on the same counts (OpenDP discrete Laplace at the per-article share of
epsilon 1, privacy.aggregation.release_counts) is beside it for scale.

(b) The readers are split in two by a hash of their id: one half counts its reads toward
popular (the site's central DP release, epsilon 1 a day, replayed by
recommendations.offline.release), the other half uses private mode and sends, each day it
read, one OUE report of one of that day's reads (epsilon 1). A scale k makes each reader k
people (k browsers, k counted readers, each drawing their own read and noise). The
recommender is training's (popularity prior from `training.popularity_prior`, the feed's
scoring) with the default blend, untuned, so the rows differ by popularity alone; held-out
reads are in no count. Everything is seeded (OpenDP's noise cannot be, so central rows vary
run to run within their standard deviation).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import math
import os
import time
from collections import defaultdict
from dataclasses import replace
from datetime import date

import numpy as np
from rich.progress import Progress

ERROR_BROWSERS = (1_000, 5_000, 20_000, 50_000)
EPSILON = 1.0
CHUNK = 2_000  # reports randomized at a time (a chunk of d bits each)


def _setup():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsite.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()


def _ones(positions: np.ndarray, *, size: int, rng: np.random.Generator) -> np.ndarray:
    """Per position, how many of the reports of `positions` set its bit: every report
    randomized bit by bit (as the browser does), summed."""
    from privacy.ldp import oue

    params = oue(EPSILON)
    ones = np.zeros(size, dtype=np.int64)
    for start in range(0, len(positions), CHUNK):
        chunk = positions[start : start + CHUNK]
        bits = rng.random((len(chunk), size), dtype=np.float32) < params.q
        bits[np.arange(len(chunk)), chunk] = rng.random(len(chunk)) < params.p
        ones += bits.sum(axis=0)
    return ones


def error_table(data, *, seeds: int, progress) -> list[dict]:
    from privacy.aggregation import ARTICLE_SHARE, release_counts
    from privacy.ldp import oue_estimate, oue_variance
    from recommendations.offline.mind import reader_reads

    ids = list(data.news)
    row_of = {news_id: row for row, news_id in enumerate(ids)}
    reads = [[row_of[r.news_id] for r in rs] for rs in reader_reads(data).values() if rs]
    size = len(ids)
    rows = []
    task = progress.add_task("(a) error vs browsers", total=len(ERROR_BROWSERS) * seeds)
    for browsers in ERROR_BROWSERS:
        rmse, recall, central_rmse, central_recall = [], [], [], []
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            readers = rng.integers(0, len(reads), size=browsers)
            positions = np.array([reads[r][rng.integers(len(reads[r]))] for r in readers])
            truth = np.bincount(positions, minlength=size)
            estimate = oue_estimate(
                ones=_ones(positions, size=size, rng=rng), reports=browsers, epsilon=EPSILON
            )
            top = set(np.argsort(-truth, kind="stable")[:10])
            rmse.append(float(np.sqrt(np.mean((estimate - truth) ** 2))))
            recall.append(len(top & set(np.argsort(-estimate, kind="stable")[:10])) / 10)
            central = np.array(
                release_counts(
                    counts=truth.tolist(), sensitivity=1, epsilon=EPSILON * ARTICLE_SHARE
                ).noisy_counts
            )
            central_rmse.append(float(np.sqrt(np.mean((central - truth) ** 2))))
            central_recall.append(len(top & set(np.argsort(-central, kind="stable")[:10])) / 10)
            progress.advance(task)
        rows.append(
            {
                "browsers": browsers,
                "top_true": int(truth.max()),
                "rmse": (np.mean(rmse), np.std(rmse)),
                "predicted_sd": math.sqrt(oue_variance(reports=browsers, epsilon=EPSILON)),
                "recall": (np.mean(recall), np.std(recall)),
                "central_rmse": np.mean(central_rmse),
                "central_recall": np.mean(central_recall),
            }
        )
    return rows


# --- (b) recommender quality ----------------------------------------------------------------


def _half(user: str) -> int:
    return hashlib.md5(user.encode(), usedforsecurity=False).digest()[0] % 2


def _copies(reads: dict, scale: int) -> dict:
    """Each reader as `scale` people reading the same stories (each drawing their own)."""
    if scale == 1:
        return reads
    return {f"{user}#{copy}": rs for user, rs in reads.items() for copy in range(scale)}


def _local_days(reads: dict, *, catalogue, rng) -> dict[int, dict[date, tuple]]:
    """Each private-mode browser's daily report of one of that day's reads, randomized by OUE;
    each day's sums estimated as privacy.local_reports releases them."""
    from privacy.ldp import oue_estimate, oue_variance

    per_day: dict[date, list[int]] = defaultdict(list)
    for user_reads in reads.values():
        by_day: dict[date, list[int]] = defaultdict(list)
        for read in user_reads:
            by_day[read.day].append(catalogue.row_of[read.news_id])
        for day, rows in by_day.items():
            per_day[day].append(rows[rng.integers(len(rows))])
    size = len(catalogue.ids)
    local: dict[int, dict[date, tuple]] = defaultdict(dict)
    for day, positions in sorted(per_day.items()):
        n = len(positions)
        ones = _ones(np.array(positions), size=size, rng=rng)
        estimate = oue_estimate(ones=ones, reports=n, epsilon=EPSILON)
        variance = float(oue_variance(reports=n, epsilon=EPSILON))
        for row in range(size):
            local[row][day] = (float(estimate[row]), variance, n)
    return dict(local)


def _variant(released, aggregates):
    from recommendations.training import topic_affinity

    variant = copy.copy(released)
    variant.private = aggregates
    variant.affinity = topic_affinity(
        topic_ids=released.catalogue.topic_ids,
        centroids=released.catalogue.centroids,
        aggregates=aggregates,
    )
    variant._priors, variant._blends = {}, {}
    return variant


def _leave_one_out(released, reads, held_out, *, reference) -> dict[str, float]:
    from recommendations.offline.metrics import hit_rank
    from recommendations.offline.protocols import offline_scores

    catalogue = released.catalogue
    hits = ndcg = mrr = 0.0
    for user, held in held_out.items():
        history = np.array(
            [catalogue.row_of[r.news_id] for r in reads[user] if r.news_id != held], np.int64
        )
        allowed = np.ones(len(catalogue.ids), dtype=bool)
        allowed[history] = False
        candidates = np.flatnonzero(allowed)
        scores = offline_scores(released, history, reference=reference, follow="read_topics")
        rank = hit_rank(
            scores[candidates], int(np.searchsorted(candidates, catalogue.row_of[held]))
        )
        hits += rank <= 10
        ndcg += 1 / math.log2(rank + 1) if rank <= 10 else 0.0
        mrr += 1 / rank
    n = len(held_out)
    return {"hr@10": hits / n, "ndcg@10": ndcg / n, "mrr": mrr / n}


def quality_table(data, *, seeds: int, scales: list[int], readers: int | None, progress):
    from datetime import timedelta

    from recommendations.offline.mind import reader_reads
    from recommendations.offline.protocols import Catalogue, Released, without_held_out
    from recommendations.offline.release import PopularityPlan

    catalogue = Catalogue(data, seed=0, topics="category")
    reads = reader_reads(data)
    held_out = {user: rs[-1].news_id for user, rs in reads.items() if len(rs) >= 2}
    if readers:
        chosen = sorted(held_out)[:: max(1, len(held_out) // readers)][:readers]
        held_out = {user: held_out[user] for user in chosen}
    training = without_held_out(reads, held_out)
    days = sorted({read.day for rs in reads.values() for read in rs})
    reference = days[-1] + timedelta(days=1)
    counted = {u: rs for u, rs in training.items() if _half(u) == 0}
    private = {u: rs for u, rs in training.items() if _half(u) == 1}
    results: dict[str, list[dict]] = defaultdict(list)
    plan = PopularityPlan(epsilon=EPSILON)
    task = progress.add_task("(b) leave-one-out", total=seeds * (2 + 3 * len(scales)))
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        base = Released(
            catalogue, training, plan=PopularityPlan(epsilon=math.inf), weights={}, tune=False
        )
        empty = replace(
            base.private, article_days={}, topic_days={}, days=[], article_noise={}, topic_noise={}
        )
        results["no popularity (content and topics only)"].append(
            _leave_one_out(_variant(base, empty), reads, held_out, reference=reference)
        )
        progress.advance(task)
        results["exact counts of every reader (no privacy)"].append(
            _leave_one_out(base, reads, held_out, reference=reference)
        )
        progress.advance(task)
        for scale in scales:
            central = Released(
                catalogue, _copies(counted, scale), plan=plan, weights={}, tune=False
            )
            # The day's central readers and the noise in them, as training reads them.
            readers_per_day: dict[date, float] = defaultdict(float)
            released: dict[date, int] = defaultdict(int)
            for days_counts in central.private.article_days.values():
                for day, count in days_counts.items():
                    readers_per_day[day] += count
                    released[day] += 1
            noise = central.private.article_noise
            readers_noise = {day: n * noise[day] for day, n in released.items() if day in noise}
            local = _local_days(_copies(private, scale), catalogue=catalogue, rng=rng)
            tag = f"k={scale}"
            results[f"central DP only, half the readers counted ({tag})"].append(
                _leave_one_out(central, reads, held_out, reference=reference)
            )
            progress.advance(task)
            local_only = replace(
                central.private,
                article_days={},
                topic_days={},
                days=[],
                article_noise={},
                topic_noise={},
                local_days=local,
                readers={},
            )
            results[f"local DP only, the other half reporting ({tag})"].append(
                _leave_one_out(_variant(central, local_only), reads, held_out, reference=reference)
            )
            progress.advance(task)
            both = replace(
                central.private,
                local_days=local,
                readers=dict(readers_per_day),
                readers_noise=readers_noise,
            )
            results[f"both, joined by inverse variance ({tag})"].append(
                _leave_one_out(_variant(central, both), reads, held_out, reference=reference)
            )
            progress.advance(task)
    return len(held_out), results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mind", required=True, help="A MIND-format folder.")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--scales", default="1,20", help="People per MIND reader, e.g. 1,20.")
    parser.add_argument("--readers", type=int, help="Evaluate leave-one-out on N readers only.")
    parser.add_argument("--skip-error", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    options = parser.parse_args()
    _setup()
    from recommendations.offline.mind import mind_load

    data = mind_load(options.mind)
    started = time.perf_counter()
    with Progress() as progress:
        errors = (
            None
            if options.skip_error
            else error_table(data, seeds=options.seeds, progress=progress)
        )
        quality = (
            None
            if options.skip_quality
            else quality_table(
                data,
                seeds=options.seeds,
                scales=[int(s) for s in options.scales.split(",")],
                readers=options.readers,
                progress=progress,
            )
        )
    print(f"{len(data.news)} stories; epsilon {EPSILON}; {options.seeds} seeds\n")
    if errors:
        print(
            "| reporting browsers | most-read story's true count | RMSE (± sd over seeds) "
            "| predicted sd | top-10 recall | central DP RMSE / top-10 recall (same counts) |"
        )
        print("| --- | --- | --- | --- | --- | --- |")
        for row in errors:
            print(
                f"| {row['browsers']:,} | {row['top_true']} "
                f"| {row['rmse'][0]:.1f} ± {row['rmse'][1]:.1f} "
                f"| {row['predicted_sd']:.1f} | {row['recall'][0]:.2f} ± {row['recall'][1]:.2f} "
                f"| {row['central_rmse']:.2f} / {row['central_recall']:.2f} |"
            )
        print()
    if quality:
        evaluated, results = quality
        print(f"Leave-one-out on {evaluated} readers (mean ± sd over seeds)\n")
        print("| popularity from | HR@10 | nDCG@10 | MRR |")
        print("| --- | --- | --- | --- |")
        for label, runs in results.items():
            cells = []
            for metric in ("hr@10", "ndcg@10", "mrr"):
                values = np.array([run[metric] for run in runs])
                cells.append(f"{values.mean():.4f} ± {values.std():.4f}")
            print(f"| {label} | {' | '.join(cells)} |")
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
