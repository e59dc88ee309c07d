"""What a person reads in the terminal: per-scenario lines, explanations, progress and the class table.

Drawn with rich. On a terminal: colours (none when NO_COLOR is set), a live progress bar and a
table. Anywhere else (a CI log, a pipe, a file): plain lines without escape codes, one per finished
submission while grading, so that a log of a class of hundreds stays readable.
"""

from __future__ import annotations

import sys
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Column, Table
from rich.text import Text

from harness.judge.grading import ScenarioResult, SubmissionGrade
from harness.reports.text import evidence_line, network_label

STATUS_MARK = {"passed": "PASS", "failed": "FAIL", "unverified": "NOT SEEN", "error": "ERROR", "blocked": "BLOCKED",
               "not applicable": "N/A", "not graded": "NOT RUN"}
STATUS_STYLE = {"passed": "green", "failed": "red", "unverified": "cyan", "error": "magenta", "blocked": "yellow",
                "not applicable": "green", "not graded": "dim"}
FLAKY_MARK, FLAKY_STYLE = "FLAKY", "bold yellow"
CONSOLE_ONLY_WARNING = ("\nWarning: this verdict rests on what your programs printed only (console evidence). "
                        "Grading on a LAN also reads the packets, and takes points off what only they show "
                        "(a star that prints the labels of a ring, a tracker that relays tweets). "
                        "For the same verdict here, run it as root, or where user namespaces are allowed.")
TABLE_BORDERS = 13  # a table of four columns: five rules, and a space either side of each column


def console(stream: TextIO | None = None) -> Console:
    """A console on `stream` (default: the current stdout). rich decides from the stream whether it
    is a terminal and honours NO_COLOR; markup and highlighting are off because the text printed
    holds what submissions printed, which must appear as it is."""
    return Console(file=stream or sys.stdout, markup=False, highlight=False, emoji=False, soft_wrap=True)


def _points(score: float, max_score: float) -> str:
    return f"{score:g}/{max_score:g}"


def scenario_line(result: ScenarioResult) -> Text:
    """One scenario on one line: its status (FLAKY when its runs disagree), points, id, and the cause
    when it lost points or was flaky; a repeated scenario's pass rate after its name."""
    if result.flaky:
        mark = Text(f"{FLAKY_MARK:<8}", style=FLAKY_STYLE)
    else:
        mark = Text(f"{STATUS_MARK.get(result.status, result.status.upper()):<8}",
                    style=STATUS_STYLE.get(result.status, ""))
    what = result.summary if (result.status != "passed" or result.flaky) and result.summary else result.name
    if result.runs and not result.flaky:
        what = f"{what} ({result.pass_rate} runs passed)"
    return Text.assemble(mark, f" {_points(result.score, result.max_score):>9}  {result.id:<32} {what}")


def lost_points(grade: SubmissionGrade) -> str:
    """Where a submission lost points, in one line: its error, or each scenario with the points it
    lost; a flaky scenario says so with its pass rate, even when it lost nothing."""
    if grade.error:
        return grade.error.splitlines()[0]
    return ", ".join(_lost_items(grade))


def _lost_items(grade: SubmissionGrade) -> list[str]:
    """Each scenario that lost points or was flaky, with what it lost: `ring_order (-10)`."""
    shown = [s for s in grade.scenarios if (s.score < s.max_score and s.status != "not graded") or s.flaky]
    return [f"{s.id} ({_lost_and_flaky(s)})" for s in shown]


def counted(items: list[str], room: int) -> str:
    """`items` joined by commas in at most `room` characters: as many as fit, then how many more
    ("… and 9 more"); only how many ("3 scenarios") when not even the first fits."""
    texts = [", ".join(items[:shown]) + (f", … and {len(items) - shown} more" if shown < len(items) else "")
             for shown in range(len(items), 0, -1)]
    return next((text for text in texts if len(text) <= room), f"{len(items)} scenarios" if items else "")


def _lost_and_flaky(result: ScenarioResult) -> str:
    lost = [f"-{result.max_score - result.score:g}"] if result.score < result.max_score else []
    return ", ".join([*lost, *([f"flaky {result.pass_rate}"] if result.flaky else [])])


def submission_line(grade: SubmissionGrade) -> str:
    """A finished submission in one plain line: name, score, status, and where it lost points."""
    where = lost_points(grade) or _first_error(grade)
    score = score_text(grade)
    return f"{grade.submission}: {score + ' ' if score else ''}{grade.status}" + (f"; {where}" if where else "")


def _first_error(grade: SubmissionGrade) -> str:
    errors = [s.message for s in grade.scenarios if s.status == "error" and s.message]
    return errors[0].splitlines()[0] if errors else ""


