"""Evaluate the recommender offline on MIND-format data, against two baselines."""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from recommendations.evaluation import METHODS, METRICS, MindFormatError, evaluate, mind_load


class Command(BaseCommand):
    help = (
        "Report AUC, MRR, nDCG@5 and nDCG@10 of the recommender's content model on MIND-format "
        "data (a folder with behaviors.tsv and news.tsv), against popularity and random "
        "baselines. Reads the files only; changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--mind", type=Path, required=True, help="Folder of MIND data.")
        parser.add_argument("--limit", type=int, help="Evaluate the first N impressions only.")
        parser.add_argument("--seed", type=int, default=0, help="Seed of the random baseline.")
        parser.add_argument("--output", type=Path, help="Also write the results as JSON here.")

    def handle(self, *args, **options):
        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError("--limit must be at least 1.")
        output = options["output"]
        if output is not None and not output.parent.is_dir():
            raise CommandError(f"Cannot write {output}: {output.parent} is not a folder.")
        try:
            data = mind_load(options["mind"], limit=options["limit"])
        except MindFormatError as error:
            raise CommandError(f"Not MIND-format data, nothing evaluated: {error}") from error
        except OSError as error:
            raise CommandError(f"Cannot read {options['mind']}: {error}") from error

        # Rich draws on the stream itself: Django's wrapper would add a newline to each write.
        console = Console(file=getattr(self.stderr, "_out", sys.stderr), stderr=True)
        columns = (
            TextColumn("Evaluating"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("impressions", total=len(data.impressions))
            report = evaluate(
                data,
                seed=options["seed"],
                progress=lambda done: progress.update(task, completed=done),
            )
        if not report.evaluated:
            raise CommandError(
                "No impression has both a clicked and a skipped story, so nothing can be scored."
            )

        header = f"{'method':<12}" + "".join(f"{m:>10}" for m in METRICS)
        self.stdout.write(header)
        for method in METHODS:
            values = report.metrics[method]
            self.stdout.write(f"{method:<12}" + "".join(f"{values[m]:>10.4f}" for m in METRICS))
        if output is not None:
            output.write_text(
                json.dumps(
                    {
                        "impressions": report.impressions,
                        "evaluated": report.evaluated,
                        "skipped": report.skipped,
                        "news": report.news,
                        "metrics": report.metrics,
                    },
                    indent=2,
                ),
                encoding="utf-8",
            )
        ours, popular = report.metrics["recommender"]["auc"], report.metrics["popularity"]["auc"]
        self.stdout.write(
            self.style.SUCCESS(
                f"Evaluated {report.evaluated} of {report.impressions} impressions over "
                f"{report.news} news: recommender AUC {ours:.4f} vs popularity {popular:.4f}."
            )
        )
