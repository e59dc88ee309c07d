"""What `grade` prints: a live bar, colours and a table on a terminal (a real pseudo-terminal here);
plain lines, one per submission, and a plain table in a log; no colour with NO_COLOR."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from tests.conftest import ROOT

SGR = re.compile(r"\x1b\[([0-9;]*)m")
COLOUR_CODES = {*range(30, 39), *range(40, 49), *range(90, 98), *range(100, 108)}  # 38/48: 256 and true colour


@pytest.fixture(scope="module")
def small_class(tmp_path_factory) -> Path:
    """A class of three: full marks, points lost in register_duplicate, and not a submission."""
    folder = tmp_path_factory.mktemp("class")
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "reference", folder / "reference", ignore=ignore)
    shutil.copytree(ROOT / "student_submissions" / "duplicate_handles", folder / "duplicate_handles", ignore=ignore)
    (folder / "empty").mkdir()
    return folder


def grade_args(folder: Path, out: Path) -> list[str]:
    return ["-m", "harness", "grade", str(folder), "-k", "register_*", "--jobs", "2", "--out", str(out)]


def on_terminal(args: list[str], env: dict[str, str]) -> tuple[str, int]:
    """Run under a pseudo-terminal (stdout and stderr both on it); everything it printed, and its status."""
    child = pexpect.spawn(sys.executable, args, cwd=str(ROOT), env=env, dimensions=(40, 120), timeout=300,
                          encoding="utf-8", codec_errors="replace")
    child.expect(pexpect.EOF)
    child.close()
    return child.before, child.exitstatus


def terminal_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES")}
    return {**env, "TERM": "xterm-256color", **extra}


def colour_codes(text: str) -> set[int]:
    return {int(p) for params in SGR.findall(text) for p in params.split(";")[:1] if p} & COLOUR_CODES


def test_in_a_log_one_plain_line_per_submission_and_a_plain_table(small_class, tmp_path):
    done = subprocess.run([sys.executable, *grade_args(small_class, tmp_path / "out")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={k: v for k, v in os.environ.items() if k != "FORCE_COLOR"})
    assert done.returncode == 2  # one entry is not a submission
    assert "\x1b" not in done.stdout + done.stderr
    progress = done.stderr.strip().splitlines()
    assert len(progress) == 3, done.stderr  # not one per scenario (there are 12)
    assert sorted(re.sub(r"^\[\d/3\] ", "", line) for line in progress) == [
        "duplicate_handles: 12/16 graded; register_duplicate (-4)",
        "empty: not a submission; Not a submission: an empty folder",
        "reference: 16/16 graded"]
    assert [line[:5] for line in progress] == ["[1/3]", "[2/3]", "[3/3]"]
    table = done.stdout.splitlines()
    header = next(i for i, line in enumerate(table) if line.startswith("submission"))
    assert table[header].split() == ["submission", "score", "status", "lost", "points"]
    rows = [line.split(None, 3) for line in table[header + 2:header + 5]]
    assert rows[0] == ["duplicate_handles", "12/16", "graded", "register_duplicate (-4)"]
    assert table[header + 3].split() == ["empty", "not", "a", "submission", "Not", "a", "submission:", "an",
                                         "empty", "folder"]
    assert rows[2] == ["reference", "16/16", "graded"]


def test_on_a_terminal_a_live_bar_colours_and_a_table(small_class, tmp_path):
    output, status = on_terminal(grade_args(small_class, tmp_path / "out"), terminal_env())
    assert status == 2
    bar = re.findall(r"(\d+)/12 scenarios ETA", re.sub(SGR, "", output))
    assert bar[0] == "0" and bar[-1] == "12" and len(set(bar)) > 2, bar  # counts rising as it went
    assert "\r\x1b[2K" in output  # redrawn in place
    assert {31, 32} <= colour_codes(output) or 38 in colour_codes(output)
    plain = re.sub(SGR, "", output)
    assert "┃ submission" in plain
    assert re.search(r"│ duplicate_handles\s+│\s+12/16 │ graded\s+│ register_duplicate \(-4\)", plain)
    assert re.search(r"\[\d/3\] reference: 16/16 graded", plain)


def test_no_color_means_no_colour_even_on_a_terminal(small_class, tmp_path):
    output, status = on_terminal(grade_args(small_class, tmp_path / "out"), terminal_env(NO_COLOR="1"))
    assert status == 2
    assert colour_codes(output) == set()
    plain = re.sub(SGR, "", output)
    assert "12/12 scenarios" in plain and "┃ submission" in plain  # still a bar and a table, just no colour
