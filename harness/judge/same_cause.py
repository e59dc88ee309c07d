"""Causes across scenarios: a crash is charged once, in the scenario that tests it, not again in
another scenario that reaches the same input; and a blocked scenario names the scenario that tests
the step that blocked it.

Two crashes are the same cause when the same program (the tracker, or a user) ended the same way
(the same exit status or signal, the same last line with handles and numbers left out, e.g.
"KeyError: '@…'") during a step of the same shape (the same command, expected to succeed or to be
refused, at a registered user or at a handle typed literally). The scenario charged is the most
focused one that shows it (the fewest steps, then the first in the suite); in every other scenario
whose run went to its end, the checks of that step are set aside with the reason, and its verdict is
taken again from the rest. A run the crash cut short keeps its verdict, with a note naming where
the crash is charged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.inputs.scenario import Scenario, step_shape
from harness.judge.endings import ProgramEnds
from harness.judge.grading import ScenarioResult, rescore

HANDLES = re.compile(r"@\w+")
NUMBERS = re.compile(r"\d+")
LOST = ("failed", "blocked")


@dataclass(frozen=True)
class Crash:
    """A program's crash during one step, in terms that do not depend on the scenario's names."""

    program: str  # "tracker" or "user"
    how: str  # "exited with status 1", "killed by signal 11 (...)"
    last_line: str  # its last line, handles and numbers left out
    step_shape: str  # e.g. "follow, refused, at a literal handle"

    def __str__(self) -> str:
        line = f" ({self.last_line})" if self.last_line else ""
        return f"the {self.program} {self.how}{line} on a `{self.step_shape}` step"


def crashes(scenario: Scenario, result: ScenarioResult) -> list[tuple[int, Crash]]:
    """(step number, crash) of each costly end of a program in one judged run."""
    record = result.record
    if record is None:
        return []
    ends = ProgramEnds(scenario, record)
    found = []
    for number, event in ends.costly():
        if not ends.crashed(event):
            continue
        before = [e.text for e in record.transcript.lines(event.proc) if e.seq < event.seq]
        last = NUMBERS.sub("N", HANDLES.sub("@…", before[-1].strip()))[:200] if before else ""
        program = "tracker" if event.proc == "tracker" else "user"
        found.append((number, Crash(program, event.text, last, step_shape(scenario.steps[number - 1]))))
    return found


def charge_once(results: list[ScenarioResult], suite: dict[str, Scenario]) -> None:
    """Set aside, in every scenario but the one charged, the checks of a step that lost points to a
    crash another scenario shows too (see the module's docstring); `results` in suite order."""
    seen: dict[Crash, list[tuple[ScenarioResult, int]]] = {}
    for result in results:
        if result.status in LOST and not result.runs and result.id in suite:
            for number, crash in crashes(suite[result.id], result):
                seen.setdefault(crash, []).append((result, number))
    for crash, where in seen.items():
        if len({id(r) for r, _ in where}) < 2:
            continue
        charged = min(where, key=lambda item: len(suite[item[0].id].steps))[0]
        for result, number in where:
            if result is not charged:
                _set_aside(result, number, crash, charged.id, suite[result.id])


def _set_aside(result: ScenarioResult, number: int, crash: Crash, charged: str, scenario: Scenario) -> None:
    note = f"the same bug as in `{charged}` ({crash}), charged there once"
    if len(result.record.steps) < len(scenario.steps):  # the crash cut the run short: nothing else was seen
        result.message = f"{result.message}\n\nThis is {note}; its points here are lost because the crash " \
                         "stopped the scenario before its subject could be seen."
        return
    for check in result.checks:
        if check.step == number and check.lost:
            check.status, check.message = "skipped", f"{note}: {check.message}"
    rescore(result, scenario, f"Step {number} lost nothing here: it is {note}.")


def name_testers(results: list[ScenarioResult], suite: dict[str, Scenario]) -> None:
    """A blocked scenario's explanation names the scenario that tests the step that failed (its
    subject has a step of the same shape), not whatever the scenario depends on."""
    for result in results:
        if result.status != "blocked" or result.record is None or result.runs or result.id not in suite:
            continue
        scenario = suite[result.id]
        first = next((s["number"] for s in result.steps if s.get("failed")), None)
        if first is None:
            continue
        testers = testers_of(scenario.steps[first - 1], result.id, suite)
        if testers != list(scenario.depends_on):
            rescore(result, scenario, "", testers)


def testers_of(step: object, scenario_id: str, suite: dict[str, Scenario]) -> list[str]:
    """The scenario whose subject is a step of this shape: among those the scenario builds on first,
    then the most focused (the fewest steps); none when no scenario of the suite tests it."""
    shape = step_shape(step)
    builds_on = _builds_on(scenario_id, suite)
    found = [sid for sid, other in suite.items() if sid != scenario_id
             and any(step_shape(s) == shape for s in other.steps[other.setup:])]
    return sorted(found, key=lambda sid: (sid not in builds_on, len(suite[sid].steps)))[:1]


def _builds_on(scenario_id: str, suite: dict[str, Scenario]) -> set[str]:
    """Every scenario `scenario_id` depends on, directly or not."""
    found: set[str] = set()
    todo = list(suite[scenario_id].depends_on)
    while todo:
        sid = todo.pop()
        if sid not in found and sid in suite:
            found.add(sid)
            todo.extend(suite[sid].depends_on)
    return found
