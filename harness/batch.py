"""Grade many (submission, scenario) pairs on a pool of workers, respecting depends_on.

Builds and scenarios of all submissions share one pool, so a class grades as fast as the cores
allow. A submission with a `build:` command is built first (once); its scenarios then copy the built
folder, or are all `error` with the compiler's last lines. Every scenario runs: what happened to the
scenarios it builds on (`depends_on`) is only named in its explanation, never a reason to skip it.

With `repeat` above 1 every (submission, scenario) is that many pool items, its runs, each with a seed
of its own and judged on its own; the scenario's result is their aggregate (grading.aggregate). A run
is blocked only by its own preparing steps, so `depends_on` asks nothing of runs: the aggregated
results are linked to the scenarios they build on as a single run's are.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import random
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from harness.errors import HarnessError, InputFileError
from harness.inputs.dialect import Dialect
from harness.inputs.scenario import Faults, Scenario
from harness.inputs.submissions import Submission
from harness.judge import grading, same_cause
from harness.judge.grading import ScenarioResult, SubmissionGrade
from harness.judge.steps import should_stop_rule
from harness.net import lan_pool
from harness.net.lan import LanShape
from harness.net.mode import NetworkChoice
from harness.run import behind, launcher
from harness.run.build import BuildResult, build_submission
from harness.run.driver import TRACKER
from harness.run.network import pinned_address_problem
from harness.run.probe import limits_to_blame, probe_command, start_failure
from harness.run.runner import LOOPBACK, ScenarioRunner
from harness.run.sandbox import Limits

Suite = dict[str, tuple[Path, Scenario]]
# How often the main thread wakes while scenarios run. A signal may be delivered to any thread, and
# Python runs its handler (which stops grading) only in the main thread, once that thread runs
# again: blocked without a timeout, it could miss a SIGINT or SIGTERM for as long as a step may take.
SIGNAL_POLL_S = 0.25
Progress = Callable[[Submission, ScenarioResult], None]
Finished = Callable[[SubmissionGrade], None]
BUILD = "\0build"  # the task that builds a submission, beside its scenario ids
Task = tuple[Submission, str, int]  # a submission, BUILD or a scenario id, and the run's number (from 1)
SEED_RANGE = 1_000_000  # a drawn seed base is below this: short enough to read out and type again


@dataclass
class GradeOptions:
    jobs: int = os.cpu_count() or 1
    step_timeout: float | None = None  # the grader's step limit: wins over scenarios and manifests
    limits: dict[str, int | None] = field(default_factory=dict)  # the grader's overrides win
    separate_user: bool = True
    network: NetworkChoice = LOOPBACK
    max_step_timeout: float = 60.0  # caps what a manifest's `timeouts` may ask for
    max_scenario_timeout: float = 600.0
    max_build_timeout: float = 600.0
    keep_work: bool = False  # leave every scenario's working copy behind, for debugging
    faults: Faults | None = None  # --faults: network faults for every scenario, replacing their own
    repeat: int = 1  # runs of every (submission, scenario), each judged on its own
    replay: int | None = None  # the seed every run gets (--replay), to repeat a recorded run
    flaky: str = "majority"  # how a scenario whose runs disagree is scored (grading.FLAKY_RULES)
    seed_base: int = field(default_factory=lambda: random.randrange(SEED_RANGE))  # drawn once per grading run

    @property
    def repeated(self) -> bool:
        """Whether runs are recorded one by one (their seeds and verdicts): repeated, or replayed."""
        return self.repeat > 1 or self.replay is not None

    def repeat_json(self) -> dict | None:
        """How the scenarios were repeated, for report.json (None for a single run, as before)."""
        if not self.repeated:
            return None
        return {"runs": self.repeat, "scoring": self.flaky,
                **({"replay": self.replay} if self.replay is not None else {"seed_base": self.seed_base})}


@dataclass
class Prepared:
    """A submission as its scenarios need it: its dialect and folder, or why none of them can run."""

    submission: Submission
    dialect: Dialect | None = None
    problem: str | None = None
    build: BuildResult | None = None

    @property
    def folder(self) -> Path:
        return self.build.folder if self.build is not None and self.build.folder else self.submission.path

    @property
    def needs_build(self) -> bool:
        return self.dialect is not None and self.dialect.manifest.build is not None and self.build is None \
            and self.problem is None

    def limits(self, options: GradeOptions) -> Limits:
        manifest = self.dialect.manifest.limits.model_dump() if self.dialect else {}
        return Limits().merged(manifest).merged(options.limits)


def invalid_manifest(problems: list[str]) -> str:
    """Why a manifest cannot be used: its first problem on the first line (the line class tables,
    summary.md and junit.xml show), then every problem, one a line."""
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"the submission's tweeter.yaml is invalid: {problems[0]}{more}\n" + "\n".join(problems)


def prepare(submission: Submission, options: GradeOptions) -> Prepared:
    """Read the submission's manifest and check it can run on this network."""
    if submission.problem is not None:
        return Prepared(submission, problem=f"Not a submission: {submission.problem}")
    try:
        dialect = Dialect.for_submission(submission.path)
    except InputFileError as exc:
        return Prepared(submission, problem=invalid_manifest(exc.problems))
    problem = pinned_address_problem(options.network, dialect.manifest.network)
    if problem:
        return Prepared(submission, dialect, f"Cannot grade it on this network: {problem}")
    prepared = Prepared(submission, dialect)
    prepared.problem = start_problem(dialect, prepared.limits(options), options)
    return prepared


