"""The pytest plugin: `pytest specs/ --submission PATH` runs each scenario file as one test item, with
the CLI's verdicts and the harness's explanations as failure reports."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from tests.conftest import ROOT, SPECS, SUBMISSIONS, harness_started_pids, wait_until

pytest_plugins = ["pytester"]

FAST_SPECS = ("register_new", "query_none", "register_duplicate")
REFERENCE = ROOT / "reference"
DUPLICATE_HANDLES = ROOT / "student_submissions" / "duplicate_handles"


@pytest.fixture
def specs(pytester: pytest.Pytester) -> Path:
    """A specs folder with three fast scenarios (register_duplicate depends on register_new)."""
    folder = pytester.path / "specs"
    folder.mkdir()
    for name in FAST_SPECS:
        shutil.copy(SPECS / f"{name}.yaml", folder)
    return folder


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """`--submission=PATH` as one token: pytest finds its rootdir and ini file before plugins' options
    are known, so a separate PATH would count as a test path there (pulling in /work/main's ini)."""
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def test_reference_passes_every_scenario(pytester, specs):
    result = run(pytester, "specs", f"--submission={REFERENCE}", "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([  # file order, except that register_duplicate needs register_new
        "specs/query_none.yaml::query_none PASSED*",
        "specs/register_new.yaml::register_new PASSED*",
        "specs/register_duplicate.yaml::register_duplicate PASSED*"])
    assert result.ret == 0


def test_the_default_submission_is_the_folder_pytest_runs_in(pytester, specs):
    """A student runs `pytest specs/` in their own folder; the installed harness has no model answer."""
    for name in ("tracker.py", "user.py", "wire.py", "reliable.py", "console.py"):
        shutil.copy(REFERENCE / name, pytester.path / name)
    run(pytester, "specs").assert_outcomes(passed=3)
    (pytester.path / "tracker.py").unlink()
    result = run(pytester, "specs")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "is not a submission" in result.stderr.str() and "pass --submission=PATH" in result.stderr.str()


def test_a_failure_is_reported_with_the_harness_explanation_not_a_traceback(pytester, specs):
    result = run(pytester, "specs", f"--submission={DUPLICATE_HANDLES}")
    result.assert_outcomes(passed=2, failed=1)
    # the short summary names the cause, not "failed at step N"
    result.stdout.fnmatch_lines(["FAILED specs/register_duplicate.yaml::register_duplicate - `register @alice`*"])
    output = result.stdout.str()
    assert "Failed at step 2 of 3: register @alice (must be refused)." in output
    assert "register @alice answers FAILURE: expected FAILURE, seen SUCCESS" in output
    assert "Last lines of each process" in output
    assert "Traceback" not in output and "pytest_plugin.py" not in output
    assert result.ret == 1


def test_k_selects_by_scenario_id_and_m_by_tag(pytester, specs):
    by_id = run(pytester, "specs", f"--submission={REFERENCE}", "-k", "query", "-v")
    by_id.assert_outcomes(passed=1, deselected=2)
    by_id.stdout.fnmatch_lines(["*specs/query_none.yaml::query_none PASSED*"])
    by_tag = run(pytester, "specs", f"--submission={REFERENCE}", "-m", "register", "--strict-markers",
                 "-W", "error::pytest.PytestUnknownMarkWarning")
    by_tag.assert_outcomes(passed=2, deselected=1)
    assert "Unknown" not in by_tag.stdout.str() + by_tag.stderr.str()


