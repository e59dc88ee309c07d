"""The HTML report: one self-contained page per submission, with a time-space diagram per scenario.

`render_html(grade)` reads only the grade and its records (nothing is run again) and returns the
page as text. Everything a submission printed is hostile: the template autoescapes, and every string
is first made visible (control characters as \\xNN, lone surrogates replaced) and cut to a bounded
length, so neither a `<script>` line nor a flood of output can break or bloat the page. The diagram's
layout is in diagram.py.
"""

from __future__ import annotations

import base64
import hashlib
import re
import traceback
from html import escape
from pathlib import Path

import jinja2

from harness.judge.grading import ScenarioResult, SubmissionGrade
from harness.reports.diagram import COLOURS, DASHES, DEFAULT_TRACE_LINES, MAX_LINE, Diagram
from harness.judge.faults import plan_text
from harness.reports.wire_diagram import WIRE_COLOURS, WireDiagram
from harness.reports.text import (MAX_TEXT, event_mark, evidence_line, format_time as _time, network_label,
                                  number as _number, visible)
from harness.run.records import Event, Transcript

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATUSES = ("passed", "failed", "unverified", "not applicable", "error", "blocked", "not graded")
MAX_TRANSCRIPT_LINES = 500  # last lines shown per process
MAX_MESSAGE = 20_000  # characters of a failure explanation
MAX_CHECK_MESSAGE = 2_000
PROBLEMS = ("failed", "error", "blocked", "unverified")  # shown first, expanded
ANCHOR_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,119}")  # a scenario id usable as a fragment as it is
DEEP_LINK_JS = (TEMPLATES / "deep_link.js").read_text(encoding="utf-8")


def script_hash(script: str) -> str:
    """The content-security policy's source for one inline script: it may run, and nothing else
    (hostile text is escaped; this makes sure)."""
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()


SCRIPT_HASH = script_hash(DEEP_LINK_JS)


# -- the rest of a scenario ------------------------------------------------------------------------
def _transcripts(result: ScenarioResult) -> list[dict]:
    trace = result.trace
    if not isinstance(trace, Transcript):
        return []
    events = trace.snapshot()
    by_proc: dict[str, list[Event]] = {}
    for event in events:
        by_proc.setdefault(str(event.proc), []).append(event)
    order = (["tracker"] if "tracker" in by_proc else []) + [p for p in by_proc if p not in ("tracker", "harness")]
    order += ["harness"] if "harness" in by_proc else []
    blocks = []
    for proc in order:
        lines = by_proc[proc]
        shown = lines[-MAX_TRANSCRIPT_LINES:]
        text = "\n".join(f"{e.t - trace.t0:9.4f} {event_mark(e.kind)} {visible(e.text, MAX_LINE)}" for e in shown)
        blocks.append({"proc": visible(proc if proc in ("tracker", "harness") else f"@{proc}", 60),
                       "count": len(lines), "hidden": len(lines) - len(shown),
                       "typed": sum(1 for e in lines if e.kind == "in"), "text": text})
    return blocks


def _scenario_view(result: ScenarioResult, index: int, trace_lines: str | None, anchor: str) -> dict:
    status = result.status if result.status in STATUSES else "error"
    diagram = None
    if (isinstance(result.trace, Transcript) and result.trace.snapshot()) or result.tweets:
        try:
            drawn = WireDiagram if _on_the_wire(result) else Diagram
            diagram = drawn(result, index, trace_lines, calm=status == "passed").view()
        except Exception as exc:  # a diagram must never cost the rest of the report
            diagram = {"error": f"the diagram could not be drawn: {type(exc).__name__}: {visible(exc)}"}
    checks = [{"name": visible(getattr(c, "name", ""), MAX_TEXT), "status": visible(getattr(c, "status", ""), 20),
               "message": visible(getattr(c, "message", ""), MAX_CHECK_MESSAGE),
               "step": getattr(c, "step", None)} for c in (result.checks or [])[:200]]
    steps = [{"number": s.get("number"), "description": visible(s.get("description"), MAX_TEXT),
              "failed": bool(s.get("failed"))} for s in (result.steps or [])[:200] if isinstance(s, dict)]
    return {"anchor": anchor, "id": visible(result.id, 120), "open": status != "passed" or bool(result.flaky), "name": visible(result.name, MAX_TEXT),
            "file": visible(result.file, MAX_TEXT), "description": visible(result.description, 2000),
            "status": status, "score": _number(result.score), "max_score": _number(result.max_score),
            "duration": _time(result.duration_s) if isinstance(result.duration_s, (int, float)) else "",
            "message": visible(result.message, MAX_MESSAGE), "checks": checks, "steps": steps,
            "tags": [visible(t, 40) for t in (result.tags or [])][:20],
            "visibility": visible(result.visibility, 40), "diagram": diagram,
            "transcripts": _transcripts(result), "max_lines": MAX_TRANSCRIPT_LINES,
            "faults": visible(plan_text(result.record), MAX_TEXT) if _faulty(result) else "", **_runs_view(result)}


def _faulty(result: ScenarioResult) -> bool:
    """Whether the scenario ran (or was to run) under network faults."""
    record = getattr(result, "record", None)
    return record is not None and record.faults is not None


