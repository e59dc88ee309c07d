"""From records to points: the checks of every step, the status and the score of each scenario.

Scores are all-or-nothing per scenario unless its steps carry points, in which case every step of
its subject that was played and passed earns its points. Every scenario runs: one is `blocked` only
when a step that prepares its subject failed in that very run, and `unverified` when nothing wrong was
seen but something it grades could not be seen at all; both earn nothing.
Everything here is derived from the scenario and its record, so grading again from saved records
(`rejudge`) gives the same verdicts.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
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
FLAKY_RULES = ("majority", "min")  # how the points of a scenario whose runs disagree are chosen
Verdict = tuple[str, float]  # (status, points) of one run


@dataclass
class ScenarioResult:
    id: str
    name: str
    file: str
    score: float
    max_score: float
    status: str  # passed | failed | unverified | not applicable | error | blocked | not graded
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
    seed: int | None = None  # the seed its run was given (recorded for repeated or replayed runs)
    runs: list["ScenarioResult"] = field(default_factory=list)  # each run judged alone (--repeat, --replay)
    scoring: str = ""  # the rule that chose the points when runs disagree (majority | min)

    def __post_init__(self) -> None:
        if not self.summary and self.message:
            self.summary = self.message.splitlines()[0]

    @property
    def cut_short(self) -> bool:
        """Grading was stopped before or while this scenario (or one of its runs) ran: its score says nothing."""
        return self.status == "not graded" or (self.record is not None and self.record.aborted) \
            or any(run.cut_short for run in self.runs)

    @property
    def completed_runs(self) -> list["ScenarioResult"]:
        """The runs that went to their end (a run grading was stopped in has no verdict to compare)."""
        return [run for run in self.runs if not run.cut_short]

    @property
    def pass_rate(self) -> str:
        """How many of its completed runs passed, e.g. "3/5"; empty when it ran once."""
        done = self.completed_runs
        return f"{sum(run.status == 'passed' for run in done)}/{len(done)}" if self.runs else ""

    @property
    def flaky(self) -> bool:
        """Its runs disagree: their statuses or points differ."""
        return len({_verdict(run) for run in self.completed_runs}) > 1

    def to_json(self) -> dict:
        return {"id": self.id, "name": self.name, "file": self.file, "score": round(self.score, 4),
                "max_score": self.max_score, "status": self.status,
                "duration_s": round(self.duration_s, 3), "message": self.message,
                "summary": self.summary, "checks": [check.to_json() for check in self.checks],
                "visibility": self.visibility, "tags": self.tags, "description": self.description,
                **({"linked": self.linked} if self.linked else {}),
                **({"faults": self.record.faults, "seed": self.record.seed}
                   if self.record is not None and self.record.faults is not None else {}),
                **self.runs_json()}

    def runs_json(self) -> dict:
        """Its runs' verdicts and seeds, the pass rate and the scoring rule (nothing when it ran once)."""
        if not self.runs:
            return {}
        return {"pass_rate": self.pass_rate, "flaky": self.flaky, "scoring": self.scoring,
                "runs": [{"run": number, "seed": run.seed, "status": run.status, "points": round(run.score, 4),
                          "cause": run.summary, "duration_s": round(run.duration_s, 3)}
                         for number, run in enumerate(self.runs, start=1)]}


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
    repeat: dict | None = None  # {runs, scoring, seed_base, replay} when every scenario ran more than once

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
        if self.repeat:
            data["repeat"] = dict(self.repeat)
        return data


def _base(scenario_id: str, file: Path | str, scenario: Scenario) -> dict:
    return {"id": scenario_id, "name": scenario.name, "file": str(file), "max_score": scenario.points,
            "visibility": scenario.visibility, "tags": list(scenario.tags),
            "description": scenario.description}


def judge_record(scenario_id: str, file: Path | str, scenario: Scenario, record: ScenarioRecord) -> ScenarioResult:
    """Every check, the status, the score and the explanation of one scenario run."""
    if (impossible := not_applicable(scenario, record)) is not None:
        return ScenarioResult(**_base(scenario_id, file, scenario), score=scenario.points, status="not applicable",
                              duration_s=record.duration_s, message=impossible, checks=[], record=record,
                              trace=record.transcript)
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
                                 for s in steps], record=record, summary=summary, seed=record.seed)


def rescore(result: ScenarioResult, scenario: Scenario, note: str, tested_by: list[str] | None = None) -> None:
    """Take a judged run's status, score and explanation again from its checks as they now stand
    (some set aside, see same_cause.py), with `note` saying why; `tested_by`: the scenarios that test
    the step that blocked it (default: those it depends on)."""
    record = result.record
    assert record is not None
    steps = [JudgedStep(s["number"], s["description"], [c for c in result.checks if c.step == s["number"]],
                        setup=s["number"] <= scenario.setup) for s in result.steps]
    status, error = _status(scenario, record, steps)
    result.status, result.score = status, _score(scenario, status, steps)
    result.summary, message = explain(status, error, steps, len(scenario.steps), record.transcript,
                                      record.trace_lines, scenario.depends_on if tested_by is None else tested_by,
                                      faults_paragraph(record) if status != "passed" else ("", ""))
    result.message = "\n\n".join(part for part in (note, message) if part)
    result.steps = [{**s, "failed": any(c.lost for c in step.checks)} for s, step in zip(result.steps, steps)]


