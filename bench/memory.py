"""Resident memory of a web worker's start-up, stage by stage, and what the heavy imports cost.

`python -m bench.memory [--repeat 3] [--against DIR] [--without pandas] [--gc-freeze]`: a
fresh interpreter per run does what a gunicorn worker does before its first page
(`django.setup()`, the WSGI application the master preloads, the URL conf with every view, the
code that loads and serves the recommender model) and prints its resident memory (VmRSS) and
peak (VmHWM) after each stage, in MB, with the heavy packages it has imported by then; last, a
child forked from it (as gunicorn forks a preloaded worker) reports its own pages after a full
collection, and its RSS. `--against DIR` runs the same stages from another checkout (e.g.
`git archive HEAD | tar -x -C DIR`) alternately with this one, so both see the same machine;
`--without NAME` runs as if a package were not installed (its import fails, as in an install
without the dev extras); `--gc-freeze` freezes the collector's objects before the fork. Then
each heavy import alone, in a fresh interpreter, for the breakdown."""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench.common import bench_environment

HERE = Path(__file__).resolve().parent.parent
# Imported by something at start-up or not: what decides the worker's size.
WATCHED = (
    "pandas",
    "scipy.stats",
    "sklearn",
    "sklearn.decomposition",
    "opendp.mod",
    "opendp.extras",
    "opendp.prelude",
    "polars",
)

STAGES = """
import json, os, re, sys

blocked = [name for name in os.environ.get("BENCH_WITHOUT", "").split(",") if name]


class Missing:
    # As if the package were not installed: its import raises ImportError.
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"No module named {name!r} (bench.memory --without)")
        return None


sys.meta_path.insert(0, Missing())
watched = json.loads(os.environ["BENCH_WATCHED"])


def stage(name):
    with open("/proc/self/status") as status:
        text = status.read()
    rss, peak = (int(re.search(f + r":\\s+(\\d+)", text).group(1)) for f in ("VmRSS", "VmHWM"))
    print(json.dumps({"stage": name, "rss": rss / 1024, "peak": peak / 1024,
                      "loaded": [m for m in watched if m in sys.modules]}))


stage("interpreter")
import django

django.setup()
stage("django.setup()")
import newsite.wsgi  # noqa: F401  what gunicorn's master preloads

stage("WSGI application")
from django.urls import get_resolver

resolver = get_resolver()
resolver.url_patterns
stage("URL conf and views")
# What a worker loads on its first personalized page: the model's loader and the feed.
import recommendations.active, recommendations.artifacts, recommendations.feed.page  # noqa

stage("model loader and feed")
# gunicorn preloads the app in its master and forks the workers: what a worker holds of its
# own (private pages) once the collector has walked every object, against what it shares.
if os.environ.get("BENCH_GC_FREEZE") == "1":
    import gc

    gc.freeze()  # the preloaded objects out of the collector's reach, so it writes none of them
sys.stdout.flush()  # or the child would print the lines above again
child = os.fork()
if child == 0:
    import gc

    gc.collect()
    with open("/proc/self/smaps_rollup") as rollup:
        text = rollup.read()
    private = sum(int(re.search(f + r":\\s+(\\d+)", text).group(1))
                  for f in ("Private_Clean", "Private_Dirty"))
    rss = int(re.search(r"Rss:\\s+(\\d+)", text).group(1))
    print(json.dumps({"stage": "forked worker: own pages / RSS", "rss": private / 1024,
                      "peak": rss / 1024, "loaded": []}), flush=True)
    os._exit(0)
os.waitpid(child, 0)
"""

# Each heavy import alone in a fresh interpreter: what it adds to a bare one.
ALONE = (
    ("numpy",),
    ("scipy.stats",),
    ("pandas",),
    ("sklearn.feature_extraction.text", "sklearn.decomposition"),
    ("opendp.mod", "opendp.measurements", "opendp.combinators", "opendp.domains", "opendp.metrics"),
    ("opendp.prelude",),
    ("django",),
)