def print_check(grade: SubmissionGrade, stream: TextIO | None = None) -> None:
    """A student's self-check: every scenario, then the explanation of each one that lost points."""
    out = console(stream)
    out.print(f"Self-check of {grade.submission} ({grade.path})")
    out.print(f"{network_line([grade])}\n")
    for result in grade.scenarios:
        out.print(scenario_line(result))
    lost = [r for r in grade.scenarios if r.status != "passed" or r.flaky]
    roots = [r for r in lost if not r.linked]
    for heading, results in (("Fix these first (each is a cause of its own)", roots),
                             ("Then these, probably the same causes as those above", [r for r in lost if r.linked])):
        if results:
            out.print(f"\n{heading}:", style="bold")
        for result in results:
            state = f"{result.status}, flaky: {result.pass_rate} runs passed" if result.flaky else result.status
            out.print(f"\n=== {result.id}: {result.name} [{state}] ===", style="bold")
            if result.description:
                out.print(result.description)
            out.print(result.message)
    out.print(f"\nScore: {_points(grade.score, grade.max_score)}", style="bold")
    if grade.error:
        out.print(grade.error)
    if (grade.network or {}).get("evidence") == "console only":
        out.print(CONSOLE_ONLY_WARNING, style="bold yellow")


def network_line(grades: list[SubmissionGrade]) -> str:
    """Which network graded: every program on a host of its own (hosts) or on loopback, and why."""
    seen = {network_label(g.network): (g.network or {}).get("reason", "") for g in grades if g.network}
    if not seen:
        return "Network: not recorded"
    evidence = dict.fromkeys(evidence_line(g.network) for g in grades if g.network)
    return "Network: " + "; ".join(f"{label} ({reason})" for label, reason in seen.items()) + "\n" + \
        "\n".join(evidence)


def print_summary(grades: list[SubmissionGrade], stream: TextIO | None = None) -> None:
    """The class table (score, status, lost points per submission); per-scenario lines first when
    there is a single submission."""
    out = console(stream)
    if any(g.incomplete for g in grades):
        out.print("INCOMPLETE: grading was stopped; submissions marked `not graded` were not reached.",
                  style="bold red")
    out.print(network_line(grades))
    if len(grades) == 1:
        for result in grades[0].scenarios:
            out.print(scenario_line(result))
        out.print()
    out.print(_class_table(grades, out.width) if out.is_terminal else _plain_table(grades))


def score_text(grade: SubmissionGrade) -> str:
    """Its points out of the maximum, or nothing where no score means anything (not graded, not a submission)."""
    return "" if grade.status in ("not graded", "not a submission") else _points(grade.score, grade.max_score)


def _grade_style(grade: SubmissionGrade) -> str:
    if grade.status != "graded":
        return STATUS_STYLE["error"]
    return STATUS_STYLE["passed" if grade.full_marks else "failed"]


def _class_table(grades: list[SubmissionGrade], width: int) -> Table:
    """The class table within `width` columns, a line per submission: a long name is cut (with an
    ellipsis), a long list of lost points counted ("… and 9 more"); only why a submission could not
    be graded wraps. Every detail is in index.html."""
    name = Column("submission", no_wrap=True, overflow="ellipsis",
                  max_width=max(len("submission"), width // 5))
    score_width = max(len("score"), *(len(score_text(g)) for g in grades))
    status_width = max(len("status"), *(len(g.status) for g in grades))
    widest_name = min(max(len("submission"), *(len(g.submission) for g in grades)), name.max_width)
    room = width - TABLE_BORDERS - widest_name - score_width - status_width
    table = Table(name, Column("score", justify="right"), "status", "lost points")
    for grade in grades:
        style = _grade_style(grade)
        lost = Text(lost_points(grade)) if grade.error else \
            Text(counted(_lost_items(grade), room), no_wrap=True, overflow="ellipsis")
        table.add_row(grade.submission, Text(score_text(grade), style=style), Text(grade.status, style=style), lost)
    return table


def _plain_table(grades: list[SubmissionGrade]) -> str:
    """The class table as aligned text, for logs."""
    rows = [("submission", "score", "status", "lost points")]
    rows += [(g.submission, score_text(g), g.status, lost_points(g)) for g in grades]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{name:<{widths[0]}}  {score:>{widths[1]}}  {status:<{widths[2]}}  {lost}".rstrip()
             for name, score, status, lost in rows]
    lines.insert(1, "-" * len(lines[0]))  # under the header; a long list of lost points may run past it
    return "\n".join(lines)


class BatchProgress:
    """Progress of a batch on stderr. On a terminal: a live bar with scenarios done/total, ETA and
    counts per status, and a line per finished submission above it. Elsewhere: only that line, plain."""

    def __init__(self, scenarios: int, submissions: int, stream: TextIO | None = None,
                 unit: str = "scenarios") -> None:
        self.console = console(stream or sys.stderr)
        self.submissions = submissions
        self.finished_submissions = 0
        self.counts = {status: 0 for status in STATUS_MARK}
        self.bar: Progress | None = None
        if self.console.is_terminal:
            self.bar = Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
                                TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[counts]}"),
                                console=self.console, transient=True)
            self.task = self.bar.add_task("grading", total=scenarios, counts="")
            self.bar.start()

    def scenario_done(self, result: ScenarioResult) -> None:
        self.counts[result.status] = self.counts.get(result.status, 0) + 1
        if self.bar is not None:
            counts = "  ".join(f"{n} {status}" for status, n in self.counts.items() if n)
            self.bar.update(self.task, advance=1, counts=counts)

    def submission_done(self, grade: SubmissionGrade) -> None:
        self.finished_submissions += 1
        self.note(f"[{self.finished_submissions}/{self.submissions}] {submission_line(grade)}")

    def note(self, text: str) -> None:
        """A line above the bar (or in the log)."""
        self.console.print(text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
