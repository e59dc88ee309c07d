"""Writing results: per submission report.json, Gradescope's results.json, junit.xml, report.html
and the transcripts of every process; per batch grades.csv and summary.md.

Reports read only grades and traces; nothing here runs or re-runs anything. Every file is written to
a temporary name and renamed, so an interrupted run never leaves half a report.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from harness.class_reports import grades_csv, summary_md
from harness.gradescope import results_json
from harness.grading import ScenarioResult, SubmissionGrade
from harness.html_report import render_html
from harness.junit import junit_xml

SAFE_NAME = re.compile(r"[^A-Za-z0-9_.@-]+")


def safe_name(name: str) -> str:
    return SAFE_NAME.sub("_", name).strip("._") or "_"


def _write(path: Path, data: str | bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    if isinstance(data, bytes):
        tmp.write_bytes(data)
    else:
        tmp.write_text(data, encoding="utf-8")
    tmp.replace(path)


def _json(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write_submission(grade: SubmissionGrade, out: Path) -> Path:
    """Every per-submission file in DIR/<submission>/; returns that folder."""
    folder = out / safe_name(grade.submission)
    folder.mkdir(parents=True, exist_ok=True)
    for result in grade.scenarios:
        _write_transcripts(result, folder / "transcripts" / safe_name(result.id))
    _write(folder / "junit.xml", junit_xml([grade]))
    _write(folder / "results.json", _json(results_json(grade, sum(s.duration_s for s in grade.scenarios))))
    _write(folder / "report.html", render_html(grade, trace_lines=grade.trace_lines))
    _write(folder / "report.json", _json(grade.to_json()))
    return folder


def write_batch(grades: list[SubmissionGrade], out: Path) -> None:
    """Every submission's files, then the class files DIR/grades.csv and DIR/summary.md."""
    for grade in grades:
        write_submission(grade, out)
    _write(out / "grades.csv", grades_csv(grades))
    _write(out / "summary.md", summary_md(grades))


def _write_transcripts(result: ScenarioResult, folder: Path) -> None:
    if result.trace is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    trace = result.trace
    events = trace.snapshot()
    with (folder / "trace.jsonl").open("w", encoding="utf-8") as out:
        for event in events:
            out.write(json.dumps(event.to_json(trace.t0), ensure_ascii=False) + "\n")
    for proc in trace.procs():
        lines = [f"{e.t - trace.t0:9.4f} {_mark(e.kind)} {e.text}" for e in events if e.proc == proc]
        (folder / f"{safe_name(proc)}.log").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _mark(kind: str) -> str:
    return {"in": ">", "out": "<"}.get(kind, "*")
