"""The example submissions score exactly what expected_scores.json promises, losing points only in
the scenarios their READMEs name, and they are what build_examples.py makes from the reference."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from harness.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "student_submissions"
EXPECTED = {k: v for k, v in json.loads((EXAMPLES / "expected_scores.json").read_text()).items()
            if not k.startswith("_")}


def _builder():
    spec = importlib.util.spec_from_file_location("build_examples", EXAMPLES / "build_examples.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def class_results(tmp_path_factory):
    """Grade the whole examples folder once, as an instructor would."""
    out = tmp_path_factory.mktemp("examples")
    status = main(["grade", str(EXAMPLES), "--jobs", "2", "--out", str(out)])
    reports = {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/report.json")}
    return status, reports, out


def test_every_example_folder_is_listed_with_an_expected_score():
    folders = {p.name for p in EXAMPLES.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
    assert folders == set(EXPECTED)


def test_examples_are_built_from_the_current_reference():
    builder = _builder()
    for bug in builder.BUGS:
        for name, text in builder.build(bug).items():
            on_disk = (EXAMPLES / bug.name / name).read_text()
            assert on_disk == text, f"{bug.name}/{name} is stale: run python3 student_submissions/build_examples.py"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_scores_exactly_as_expected(class_results, name):
    status, reports, _ = class_results
    assert status == 1  # some examples lose points
    report, expected = reports[name], EXPECTED[name]
    if report["network"]["mode"] == "hosts":  # the wire can show more than the console
        expected = expected.get("hosts", expected)
    lost = {}
    for scenario in report["scenarios"]:
        if scenario["status"] != "passed":
            outcome = {"status": scenario["status"]}
            if scenario["status"] in ("failed", "unverified"):
                outcome["checks"] = sorted({c["name"] for c in scenario["checks"]
                                            if c["status"] in ("failed", "unverified")})
            lost[scenario["id"]] = outcome
    assert lost == expected["lost"], "\n\n".join(s["message"] for s in report["scenarios"] if s["id"] in lost)
    assert report["score"] == expected["score"]
    readme = (EXAMPLES / name / "README.md").read_text()
    assert f"{expected['score']}/100" in readme
    for scenario in expected["lost"]:
        assert f"`{scenario}`" in readme


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_bug_costs_what_a_ta_would_take_off(class_results, name):
    """The deduction falls within what a careful TA reading the code would take off: every bug found,
    no correct submission loses a point, and no bug is paid for over and over."""
    _, reports, _ = class_results
    ta = EXPECTED[name]["ta"]
    lost = reports[name]["max_score"] - reports[name]["score"]
    assert ta["min"] <= lost <= ta["max"], f"{name} lost {lost}; a TA would take off {ta['min']}-{ta['max']}: {ta['why']}"


def verdicts(report: dict) -> list[tuple]:
    return [(s["id"], s["status"], s["score"], s["message"],
             [(c["name"], c["status"], c["message"]) for c in s["checks"]]) for s in report["scenarios"]]


@pytest.fixture
def regraded(class_results, tmp_path, monkeypatch):
    """A copy of the class's results, and rejudge with every way of starting a process refused."""
    _, _, out = class_results
    copy = tmp_path / "results"
    shutil.copytree(out, copy)

    def refuse(*args, **kwargs):
        raise AssertionError("rejudge started a process")

    for owner, name in ((pexpect, "spawn"), (subprocess, "Popen"), (os, "fork"), (os, "posix_spawn")):
        monkeypatch.setattr(owner, name, refuse)

    def run(*extra: str) -> tuple[int, dict[str, dict], Path]:
        status = main(["rejudge", str(copy), *extra])
        return status, {p.parent.name: json.loads(p.read_text()) for p in copy.glob("*/report.json")}, copy

    return run


def test_rejudging_the_class_gives_every_verdict_again_without_running_anything(class_results, regraded):
    status, reports, out = class_results
    again_status, again, copy = regraded()
    assert again_status == status
    assert set(again) == set(reports)
    for name, report in reports.items():
        assert verdicts(again[name]) == verdicts(report), name
        assert again[name]["score"] == report["score"]
    assert (copy / "grades.csv").read_text() == (out / "grades.csv").read_text()


def test_rejudging_with_edited_scenarios_follows_the_edit(regraded, tmp_path):
    """Points raised and a property no longer graded: the verdicts follow, without running anything."""
    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs)
    register = specs / "register_new.yaml"
    register.write_text(register.read_text().replace("points: 4", "points: 8"))
    ring = specs / "tweet_ring_order.yaml"
    ring.write_text(ring.read_text().replace("grade: [ring_order, peer_to_peer]", "grade: [peer_to_peer]"))
    status, again, _ = regraded("--specs", str(specs))
    assert status == 1
    for report in again.values():
        assert next(s for s in report["scenarios"] if s["id"] == "register_new")["score"] == 8
        assert report["max_score"] == 104
    follow_order = {s["id"]: s for s in again["ring_in_follow_order"]["scenarios"]}
    assert follow_order["tweet_ring_order"]["status"] == "passed"  # the order is no longer graded
    order = next(c for c in follow_order["tweet_ring_order"]["checks"] if c["name"].startswith("followers receive"))
    assert order["status"] == "skipped" and order["message"].startswith("not graded in this scenario (seen:")
    assert again["ring_in_follow_order"]["score"] == EXPECTED["ring_in_follow_order"]["score"] + 4 + 7


def test_rejudging_refuses_a_scenario_whose_steps_changed(regraded, tmp_path, capsys):
    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs)
    follow = specs / "follow_success.yaml"
    follow.write_text(follow.read_text().replace("  - follow: {user: bob, target: alice}",
                                                 "  - query: {user: bob, handles: [alice, bob]}"))
    _, again, _ = regraded("--specs", str(specs))
    result = next(s for s in again["menu_style"]["scenarios"] if s["id"] == "follow_success")
    assert result["status"] == "error" and "steps changed since it was graded" in result["message"]
