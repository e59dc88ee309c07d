"""Helpers for the harness's own tests: grade a folder in-process and read what was written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
SUBMISSIONS = Path(__file__).resolve().parents[1] / "submissions"


class Graded:
    """The exit status, terminal output and report.json of one `tweeter-harness` run."""

    def __init__(self, status: int, output: str, out: Path) -> None:
        self.status = status
        self.output = output
        self.out = out

    def report(self, name: str) -> dict:
        return json.loads((self.out / name / "report.json").read_text())

    def scenario(self, name: str, scenario_id: str) -> dict:
        return next(s for s in self.report(name)["scenarios"] if s["id"] == scenario_id)


@pytest.fixture
def grade(tmp_path, capsys):
    def run(*paths: Path, specs: list[str] | None = None, command: str = "grade", extra: tuple = ()) -> Graded:
        out = tmp_path / "results"
        spec_args = [arg for spec in (specs or []) for arg in ("--specs", str(SPECS / f"{spec}.yaml"))]
        status = main([command, *map(str, paths), *spec_args, "--out", str(out), *extra])
        captured = capsys.readouterr()
        return Graded(status, captured.out + captured.err, out)

    return run
