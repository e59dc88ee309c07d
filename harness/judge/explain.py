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
    """A played step with its checks."""

    number: int
    description: str
    checks: list[CheckResult]

    @property
    def failed(self) -> bool:
        return any(check.failed for check in self.checks)


def explain(status: str, error: str | None, steps: list[JudgedStep], total_steps: int,
            transcript: Transcript, trace_lines: str | None) -> str:
    """One readable block; empty when the scenario passed."""
    if status == "passed":
        return ""
    parts = []
    if status == "error":
        parts.append(f"Could not run this scenario: {error}")
    else:
        failing = steps[-1] if steps else None
        where = f"at step {failing.number} of {total_steps}" if failing else "before any step"
        parts.append(f"Failed {where}.")
        parts.append(_steps_text(steps))
        if failing:
            parts.append(_failures_text(failing))
        if error:
            parts.append(error)
    parts.append(_tails_text(transcript, trace_lines))
    return "\n\n".join(part for part in parts if part)


def _steps_text(steps: list[JudgedStep]) -> str:
    lines = ["Steps:"]
    for step in steps:
        mark = "FAILED" if step.failed else "ok"
        lines.append(f"  {step.number}. {step.description} ... {mark}")
    return "\n".join(lines)


def _failures_text(step: JudgedStep) -> str:
    lines = [f"- {check.name}: {check.message}" for check in step.checks if check.failed]
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
