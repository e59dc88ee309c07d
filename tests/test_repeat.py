"""`--repeat N`, flaky verdicts, `--flaky majority|min` and `--replay SEED`, on real runs.

The reference, repeated, must agree with itself run after run. The flaky submission
(tests/submissions/variants.py, `flaky_register`) tosses a coin in its tracker at every start and
refuses every register on tails; each run prints its coin, so every run's verdict is checked against
its own transcript, and the scenario must be flaky exactly when both faces came up.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.cli import main
from harness.judge.grading import chosen_verdict
from tests.submissions.variants import build

ROOT = Path(__file__).resolve().parents[1]
COIN = re.compile(r"< tracker: coin (heads|tails)$", re.M)
ATTEMPTS = 4  # gradings of 5 runs until both faces came up: all alike 4 times in a row is 1 in 65536


def report(out: Path, name: str) -> dict:
    return json.loads((out / name / "report.json").read_text())


def rows(out: Path) -> dict[str, dict[str, str]]:
    return {row["submission"]: row for row in csv.DictReader((out / "grades.csv").open())}


def recorded_seed(out: Path, name: str, scenario: str, run: int) -> int:
    return json.loads((out / name / "transcripts" / scenario / f"run-{run}" / "record.json").read_text())["seed"]


def test_the_reference_repeated_agrees_with_itself_and_records_each_runs_seed(tmp_path, capsys):
    out = tmp_path / "out"
    status = main(["grade", str(ROOT / "reference"), "-k", "register_new", "-k", "tweet_one_follower",
                   "--repeat", "3", "--jobs", "2", "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 0
    graded = report(out, "reference")
    base = graded["repeat"]["seed_base"]
    assert graded["repeat"] == {"runs": 3, "scoring": "majority", "seed_base": base}
    assert f"seed {base} + k - 1" in captured.err
    for scenario in graded["scenarios"]:
        assert (scenario["status"], scenario["pass_rate"], scenario["flaky"]) == ("passed", "3/3", False)
        assert [run["seed"] for run in scenario["runs"]] == [base, base + 1, base + 2]
        assert [run["status"] for run in scenario["runs"]] == ["passed"] * 3
        assert [recorded_seed(out, "reference", scenario["id"], k) for k in (1, 2, 3)] == [base, base + 1, base + 2]
        assert not (out / "reference" / "transcripts" / scenario["id"] / "record.json").exists()
        assert f"{scenario['id']:<32} " in captured.out and "(3/3 runs passed)" in captured.out
    row = rows(out)["reference"]
    assert (row["register_new:status"], row["register_new:pass rate"]) == ("passed", "1")


def test_a_single_run_keeps_the_layout_it_always_had(tmp_path):
    out = tmp_path / "out"
    assert main(["grade", str(ROOT / "reference"), "-k", "register_new", "--quiet", "--out", str(out)]) == 0
    graded = report(out, "reference")
    assert "repeat" not in graded
    assert not {"runs", "pass_rate", "flaky", "scoring"} & set(graded["scenarios"][0])
    assert (out / "reference" / "transcripts" / "register_new" / "record.json").is_file()
    assert not list((out / "reference" / "transcripts" / "register_new").glob("run-*"))
    assert "register_new:pass rate" not in (out / "grades.csv").read_text()


def test_replay_gives_every_run_the_seed_asked_for(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["grade", str(ROOT / "reference"), "-k", "register_new", "--repeat", "2", "--replay", "4242",
                 "--out", str(out)]) == 0
    assert "every one with seed 4242" in capsys.readouterr().err
    graded = report(out, "reference")
    assert graded["repeat"] == {"runs": 2, "scoring": "majority", "replay": 4242}
    assert [run["seed"] for run in graded["scenarios"][0]["runs"]] == [4242, 4242]
    assert [recorded_seed(out, "reference", "register_new", k) for k in (1, 2)] == [4242, 4242]
    properties = {p.get("name"): p.get("value") for p in ET.parse(out / "reference" / "junit.xml").iter("property")}
    assert properties["register_new.seeds"] == "4242 4242"
    results = json.loads((out / "reference" / "results.json").read_text())
    assert [run["seed"] for run in results["tests"][0]["extra_data"]["runs"]] == [4242, 4242]


def coins(out: Path, runs: int) -> list[str]:
    """Each run's coin, read from its own tracker transcript."""
    folder = out / "flaky_register" / "transcripts" / "register_new"
    return [COIN.search((folder / f"run-{k}" / "tracker.log").read_text()).group(1) for k in range(1, runs + 1)]


