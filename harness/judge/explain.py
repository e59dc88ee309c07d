"""Failure explanations written like a good TA: the steps that led there, expected vs. seen, and the
last lines each process printed, in the assignment's terms."""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.inputs.dialect import MATCH_LIMIT
from harness.judge.checks import CheckResult
from harness.run.records import Transcript

TAIL_LINES = 8
LINE_WIDTH = 160


@dataclass
class JudgedStep:
    """A played step with its checks; `setup`: it only prepares what the scenario tests."""

    number: int
    description: str
    checks: list[CheckResult]
    setup: bool = False

    @property
    def failed(self) -> bool:
        return any(check.failed for check in self.checks)

    @property
    def lost(self) -> bool:
        return any(check.lost for check in self.checks)

    @property
    def mark(self) -> str:
        return "FAILED" if self.failed else "NOT SEEN" if self.lost else "ok"


HEADINGS = {"failed": "Failed", "unverified": "Not seen", "blocked": "Blocked"}


def explain(status: str, error: str | None, steps: list[JudgedStep], total_steps: int,
            transcript: Transcript, trace_lines: str | None, tested_by: list[str] = (),
            faults: tuple[str, str] = ("", "")) -> tuple[str, str]:
    """(the cause in one line, one readable block); both empty when the scenario passed.

    The block opens with the cause, then replays the numbered steps that led there and says what
    went wrong at each step that lost points, then (under network faults) the datagrams lost for good,
    then the last lines of each process. `faults`: (a clause for the cause line, that paragraph)."""
    if status == "passed":
        return "", ""
    if status == "error":
        summary = f"Could not run this scenario: {error}"
        return summary.splitlines()[0], "\n\n".join(p for p in (summary, _tails_text(transcript, trace_lines)) if p)
    first = next((step for step in steps if step.lost), None)
    cause = next((c.cause for c in first.checks if c.lost), "") if first else (error or "")
    tests_it = f"; {', '.join(f'`{s}`' for s in tested_by)} tests it" if tested_by else ""
    summary = (f"Blocked: {cause} (step {first.number} only prepares what this scenario tests{tests_it})"
               if status == "blocked" and first else cause or error or status)
    if faults[0]:
        summary = f"{summary}; {faults[0]}"
    where = (f"{HEADINGS[status]} at step {first.number} of {total_steps}: {first.description}."
             if first else f"{HEADINGS.get(status, 'Failed')} after step {len(steps)} of {total_steps}.")
    parts = [summary, where, _steps_text(steps), _failures_text(steps), error or "", faults[1],
             _tails_text(transcript, trace_lines)]
    return summary, "\n\n".join(part for part in parts if part)


def _steps_text(steps: list[JudgedStep]) -> str:
    lines = ["Steps:"]
    for step in steps:
        lines.append(f"  {step.number}. {step.description} ... {step.mark}")
    return "\n".join(lines)


def _failures_text(steps: list[JudgedStep]) -> str:
    lines = [f"- step {step.number}, {check.name}: {check.message}" for step in steps for check in step.checks
             if check.lost]
    return "What went wrong:\n" + "\n".join(lines) if lines else ""


def _tails_text(transcript: Transcript, trace_lines: str | None) -> str:
    """The last lines of each submission process, protocol-trace lines left out (they are in the
    transcripts) so that what the program said about its commands shows."""
    noise = re.compile(trace_lines) if trace_lines else None
    blocks = ["Last lines of each process (> typed, < printed; protocol trace lines are in the transcripts):"]
    for proc in transcript.procs():
        if proc == "harness":
            continue
        events = [e for e in transcript.lines(proc, ("out", "in", "exit", "note"))
                  if not (noise and e.kind == "out" and noise.search(e.text[:MATCH_LIMIT]))]
        tail = events[-TAIL_LINES:]
        if not tail:
            continue
        blocks.append(f"  [{proc}]")
        for event in tail:
            arrow = {"in": ">", "out": "<"}.get(event.kind, "*")
            text = event.text if len(event.text) <= LINE_WIDTH else event.text[:LINE_WIDTH] + "..."
            blocks.append(f"    {arrow} {text}")
    return "\n".join(blocks) if len(blocks) > 1 else ""