def start_problem(dialect: Dialect, limits: Limits, options: GradeOptions) -> str | None:
    """Why no program of the submission could start under the limits it gets (set below the defaults
    by the grader or its manifest), naming the limit to raise; None when the interpreters start."""
    launches = {tuple(probe_command(getattr(dialect.manifest.launch, role))) for role in ("tracker", "user")}
    for argv in sorted(launches):
        failure = start_failure(argv, limits, options.separate_user)
        blamed = limits_to_blame(argv, limits, options.separate_user) if failure else []
        if blamed:
            named = " and ".join(_limit_source(name, limits, options) for name in blamed)
            return (f"the harness could not start {argv[0]} under {named}: raise it "
                    f"(`{' '.join(argv)}` in the sandbox: {failure})")
    return None


def _limit_source(name: str, limits: Limits, options: GradeOptions) -> str:
    """A limit as the person who set it wrote it: the grader's option, or the manifest's key."""
    value = getattr(limits, name)
    if options.limits.get(name) is not None:
        return f"--{name.replace('_', '-')} {value}"
    return f"the manifest's `limits: {{{name}: {value}}}`"


def select_scenarios(suite: Suite, patterns: list[str]) -> Suite:
    """The scenarios whose id matches one of `patterns` (a glob, or without * ? [ a part of the id).
    A chosen scenario is graded alone: a dependency left out is dropped from its `depends_on`."""
    def matches(scenario_id: str, pattern: str) -> bool:
        glob = pattern if any(c in pattern for c in "*?[") else f"*{pattern}*"
        return fnmatch.fnmatchcase(scenario_id, glob)

    unmatched = [p for p in patterns if not any(matches(sid, p) for sid in suite)]
    if unmatched:
        raise HarnessError(f"--scenario {unmatched[0]!r} matches no scenario id (ids: {', '.join(suite)})")
    chosen = {sid: entry for sid, entry in suite.items() if any(matches(sid, p) for p in patterns)}
    return {sid: (file, scenario.model_copy(update={"depends_on": [d for d in scenario.depends_on if d in chosen]}))
            for sid, (file, scenario) in chosen.items()}


def build(prepared: Prepared, options: GradeOptions, stop: threading.Event) -> BuildResult:
    """Run the submission's build command (its own time limit, capped by the grader's)."""
    assert prepared.dialect is not None and prepared.dialect.manifest.build is not None
    manifest = prepared.dialect.manifest
    timeout = min(manifest.timeouts.build, options.max_build_timeout)
    return build_submission(prepared.submission.path, manifest.build, timeout, prepared.limits(options),
                            options.separate_user, stop)


def build_problem(result: BuildResult) -> str | None:
    if result.ok:
        return None
    return (f"the build failed: `{result.command}` {result.status} after {result.duration_s:.1f} s. "
            f"Its last lines (all of them in build.log):\n{result.tail()}")


def grade_all(submissions: list[Submission], suite: Suite, options: GradeOptions,
              progress: Progress | None = None, stop: threading.Event | None = None,
              finished: Finished | None = None) -> list[SubmissionGrade]:
    """Grade every submission against every scenario, each `options.repeat` times; returns one grade
    per submission, in order. `progress` hears of each run as it ends, `finished` of each submission
    once all of its scenarios are done."""
    with launcher.session():  # starting while the submissions are prepared, ready for their first programs
        return _grade_all(submissions, suite, options, progress, stop, finished)


