"""What a person reads in the terminal: per-scenario lines, explanations, and summary tables."""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO

from harness.judge.grading import ScenarioResult, SubmissionGrade

STATUS_MARK = {"passed": "PASS", "failed": "FAIL", "unverified": "NOT SEEN", "error": "ERROR", "blocked": "BLOCKED",
               "not graded": "NOT RUN"}
COLOURS = {"passed": "32", "failed": "31", "unverified": "36", "error": "35", "blocked": "33", "not graded": "37"}


def _colour(text: str, status: str, stream: TextIO) -> str:
    if not stream.isatty():
        return text
    return f"\033[{COLOURS.get(status, '0')}m{text}\033[0m"


def _points(score: float, max_score: float) -> str:
    return f"{score:g}/{max_score:g}"


def scenario_line(result: ScenarioResult, stream: TextIO | None = None) -> str:
    """One scenario on one line: its status, points, id, and the cause when it lost points."""
    stream = stream or sys.stdout
    mark = _colour(f"{STATUS_MARK.get(result.status, result.status.upper()):<8}", result.status, stream)
    what = result.summary if result.status != "passed" and result.summary else result.name
    return f"{mark} {_points(result.score, result.max_score):>9}  {result.id:<32} {what}"


def print_check(grade: SubmissionGrade, stream: TextIO | None = None) -> None:
    """A student's self-check: every scenario, then the explanation of each one that lost points."""
    stream = stream or sys.stdout
    print(f"Self-check of {grade.submission} ({grade.path})", file=stream)
    print(f"{network_line([grade])}\n", file=stream)
    for result in grade.scenarios:
        print(scenario_line(result, stream), file=stream)
    lost = [r for r in grade.scenarios if r.status != "passed"]
    roots = [r for r in lost if not r.linked]
    for heading, results in (("Fix these first (each is a cause of its own)", roots),
                             ("Then these, probably the same causes as those above", [r for r in lost if r.linked])):
        if results:
            print(f"\n{heading}:", file=stream)
        for result in results:
            print(f"\n=== {result.id}: {result.name} [{result.status}] ===", file=stream)
            if result.description:
                print(result.description, file=stream)
            print(result.message, file=stream)
    print(f"\nScore: {_points(grade.score, grade.max_score)}", file=stream)
    if grade.error:
        print(grade.error, file=stream)


def network_line(grades: list[SubmissionGrade]) -> str:
    """Which network graded: every program on a host of its own (hosts) or on loopback, and why."""
    seen = {(g.network or {}).get("mode"): (g.network or {}).get("reason", "") for g in grades if g.network}
    if not seen:
        return "Network: not recorded"
    return "Network: " + "; ".join(f"{mode} ({reason})" for mode, reason in seen.items())


def print_summary(grades: list[SubmissionGrade], stream: TextIO | None = None) -> None:
    """One row per submission with counts per status; per-scenario lines for a single submission."""
    stream = stream or sys.stdout
    if any(g.incomplete for g in grades):
        print("INCOMPLETE: grading was stopped; submissions marked `not graded` were not reached.", file=stream)
    print(network_line(grades), file=stream)
    if len(grades) == 1:
        for result in grades[0].scenarios:
            print(scenario_line(result, stream), file=stream)
        print(file=stream)
    width = max([len("submission"), *(len(g.submission) for g in grades)])
    header = f"{'submission':<{width}}  {'score':>9}  passed  failed  not seen  error  blocked"
    print(header, file=stream)
    print("-" * len(header), file=stream)
    for grade in grades:
        counts = {status: sum(1 for s in grade.scenarios if s.status == status) for status in STATUS_MARK}
        if grade.status in ("not graded", "not a submission"):
            print(f"{grade.submission:<{width}}  {grade.status:>9}", file=stream)
        else:
            status = "passed" if grade.full_marks else "failed"
            score = _colour(f"{_points(grade.score, grade.max_score):>9}", status, stream)
            print(f"{grade.submission:<{width}}  {score}  {counts['passed']:>6}  {counts['failed']:>6}  "
                  f"{counts['unverified']:>8}  {counts['error']:>5}  {counts['blocked']:>7}", file=stream)
        if grade.error:
            print(f"  {grade.error.splitlines()[0]}", file=stream)


class ProgressBar:
    """Progress of a batch on stderr: a bar with counts and ETA redrawn in place on a terminal, one
    plain line per finished scenario elsewhere (CI logs)."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.finished = 0
        self.counts = {status: 0 for status in STATUS_MARK}
        self.live = self.stream.isatty()

    def advance(self, label: str, result: ScenarioResult) -> None:
        self.finished += 1
        self.counts[result.status] += 1
        if not self.live:
            print(f"[{self.finished}/{self.total}] {label}: {scenario_line(result, self.stream)}",
                  file=self.stream, flush=True)
            return
        if result.status != "passed":
            self._clear()
            print(f"{label}: {scenario_line(result, self.stream)}", file=self.stream)
        self._draw()

    def _eta(self) -> str:
        if not self.finished:
            return "--:--"
        remaining = (time.monotonic() - self.started) / self.finished * (self.total - self.finished)
        return f"{int(remaining) // 60}:{int(remaining) % 60:02d}"

    def _draw(self) -> None:
        width = max(10, min(40, shutil.get_terminal_size().columns - 60))
        filled = width * self.finished // max(1, self.total)
        counts = " ".join(f"{n} {status}" for status, n in self.counts.items() if n)
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.finished}/{self.total} "
                          f"scenarios  ETA {self._eta()}  {counts}\033[K")
        self.stream.flush()

    def _clear(self) -> None:
        self.stream.write("\r\033[K")

    def close(self) -> None:
        if self.live and self.finished:
            self.stream.write("\n")
            self.stream.flush()
