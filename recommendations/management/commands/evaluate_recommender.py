"""Evaluate the recommender offline, on MIND-format data or synthetic readers (of the demo
corpus or of a sparse MIND-like catalogue), against exact popularity and random baselines."""

import json
import math
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from recommendations.offline.mind import MindFormatError, mind_load
from recommendations.offline.protocols import (
    BASELINES,
    DEFAULT_FOLLOW,
    DEFAULT_SEEDS,
    DEFAULT_TOPIC_LEVEL,
    FOLLOWS,
    LOO_METRICS,
    METHODS,
    METRICS,
    TOPIC_LEVELS,
    evaluate,
)
from recommendations.offline.release import (
    DEFAULT_BOUND,
    DEFAULT_DELTA,
    DEFAULT_NOISE,
    DEFAULT_SOURCE,
    NOISES,
    POPULARITY_SOURCES,
    PopularityPlan,
)
from recommendations.synthetic import SPARSE_SHOWN, synthetic_data


def _epsilon(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if math.isnan(value) or value <= 0:
        raise CommandError(f"--epsilon must be a positive number or inf, not {text!r}.")
    return value


class Command(BaseCommand):
    help = (
        "Evaluate the recommender (built in memory with the training code, popularity from "
        "clicks released with differential privacy) on MIND-format data (--mind DIR with "
        "news.tsv and behaviors.tsv) or on synthetic readers of the demo corpus (--synthetic): "
        "leave-one-out HR@10, nDCG@10, MRR, coverage and diversity, and impressions AUC, MRR, "
        "nDCG@5, nDCG@10, against exact popularity and random. Changes nothing."
    )

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--mind", type=Path, help="Folder of MIND data.")
        source.add_argument(
            "--synthetic", action="store_true", help="Synthetic readers of the demo corpus."
        )
        parser.add_argument("--readers", type=int, default=500, help="Synthetic readers.")
        parser.add_argument(
            "--articles",
            type=int,
            help=(
                "Synthetic readers of a sparse MIND-like catalogue of N stories (long-tail "
                f"appeal, {SPARSE_SHOWN} stories an impression) instead of the 132 demo ones."
            ),
        )
        parser.add_argument(
            "--epsilon",
            default="1",
            help="Epsilon per day of the released click counts; inf = exact counts (default 1).",
        )
        parser.add_argument(
            "--bound",
            type=int,
            default=DEFAULT_BOUND,
            help=f"Distinct articles a reader counts for per day (default {DEFAULT_BOUND}).",
        )
        parser.add_argument(
            "--popularity",
            choices=POPULARITY_SOURCES,
            default=DEFAULT_SOURCE,
            help=f"Which released counts feed popularity (default {DEFAULT_SOURCE}).",
        )
        parser.add_argument(
            "--noise",
            choices=NOISES,
            default=DEFAULT_NOISE,
            help=f"Noise of the release (default {DEFAULT_NOISE}).",
        )
        parser.add_argument(
            "--delta",
            type=float,
            default=DEFAULT_DELTA,
            help=f"Delta per day of Gaussian noise (default {DEFAULT_DELTA:g}).",
        )
        parser.add_argument(
            "--threshold",
            type=int,
            default=0,
            help="Released per-article counts below T read as 0 (post-processing; default 0).",
        )
        parser.add_argument(
            "--shrink",
            action="store_true",
            help="Shrink released article counts toward their topic's mean (empirical Bayes).",
        )
        parser.add_argument(
            "--topics",
            choices=TOPIC_LEVELS,
            default=DEFAULT_TOPIC_LEVEL,
            help=f"MIND labels that are the site's topics (default {DEFAULT_TOPIC_LEVEL}).",
        )
        parser.add_argument(
            "--follow",
            choices=FOLLOWS,
            default=DEFAULT_FOLLOW,
            help=f"What a reader follows in the feed's profile (default {DEFAULT_FOLLOW}).",
        )
        parser.add_argument(
            "--seeds",
            type=int,
            default=DEFAULT_SEEDS,
            help=f"Runs, each a new draw of noise; mean and sd reported (default {DEFAULT_SEEDS}).",
        )
        parser.add_argument("--limit", type=int, help="Read the first N impressions only.")
        parser.add_argument("--seed", type=int, default=0, help="Seed of everything but noise.")
        parser.add_argument("--output", type=Path, help="Also write the results as JSON here.")
        parser.add_argument("--json", action="store_true", help="Print JSON only.")

    def handle(self, *args, **options):
        epsilon = _epsilon(str(options["epsilon"]))
        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError("--limit must be at least 1.")
        if options["seeds"] < 1:
            raise CommandError("--seeds must be at least 1.")
        if options["readers"] < 1:
            raise CommandError("--readers must be at least 1.")
        if options["articles"] is not None and not options["synthetic"]:
            raise CommandError("--articles only applies to --synthetic.")
        if options["articles"] is not None and options["articles"] < 1:
            raise CommandError("--articles must be at least 1.")
        try:
            plan = PopularityPlan(
                epsilon=epsilon,
                bound=options["bound"],
                source=options["popularity"],
                noise=options["noise"],
                delta=options["delta"],
                threshold=options["threshold"],
                shrink=options["shrink"],
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        output = options["output"]
        if output is not None and not output.parent.is_dir():
            raise CommandError(f"Cannot write {output}: {output.parent} is not a folder.")
        if options["synthetic"]:
            data = synthetic_data(
                readers=options["readers"], seed=options["seed"], articles=options["articles"]
            )
            if options["limit"] is not None:
                data.impressions = data.impressions[: options["limit"]]
        else:
            try:
                data = mind_load(options["mind"], limit=options["limit"])
            except MindFormatError as error:
                raise CommandError(f"Not MIND-format data, nothing evaluated: {error}") from error
            except OSError as error:
                raise CommandError(f"Cannot read {options['mind']}: {error}") from error

        # Rich draws on the stream itself: Django's wrapper would add a newline to each write.
        console = Console(file=getattr(self.stderr, "_out", sys.stderr), stderr=True)
        columns = (TextColumn("Evaluating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("evaluating", total=options["seeds"])
            report = evaluate(
                data,
                plan=plan,
                seed=options["seed"],
                seeds=options["seeds"],
                topics=options["topics"],
                follow=options["follow"],
                progress=lambda done: progress.update(task, completed=done),
            )
        loo, shown = report.leave_one_out, report.impressions_protocol
        if not loo["evaluated"] and not shown["evaluated"]:
            raise CommandError(
                "No reader has 2 known clicks and no impression has a known history, a click "
                "and a skip: nothing can be scored."
            )
        result = report.as_dict()
        if output is not None:
            output.write_text(json.dumps(result, indent=2), encoding="utf-8")
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
            return
        self._table(
            f"Leave-one-out, {loo['evaluated']} readers (mean of {report.seeds} seeds)",
            LOO_METRICS,
            loo["metrics"],
            "loo",
            methods=(*METHODS, *BASELINES),
        )
        self._table(
            f"Impressions, {shown['evaluated']} of {report.impressions}",
            METRICS,
            shown["metrics"],
            "imp",
        )
        eps = "inf (exact)" if math.isinf(epsilon) else f"{epsilon:g}"
        if report.noise == "gaussian" and not math.isinf(epsilon):
            eps += f", delta {report.delta:g}"
        self.stdout.write(
            self.style.SUCCESS(
                f"Evaluated {loo['evaluated']} readers ({report.reads} reads) and "
                f"{shown['evaluated']} of "
                f"{report.impressions} impressions over {report.news} news at epsilon {eps} "
                f"per day, L={report.bound}, {report.popularity_source} counts, "
                f"{report.noise} noise; skipped "
                f"{report.unknown_history} unknown history ids and "
                f"{report.unknown_candidates} unknown impression ids."
            )
        )

    def _table(self, title, metrics, values, prefix, methods=METHODS):
        self.stdout.write(title)
        if not values:
            return
        self.stdout.write(f"{prefix:<29}" + "".join(f"{m:>11}" for m in metrics))
        for method in methods:
            row = values[method]
            self.stdout.write(
                f"{prefix} {method:<25}" + "".join(f"{row[m]:>11.4f}" for m in metrics)
            )
