"""Recommender quality at a privacy budget: the evaluation's two protocols on synthetic readers
of the demo corpus (and on MIND-format data with --mind), for the choices that decide how much
of the popularity signal survives the noise: the contribution bound L, per-article vs
per-topic counts, and time decay. OpenDP noise cannot be seeded, so each private
configuration runs --repeat times and reports mean and standard deviation.

`python -m bench.quality [--readers 500] [--repeat 3] [--mind DIR]`
"""

import argparse
import math
import os
import statistics
import time

CONFIGS = [
    # (label, epsilon, bound, source, half-life days or None for the setting)
    ("exact counts (eps inf), article", math.inf, 1000, "article", None),
    ("exact counts (eps inf), topic", math.inf, 1000, "topic", None),
    ("eps 1, article, L=1", 1.0, 1, "article", None),
    ("eps 1, article, L=3", 1.0, 3, "article", None),
    ("eps 1, article, L=10", 1.0, 10, "article", None),
    ("eps 1, topic, L=1", 1.0, 1, "topic", None),
    ("eps 1, topic, L=3", 1.0, 3, "topic", None),
    ("eps 1, topic, L=10", 1.0, 10, "topic", None),
    ("eps 1, both (eps 0.5 each), L=3", 1.0, 3, "both", None),
    ("eps 1, topic, L=3, no decay", 1.0, 3, "topic", math.inf),
    ("eps 1, article, L=3, no decay", 1.0, 3, "article", math.inf),
]
SHOWN = [("leave_one_out", "hr@10"), ("leave_one_out", "mrr"), ("impressions", "auc")]
SHOWN += [("impressions", "ndcg@10")]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mind", help="A MIND-format folder instead of the synthetic readers.")
    options = parser.parse_args()
    _setup()
    from django.test import override_settings

    from recommendations.evaluation import PopularityPlan, evaluate, mind_load
    from recommendations.synthetic import demo_news, synthetic_readers

    if options.mind:
        data = mind_load(options.mind)
    else:
        data = synthetic_readers(demo_news(), readers=options.readers, seed=options.seed)
    header = " | ".join(f"{p[:3]} {m}" for p, m in SHOWN)
    print(f"| configuration | {header} |")
    baselines_done = False
    for label, epsilon, bound, source, half_life in CONFIGS:
        runs = 1 if math.isinf(epsilon) else options.repeat
        samples = []
        started = time.perf_counter()
        for _ in range(runs):
            overrides = {}
            if half_life is not None:
                overrides["RECOMMENDER_POPULARITY_HALF_LIFE_DAYS"] = half_life
            with override_settings(**overrides):
                report = evaluate(
                    data,
                    plan=PopularityPlan(epsilon=epsilon, bound=bound, source=source),
                    seed=options.seed,
                )
            samples.append(_figures(report, "recommender"))
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
        print(f"| model, {label} | {' | '.join(cells)} |  ({seconds:.1f} s/run)", flush=True)


if __name__ == "__main__":
    main()