def _runs_view(result: ScenarioResult) -> dict:
    """A repeated scenario's runs (seed, verdict, cause), its pass rate, and which run's diagram,
    checks and transcripts the page shows (the first that did not pass when they disagree)."""
    runs = list(getattr(result, "runs", None) or [])
    shown = next((number for number, run in enumerate(runs, start=1)
                  if run.record is not None and run.record is result.record), None)
    return {"flaky": bool(runs) and bool(result.flaky), "pass_rate": visible(result.pass_rate, 20) if runs else "",
            "scoring": visible(getattr(result, "scoring", ""), 20), "shown_run": shown,
            "runs": [{"number": number, "seed": "" if run.seed is None else str(run.seed),
                      "status": run.status if run.status in STATUSES else "error", "score": _number(run.score),
                      "max_score": _number(run.max_score), "cause": visible(run.summary, MAX_TEXT),
                      "shown": number == shown} for number, run in enumerate(runs[:200], start=1)]}


def _on_the_wire(result: ScenarioResult) -> bool:
    """Whether the scenario's packets were captured (then the diagram draws them)."""
    record = getattr(result, "record", None)
    return record is not None and record.network.captured and bool(record.wire)


def _network_text(grade: SubmissionGrade) -> list[str]:
    """The header's lines on the network: which, and why; which evidence the verdicts rest on."""
    network = getattr(grade, "network", None)
    if not isinstance(network, dict) or not network.get("mode"):
        return []
    return [visible(f"network: {network_label(network)} ({network.get('reason', '')})", MAX_TEXT),
            evidence_line(network)]


def _flatten(data: object, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(data, dict):
        pairs = []
        for key, value in data.items():
            pairs.extend(_flatten(value, f"{prefix}{visible(key, 60)}."))
        return pairs
    if isinstance(data, bool):
        return [(prefix.rstrip("."), "yes" if data else "no")]
    return [(prefix.rstrip("."), visible(data, MAX_TEXT))]


def _anchors(results: list[ScenarioResult]) -> list[str]:
    """Each scenario's fragment: its id (report.html#tweet_ring_order), unless the id is odd or taken."""
    anchors: list[str] = []
    for index, result in enumerate(results, start=1):
        wanted = str(getattr(result, "id", ""))
        anchors.append(wanted if ANCHOR_RE.fullmatch(wanted) and wanted not in anchors else f"s{index}")
    return anchors


def _problems_first(scenarios: list[dict]) -> list[dict]:
    """What lost points first (a reader opens the page for those), then the rest, passed last (a
    flaky one among the problems, whatever its runs scored)."""
    rank = {status: 0 for status in PROBLEMS} | {"not graded": 1, "passed": 2}
    return sorted(scenarios, key=lambda s: 0 if s["flaky"] else rank.get(s["status"], 0))


def _page(grade: SubmissionGrade, trace_lines: str | None) -> dict:
    results = list(grade.scenarios or [])
    scenarios = _problems_first([_scenario_view(result, i, trace_lines, anchor) for i, (result, anchor)
                                 in enumerate(zip(results, _anchors(results)), start=1)])
    counts = {status: sum(1 for s in scenarios if s["status"] == status) for status in STATUSES}
    if any(s["flaky"] for s in scenarios):
        counts["flaky"] = sum(1 for s in scenarios if s["flaky"])
    try:
        sandbox = grade.to_json().get("sandbox")
    except Exception:
        sandbox = None
    score, max_score = grade.score, grade.max_score
    percent = 100 * score / max_score if max_score else 100.0
    return {"submission": visible(grade.submission), "path": visible(grade.path, 500),
            "score": _number(score), "max_score": _number(max_score), "percent": max(0.0, min(100.0, percent)),
            "full_marks": bool(grade.full_marks), "error": visible(grade.error, MAX_MESSAGE) if grade.error else "",
            "incomplete": bool(grade.incomplete), "counts": counts, "scenarios": scenarios,
            "sandbox": _flatten(sandbox) if sandbox else [], "dashes": DASHES, "colours": {**COLOURS, **WIRE_COLOURS},
            "network": _network_text(grade), "script": DEEP_LINK_JS, "script_hash": SCRIPT_HASH}


_ENVIRONMENT: jinja2.Environment | None = None


def environment() -> jinja2.Environment:
    global _ENVIRONMENT
    if _ENVIRONMENT is None:
        _ENVIRONMENT = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                                          undefined=jinja2.StrictUndefined, trim_blocks=True,
                                          lstrip_blocks=True)
        _ENVIRONMENT.filters["px"] = lambda value: f"{float(value):.1f}"
    return _ENVIRONMENT


def render_html(grade: SubmissionGrade, *, trace_lines: str | None = DEFAULT_TRACE_LINES) -> str:
    """The whole report as one self-contained HTML page (inline CSS and SVG, no network).

    `trace_lines` is the regex of protocol-trace lines left out of the diagram (they stay in the
    transcripts). Never raises for odd data: if the full page cannot be built, a plain page with the
    scores and the reason is returned instead.
    """
    try:
        page = environment().get_template("report.html.j2").render(**_page(grade, trace_lines))
    except Exception as exc:
        page = _fallback(grade, exc)
    return page.encode("utf-8", "replace").decode("utf-8")


def _fallback(grade: SubmissionGrade, exc: Exception) -> str:
    rows = []
    for result in getattr(grade, "scenarios", None) or []:
        rows.append(f"<tr><td>{escape(visible(getattr(result, 'id', '?')))}</td>"
                    f"<td>{escape(visible(getattr(result, 'status', '?')))}</td>"
                    f"<td>{escape(_number(getattr(result, 'score', '')))} / "
                    f"{escape(_number(getattr(result, 'max_score', '')))}</td></tr>")
    detail = "".join(traceback.format_exception_only(type(exc), exc))
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Tweeter report</title>"
            "</head><body class=\"fallback\"><h1>Tweeter grading report: "
            f"{escape(visible(getattr(grade, 'submission', '?')))}</h1>"
            f"<p>The full report could not be drawn ({escape(visible(detail, 2000))}); the scores:</p>"
            f"<table>{''.join(rows)}</table></body></html>")
