"""`tweeter-harness rejudge OUT_DIR`: grade a finished run again from its saved records.

No process is started. Each submission folder of OUT_DIR holds report.json and, per scenario that
ran, the records it was judged from (transcripts/<scenario>/record.json and trace.jsonl). The
scenarios are read again (from the files recorded in report.json, or from --specs), every verdict is
derived again from the records, and every report is written again. An instructor who fixes a
scenario's points or a check re-grades a class in seconds.

What a record cannot give is said, never guessed: a scenario that did not run when graded (the
submission could not be started or built) cannot be judged now, and a scenario whose steps changed
since cannot be matched to its record. A repeated scenario is judged run by run from each run's
record (transcripts/<scenario>/run-<k>/) and aggregated again, with the scoring rule it was graded
with or the one asked for now (`--flaky`).
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.errors import HarnessError, InputFileError
from harness.inputs.scenario import Scenario, load_suite, step_kind
from harness.judge import grading, same_cause
from harness.judge.checks import CheckResult
from harness.judge.grading import ScenarioResult, SubmissionGrade
from harness.reports import files
from harness.run.records import ScenarioRecord

Suite = dict[str, tuple[Path, Scenario]]


def graded_folders(out: Path) -> list[Path]:
    """The submission folders of a finished run, in name order."""
    if not out.is_dir():
        raise HarnessError(f"{out}: no such folder")
    folders = sorted(p.parent for p in out.glob("*/report.json"))
    if not folders:
        raise HarnessError(f"{out}: no graded submissions here (no */report.json); pass the --out folder "
                           "of a `tweeter-harness grade` run")
    return folders


def rejudge(out: Path, specs: list[Path] | None = None, flaky: str | None = None) -> list[SubmissionGrade]:
    """Judge every graded submission in `out` again and rewrite its reports; returns the grades.
    `flaky` scores scenarios whose runs disagree by another rule than the one they were graded with."""
    reports = [(folder, _read_report(folder)) for folder in graded_folders(out)]
    suite = load_suite(specs) if specs else _recorded_suite(reports)
    grades = [_rejudge_one(folder, report, suite, flaky) for folder, report in reports]
    files.write_batch(grades, out, transcripts=False)
    return grades


def _read_report(folder: Path) -> dict:
    try:
        report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise HarnessError(f"{folder / 'report.json'}: cannot read it: {exc}") from None
    if not isinstance(report, dict) or not isinstance(report.get("scenarios"), list):
        raise HarnessError(f"{folder / 'report.json'}: not a report written by tweeter-harness")
    return report


def _recorded_suite(reports: list[tuple[Path, dict]]) -> Suite:
    """The scenario files the run was graded with, as report.json names them."""
    paths = sorted({Path(s["file"]) for _, report in reports for s in report["scenarios"] if s.get("file")})
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise HarnessError(f"{missing[0]}: the scenario file this run was graded with is gone; "
                           "pass the scenarios with --specs")
    return load_suite(paths)


def _rejudge_one(folder: Path, report: dict, suite: Suite, flaky: str | None) -> SubmissionGrade:
    results: dict[str, ScenarioResult] = {}
    trace_lines: str | None = grading.SubmissionGrade.trace_lines
    for entry in report["scenarios"]:
        scenario_id = str(entry.get("id"))
        if scenario_id not in suite:
            raise InputFileError(str(folder), [f"{folder}: scenario {scenario_id!r} was graded, but it is not "
                                               "in the scenarios given; pass the same --specs as when grading"])
        place = folder / "transcripts" / files.safe_name(scenario_id)
        recorded_runs = entry.get("runs")
        if isinstance(recorded_runs, list) and recorded_runs:
            runs = [_judged(place / files.run_folder(number), run if isinstance(run, dict) else {}, scenario_id,
                            suite) for number, run in enumerate(recorded_runs, start=1)]
            results[scenario_id] = grading.aggregate(runs, flaky or _rule(entry))
        else:
            results[scenario_id] = _judged(place, entry, scenario_id, suite)
        trace_lines = next((r.record.trace_lines for r in [results[scenario_id], *results[scenario_id].runs]
                            if r.record is not None), trace_lines)
    ordered = list(results.values())
    same_cause.name_testers(ordered, {sid: scenario for sid, (_, scenario) in suite.items()})
    same_cause.charge_once(ordered, {sid: scenario for sid, (_, scenario) in suite.items()})
    grading.link_failures(ordered, {sid: list(scenario.depends_on) for sid, (_, scenario) in suite.items()})
    repeat = report.get("repeat") if isinstance(report.get("repeat"), dict) else None
    return SubmissionGrade(str(report.get("submission", folder.name)), str(report.get("path", "")), ordered,
                           error=report.get("error"), incomplete=bool(report.get("incomplete")),
                           trace_lines=trace_lines, network=report.get("network"),
                           repeat={**repeat, "scoring": flaky} if repeat and flaky else repeat,
                           status=str(report.get("status", "graded")), build=report.get("build"),
                           origin=report.get("origin"), timeouts=report.get("timeouts"))


def _judged(place: Path, entry: dict, scenario_id: str, suite: Suite) -> ScenarioResult:
    """One run judged again from its record in `place`, or kept as `entry` wrote it when it has none."""
    file, scenario = suite[scenario_id]
    record = _record(place)
    if record is None:
        kept = _kept(entry, scenario_id, file, scenario)
        kept.seed = entry.get("seed") if isinstance(entry.get("seed"), int) else None
        return kept
    changed = _changed_steps(scenario, record)
    if changed:
        failed = grading.errored(scenario_id, file, scenario, changed)
        failed.seed = record.seed
        return failed
    return grading.judge_record(scenario_id, file, scenario, record)


def _rule(entry: dict) -> str:
    """The scoring rule a repeated scenario was graded with (the default if the report names none)."""
    rule = entry.get("scoring")
    return rule if rule in grading.FLAKY_RULES else grading.FLAKY_RULES[0]


def _record(place: Path) -> ScenarioRecord | None:
    if not (place / "record.json").is_file():
        return None
    try:
        return ScenarioRecord.load(place)
    except (OSError, ValueError) as exc:
        raise HarnessError(f"{place / 'record.json'}: cannot read the record: {exc}") from None


def _changed_steps(scenario: Scenario, record: ScenarioRecord) -> str | None:
    """Why the record no longer fits the scenario (its steps changed), or None."""
    kinds = [step_kind(step) for step in scenario.steps]
    played = [step.kind for step in record.steps]
    if len(played) > len(kinds) or any(kinds[step.number - 1] != step.kind for step in record.steps):
        return ("Cannot judge again: this scenario's steps changed since it was graded, so its record no "
                "longer fits; grade the submission again.")
    return None


def _kept(entry: dict, scenario_id: str, file: Path, scenario: Scenario) -> ScenarioResult:
    """A scenario (or run) that did not run (no record): its result stands as it was written."""
    checks = [CheckResult(str(c.get("name", "")), c.get("status", "failed"), str(c.get("message", "")), c.get("step"))
              for c in entry.get("checks") or [] if isinstance(c, dict)]
    kept = grading.errored(scenario_id, file, scenario,
                           str(entry.get("message", entry.get("cause", ""))))
    kept.status = str(entry.get("status", "error"))
    kept.checks = checks
    kept.duration_s = float(entry.get("duration_s") or 0.0)
    return kept
