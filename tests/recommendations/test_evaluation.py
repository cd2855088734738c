"""`evaluate_recommender` on a tiny MIND-format fixture written for the project."""

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from recommendations.evaluation import (
    METHODS,
    impression_metrics,
    mind_load,
    without_held_out,
)
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


def tables(output: str) -> dict[str, list[float]]:
    """Rows of both printed tables, keyed "loo recommender", "imp popularity", ..."""
    table = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[0] in {"loo", "imp"} and parts[1] in METHODS:
            table[f"{parts[0]} {parts[1]}"] = [float(p) for p in parts[2:]]
    return table


# Exact popularity on the fixture. Clicks per day: 11/14 N3, N6; 11/15 N8, N1 (U4's N1).
# Half-life 2 days, and only days before the reference count (as in training).
#
# Leave-one-out counts the training clicks only: the held-out stories (N3, N6, N8) are out,
# which leaves U4's N1 (reference 11/16: 0.5^(1/2) = 0.707); every other story is 0. Ties
# keep news.tsv order.
#   U1 clicked N1 N2 N3, held out N3; ranks N3 N4 N5 N6 N7 N8 (all 0) -> N3: rank 1
#   U2 clicked N4 N5 N6, held out N6; ranks N1 N2 N3 N6 N7 N8 -> N1, N2, N3, N6: rank 4
#   U3 clicked N7 N8, held out N8; ranks N1..N6, N8 -> N1, N2..N6, N8: rank 7
#   U4 clicked only N1: not evaluated.
#   HR@10 = 1; nDCG@10 = (1 + 1/log2(5) + 1/log2(8)) / 3; MRR = (1 + 1/4 + 1/7) / 3
# (Counting the held-out clicks too, as before, N3 and N8 would rank 2nd: popularity told
# the answer.)
LOG2_3, LOG2_5 = 1.5849625007, 2.3219280949
LOO_POPULARITY = [1.0, (1 + 1 / LOG2_5 + 1 / 3) / 3, (1 + 1 / 4 + 1 / 7) / 3]
# Impressions (reference = the impression's day, so nothing is known on 11/14):
#   #1 (11/14) N7 N3 N5 all 0: click N3 second: AUC 0.5 (ties), RR 1/2, nDCG 1/log2(3)
#   #2 (11/14) N3 N6 N8 all 0: click N6 second: AUC 0.5, RR 1/2, nDCG 1/log2(3)
#   #3 (11/15) N8 = N4 = 0 (11/14 clicked neither): click N8 first: AUC 0.5, RR 1, nDCG 1
#   #4 has no known history: not evaluated.
IMP_NDCG = (2 / LOG2_3 + 1) / 3
IMP_POPULARITY = [0.5, 2 / 3, IMP_NDCG, IMP_NDCG]


@pytest.mark.django_db
@pytest.mark.parametrize("epsilon", ["inf", "1"])
def test_evaluation_on_the_tiny_fixture(tmp_path, epsilon):
    output = run("--mind", str(TINY), "--epsilon", epsilon, "--output", str(tmp_path / "r.json"))
    table = tables(output)
    # Each reader's held-out or clicked story is the only one on their history's subject: the
    # topic part (weight 1) outweighs any popularity (weight 0.3), noisy or not.
    assert table["loo recommender"][:3] == [1.0, 1.0, 1.0]
    assert table["imp recommender"] == [1.0, 1.0, 1.0, 1.0]
    # The baseline is exact popularity whatever the epsilon.
    assert table["loo popularity"][:3] == pytest.approx(LOO_POPULARITY, abs=1e-4)
    assert table["imp popularity"] == pytest.approx(IMP_POPULARITY, abs=1e-4)
    assert len(table["loo random"]) == 5 and len(table["imp random"]) == 4
    # Every list of up to 10 holds every candidate, and the three readers' candidates span
    # the catalogue: full coverage for every method.
    assert [table[f"loo {m}"][3] for m in METHODS] == [1.0, 1.0, 1.0]
    assert "Evaluated 3 readers and 3 of 4 impressions over 8 news" in output
    assert "skipped 1 unknown history ids and 1 unknown impression ids" in output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["unknown_history"] == 1 and report["unknown_candidates"] == 1
    assert report["leave_one_out"]["evaluated"] == 3
    assert report["impressions_protocol"] == {
        "evaluated": 3,
        "skipped": 1,
        "metrics": report["impressions_protocol"]["metrics"],
    }
    # Two days released; at inf nothing is spent (exact counts, no noise).
    # Two days, each releasing per-article and per-topic counts at the site's shares (0.9 and
    # 0.05 of the day's epsilon).
    assert report["epsilon_spent"] == (0.0 if epsilon == "inf" else pytest.approx(1.9))
    # Evaluation reads files only: no model is trained or activated.
    assert not ModelVersion.objects.exists()


def test_a_held_out_story_is_out_of_its_readers_clicks_only():
    data = mind_load(TINY)
    both = replace(
        data,
        impressions=[
            *data.impressions,
            replace(data.impressions[0], impression_id="5", user_id="U5"),  # U5 clicks N3 too
        ],
    )
    kept = without_held_out(both, {"U1": "N3"})
    clicked = {
        (i.user_id, n)
        for i in kept.impressions
        for n, label in zip(i.candidates, i.labels, strict=True)
        if label
    }
    assert ("U1", "N3") not in clicked
    assert {("U5", "N3"), ("U2", "N6"), ("U3", "N8"), ("U4", "N1")} <= clicked


def test_json_goes_to_stdout():
    report = json.loads(run("--mind", str(TINY), "--epsilon", "inf", "--json"))
    assert report["epsilon"] == "inf"
    assert report["leave_one_out"]["metrics"]["popularity"]["mrr"] == pytest.approx(
        LOO_POPULARITY[2]
    )


def test_the_random_baseline_is_seeded():
    first, again = run("--mind", str(TINY)), run("--mind", str(TINY))
    assert tables(first)["loo random"] == tables(again)["loo random"]
    assert tables(first)["imp random"] == tables(again)["imp random"]


@pytest.mark.parametrize("epsilon", ["0", "-1", "nan", "lots"])
def test_a_bad_epsilon_is_refused(tmp_path, epsilon):
    report = tmp_path / "r.json"
    with pytest.raises(CommandError, match="--epsilon must be a positive number or inf"):
        run("--mind", str(TINY), "--epsilon", epsilon, "--output", str(report))
    assert not report.exists()


def test_a_bad_bound_is_refused():
    with pytest.raises(CommandError, match="bound must be at least 1"):
        run("--mind", str(TINY), "--bound", "0")


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
    assert len(data.news) == 8 and len(data.impressions) == 4
    first = data.impressions[0]
    assert first.history == ("N1", "N2")
    assert first.candidates == ("N7", "N3", "N5") and first.labels == (0, 1, 0)
    # Ids missing from news.tsv are dropped from the row and counted.
    last = data.impressions[-1]
    assert last.history == () and last.candidates == ("N1",) and last.labels == (1,)
    assert (data.unknown_history, data.unknown_candidates) == (1, 1)
