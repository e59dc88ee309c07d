"""From run outcomes to points: status, score per scenario and per submission.

Scores are all-or-nothing per scenario unless its steps carry points, in which case every step that
was played and passed earns its points. A scenario whose dependency did not pass is `blocked`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.checks import CheckResult
from harness.explain import explain
from harness.runner import RunOutcome
from harness.scenario import Scenario
from harness.trace import Trace


@dataclass
class ScenarioResult:
    id: str
    name: str
    file: str
    score: float
    max_score: float
    status: str  # passed | failed | error | blocked
    duration_s: float
    message: str
    checks: list[CheckResult]
    visibility: str = "visible"
    tags: list[str] = field(default_factory=list)
    description: str = ""
    trace: Trace | None = None
    protections: dict = field(default_factory=dict)
    tweets: list[dict] = field(default_factory=list)  # judged tweets, for the time-space diagram
    steps: list[dict] = field(default_factory=list)  # numbered steps played, for the reports

    def to_json(self) -> dict:
        return {"id": self.id, "name": self.name, "file": self.file, "score": round(self.score, 4),
                "max_score": self.max_score, "status": self.status,
                "duration_s": round(self.duration_s, 3), "message": self.message,
                "checks": [check.to_json() for check in self.checks],
                "visibility": self.visibility, "tags": self.tags, "description": self.description}


@dataclass
class SubmissionGrade:
    submission: str
    path: str
    scenarios: list[ScenarioResult]
    error: str | None = None
    incomplete: bool = False  # grading was stopped before every scenario had run
    trace_lines: str | None = r"^\[trace\] "  # the dialect's protocol-trace lines, left out of excerpts

    @property
    def score(self) -> float:
        return sum(s.score for s in self.scenarios)

    @property
    def max_score(self) -> float:
        return sum(s.max_score for s in self.scenarios)

    @property
    def full_marks(self) -> bool:
        return self.error is None and not self.incomplete and abs(self.score - self.max_score) < 1e-9

    def to_json(self) -> dict:
        data = {"submission": self.submission, "score": round(self.score, 4), "max_score": self.max_score,
                "scenarios": [s.to_json() for s in self.scenarios]}
        sandbox = next((s.protections for s in self.scenarios if s.protections), None)
        if sandbox:
            data["sandbox"] = {k: v for k, v in sandbox.items() if k != "uid"}
        if self.error:
            data["error"] = self.error
        if self.incomplete:
            data["incomplete"] = True
        return data


def _base(scenario_id: str, file: Path, scenario: Scenario) -> dict:
    return {"id": scenario_id, "name": scenario.name, "file": str(file), "max_score": scenario.points,
            "visibility": scenario.visibility, "tags": list(scenario.tags),
            "description": scenario.description}


def score_outcome(scenario_id: str, file: Path, scenario: Scenario, outcome: RunOutcome) -> ScenarioResult:
    if outcome.status == "passed":
        score = scenario.points
    elif any(step.points is not None for step in outcome.steps):
        score = sum(step.points or 0 for step in outcome.steps if not step.failed)
        if outcome.status == "error":
            score = 0.0
    else:
        score = 0.0
    checks = [check for step in outcome.steps for check in step.checks]
    return ScenarioResult(**_base(scenario_id, file, scenario), score=score, status=outcome.status,
                          duration_s=outcome.duration_s, message=explain(outcome), checks=checks,
                          trace=outcome.trace, protections=outcome.protections, tweets=outcome.tweets,
                          steps=[{"number": st.number, "description": st.description,
                                  "failed": st.failed} for st in outcome.steps])


def blocked(scenario_id: str, file: Path, scenario: Scenario, failed_dependencies: list[str]) -> ScenarioResult:
    message = (f"Not run: it depends on {', '.join(failed_dependencies)}, which did not pass. "
               "Fix that first; this scenario's points are withheld until then.")
    return ScenarioResult(**_base(scenario_id, file, scenario), score=0.0, status="blocked",
                          duration_s=0.0, message=message, checks=[])


def errored(scenario_id: str, file: Path, scenario: Scenario, message: str) -> ScenarioResult:
    return ScenarioResult(**_base(scenario_id, file, scenario), score=0.0, status="error",
                          duration_s=0.0, message=message, checks=[])
