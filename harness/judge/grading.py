"""From records to points: the checks of every step, the status and the score of each scenario.

Scores are all-or-nothing per scenario unless its steps carry points, in which case every step of
its subject that was played and passed earns its points. Every scenario runs: one is `blocked` only
when a step that prepares its subject failed in that very run, and `unverified` when nothing wrong was
seen but something it grades could not be seen at all; both earn nothing.
Everything here is derived from the scenario and its record, so grading again from saved records
(`rejudge`) gives the same verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.inputs.describe import describe_step
from harness.inputs.scenario import Scenario, step_args
from harness.judge.checks import CheckResult, failed
from harness.judge.explain import JudgedStep, explain
from harness.judge.faults import faults_paragraph
from harness.judge.steps import StepJudge
from harness.run.records import ScenarioRecord, Transcript

INTERRUPTED = "interrupted: grading was stopped while this scenario ran"


@dataclass
class ScenarioResult:
    id: str
    name: str
    file: str
    score: float
    max_score: float
    status: str  # passed | failed | unverified | error | blocked | not graded
    duration_s: float
    message: str
    checks: list[CheckResult]
    visibility: str = "visible"
    tags: list[str] = field(default_factory=list)
    description: str = ""
    trace: Transcript | None = None
    protections: dict = field(default_factory=dict)
    tweets: list[dict] = field(default_factory=list)  # judged tweets, for the time-space diagram
    steps: list[dict] = field(default_factory=list)  # numbered steps played, for the reports
    record: ScenarioRecord | None = None  # what the run saw, saved beside the reports for rejudge
    summary: str = ""  # the cause in one line (empty when passed)
    linked: list[str] = field(default_factory=list)  # scenarios it builds on that lost points too

    def __post_init__(self) -> None:
        if not self.summary and self.message:
            self.summary = self.message.splitlines()[0]

    @property
    def cut_short(self) -> bool:
        """Grading was stopped before or while this scenario ran: its score says nothing."""
        return self.status == "not graded" or (self.record is not None and self.record.aborted)

    def to_json(self) -> dict:
        return {"id": self.id, "name": self.name, "file": self.file, "score": round(self.score, 4),
                "max_score": self.max_score, "status": self.status,
                "duration_s": round(self.duration_s, 3), "message": self.message,
                "summary": self.summary, "checks": [check.to_json() for check in self.checks],
                "visibility": self.visibility, "tags": self.tags, "description": self.description,
                **({"linked": self.linked} if self.linked else {}),
                **({"faults": self.record.faults, "seed": self.record.seed}
                   if self.record is not None and self.record.faults is not None else {})}


@dataclass
class SubmissionGrade:
    submission: str
    path: str
    scenarios: list[ScenarioResult]
    error: str | None = None
    incomplete: bool = False  # grading was stopped before every scenario had run
    trace_lines: str | None = r"^\[trace\] "  # the dialect's protocol-trace lines, left out of excerpts
    network: dict | None = None  # {mode, reason}: how the programs were connected
    timeouts: dict | None = None  # the time limits the submission was granted (its manifest, capped)
    build: dict | None = None  # {command, ok, status, duration_s} when the submission has a build step
    build_log: Transcript | None = None  # what the build printed
    status: str = "graded"  # graded | not a submission | build failed | error | interrupted | not graded
    origin: str | None = None  # the class folder's entry it came from (an archive, a parent folder)

    @property
    def score(self) -> float:
        return sum(s.score for s in self.scenarios)

    @property
    def max_score(self) -> float:
        return sum(s.max_score for s in self.scenarios)

    @property
    def full_marks(self) -> bool:
        return self.status == "graded" and self.error is None and abs(self.score - self.max_score) < 1e-9

    def to_json(self) -> dict:
        data = {"submission": self.submission, "path": self.path, "status": self.status, "score": round(self.score, 4),
                "max_score": self.max_score, "scenarios": [s.to_json() for s in self.scenarios]}
        if self.origin:
            data["origin"] = self.origin
        if self.network:
            data["network"] = dict(self.network)
        if self.build:
            data["build"] = dict(self.build)
        if self.timeouts and any(v is not None for v in self.timeouts.values()):
            data["timeouts"] = {k: v for k, v in self.timeouts.items() if v is not None}
        sandbox = next((s.protections for s in self.scenarios if s.protections), None)
        if sandbox:
            data["sandbox"] = {k: v for k, v in sandbox.items() if k != "uid"}
        if self.error:
            data["error"] = self.error
        if self.incomplete:
            data["incomplete"] = True
        return data


def _base(scenario_id: str, file: Path | str, scenario: Scenario) -> dict:
    return {"id": scenario_id, "name": scenario.name, "file": str(file), "max_score": scenario.points,
            "visibility": scenario.visibility, "tags": list(scenario.tags),
            "description": scenario.description}


def judge_record(scenario_id: str, file: Path | str, scenario: Scenario, record: ScenarioRecord) -> ScenarioResult:
    """Every check, the status, the score and the explanation of one scenario run."""
    judge = StepJudge(scenario, record)
    steps = [JudgedStep(r.number, describe_step(scenario.steps[r.number - 1]), judge.checks(r),
                        setup=r.number <= scenario.setup) for r in record.steps]
    status, error = _status(scenario, record, steps)
    score = _score(scenario, status, steps)
    checks = [check for step in steps for check in step.checks]
    summary, message = explain(status, error, steps, len(scenario.steps), record.transcript, record.trace_lines,
                               scenario.depends_on, faults_paragraph(record) if status != "passed" else ("", ""))
    return ScenarioResult(**_base(scenario_id, file, scenario), score=score, status=status,
                          duration_s=record.duration_s, message=message, checks=checks,
                          trace=record.transcript, protections=record.protections, tweets=judge.tweets,
                          steps=[{"number": s.number, "description": s.description, "failed": s.lost}
                                 for s in steps], record=record, summary=summary)


def _status(scenario: Scenario, record: ScenarioRecord, steps: list[JudgedStep]) -> tuple[str, str | None]:
    """error (could not run), blocked (a preparing step failed), failed (something was wrong),
    unverified (nothing wrong seen, but something graded could not be seen), or passed."""
    if record.setup_error is not None:
        return "error", record.setup_error
    if record.aborted:
        return "error", INTERRUPTED
    first = next((step for step in steps if step.lost), None)
    if first is not None and first.setup:
        return "blocked", None
    if record.timed_out:
        error = f"the scenario did not finish within its {record.timeout_s:g} s limit"
        if steps and not steps[-1].lost:
            steps[-1].checks.append(failed("finishes in time", error, error))
        return "failed", error
    if any(step.failed for step in steps):
        return "failed", None
    if first is not None:
        return "unverified", None
    if len(steps) < len(scenario.steps):  # judged now, the step that stopped the run passes
        return "error", (f"the run stopped after step {len(steps)}, which failed when it was graded; "
                         "grade the submission again to play the remaining steps")
    return "passed", None


def _score(scenario: Scenario, status: str, steps: list[JudgedStep]) -> float:
    """All or nothing; with step points, each step of the subject that was played and passed."""
    if status == "passed":
        return scenario.points
    points = {number: step_args(step).points for number, step in enumerate(scenario.steps, start=1)
              if not isinstance(step_args(step), list)}
    if status in ("error", "blocked") or not any(points.get(step.number) is not None for step in steps):
        return 0.0
    return sum(points.get(step.number) or 0 for step in steps if not step.lost and not step.setup)


def link_failures(results: list[ScenarioResult], dependencies: dict[str, list[str]],
                  lost_elsewhere: set[str] = frozenset()) -> None:
    """A scenario that lost points while a scenario it builds on lost points too (among `results`, or
    in `lost_elsewhere`) is probably the same cause: say so (fix that one first). The points stay."""
    judged = ("failed", "unverified", "blocked")
    lost = {result.id for result in results if result.status in judged} | set(lost_elsewhere)
    for result in results:
        linked = [dep for dep in dependencies.get(result.id, []) if dep in lost]
        if result.status in judged and linked and not result.linked:
            result.linked = linked
            note = f"Probably the same cause as `{'`, `'.join(linked)}`, which lost points too: fix that first."
            result.message = f"{result.message}\n\n{note}" if result.message else note


def not_graded(scenario_id: str, file: Path | str, scenario: Scenario) -> ScenarioResult:
    """A scenario grading was stopped before: no verdict, and no points to show either."""
    return ScenarioResult(**_base(scenario_id, file, scenario), score=0.0, status="not graded", duration_s=0.0,
                          message="Not graded: grading was stopped before this scenario ran.", checks=[])


def errored(scenario_id: str, file: Path | str, scenario: Scenario, message: str) -> ScenarioResult:
    return ScenarioResult(**_base(scenario_id, file, scenario), score=0.0, status="error",
                          duration_s=0.0, message=message, checks=[])
