"""Stopping the harness mid-batch (SIGTERM, Ctrl+C) kills every child and writes what was graded so
far, marked incomplete."""

from __future__ import annotations

import csv
import json
import shutil
import signal
import subprocess
import sys

import pytest

from harness.run.sandbox import processes_of
from tests.conftest import ROOT, SPECS, SUBMISSIONS, harness_started_pids, wait_until
from tests.test_hostile import sandbox_uids


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_stopping_mid_batch_writes_partial_results_and_leaves_nothing(tmp_path, stop_signal):
    batch = tmp_path / "class"
    shutil.copytree(ROOT / "reference", batch / "reference", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(SUBMISSIONS / "silent", batch / "silent")
    # its user never answers but wakes every 0.2 s: with a timer, nothing decides its steps early (as
    # a program blocked for good would be), so its scenarios are still running when the signal comes
    (batch / "silent" / "user.py").write_text(
        "import select, sys\n"
        "while not select.select([sys.stdin], [], [], 0.2)[0] or sys.stdin.readline():\n"
        "    pass\n")
    shutil.copytree(ROOT / "reference", batch / "unreached", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "results"
    specs = [arg for name in ("register_new", "query_none") for arg in ("--specs", str(SPECS / f"{name}.yaml"))]
    harness = subprocess.Popen(
        [sys.executable, "-m", "harness", "grade", str(batch), *specs, "--jobs", "2",
         "--step-timeout", "600", "--out", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # the reference is done (a line per submission); the silent submission's scenarios are
        # running (hung) once its programs exist: then stop the harness
        assert harness.stderr.readline().startswith("[1/3] reference: 7/7 graded")
        assert wait_until(lambda: len(harness_started_pids(harness.pid)) >= 3, timeout=30)
        harness.send_signal(stop_signal)
        _, rest = harness.communicate(timeout=30)  # far less than the 600 s the hung steps would wait
    finally:
        harness.kill()
    assert harness.returncode == 2
    assert "interrupted" in rest
    reports = {name: json.loads((out / name / "report.json").read_text())
               for name in ("reference", "silent", "unreached")}
    assert all(r.get("incomplete") is True for r in reports.values())
    assert [r["status"] for r in reports.values()] == ["graded", "interrupted", "not graded"]
    assert [s["status"] for s in reports["unreached"]["scenarios"]] == ["not graded", "not graded"]
    rows = {row["submission"]: row for row in csv.DictReader((out / "grades.csv").open())}
    assert rows["reference"]["status"] == "graded" and rows["reference"]["score"] == rows["reference"]["max_score"]
    assert (rows["unreached"]["status"], rows["unreached"]["score"]) == ("not graded", "")  # not 0/100
    summary = (out / "summary.md").read_text().splitlines()
    assert summary[2].startswith("**Incomplete") and "| unreached | not graded |" in "\n".join(summary)
    assert [s["status"] for s in reports["reference"]["scenarios"]] == ["passed", "passed"]
    silent = reports["silent"]["scenarios"]
    assert silent[0]["status"] == "error"  # the second may or may not have started when the signal came
    assert silent[1]["status"] in ("error", "not graded")
    assert "interrupted: grading was stopped while this scenario ran" in silent[0]["message"]
    assert harness_started_pids(harness.pid) == []
    assert [pid for uid in sandbox_uids(out) for pid in processes_of(uid)] == []
