"""Failure explanations written like a good TA: the steps that led there, expected vs. seen, and the
last lines each process printed, in the assignment's terms."""

from __future__ import annotations

import re

from harness.dialect import MATCH_LIMIT
from harness.runner import RunOutcome
from harness.trace import Trace

TAIL_LINES = 8
LINE_WIDTH = 160


def explain(outcome: RunOutcome) -> str:
    """One readable block; empty when the scenario passed."""
    if outcome.status == "passed":
        return ""
    parts = []
    if outcome.status == "error":
        parts.append(f"Could not run this scenario: {outcome.error}")
    else:
        failing = outcome.steps[-1] if outcome.steps else None
        where = f"at step {failing.number} of {outcome.total_steps}" if failing else "before any step"
        parts.append(f"Failed {where}.")
        parts.append(_steps_text(outcome))
        if failing:
            parts.append(_failures_text(failing))
        if outcome.error:
            parts.append(outcome.error)
    parts.append(_tails_text(outcome.trace, outcome.trace_lines))
    return "\n\n".join(part for part in parts if part)


def _steps_text(outcome: RunOutcome) -> str:
    lines = ["Steps:"]
    for step in outcome.steps:
        mark = "FAILED" if step.failed else "ok"
        lines.append(f"  {step.number}. {step.description} ... {mark}")
    return "\n".join(lines)


def _failures_text(step) -> str:
    lines = []
    for check in step.checks:
        if check.failed:
            lines.append(f"- {check.name}: {check.message}")
    return "What went wrong:\n" + "\n".join(lines) if lines else ""


def _tails_text(trace: Trace, trace_lines: str | None) -> str:
    """The last lines of each submission process, protocol-trace lines left out (they are in the
    transcripts) so that what the program said about its commands shows."""
    noise = re.compile(trace_lines) if trace_lines else None
    blocks = ["Last lines of each process (> typed, < printed; protocol trace lines are in the transcripts):"]
    for proc in trace.procs():
        if proc == "harness":
            continue
        events = [e for e in trace.lines(proc, ("out", "in", "exit", "note"))
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