def _grade_all(submissions: list[Submission], suite: Suite, options: GradeOptions, progress: Progress | None,
               stop: threading.Event | None, finished: Finished | None) -> list[SubmissionGrade]:
    prepared = {s.name: prepare(s, options) for s in submissions}
    runs: dict[tuple[str, str], dict[int, ScenarioResult]] = {}
    results: dict[tuple[str, str], ScenarioResult] = {}
    pending = [(s, BUILD, 0) for s in submissions if prepared[s.name].needs_build]
    pending += [(s, sid, run) for s in submissions for sid in suite for run in range(1, options.repeat + 1)]
    running: dict[Future, Task] = {}
    stop = stop or threading.Event()

    def finish(submission: Submission, scenario_id: str, run: int, result: ScenarioResult) -> None:
        result.seed = run_seed(suite[scenario_id][1], options, run)  # also for runs blocked or not run
        done = runs.setdefault((submission.name, scenario_id), {})
        done[run] = result
        if progress:
            progress(submission, result)
        if len(done) == options.repeat:
            results[(submission.name, scenario_id)] = _scenario_result([done[k] for k in sorted(done)], options)
        if finished and all((submission.name, sid) in results for sid in suite):
            finished(_grade(prepared[submission.name], suite, results, options))

    try:
        ahead = lan_pool.session(_lan_shapes(prepared, suite, options)) if options.network.mode == "hosts" \
            else contextlib.nullcontext()
        with ahead, behind.session(), \
                ThreadPoolExecutor(max_workers=max(1, options.jobs), thread_name_prefix="scenario") as pool:
            while pending or running:
                for item in list(pending):
                    submission, task, run = item
                    ready = True if task == BUILD else _ready(prepared[submission.name], task, suite, stop)
                    if ready is None:
                        continue
                    pending.remove(item)
                    if isinstance(ready, ScenarioResult):
                        finish(submission, task, run, ready)
                    elif len(running) < max(1, options.jobs):
                        work = (build, prepared[submission.name], options, stop) if task == BUILD else \
                            (_run_one, prepared[submission.name], task, suite, options, stop, run)
                        running[pool.submit(*work)] = item
                    else:
                        pending.insert(0, item)
                        break
                if not running:
                    continue
                done, _ = wait(list(running), timeout=SIGNAL_POLL_S, return_when=FIRST_COMPLETED)
                for future in done:
                    submission, task, run = running.pop(future)
                    if task == BUILD:
                        built = prepared[submission.name]
                        built.build = future.result()
                        built.problem = build_problem(built.build)
                    else:
                        finish(submission, task, run, future.result())
        grades = [_grade(prepared[s.name], suite, results, options) for s in submissions]
    finally:
        for item in prepared.values():
            if item.build is not None:
                item.build.remove()
    for grade in grades:
        grade.incomplete = stop.is_set()
        if grade.status == "graded" and any(s.cut_short for s in grade.scenarios):
            ran = any(s.status != "not graded" for s in grade.scenarios)
            grade.status = "interrupted" if ran else "not graded"
    return grades


def _lan_shapes(prepared: dict[str, "Prepared"], suite: Suite, options: GradeOptions) -> list[LanShape]:
    """The LANs the scenario runs will ask for, in the order they run (built ahead: net/lan_pool.py)."""
    shapes = []
    for item in prepared.values():
        if item.dialect is None or pinned_address_problem(options.network, item.dialect.manifest.network):
            continue  # none of its scenarios builds a LAN
        pinned = item.dialect.manifest.network.tracker.ip
        for _, scenario in suite.values():
            names = [TRACKER, *scenario.users]
            shapes.append(LanShape.of(names, {TRACKER: pinned} if pinned else None,
                                      bridge=(options.faults or scenario.faults) is None))
    return shapes


def run_seed(scenario: Scenario, options: GradeOptions, run: int) -> int:
    """The seed run `run` (from 1) of a scenario gets: --replay's for every run; otherwise counting up
    from the seed of the faults it runs under (--faults', else its own) when they name one, else from
    the grading run's base."""
    if options.replay is not None:
        return options.replay
    faults = options.faults or scenario.faults
    own = faults.seed if faults is not None else None
    return (options.seed_base if own is None else own) + run - 1


