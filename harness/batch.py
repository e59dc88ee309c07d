"""Grade many (submission, scenario) pairs on a pool of workers, respecting depends_on.

Scenarios of all submissions share one pool, so a class grades as fast as the cores allow; a
scenario starts only when its dependencies in the same submission have finished, and is `blocked`
without running if one of them did not pass.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from harness.errors import InputFileError
from harness.inputs.dialect import Dialect
from harness.inputs.scenario import Scenario
from harness.inputs.submissions import Submission
from harness.judge import grading
from harness.judge.grading import ScenarioResult, SubmissionGrade
from harness.judge.steps import step_failed_rule
from harness.net.mode import NetworkChoice
from harness.run.network import pinned_address_problem
from harness.run.runner import LOOPBACK, ScenarioRunner
from harness.run.sandbox import Limits

Suite = dict[str, tuple[Path, Scenario]]
# How often the main thread wakes while scenarios run. A signal may be delivered to any thread, and
# Python runs its handler (which stops grading) only in the main thread, once that thread runs
# again: blocked without a timeout, it could miss a SIGINT or SIGTERM for as long as a step may take.
SIGNAL_POLL_S = 0.25
Progress = Callable[[Submission, ScenarioResult], None]


@dataclass
class GradeOptions:
    jobs: int = os.cpu_count() or 1
    step_timeout: float | None = None
    limits: dict[str, int | None] = field(default_factory=dict)  # the grader's overrides win
    separate_user: bool = True
    network: NetworkChoice = LOOPBACK


def grade_all(submissions: list[Submission], suite: Suite, options: GradeOptions,
              progress: Progress | None = None, stop: threading.Event | None = None) -> list[SubmissionGrade]:
    """Grade every submission against every scenario; returns one grade per submission, in order."""
    dialects: dict[str, Dialect | str] = {}
    for submission in submissions:
        try:
            dialect = Dialect.for_submission(submission.path)
        except InputFileError as exc:
            dialects[submission.name] = "the submission's tweeter.yaml is invalid:\n" + "\n".join(exc.problems)
            continue
        problem = pinned_address_problem(options.network, dialect.manifest.network)
        dialects[submission.name] = f"Cannot grade it on this network: {problem}" if problem else dialect
    results: dict[tuple[str, str], ScenarioResult] = {}
    pending = [(s, sid) for s in submissions for sid in suite]
    running: dict[Future, tuple[Submission, str]] = {}
    stop = stop or threading.Event()

    def finish(submission: Submission, result: ScenarioResult) -> None:
        results[(submission.name, result.id)] = result
        if progress:
            progress(submission, result)

    with ThreadPoolExecutor(max_workers=max(1, options.jobs), thread_name_prefix="scenario") as pool:
        while pending or running:
            for item in list(pending):
                submission, scenario_id = item
                ready = _ready(submission, scenario_id, suite, results, dialects, stop)
                if ready is None:
                    continue
                pending.remove(item)
                if isinstance(ready, ScenarioResult):
                    finish(submission, ready)
                elif len(running) < max(1, options.jobs):
                    running[pool.submit(_run_one, submission, scenario_id, suite, ready, options, stop)] = item
                else:
                    pending.insert(0, item)
                    break
            if not running:
                continue
            done, _ = wait(list(running), timeout=SIGNAL_POLL_S, return_when=FIRST_COMPLETED)
            for future in done:
                submission, scenario_id = running.pop(future)
                finish(submission, future.result())
    grades = [_grade(s, suite, results, dialects, options.network) for s in submissions]
    for grade in grades:
        grade.incomplete = stop.is_set()
    return grades


def _ready(submission: Submission, scenario_id: str, suite: Suite, results: dict, dialects: dict,
           stop: threading.Event) -> ScenarioResult | Dialect | None:
    """A ready-made result (blocked / error), the dialect to run with, or None (dependencies running)."""
    file, scenario = suite[scenario_id]
    dialect = dialects[submission.name]
    if isinstance(dialect, str):
        return grading.errored(scenario_id, file, scenario, dialect)
    if stop.is_set():
        return grading.errored(scenario_id, file, scenario, "not run: grading was interrupted")
    outcomes = [results.get((submission.name, dep)) for dep in scenario.depends_on]
    if any(outcome is None for outcome in outcomes):
        return None
    failed = [dep for dep, outcome in zip(scenario.depends_on, outcomes) if outcome.status != "passed"]
    if failed:
        return grading.blocked(scenario_id, file, scenario, failed)
    return dialect


def _run_one(submission: Submission, scenario_id: str, suite: Suite, dialect: Dialect,
             options: GradeOptions, stop: threading.Event) -> ScenarioResult:
    file, scenario = suite[scenario_id]
    return run_scenario(submission.path, dialect, scenario_id, file, scenario, options, stop)


def run_scenario(path: Path, dialect: Dialect, scenario_id: str, file: Path, scenario: Scenario,
                 options: GradeOptions, stop: threading.Event) -> ScenarioResult:
    """One scenario against one submission, run then judged; never raises (the pytest plugin uses it too)."""
    limits = Limits().merged(dialect.manifest.limits.model_dump()).merged(options.limits)
    try:
        record = ScenarioRunner(path, dialect, scenario, scenario_id, file, options.step_timeout, limits,
                                options.separate_user, abort=stop, network=options.network,
                                step_failed=step_failed_rule(scenario)).run()
        return grading.judge_record(scenario_id, file, scenario, record)
    except Exception as exc:  # a harness bug must not lose the other results
        return grading.errored(scenario_id, file, scenario, f"internal harness error: {type(exc).__name__}: {exc}")


def _grade(submission: Submission, suite: Suite, results: dict, dialects: dict,
           network: NetworkChoice) -> SubmissionGrade:
    scenarios = [results[(submission.name, sid)] for sid in suite]
    dialect = dialects[submission.name]
    graded = {"mode": network.mode, "reason": network.reason}
    if isinstance(dialect, str):
        return SubmissionGrade(submission.name, str(submission.path), scenarios, error=dialect, network=graded)
    return SubmissionGrade(submission.name, str(submission.path), scenarios,
                           trace_lines=dialect.manifest.trace_lines, network=graded)
