"""Writing results: per submission report.json, Gradescope's results.json, junit.xml, report.html,
the transcripts of every process and the records they were judged from (of each run, in
transcripts/<scenario>/run-<k>/, when scenarios were repeated); per batch grades.csv,
summary.md, junit.xml (every submission's testsuite in one file, for CI views that read one) and
the class page, index.html.

Reports read only grades and records; nothing here runs or re-runs anything. Every file is written
to a temporary name and renamed, so an interrupted run never leaves half a report. The records
(`transcripts/<scenario>/record.json` and `trace.jsonl`) are what `rejudge` grades again.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.reports.class_page import CLASS_PAGE, render_class_page
from harness.reports.class_reports import grades_csv, summary_md
from harness.reports.gradescope import results_json
from harness.judge.grading import ScenarioResult, SubmissionGrade
from harness.reports.html import render_html
from harness.reports.junit import junit_xml
from harness.reports.text import event_mark, safe_name
from harness.run.records import TRACE_FILE, Transcript

def run_folder(number: int) -> str:
    """Where run `number` (from 1) of a repeated scenario keeps its transcripts and record, inside
    the scenario's own folder."""
    return f"run-{number}"


def _write(path: Path, data: str | bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    if isinstance(data, bytes):
        tmp.write_bytes(data)
    else:
        tmp.write_text(data, encoding="utf-8")
    tmp.replace(path)


def _json(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write_submission(grade: SubmissionGrade, out: Path, transcripts: bool = True) -> Path:
    """Every per-submission file in DIR/<submission>/; returns that folder. `transcripts=False`
    keeps the transcripts and records already there (rejudge reads them and changes none)."""
    folder = out / safe_name(grade.submission)
    folder.mkdir(parents=True, exist_ok=True)
    for result in grade.scenarios if transcripts else []:
        place = folder / "transcripts" / safe_name(result.id)
        for number, run in enumerate(result.runs, start=1):
            _write_transcripts(run, place / run_folder(number))
        if not result.runs:
            _write_transcripts(result, place)
    if transcripts and grade.build_log is not None:
        _write(folder / "build.log", _log_text(grade.build_log, "build"))
    _write(folder / "junit.xml", junit_xml([grade]))
    _write(folder / "results.json", _json(results_json(grade, sum(s.duration_s for s in grade.scenarios))))
    _write(folder / "report.html", render_html(grade, trace_lines=grade.trace_lines))
    _write(folder / "report.json", _json(grade.to_json()))
    return folder


def write_batch(grades: list[SubmissionGrade], out: Path, transcripts: bool = True) -> None:
    """Every submission's files, then the class files DIR/grades.csv, DIR/summary.md, DIR/junit.xml
    and the class page DIR/index.html."""
    for grade in grades:
        write_submission(grade, out, transcripts)
    _write(out / "grades.csv", grades_csv(grades))
    _write(out / "junit.xml", junit_xml(grades))
    _write(out / "summary.md", summary_md(grades))
    _write(out / CLASS_PAGE, render_class_page(grades))


def _write_transcripts(result: ScenarioResult, folder: Path) -> None:
    if result.trace is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    trace = result.trace
    events = trace.snapshot()
    if result.record is not None:
        result.record.save(folder)
    else:
        trace.write(folder / TRACE_FILE)
    for proc in trace.procs():
        (folder / f"{safe_name(proc)}.log").write_text(_log_text(trace, proc, events), encoding="utf-8")


def _log_text(trace: Transcript, proc: str, events: list | None = None) -> str:
    """One process's transcript: seconds since the start, > typed, < printed, * started/ended/notes."""
    lines = [f"{e.t - trace.t0:9.4f} {event_mark(e.kind)} {e.text}" for e in events or trace.snapshot() if e.proc == proc]
    return "\n".join(lines) + "\n"
