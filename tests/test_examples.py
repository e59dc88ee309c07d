"""The example submissions score exactly what expected_scores.json promises, losing points only in
the scenarios their READMEs name, and they are what build_examples.py makes from the reference."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

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
    return status, reports


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
    status, reports = class_results
    assert status == 1  # some examples lose points
    report, expected = reports[name], EXPECTED[name]
    lost = {}
    for scenario in report["scenarios"]:
        if scenario["status"] != "passed":
            outcome = {"status": scenario["status"]}
            if scenario["status"] == "failed":
                outcome["checks"] = [c["name"] for c in scenario["checks"] if c["status"] == "failed"]
            lost[scenario["id"]] = outcome
    assert lost == expected["lost"], "\n\n".join(s["message"] for s in report["scenarios"] if s["id"] in lost)
    assert report["score"] == expected["score"]
    readme = (EXAMPLES / name / "README.md").read_text()
    assert f"{expected['score']}/100" in readme
    for scenario in expected["lost"]:
        assert f"`{scenario}`" in readme
