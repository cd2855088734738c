"""`evaluate_recommender` on a tiny MIND-format fixture written for the project."""

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from django.core.management import CommandError

from recommendations.models import ModelVersion
from recommendations.offline.metrics import impression_metrics
from recommendations.offline.mind import Read, mind_load, reader_reads
from recommendations.offline.protocols import BASELINES, METHODS, without_held_out

from .conftest import TINY, run, tables

ROOT = Path(__file__).resolve().parents[2]


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


# Protocol v2 on the fixture. Reads (history first, one a day before the reader's first
# impression; clicks on the impression's day):
#   U1: N1 11/12, N2 11/13, N3 11/14    U2: N4 11/12, N5 11/13, N6 11/14
#   U3: N7 11/14, N8 11/15              U4: N1 11/15 (N99 is not in news.tsv)
# Leave-one-out holds out each reader's last read (N3, N6, N8; U4 has one read) and ranks on
# 11/16. Exact popularity is the undecayed total of the training reads: N1 2, N2 N4 N5 N7 1,
# the rest 0. Ties keep news.tsv order; a reader's other reads are no candidates.
#   U1 ranks N3..N8 -> N4 N5 N7 (1) before N3 (0): rank 4
#   U2 ranks N1 N2 N3 N6 N7 N8 -> N1 N2 N7, then N3 tied before N6: rank 5
#   U3 ranks N1..N6 N8 -> N1 N2 N4 N5, then N3 N6 tied before N8: rank 7
#   HR@10 = 1; nDCG@10 = (1/log2(5) + 1/log2(6) + 1/log2(8)) / 3; MRR = (1/4 + 1/5 + 1/7) / 3
LOG2_3, LOG2_5, LOG2_6 = 1.5849625007, 2.3219280949, 2.5849625007
LOO_POPULARITY = [1.0, (1 / LOG2_5 + 1 / LOG2_6 + 1 / 3) / 3, (1 / 4 + 1 / 5 + 1 / 7) / 3]
# Impressions (popularity decayed, from every read of the days before the impression's):
#   #1 (11/14) N7 0, N3 0, N5 (read 11/13) > 0: click N3 third: AUC 1/4, RR 1/3, nDCG 1/2
#   #2 (11/14) N3 N6 N8 all 0: click N6 second: AUC 1/2, RR 1/2, nDCG 1/log2(3)
#   #3 (11/15) N8 0, N4 (read 11/12) > 0: click N8 second: AUC 0, RR 1/2, nDCG 1/log2(3)
#   #4 has no known history: not evaluated.
IMP_NDCG = (1 / 2 + 2 / LOG2_3) / 3
IMP_POPULARITY = [0.25, 4 / 9, IMP_NDCG, IMP_NDCG]


def test_protocol_v2_dates_each_readers_reads():
    reads = reader_reads(mind_load(TINY))
    assert reads["U1"] == [
        Read("N1", date(2019, 11, 12)),
        Read("N2", date(2019, 11, 13)),
        Read("N3", date(2019, 11, 14)),
    ]
    assert reads["U3"] == [Read("N7", date(2019, 11, 14)), Read("N8", date(2019, 11, 15))]
    assert reads["U4"] == [Read("N1", date(2019, 11, 15))]


@pytest.mark.django_db
@pytest.mark.parametrize("epsilon", ["inf", "1"])
def test_evaluation_on_the_tiny_fixture(tmp_path, epsilon):
    output = run(
        "--mind",
        str(TINY),
        "--epsilon",
        epsilon,
        "--seeds",
        "2",
        "--output",
        str(tmp_path / "r.json"),
    )
    table = tables(output)
    assert table["loo recommender"][0] == 1.0  # 8 stories: every one is in the top 10
    # The baseline is exact popularity whatever the epsilon.
    assert table["loo popularity"][:3] == pytest.approx(LOO_POPULARITY, abs=1e-4)
    assert table["imp popularity"] == pytest.approx(IMP_POPULARITY, abs=1e-4)
    assert len(table["loo random"]) == 5 and len(table["imp random"]) == 4
    assert len(table["loo popularity_decayed"]) == 5
    # Every list of up to 10 holds every candidate, and the three readers' candidates span
    # the catalogue: full coverage for every method.
    assert [table[f"loo {m}"][3] for m in METHODS] == [1.0, 1.0, 1.0]
    assert "Evaluated 3 readers (9 reads) and 3 of 4 impressions over 8 news" in output
    assert "skipped 1 unknown history ids and 1 unknown impression ids" in output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["unknown_history"] == 1 and report["unknown_candidates"] == 1
    assert report["protocol"] == "v2" and report["seeds"] == 2
    assert report["leave_one_out"]["evaluated"] == 3
    assert set(report["leave_one_out"]["metrics_sd"]) == {*METHODS, *BASELINES}
    assert report["leave_one_out"]["metrics_sd"]["popularity"]["hr@10"] == 0.0
    assert report["impressions_protocol"]["evaluated"] == 3
    assert report["impressions_protocol"]["skipped"] == 1
    # Four days released (11/12 to 11/15), each per-article, per-topic and followed-topic
    # counts at the site's shares (0.9, 0.05 and 0.005 of the day's epsilon); at inf nothing
    # is spent.
    assert report["released_days"] == 4
    assert report["epsilon_spent"] == (0.0 if epsilon == "inf" else pytest.approx(3.82))
    # Evaluation reads files only: no model is trained or activated.
    assert not ModelVersion.objects.exists()


def test_a_held_out_story_is_out_of_its_readers_reads_only():
    reads = reader_reads(mind_load(TINY))
    reads["U5"] = list(reads["U1"])  # U5 read N3 too
    kept = without_held_out(reads, {"U1": "N3"})
    assert [r.news_id for r in kept["U1"]] == ["N1", "N2"]
    assert [r.news_id for r in kept["U5"]] == ["N1", "N2", "N3"]
    assert kept["U2"] == reads["U2"]


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