def _scenario_result(runs: list[ScenarioResult], options: GradeOptions) -> ScenarioResult:
    """A single run is the scenario's result as it is; repeated or replayed runs are aggregated."""
    return grading.aggregate(runs, options.flaky) if options.repeated else runs[0]


def _ready(prepared: Prepared, scenario_id: str, suite: Suite, stop: threading.Event) -> ScenarioResult | bool | None:
    """A ready-made result (error), True (run it), or None (its build is not done yet). Every
    scenario runs, whatever happened to the scenarios it builds on."""
    file, scenario = suite[scenario_id]
    if prepared.problem is not None:
        return grading.errored(scenario_id, file, scenario, prepared.problem)
    if stop.is_set():
        return grading.not_graded(scenario_id, file, scenario)
    return None if prepared.needs_build else True


def _run_one(prepared: Prepared, scenario_id: str, suite: Suite, options: GradeOptions,
             stop: threading.Event, run: int) -> ScenarioResult:
    file, scenario = suite[scenario_id]
    assert prepared.dialect is not None
    return run_scenario(prepared.folder, prepared.dialect, scenario_id, file, scenario, options, stop,
                        seed=run_seed(scenario, options, run))


def granted_timeouts(dialect: Dialect, options: GradeOptions) -> dict[str, float | None]:
    """The time limits a submission gets: what its manifest asks for, capped by the grader; the
    grader's --step-timeout wins over everything."""
    asked = dialect.manifest.timeouts
    return {"step": options.step_timeout or (min(asked.step, options.max_step_timeout) if asked.step else None),
            "scenario": min(asked.scenario, options.max_scenario_timeout) if asked.scenario else None,
            "build": min(asked.build, options.max_build_timeout) if dialect.manifest.build else None}


def run_scenario(path: Path, dialect: Dialect, scenario_id: str, file: Path, scenario: Scenario,
                 options: GradeOptions, stop: threading.Event, seed: int | None = None) -> ScenarioResult:
    """One run of one scenario against one submission, run then judged; never raises (the pytest
    plugin uses it too). `seed`: the seed of this run's network faults (else the faults' own, else a
    fresh one); recorded, so that the run can be replayed."""
    limits = Limits().merged(dialect.manifest.limits.model_dump()).merged(options.limits)
    timeouts = granted_timeouts(dialect, options)
    try:
        record = ScenarioRunner(path, dialect, scenario, scenario_id, file, timeouts["step"], limits,
                                options.separate_user, abort=stop, network=options.network,
                                should_stop=should_stop_rule(scenario),
                                scenario_timeout=timeouts["scenario"], keep_work=options.keep_work,
                                faults=options.faults, seed=seed).run()
        return grading.judge_record(scenario_id, file, scenario, record)
    except Exception as exc:  # a harness bug must not lose the other results
        return grading.errored(scenario_id, file, scenario, f"internal harness error: {type(exc).__name__}: {exc}")


def _grade(prepared: Prepared, suite: Suite, results: dict, options: GradeOptions) -> SubmissionGrade:
    submission = prepared.submission
    scenarios = [results[(submission.name, sid)] for sid in suite]
    same_cause.name_testers(scenarios, {sid: scenario for sid, (_, scenario) in suite.items()})
    same_cause.charge_once(scenarios, {sid: scenario for sid, (_, scenario) in suite.items()})
    grading.link_failures(scenarios, {sid: list(scenario.depends_on) for sid, (_, scenario) in suite.items()})
    graded = SubmissionGrade(submission.name, str(submission.path), scenarios,
                             network=options.network.to_json(),
                             origin=str(submission.origin) if submission.origin else None,
                             repeat=options.repeat_json())
    if prepared.dialect is None:
        graded.error = prepared.problem
        graded.status = "not a submission" if submission.problem else "error"
        return graded
    graded.trace_lines = prepared.dialect.manifest.trace_lines
    graded.timeouts = granted_timeouts(prepared.dialect, options)
    if prepared.build is not None:
        graded.build = prepared.build.to_json()
        graded.build_log = prepared.build.transcript
        if not prepared.build.ok:
            graded.error = f"the build failed: `{prepared.build.command}` {prepared.build.status}"
            graded.status = "build failed"
    elif prepared.problem:
        graded.error = prepared.problem
        graded.status = "error"
    return graded
