"""Recommender quality at a privacy budget: the evaluation's two protocols on synthetic readers
of the demo corpus (with --articles N, of a sparse MIND-like catalogue of N stories; with
--mind, on MIND-format data), for the choices that decide how much of the popularity signal
survives the noise: the contribution bound L, Laplace vs Gaussian noise, per-article vs
per-topic counts, and time decay. OpenDP noise cannot be seeded, so each private configuration
runs --repeat times and reports mean and standard deviation.

`python -m bench.quality [--readers 500] [--articles N] [--repeat 3] [--match TEXT] [--mind DIR]
[--levers | --shares]`; --levers runs the rows that compare the blend training tunes with the
fixed one, and shrinkage of noisy article counts; --shares how the day's epsilon is split
between the per-article and per-topic counts. Epsilon is the day's, as the site's
DP_EPSILON_PER_DAY: each query gets its share of it (privacy.aggregation).
"""

import argparse
import math
import os
import statistics
import time

INF = math.inf
THR3, THR5 = {"threshold": 3}, {"threshold": 5}
POP1 = {"weights": {"popularity": 1.0}}
# The blend as it was before training chose the total weight: popularity 0.3.
FIXED = {"tune": False}
SHRINK = {"shrink": True}
# (label, epsilon, bound, source, noise, half-life days or None for the setting[, extras]);
# extras: a threshold for released article counts, other weights for the blend.
CONFIGS = [
    ("exact counts (eps inf), article", INF, 1000, "article", "laplace", None),
    ("exact counts (eps inf), topic", INF, 1000, "topic", "laplace", None),
    ("eps 1, article, L=1", 1.0, 1, "article", "laplace", None),
    ("eps 1, article, L=3", 1.0, 3, "article", "laplace", None),
    ("eps 1, article, L=10", 1.0, 10, "article", "laplace", None),
    ("eps 1, topic, L=1", 1.0, 1, "topic", "laplace", None),
    ("eps 1, topic, L=3", 1.0, 3, "topic", "laplace", None),
    ("eps 1, topic, L=10", 1.0, 10, "topic", "laplace", None),
    ("eps 1, both, L=3", 1.0, 3, "both", "laplace", None),
    ("eps 1, topic, L=3, no decay", 1.0, 3, "topic", "laplace", INF),
    ("eps 1, article, L=3, no decay", 1.0, 3, "article", "laplace", INF),
    # Laplace vs Gaussian (delta 1e-6 a day): Gaussian pays for sqrt(L) rather than L, so it
    # can only gain at larger L. L=20 was the site's bound until 2026-11-27.
    ("eps 1, article, L=1, gaussian", 1.0, 1, "article", "gaussian", None),
    ("eps 1, article, L=3, gaussian", 1.0, 3, "article", "gaussian", None),
    ("eps 1, article, L=10, gaussian", 1.0, 10, "article", "gaussian", None),
    ("eps 1, article, L=20", 1.0, 20, "article", "laplace", None),
    ("eps 1, article, L=20, gaussian", 1.0, 20, "article", "gaussian", None),
    ("eps 1, topic, L=3, gaussian", 1.0, 3, "topic", "gaussian", None),
]
# The sparse catalogue: the levers that matter when most stories get a click a day or none.
SPARSE_CONFIGS = [
    ("exact counts (eps inf), article", INF, 1000, "article", "laplace", None),
    ("exact counts (eps inf), article, L=1", INF, 1, "article", "laplace", None),
    ("exact counts (eps inf), topic", INF, 1000, "topic", "laplace", None),
    ("eps 1, article, L=1", 1.0, 1, "article", "laplace", None),
    ("eps 1, article, L=1, gaussian", 1.0, 1, "article", "gaussian", None),
    ("eps 1, article, L=3", 1.0, 3, "article", "laplace", None),
    ("eps 1, article, L=3, gaussian", 1.0, 3, "article", "gaussian", None),
    ("eps 1, topic, L=1", 1.0, 1, "topic", "laplace", None),
    ("eps 1, both, L=1", 1.0, 1, "both", "laplace", None),
    ("eps 1, article, L=1, no decay", 1.0, 1, "article", "laplace", INF),
    ("eps 1, article, L=1, counts < 3 read as 0", 1.0, 1, "article", "laplace", None, THR3),
    ("eps 1, article, L=1, counts < 5 read as 0", 1.0, 1, "article", "laplace", None, THR5),
    # The live blend weighs popularity 0.3 against topic 1.0 and content 0.8; on a long tail
    # the hits matter more. Measured, not applied: the blend belongs to training.
    (
        "exact counts (eps inf), article, popularity weight 1",
        INF,
        1000,
        "article",
        "laplace",
        None,
        POP1,
    ),
    ("eps 1, article, L=1, popularity weight 1", 1.0, 1, "article", "laplace", None, POP1),
    (
        "eps 1, article, L=1, counts < 5 read as 0, popularity weight 1",
        1.0,
        1,
        "article",
        "laplace",
        None,
        THR5 | POP1,
    ),
]
# Training tunes how much popularity weighs (recommendations/training.py, `tune_blend`); the
# evaluation tunes it the same way on the released days before each reference day.
LEVER_CONFIGS = [
    ("exact counts (eps inf), article, fixed blend", INF, 1000, "article", "laplace", None, FIXED),
    ("exact counts (eps inf), article, tuned blend", INF, 1000, "article", "laplace", None, {}),
] + [
    (f"eps 1, article, L=1, {label}", 1.0, 1, "article", "laplace", None, extra)
    for label, extra in [
        ("fixed blend", FIXED),
        ("tuned blend", {}),
        ("shrinkage, fixed blend", SHRINK | FIXED),
        ("shrinkage, popularity weight 1", SHRINK | POP1),
        ("shrinkage, tuned blend", SHRINK),
        ("popularity weight 2", {"weights": {"popularity": 2.0}}),
        ("popularity weight 3", {"weights": {"popularity": 3.0}}),
        ("popularity weight 5", {"weights": {"popularity": 5.0}}),
    ]
]
# How the site splits the day's epsilon: the per-article counts' share decides their noise.
SHARE_CONFIGS = [
    (f"eps 1, article, L=1, article share {label}", 1.0, 1, "article", "laplace", None, extra)
    for label, extra in [
        ("1/3, topic 1/3 (before)", {"article_share": 1 / 3, "topic_share": 1 / 3}),
        ("0.6, topic 0.2", {"article_share": 0.6, "topic_share": 0.2}),
        ("0.8, topic 0.1", {"article_share": 0.8, "topic_share": 0.1}),
        ("0.9, topic 0.05 (now)", {}),
    ]
]
SHOWN = [("leave_one_out", "hr@10"), ("leave_one_out", "mrr"), ("impressions", "auc")]
SHOWN += [("impressions", "mrr"), ("impressions", "ndcg@10")]


