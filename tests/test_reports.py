"""Every report format from one real run: Gradescope results.json, JUnit XML, grades.csv,
summary.md, and the Gradescope bundle's run_autograder against a fake /autograder tree."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, SPECS

GRADESCOPE_TEST_KEYS = {"name", "number", "score", "max_score", "status", "output", "output_format",
                        "tags", "visibility", "extra_data"}


@pytest.fixture(scope="module")
def class_run(tmp_path_factory):
    """The reference, a star, and a submission whose name and output are hostile, graded at once."""
    from harness.cli import main
    batch = tmp_path_factory.mktemp("class")
    shutil.copytree(ROOT / "reference", batch / "reference", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "student_submissions" / "star_not_ring", batch / "star_not_ring")
    shutil.copytree(ROOT / "tests" / "hostile" / "invalid_utf8_and_escapes", batch / "=cmd")
    specs = tmp_path_factory.mktemp("specs")
    for name in ("register_new", "tweet_ring_order"):
        shutil.copy(SPECS / f"{name}.yaml", specs)
    hidden = (SPECS / "query_none.yaml").read_text().replace("points: 3", "points: 3\nvisibility: hidden")
    (specs / "query_none.yaml").write_text(hidden)
    out = tmp_path_factory.mktemp("out")
    status = main(["grade", str(batch), "--specs", str(specs), "--jobs", "2", "--step-timeout", "3",
                   "--out", str(out), "--quiet"])
    return status, out, specs


def test_gradescope_results_follow_the_specification(class_run):
    _, out, _ = class_run
    results = json.loads((out / "star_not_ring" / "results.json").read_text())
    assert isinstance(results["score"], float) and results["score"] == 7.0  # register_new 4 + query_none 3
    assert isinstance(results["execution_time"], int)
    assert results["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
    assert results["stdout_visibility"] in ("visible", "hidden")
    tests = {t["extra_data"]["id"]: t for t in results["tests"]}
    for test in tests.values():
        assert set(test) == GRADESCOPE_TEST_KEYS
        assert isinstance(test["score"], float) and isinstance(test["max_score"], float)
        assert test["status"] in ("passed", "failed") and isinstance(test["number"], str)
        assert "\r" not in test["output"]
    assert tests["query_none"]["visibility"] == "hidden"
    assert tests["tweet_ring_order"]["status"] == "failed"
    assert "forwarded peer to peer" in tests["tweet_ring_order"]["output"]
    assert isinstance(tests["tweet_ring_order"]["extra_data"]["duration_s"], float)


def test_junit_is_valid_xml_with_statuses_and_scores(class_run):
    _, out, _ = class_run
    for name in ("reference", "star_not_ring", "cmd"):  # "=cmd" gets a safe folder name
        ET.parse(out / name / "junit.xml")  # raises on invalid XML
    hostile = (out / "cmd" / "junit.xml").read_text()
    assert "\x1b" not in hostile and "\\x1b[2J" not in hostile and "\x00" not in hostile
    suite = ET.parse(out / "star_not_ring" / "junit.xml").getroot().find("testsuite")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["tweet_ring_order"].find("failure") is not None
    assert cases["register_new"].find("failure") is None
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert (props["tweet_ring_order.score"], props["tweet_ring_order.max_score"]) == ("0", "7")
    assert "received tweet from @alice via @alice" in cases["tweet_ring_order"].find("system-out").text


def test_class_csv_and_summary(class_run):
    status, out, _ = class_run
    assert status == 1
    rows = list(csv.DictReader((out / "grades.csv").open()))
    by_name = {r["submission"]: r for r in rows[1:]}  # the first row holds the max points
    assert set(by_name) == {"reference", "star_not_ring", "'=cmd"}  # no formula injection
    assert by_name["reference"]["score"] == "14" and by_name["star_not_ring"]["tweet_ring_order"] == "0"
    summary = (out / "summary.md").read_text()
    assert "| reference | 14/14 |" in summary and "**star_not_ring** `tweet_ring_order`" in summary


def run_autograder(root: Path, harness: str) -> dict:
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "TWEETER_HARNESS": harness}
    done = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, timeout=300,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads((root / "results" / "results.json").read_text())


@pytest.fixture(scope="module")
def autograder(tmp_path_factory, class_run):
    """A fake /autograder: the bundle unpacked in source/, the bundled harness built from it."""
    from harness.cli import main
    _, _, specs = class_run
    root = tmp_path_factory.mktemp("autograder")
    bundle = root / "autograder.zip"
    assert main(["gradescope-bundle", "--specs", str(specs), "-o", str(bundle)]) == 0
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    site = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(site), str(root / "source" / "tweeter-harness")], check=True, timeout=300)
    wrapper = root / "bundled-harness"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH="{site}" exec "{sys.executable}" -m harness "$@"\n')
    wrapper.chmod(0o755)
    return root, str(wrapper)


def test_run_autograder_grades_the_submission(autograder):
    root, harness = autograder
    shutil.copytree(ROOT / "reference", root / "submission", ignore=shutil.ignore_patterns("__pycache__"))
    results = run_autograder(root, harness)
    assert results["score"] == 14.0
    assert {t["extra_data"]["id"] for t in results["tests"]} == {"register_new", "tweet_ring_order", "query_none"}
    shutil.rmtree(root / "submission")


def test_run_autograder_writes_results_even_when_nothing_can_run(autograder, tmp_path):
    root, _ = autograder
    (root / "submission").mkdir(exist_ok=True)
    results = run_autograder(root, str(tmp_path / "no-such-harness"))
    assert results["score"] == 0.0 and results["tests"] == []
    assert "could not grade" in results["output"]
    empty = run_autograder(root, autograder[1])  # an upload with no programs in it
    assert empty["score"] == 0.0 and "not a submission" in empty["output"]


def test_the_bundle_carries_the_model_answer_only_when_asked(tmp_path):
    from harness.cli import main
    plain, with_reference = tmp_path / "plain.zip", tmp_path / "with.zip"
    assert main(["gradescope-bundle", "-o", str(plain)]) == 0
    assert main(["gradescope-bundle", "-o", str(with_reference), "--with-reference"]) == 0
    with zipfile.ZipFile(plain) as archive:
        names = archive.namelist()
        setup = archive.read("setup.sh").decode()
    assert not [n for n in names if "reference" in n.split("/")[:-1] or n.endswith("tracker.py")]
    assert "chmod -R go-rwx /autograder/source /autograder/venv" in setup  # hidden specs: root's alone
    assert "bubblewrap" in setup
    with zipfile.ZipFile(with_reference) as archive:
        assert "reference/tracker.py" in archive.namelist()


def test_the_installed_package_has_no_model_answer(tmp_path):
    """What `pip install` gives a student: the harness, the public specs and the licence, not
    reference/; built with today's setuptools without a deprecation warning."""
    dist, source = tmp_path / "dist", tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__",
                                                                "grading-results", ".pytest_cache", ".hypothesis"))
    built = subprocess.run([sys.executable, "-m", "build", "--sdist", "--wheel", "-o", str(dist), str(source)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    assert "deprecat" not in (built.stdout + built.stderr).lower()
    [wheel] = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        installed = archive.namelist()
        [metadata] = [n for n in installed if n.endswith(".dist-info/METADATA")]
        assert "License-Expression: MIT" in archive.read(metadata).decode()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in installed)
    data = [f.relative_to(ROOT).as_posix() for f in (ROOT / "harness").rglob("*")
            if f.is_file() and f.suffix not in (".py", ".pyc")]
    assert data and not [name for name in data if name not in installed]  # templates, scripts: all installed
    [sdist] = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        packed = archive.getnames()
    for names in (installed, packed):
        assert not [n for n in names if "/reference/" in f"/{n}" or n.startswith("reference/")], names
        assert any(n.endswith("harness/cli.py") for n in names)
    assert any(n.endswith("bundled_specs/tweet_ring_order.yaml") for n in installed)
