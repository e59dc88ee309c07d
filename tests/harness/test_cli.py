"""The command line as a grader or a student meets it: version, help, refusals, subsets, where
`check` writes, and limits too low for any program to start."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from harness.cli import build_parser
from tests.conftest import ROOT, SPECS, SUBMISSIONS

COMMANDS_WITH_HELP = ["grade", "check", "rejudge", "manifest-template", "validate", "gradescope-bundle", "schema"]


def harness(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """The real command line, as a separate process, its output captured (not a terminal)."""
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def test_version_is_the_package_version():
    done = harness("--version")
    assert (done.returncode, done.stdout.strip()) == (0, f"tweeter-harness {metadata.version('tweeter-harness')}")


def help_entries(text: str) -> dict[str, str]:
    """Each argument or option of a --help text (by its first name) with its help, lines joined."""
    entries: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        start = re.match(r"^  (\S+)(.*)$", line)
        if start:
            current = start.group(1).rstrip(",")
            entries[current] = start.group(2)
        elif current and line.startswith("    "):
            entries[current] += " " + line.strip()
        else:
            current = None
    return {name: " ".join(words.split()) for name, words in entries.items()}


@pytest.mark.parametrize("command", COMMANDS_WITH_HELP)
def test_every_argument_and_option_has_help_and_its_default(command):
    done = harness(command, "--help", env={"COLUMNS": "100"})
    assert done.returncode == 0, done.stderr
    entries = help_entries(done.stdout)
    subparser = build_parser()._subparsers._group_actions[0].choices[command]
    for action in subparser._actions:
        if action.help == "==SUPPRESS==" or "-h" in action.option_strings:
            continue
        name = action.option_strings[0] if action.option_strings else action.metavar or action.dest
        shown = next((text for key, text in entries.items() if key == name or key.startswith(name + " ")), None)
        if shown is None and action.choices and not action.option_strings:  # a positional shown as {a,b}
            shown = entries.get("{" + ",".join(action.choices) + "}")
        assert shown is not None, f"{command} --help does not show {name}:\n{done.stdout}"
        words = shown.split(None, 1)[1] if action.option_strings and action.metavar else shown
        assert len(words.split()) >= 2, f"{command} {name} has no help text: {shown!r}"
        if action.option_strings:
            assert "default" in shown, f"{command} {name} does not say its default: {shown!r}"


@pytest.mark.parametrize("args, option, reason", [
    (["grade", "x", "--step-timeout", "0"], "--step-timeout", "above 0"),
    (["grade", "x", "--step-timeout", "-2"], "--step-timeout", "above 0"),
    (["grade", "x", "--step-timeout", "nan"], "--step-timeout", "above 0"),
    (["check", "x", "--max-step-timeout", "inf"], "--max-step-timeout", "above 0"),
    (["check", "x", "--step-timeout", "soon"], "--step-timeout", "not a number"),
    (["grade", "x", "--jobs", "abc"], "--jobs", "not a whole number"),
    (["grade", "x", "--jobs", "0"], "--jobs", "at least 1"),
    (["check", "--memory-mb", "0"], "--memory-mb", "at least 1"),
    (["check", "--processes", "-1"], "--processes", "at least 1"),
    (["check", "--open-files", "1.5"], "--open-files", "not a whole number"),
    (["grade", "x", "--repeat", "0"], "--repeat", "at least 1"),
    (["check", "--repeat", "twice"], "--repeat", "not a whole number"),
    (["grade", "x", "--replay", "-1"], "--replay", "seeds are whole numbers from 0"),
    (["check", "--replay", "0x1f"], "--replay", "not a whole number"),
    (["grade", "x", "--flaky", "best"], "--flaky", "invalid choice"),
    (["rejudge", "x", "--flaky", "max"], "--flaky", "invalid choice"),
])
def test_out_of_range_values_are_refused_in_one_line(args, option, reason):
    done = harness(*args)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"argument {option}" in lines[0] and reason in lines[0], lines[0]


def report_of(out: Path, name: str = "reference") -> dict:
    return json.loads((out / name / "report.json").read_text())


def test_scenario_patterns_choose_a_subset_scored_on_its_own(tmp_path):
    out = tmp_path / "out"
    done = harness("check", "reference", "-k", "register_dup", "--scenario", "query_*", "--out", str(out),
                   "--jobs", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    report = report_of(out)
    ids = [s["id"] for s in report["scenarios"]]
    assert sorted(ids) == ["query_none", "query_several", "register_duplicate"]
    assert report["max_score"] == 3 + 3 + 4 == report["score"]
    # register_duplicate depends on register_new, which was not chosen: graded alone, nothing linked
    assert all(not s.get("linked") for s in report["scenarios"])


def test_a_pattern_matching_no_scenario_is_a_one_line_error(tmp_path):
    done = harness("grade", "reference", "-k", "regster*", "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert "--scenario 'regster*' matches no scenario id" in done.stderr
    assert not (tmp_path / "out").exists()


def test_check_writes_outside_the_submission_and_ends_with_the_report_path(tmp_path):
    submission = tmp_path / "my project"
    shutil.copytree(ROOT / "reference", submission, ignore=shutil.ignore_patterns("__pycache__"))
    before = sorted(p.relative_to(submission) for p in submission.rglob("*"))
    done = harness("check", str(submission), "-k", "register_new",
                   env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.relative_to(submission) for p in submission.rglob("*")) == before  # nothing written in it
    report = Path(done.stdout.strip().splitlines()[-1])
    assert report.is_file() and report.name == "report.html"
    assert report.is_relative_to(tmp_path / "cache" / "tweeter-harness" / "check")
    assert report.parent.parent.name.startswith("my project-")
    assert json.loads((report.parent / "report.json").read_text())["score"] == 4


def test_check_with_out_writes_there(tmp_path):
    done = harness("check", "reference", "-k", "register_new", "--out", str(tmp_path / "mine"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == str(tmp_path / "mine" / "reference" / "report.html")


def test_a_limit_too_low_for_the_interpreter_is_the_graders_error_naming_it(tmp_path):
    out = tmp_path / "out"
    done = harness("check", "reference", "--memory-mb", "1", "-k", "register_new", "-k", "query_none",
                   "--out", str(out))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "could not start python3 under --memory-mb 1: raise it" in done.stdout
    assert "Segmentation fault" not in done.stdout
    report = report_of(out)
    assert report["status"] == "error"
    assert [s["status"] for s in report["scenarios"]] == ["error", "error"]
    assert all("--memory-mb 1" in s["summary"] for s in report["scenarios"])


def test_a_program_that_crashes_at_start_is_still_the_students_failure(tmp_path):
    out = tmp_path / "out"
    done = harness("grade", str(SUBMISSIONS / "tracker_crashes_at_start"), "-k", "register_new",
                   "--memory-mb", "512", "--out", str(out))
    assert done.returncode == 1, done.stdout + done.stderr  # points lost, not a harness error
    report = report_of(out, "tracker_crashes_at_start")
    assert report["status"] == "graded"
    [scenario] = report["scenarios"]
    assert scenario["score"] == 0 and "could not start" not in scenario["message"]
    assert "the tracker exited at start-up" in scenario["message"]