IMPORT_ALONE = """
import json, os, re, sys

blocked = [name for name in os.environ.get("BENCH_WITHOUT", "").split(",") if name]


class Missing:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(name)
        return None


sys.meta_path.insert(0, Missing())


def rss():
    with open("/proc/self/status") as status:
        return int(re.search(r"VmRSS:\\s+(\\d+)", status.read()).group(1)) / 1024


before = rss()
for name in json.loads(os.environ["BENCH_MODULES"]):
    __import__(name)
print(json.dumps({"added": rss() - before, "pandas": "pandas" in sys.modules,
                  "scipy.stats": "scipy.stats" in sys.modules}))
"""


def _run(code: str, *, tree: Path, extra: dict[str, str]) -> list[dict]:
    env = {
        **os.environ,
        **bench_environment(broker=False),
        # The site's own source first: the tree measured, not this checkout.
        "PYTHONPATH": str(tree),
        "BENCH_WATCHED": json.dumps(WATCHED),
        **extra,
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tree, env=env, capture_output=True, text=True
    )
    if result.returncode:
        raise SystemExit(f"The run in {tree} failed:\n{result.stderr[-3000:]}")
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def _table(runs: dict[str, list[list[dict]]]) -> None:
    labels = list(runs)
    stages = [row["stage"] for row in runs[labels[0]][0]]
    header = " | ".join(f"{label}: RSS (range) / peak" for label in labels)
    print(f"| stage | {header} | heavy packages loaded ({labels[-1]}) |")
    print("|---|" + "---:|" * len(labels) + "---|")
    for index, name in enumerate(stages):
        cells = []
        for label in labels:
            rss = [run[index]["rss"] for run in runs[label]]
            peak = statistics.median(run[index]["peak"] for run in runs[label])
            median = statistics.median(rss)
            cells.append(f"{median:.1f} ({min(rss):.1f}-{max(rss):.1f}) / {peak:.1f}")
        loaded = ", ".join(runs[labels[-1]][0][index]["loaded"]) or "-"
        print(f"| {name} | {' | '.join(cells)} | {loaded} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="Fresh interpreters per tree.")
    parser.add_argument("--against", type=Path, help="Another checkout, run alternately.")
    parser.add_argument(
        "--without", default="", help="Packages to run without, comma-separated (e.g. pandas)."
    )
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() in the master before the fork."
    )
    args = parser.parse_args()
    extra = {"BENCH_WITHOUT": args.without, "BENCH_GC_FREEZE": "1" if args.gc_freeze else "0"}
    trees = {"now": HERE}
    if args.against:
        trees = {"before": args.against.resolve(), "now": HERE}
    runs: dict[str, list[list[dict]]] = {label: [] for label in trees}
    for repeat in range(args.repeat):
        # Which tree goes first alternates, so neither always meets the warmer page cache.
        order = list(trees.items())
        for label, tree in order if repeat % 2 == 0 else reversed(order):
            runs[label].append(_run(STAGES, tree=tree, extra=extra))
    load = os.getloadavg()[0]
    without = f", without {args.without}" if args.without else ""
    without += ", gc.freeze() before the fork" if args.gc_freeze else ""
    print(f"\nWorker start-up, MB, median of {args.repeat} (load average {load:.1f}{without}):\n")
    _table(runs)
    print("\nEach import alone in a fresh interpreter (MB added to a bare one):\n")
    print("| import | MB added | pandas loaded | scipy.stats loaded |")
    print("|---|---:|---|---|")
    blocked = set(filter(None, args.without.split(",")))
    for modules in ALONE:
        if any(name.split(".")[0] in blocked for name in modules):
            continue
        rows = [
            _run(IMPORT_ALONE, tree=HERE, extra={**extra, "BENCH_MODULES": json.dumps(modules)})[0]
            for _ in range(args.repeat)
        ]
        added = statistics.median(row["added"] for row in rows)
        print(
            f"| {', '.join(modules)} | {added:.1f} | {'yes' if rows[0]['pandas'] else 'no'} | "
            f"{'yes' if rows[0]['scipy.stats'] else 'no'} |"
        )


if __name__ == "__main__":
    main()
