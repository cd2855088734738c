"""Recommender quality on real readers: `evaluate_recommender --mind DIR` (protocol v2) at the
site's default epsilon and with exact counts, --seeds runs each (a new draw of noise), as one
markdown table of mean ± sd: the recommender against exact popularity, HR@10 and nDCG@10.

`python -m bench.mind --mind ../shared/mind-dev [--seeds 5]`. MIND data is for benchmarks
only, never a test fixture (it is not ours to redistribute)."""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOWN = ("recommender", "popularity", "popularity_decayed", "popularity_in_categories")


def _run(mind: str, seeds: int, epsilon: str) -> dict:
    command = [sys.executable, "manage.py", "evaluate_recommender", "--mind", mind]
    command += ["--seeds", str(seeds), "--epsilon", epsilon, "--json"]
    env = {**os.environ, "DEBUG": os.environ.get("DEBUG", "1")}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mind", required=True)
    parser.add_argument("--seeds", type=int, default=5)
    options = parser.parse_args()
    print("| epsilon | method | HR@10 | nDCG@10 | MRR |")
    print("|---|---|---|---|---|")
    for epsilon in ("1", "inf"):
        report = _run(options.mind, options.seeds, epsilon)
        loo = report["leave_one_out"]
        for method in SHOWN:
            mean, sd = loo["metrics"][method], loo["metrics_sd"][method]
            cells = " | ".join(f"{mean[m]:.4f} ± {sd[m]:.4f}" for m in ("hr@10", "ndcg@10", "mrr"))
            print(f"| {epsilon} | {method} | {cells} |", flush=True)
        best = loo["metrics"]["recommender"]
        exact = loo["metrics"]["popularity"]
        print(
            f"| {epsilon} | recommender / exact popularity | "
            f"{best['hr@10'] / exact['hr@10']:.2f} x | {best['ndcg@10'] / exact['ndcg@10']:.2f} x "
            f"| weights {report['weights']}, own-topic share {report['own_topic_share']} |"
        )


if __name__ == "__main__":
    main()