def test_junit_xml_is_xunit2_with_score_and_max_score_per_scenario_at_suite_level(pytester, specs):
    result = run(pytester, "specs", f"--submission={DUPLICATE_HANDLES}", "--junitxml", "results.xml")
    result.assert_outcomes(passed=2, failed=1)
    xunit2 = xmlschema.XMLSchema(Path(__file__).parents[1] / "data" / "junit-xunit2.xsd")
    xunit2.validate(pytester.path / "results.xml")  # raises, naming the element, when not xunit2
    suite = ET.parse(pytester.path / "results.xml").getroot().find("testsuite")
    properties = {p.get("name"): p.get("value") for p in suite.find("properties").iter("property")}
    assert properties == {
        "register_new.score": "4", "register_new.max_score": "4", "register_new.status": "passed",
        "query_none.score": "3", "query_none.max_score": "3", "query_none.status": "passed",
        "register_duplicate.score": "0", "register_duplicate.max_score": "4", "register_duplicate.status": "failed",
    }
    assert not [case for case in suite.iter("testcase") if case.find("properties") is not None]


def test_an_invalid_scenario_file_fails_with_file_and_line(pytester):
    pytester.makefile(".yaml", bad="name: Bad step\npoints: 1\nusers: [alice]\nsteps:\n  - regster: all\n",
                      broken="name: Broken\npoints: 1\nusers: [alice\nsteps:\n  - register: all\n",
                      other="just: some config\n")
    manifest = pytester.mkdir("submission") / "tweeter.yaml"
    manifest.write_text("users: []\nsteps: []\n")  # manifests are never scenarios
    result = run(pytester, ".", f"--submission={REFERENCE}")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["collected 2 items",
                                 "bad.yaml:5:5: steps.0.regster: unknown step `regster`; did you mean `register`?",
                                 "broken.yaml:3:8: YAML syntax error: this '[' is never closed"])
    assert "Traceback" not in result.stdout.str()


def test_a_scenario_whose_preparing_step_fails_is_blocked_and_linked_to_its_dependency(pytester, specs):
    # sorts before its dependency, which still runs first, so the link can be named
    (specs / "after_duplicate.yaml").write_text(
        "name: Needs duplicates refused\npoints: 1\ntags: [register]\ndepends_on: [register_duplicate]\n"
        "setup: 2\nusers: [alice, bob]\nsteps:\n  - register: [alice]\n"
        "  - register: {users: [bob], handle: \"@alice\", expect: failure}\n"
        "  - query: {user: alice, handles: [alice]}\n")
    result = run(pytester, "specs", f"--submission={DUPLICATE_HANDLES}", "-v", "-rs")
    result.assert_outcomes(passed=2, failed=1, skipped=1)
    result.stdout.fnmatch_lines([
        "*register_duplicate.yaml::register_duplicate FAILED*",
        "*after_duplicate.yaml::after_duplicate SKIPPED*",
        "SKIPPED [1] specs/after_duplicate.yaml:1: Blocked: `register @alice` answered SUCCESS instead of "
        "FAILURE (step 2 only prepares what this scenario tests; `register_duplicate` tests it)",
    ])


def test_a_dependency_loop_fails_both_scenarios(pytester):
    for name, other in (("one", "two"), ("two", "one")):
        pytester.makefile(".yaml", **{name: f"name: {name}\npoints: 1\ndepends_on: [{other}]\n"
                                            "users: [alice]\nsteps:\n  - register: all\n"})
    result = run(pytester, ".", f"--submission={REFERENCE}")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["two.yaml:3: depends_on forms a loop: two -> one -> two",
                                 "one.yaml:3: depends_on forms a loop: one -> two -> one"])


def test_a_bad_submission_folder_is_a_usage_error(pytester, specs):
    result = run(pytester, "specs", "--submission=no_such_folder")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--submission no_such_folder: no such folder" in result.stderr.str()


def test_ctrl_c_stops_the_running_scenario_and_kills_its_processes(pytester, specs):
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "specs/query_none.yaml",
         f"--submission={SUBMISSIONS / 'silent'}", "--step-timeout=600"],
        cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # once the tracker and the user exist, the runner waits on a step that would take 600 s
        assert wait_until(lambda: len(harness_started_pids(proc.pid)) >= 2, timeout=30), \
            "the scenario's processes never started"
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output
    assert "KeyboardInterrupt" in output
    assert harness_started_pids(proc.pid) == []
