"""Writing results: report.json per submission, the trace and per-process transcripts per scenario.

Reports read only grades and traces; nothing here runs or re-runs anything.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from harness.grading import ScenarioResult, SubmissionGrade

SAFE_NAME = re.compile(r"[^A-Za-z0-9_.@-]+")


def safe_name(name: str) -> str:
    return SAFE_NAME.sub("_", name).strip("._") or "_"


def write_submission(grade: SubmissionGrade, out: Path) -> Path:
    """DIR/<submission>/report.json plus transcripts; returns the submission's folder."""
    folder = out / safe_name(grade.submission)
    folder.mkdir(parents=True, exist_ok=True)
    for result in grade.scenarios:
        _write_transcripts(result, folder / "transcripts" / safe_name(result.id))
    tmp = folder / "report.json.tmp"
    tmp.write_text(json.dumps(grade.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(folder / "report.json")
    return folder


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
