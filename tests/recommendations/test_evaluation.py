"""`evaluate_recommender` on a tiny MIND-format fixture written for the project."""

import json
import os
import shutil
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from recommendations.evaluation import impression_metrics, mind_load
from recommendations.models import ModelVersion

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "fixtures" / "mind_tiny"


def test_metrics_match_a_hand_computed_impression():
    # Clicked stories at ranks 1 and 3 of 4.
    metrics = impression_metrics([1, 0, 1, 0], [0.8, 0.6, 0.4, 0.2])
    # DCG = 1/log2(2) + 1/log2(4) = 1.5; ideal = 1 + 1/log2(3) = 1.6309...
    assert metrics["ndcg@5"] == pytest.approx(1.5 / (1 + 1 / 1.5849625007), abs=1e-6)
    assert metrics["ndcg@10"] == metrics["ndcg@5"]
    # MIND's MRR averages the reciprocal ranks of all clicks: (1/1 + 1/3) / 2.
    assert metrics["mrr"] == pytest.approx(2 / 3)
    # 3 of the 4 (click, skip) pairs are ordered right.
    assert metrics["auc"] == pytest.approx(0.75)


def run(*args) -> str:
    out = StringIO()
    call_command("evaluate_recommender", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def rows(output: str) -> dict[str, list[float]]:
    table = {}
    for line in output.splitlines():
        parts = line.split()
        if parts and parts[0] in {"recommender", "popularity", "random"}:
            table[parts[0]] = [float(p) for p in parts[1:]]
    return table


@pytest.mark.django_db
def test_evaluation_on_the_tiny_fixture(tmp_path):
    output = run("--mind", str(TINY), "--output", str(tmp_path / "report.json"))
    table = rows(output)
    # Each reader clicks the one candidate on their history's subject: ranked first.
    assert table["recommender"] == [1.0, 1.0, 1.0, 1.0]
    # Popularity = clicks seen before each impression (histories, then earlier impressions):
    #   #1 scores N7=1 N3=0 N5=1 -> click N3 third: nDCG 1/log2(4)=0.5, RR 1/3, AUC 0
    #   #2 scores N3=1 N6=0 N8=0 -> click N6 second: nDCG 1/log2(3), RR 1/2, AUC 0.25 (a tie)
    #   #3 scores N8=0 N4=1       -> click N8 second: nDCG 1/log2(3), RR 1/2, AUC 0
    ndcg = (0.5 + 2 / 1.5849625007) / 3
    assert table["popularity"] == pytest.approx(
        [0.25 / 3, (1 / 3 + 1 / 2 + 1 / 2) / 3, ndcg, ndcg], abs=1e-4
    )
    assert len(table["random"]) == 4
    assert "Evaluated 3 of 3 impressions over 8 news" in output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["metrics"]["recommender"]["auc"] == 1.0
    # Evaluation reads files only: no model is trained or activated.
    assert not ModelVersion.objects.exists()


def test_the_random_baseline_is_seeded():
    first, again = run("--mind", str(TINY)), run("--mind", str(TINY))
    assert rows(first)["random"] == rows(again)["random"]


def _broken_copy(tmp_path: Path, *, behaviors: str | None = None, drop: str | None = None):
    folder = tmp_path / "mind"
    shutil.copytree(TINY, folder)
    if behaviors is not None:
        (folder / "behaviors.tsv").write_text(behaviors)
    if drop:
        (folder / drop).unlink()
    return folder


@pytest.mark.parametrize(
    ("behaviors", "drop", "message"),
    [
        (None, "news.tsv", "has no news.tsv"),
        ("1\tU1\t11/15/2019 8:00:00 AM\tN1\n", None, "line 1: expected 5 tab-separated columns"),
        ("1\tU1\tyesterday\tN1\tN3-1 N4-0\n", None, "line 1: time 'yesterday' is not like"),
        ("1\tU1\t11/15/2019 8:00:00 AM\tN1\tN3-1 N4-x\n", None, "'N4-x' is not a news id"),
        ("1\tU1\t11/15/2019 8:00:00 AM\tN1\tN3-1 N99-0\n", None, "N99 is not in news.tsv"),
        ("", None, "behaviors.tsv holds no impressions"),
    ],
)
@pytest.mark.django_db
def test_bad_mind_input_gets_a_clear_error_and_writes_nothing(tmp_path, behaviors, drop, message):
    folder = _broken_copy(tmp_path, behaviors=behaviors, drop=drop)
    report = tmp_path / "report.json"
    with pytest.raises(CommandError, match=message):
        run("--mind", str(folder), "--output", str(report))
    assert not report.exists()
    assert not ModelVersion.objects.exists()


def test_a_missing_folder_exits_non_zero_with_a_message(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "evaluate_recommender", "--mind", str(tmp_path / "none")],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "Not MIND-format data, nothing evaluated" in result.stderr
    assert "is not a folder with news.tsv and behaviors.tsv" in result.stderr


def test_the_loader_reads_every_column():
    data = mind_load(TINY)
    assert len(data.news) == 8 and len(data.impressions) == 3
    first = data.impressions[0]
    assert first.history == ("N1", "N2")
    assert first.candidates == ("N7", "N3", "N5") and first.labels == (0, 1, 0)