@pytest.fixture(scope="module")
def flaky_results(tmp_path_factory):
    """The flaky submission graded with --repeat 5 until both faces came up (each grading checked)."""
    folder = build("flaky_register", tmp_path_factory.mktemp("variants"))
    for attempt in range(ATTEMPTS):
        out = tmp_path_factory.mktemp(f"flaky{attempt}")
        status = main(["grade", str(folder), "-k", "register_new", "--repeat", "5", "--jobs", "2", "--quiet",
                       "--out", str(out)])
        seen = coins(out, 5)
        scenario = report(out, "flaky_register")["scenarios"][0]
        assert [run["status"] for run in scenario["runs"]] == \
            ["passed" if coin == "heads" else "failed" for coin in seen]
        assert scenario["flaky"] == (len(set(seen)) == 2)
        if scenario["flaky"]:
            return status, out, seen
    pytest.fail(f"the coin came up the same 5 times in each of {ATTEMPTS} gradings")


def test_runs_that_disagree_are_flaky_in_every_report_and_scored_by_majority(flaky_results, capsys):
    status, out, seen = flaky_results
    heads = seen.count("heads")
    scenario = report(out, "flaky_register")["scenarios"][0]
    majority_passed = heads > len(seen) - heads
    assert scenario["pass_rate"] == f"{heads}/5"
    assert (scenario["status"], scenario["score"], scenario["scoring"]) == \
        (("passed", 4, "majority") if majority_passed else ("failed", 0, "majority"))
    assert status == (0 if majority_passed else 1)
    first_tails = seen.index("tails") + 1
    assert scenario["summary"].startswith(f"flaky: {heads}/5 runs passed, scored by majority")
    assert f"run {first_tails} (seed {scenario['runs'][first_tails - 1]['seed']}), the first that did not pass" \
        in scenario["message"]
    row = rows(out)["flaky_register"]
    assert (row["register_new:status"], float(row["register_new:pass rate"])) == ("flaky", heads / 5)
    properties = {p.get("name"): p.get("value")
                  for p in ET.parse(out / "flaky_register" / "junit.xml").iter("property")}
    assert (properties["register_new.flaky"], properties["register_new.pass_rate"]) == ("true", f"{heads}/5")
    case = ET.parse(out / "flaky_register" / "junit.xml").find(".//testcase")
    assert f"run {first_tails}: seed {scenario['runs'][first_tails - 1]['seed']}: failed" in case.find("system-out").text
    extra = json.loads((out / "flaky_register" / "results.json").read_text())["tests"][0]["extra_data"]
    assert (extra["flaky"], extra["pass_rate"]) == (True, f"{heads}/5")
    assert f"{heads}/5 runs passed" in (out / "summary.md").read_text().split("## Flaky scenarios")[1]
    page = (out / "flaky_register" / "report.html").read_text()
    assert page.count('<tr class="run ') == 5 and '<span class="badge flaky">flaky</span>' in page
    assert f"below are of run {first_tails}, the first that did not pass" in page


def test_rejudging_a_repeated_run_gives_the_same_results_and_can_change_the_rule(flaky_results, tmp_path):
    _, graded_out, seen = flaky_results
    out = tmp_path / "copy"
    shutil.copytree(graded_out, out)
    before = report(out, "flaky_register")
    csv_before = (out / "grades.csv").read_text()
    main(["rejudge", str(out)])
    assert report(out, "flaky_register") == before
    assert (out / "grades.csv").read_text() == csv_before
    main(["rejudge", str(out), "--flaky", "min"])
    scenario = report(out, "flaky_register")["scenarios"][0]
    assert (scenario["status"], scenario["score"], scenario["scoring"], scenario["flaky"]) == ("failed", 0, "min", True)
    assert report(out, "flaky_register")["repeat"]["scoring"] == "min"
    assert [run["status"] for run in scenario["runs"]] == ["passed" if c == "heads" else "failed" for c in seen]


def test_majority_ties_go_to_the_lower_points_and_min_takes_the_lowest():
    assert chosen_verdict([("passed", 4.0), ("failed", 0.0)], "majority") == ("failed", 0.0)
    assert chosen_verdict([("passed", 4.0), ("failed", 0.0), ("passed", 4.0)], "majority") == ("passed", 4.0)
    assert chosen_verdict([("passed", 4.0), ("failed", 2.0), ("passed", 4.0)], "min") == ("failed", 2.0)
    assert chosen_verdict([("failed", 0.0), ("blocked", 0.0)], "min") == ("failed", 0.0)