def not_applicable(scenario: Scenario, record: ScenarioRecord) -> str | None:
    """Why the scenario's situation cannot arise in the submission's design (a design the course
    allows), or None: full points, and the reason in the report."""
    early = scenario.before_registration() if record.registration == "startup" else None
    if early is None:
        return None
    number, user = early
    handle = record.handles.get(user, f"@{user}")
    return (f"Not applicable: step {number} ({describe_step(scenario.steps[number - 1])}) needs {handle}'s "
            f"program before {handle} has registered, but this submission's users register at their "
            "start-up prompt and take no command before that (the course allows it), so the situation "
            "cannot arise: full points.")


def aggregate(runs: list[ScenarioResult], rule: str) -> ScenarioResult:
    """One scenario's result from its runs, each judged on its own. Runs that agree give their
    verdict; runs that disagree make it flaky, scored by `rule`: `majority` (the most common verdict,
    ties to the lower points) or `min` (the lowest points). The explanation, checks and transcripts
    shown are those of the first run that did not pass, so that what went wrong can be seen."""
    done = [run for run in runs if not run.cut_short] or runs
    chosen = chosen_verdict([_verdict(run) for run in done], rule)
    scored = next(run for run in done if _verdict(run) == chosen)
    flaky = len({_verdict(run) for run in done}) > 1
    shown = next((run for run in done if run.status != "passed"), scored) if flaky else scored
    result = dataclasses.replace(shown, status=scored.status, score=scored.score, seed=None, runs=list(runs),
                                 scoring=rule, duration_s=sum(run.duration_s for run in runs))
    if flaky:
        result.summary, result.message = _flaky_explanation(result, shown)
    return result


def _verdict(run: ScenarioResult) -> Verdict:
    return run.status, round(run.score, 6)


def chosen_verdict(verdicts: list[Verdict], rule: str) -> Verdict:
    """The verdict `rule` picks; among equals, the one seen first."""
    first = {verdict: index for index, verdict in reversed(list(enumerate(verdicts)))}
    if rule == "min":
        return min(first, key=lambda v: (v[1], first[v]))
    counts = Counter(verdicts)
    return max(first, key=lambda v: (counts[v], -v[1], -first[v]))


def _flaky_explanation(result: ScenarioResult, shown: ScenarioResult) -> tuple[str, str]:
    """The one-line cause and the explanation of a scenario whose runs disagree."""
    number = next(k for k, run in enumerate(result.runs, start=1) if run is shown)
    verdicts = ", ".join(f"run {k} (seed {run.seed}) {run.status}" for k, run in enumerate(result.runs, start=1))
    summary = (f"flaky: {result.pass_rate} runs passed, scored by {result.scoring} ({result.status}); "
               f"run {number}: {shown.summary or shown.status}")
    head = (f"Flaky: its runs did not agree, {result.pass_rate} passed: {verdicts}. Scored by "
            f"{result.scoring}: {result.status}, {result.score:g}/{result.max_score:g} points. Run one again "
            f"with --replay SEED. What follows is run {number} (seed {shown.seed}), the first that did not pass.")
    return summary, f"{head}\n\n{shown.message}" if shown.message else head


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
    """A scenario that lost points for the same cause as a scenario it builds on (the same one-line
    cause, names and numbers aside; a dependency in `lost_elsewhere`, whose cause is not known here,
    counts) is probably the same bug: say so (fix that one first). The points stay."""
    judged = ("failed", "unverified", "blocked")
    causes = {result.id: cause_shape(result.summary) for result in results if result.status in judged}
    lost = set(causes) | set(lost_elsewhere)
    for result in results:
        linked = [dep for dep in dependencies.get(result.id, []) if dep in lost
                  and causes.get(dep, causes.get(result.id)) == causes.get(result.id)]
        if result.status in judged and linked and not result.linked:
            result.linked = linked
            note = f"Probably the same cause as `{'`, `'.join(linked)}`, which lost points too: fix that first."
            result.message = f"{result.message}\n\n{note}" if result.message else note


def cause_shape(summary: str) -> str:
    """A one-line cause without what differs from scenario to scenario (handles, numbers, texts, the
    blocked scenario's framing), so that two scenarios' causes can be compared."""
    cause = re.sub(r"^Blocked: | \(step \d+ only prepares what this scenario tests.*\)$", "", summary)
    return re.sub(r"\d+(\.\d+)?", "N", re.sub(r"@\w+", "@…", re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", cause)))


def not_graded(scenario_id: str, file: Path | str, scenario: Scenario) -> ScenarioResult:
    """A scenario grading was stopped before: no verdict, and no points to show either."""
    return ScenarioResult(**_base(scenario_id, file, scenario), score=0.0, status="not graded", duration_s=0.0,
                          message="Not graded: grading was stopped before this scenario ran.", checks=[])


def errored(scenario_id: str, file: Path | str, scenario: Scenario, message: str) -> ScenarioResult:
    return ScenarioResult(**_base(scenario_id, file, scenario), score=0.0, status="error",
                          duration_s=0.0, message=message, checks=[])