def _setup():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsite.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()


def _figures(report, method):
    loo = report.leave_one_out["metrics"][method]
    shown = report.impressions_protocol["metrics"][method]
    return {("leave_one_out", m): v for m, v in loo.items()} | {
        ("impressions", m): v for m, v in shown.items()
    }


def _describe(data) -> str:
    from recommendations.offline.mind import reader_reads
    from recommendations.offline.release import daily_reads

    clicks = daily_reads(reader_reads(data), bound=None)
    per_day = [sum(counter.values()) for counter in clicks.values()]
    clicked = [n for counter in clicks.values() for n in counter.values()]
    return (
        f"{len(data.news)} news, {len(data.impressions)} impressions, "
        f"{statistics.mean(per_day) / len(data.news):.2f} reads per article a day; on a day, "
        f"{sum(n <= 2 for n in clicked) / len(clicked):.0%} of read articles have 1-2 reads"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=500)
    parser.add_argument("--articles", type=int, help="A sparse catalogue of N stories.")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--match", help="Only the configurations whose label contains this.")
    parser.add_argument("--mind", help="A MIND-format folder instead of the synthetic readers.")
    runs = parser.add_mutually_exclusive_group()
    runs.add_argument("--levers", action="store_true", help="The blend and shrinkage rows.")
    runs.add_argument("--shares", action="store_true", help="The splits of the day's epsilon.")
    options = parser.parse_args()
    _setup()
    from django.test import override_settings

    from recommendations.offline.mind import mind_load
    from recommendations.offline.protocols import evaluate
    from recommendations.offline.release import PopularityPlan
    from recommendations.synthetic import synthetic_data

    if options.mind:
        data = mind_load(options.mind)
    else:
        data = synthetic_data(readers=options.readers, seed=options.seed, articles=options.articles)
    print(_describe(data))
    configs = SPARSE_CONFIGS if options.articles else CONFIGS
    configs = LEVER_CONFIGS if options.levers else configs
    configs = SHARE_CONFIGS if options.shares else configs
    configs = [c for c in configs if not options.match or options.match in c[0]]
    header = " | ".join(f"{p[:3]} {m}" for p, m in SHOWN)
    print(f"| configuration | {header} |")
    baselines_done = False
    for label, epsilon, bound, source, noise, half_life, *extras in configs:
        extra = extras[0] if extras else {}
        runs = 1 if math.isinf(epsilon) else options.repeat
        samples, picked, loyalty = [], [], []
        started = time.perf_counter()
        for _ in range(runs):
            overrides = {}
            if half_life is not None:
                overrides["RECOMMENDER_POPULARITY_HALF_LIFE_DAYS"] = half_life
            plan = PopularityPlan(
                epsilon=epsilon,
                bound=bound,
                source=source,
                noise=noise,
                threshold=extra.get("threshold", 0),
                shrink=extra.get("shrink", False),
                **{k: extra[k] for k in ("article_share", "topic_share") if k in extra},
            )
            with override_settings(**overrides):
                report = evaluate(
                    data,
                    plan=plan,
                    seed=options.seed,
                    weights=extra.get("weights"),
                    tune=extra.get("tune", True),
                )
            samples.append(_figures(report, "recommender"))
            picked.append(report.weights["popularity"])
            loyalty.append(report.own_topic_share)
            if not baselines_done:
                baselines_done = True
                for method in ("popularity", "random"):
                    figures = _figures(report, method)
                    cells = " | ".join(f"{figures[key]:.4f}" for key in SHOWN)
                    print(f"| {method} baseline | {cells} |")
        cells = []
        for key in SHOWN:
            values = [s[key] for s in samples]
            spread = f" ± {statistics.stdev(values):.4f}" if len(values) > 1 else ""
            cells.append(f"{statistics.mean(values):.4f}{spread}")
        seconds = (time.perf_counter() - started) / runs
        weights = ", ".join(f"{w:g}" for w in picked)
        shares = ", ".join(f"{share:.2f}" for share in loyalty)
        print(
            f"| model, {label} | {' | '.join(cells)} |  ({seconds:.1f} s/run; "
            f"leave-one-out popularity weight {weights}; own-topic share {shares})",
            flush=True,
        )


if __name__ == "__main__":
    main()
