"""JUnit XML for CI test-report views, in the xunit2 form they validate against (the form pytest's
`junit_family=xunit2` writes): one testsuite per submission, one testcase per scenario in the
suite's order. Failed or unverified -> failure, error -> error, blocked, not applicable or not graded -> skipped;
the message is the cause in one line, the element's text the whole explanation.

xunit2 allows properties only on a testsuite, so the scores live there (`score`, `max_score`, and
`<scenario>.score` / `<scenario>.max_score` for each scenario). A passed testcase carries no
transcript: CI views show system-out beside every case, and only the ones that lost points need
it. A repeated scenario's testcase has the verdict its scoring rule chose (a flaky one can pass);
the suite's properties add `<scenario>.pass_rate`, `<scenario>.flaky` and `<scenario>.seeds`, and a
flaky testcase's system-out opens with each run's seed and verdict, passed or not. Always valid XML 1.0: every character XML forbids (control characters, lone surrogates) and
every ANSI sequence is removed.
"""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET
from datetime import datetime

from harness.judge.grading import ScenarioResult, SubmissionGrade
from harness.reports.text import event_mark

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)?|\\x1b\[[0-9;?]*[@-~]")
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
TRANSCRIPT_LINES = 400
FAILURE = ("failed", "unverified")
SKIPPED = ("blocked", "not applicable", "not graded")


def xml_text(text: str) -> str:
    return NOT_XML.sub("", ANSI.sub("", text))


def _transcript(result: ScenarioResult) -> str:
    """The last lines of every process, interleaved as the harness saw them (`>` typed, `<` printed)."""
    if result.trace is None:
        return ""
    events = [e for e in result.trace.snapshot() if e.kind in ("in", "out", "exit", "note")]
    shown = events[-TRANSCRIPT_LINES:]
    lines = [f"{e.t - result.trace.t0:9.4f} [{e.proc}] {event_mark(e.kind)} "
             f"{e.text}" for e in shown]
    if len(events) > len(shown):
        lines.insert(0, f"({len(events) - len(shown)} earlier lines omitted; full transcripts beside this file)")
    return "\n".join(lines)


def _counts(results: list[ScenarioResult]) -> dict[str, str]:
    """The testsuite's (or testsuites') count attributes."""
    statuses = [r.status for r in results]
    return {"tests": str(len(statuses)), "failures": str(sum(statuses.count(s) for s in FAILURE)),
            "errors": str(statuses.count("error")), "skipped": str(sum(statuses.count(s) for s in SKIPPED)),
            "time": f"{sum(r.duration_s for r in results):.3f}"}


def _properties(suite: ET.Element, grade: SubmissionGrade) -> None:
    """The submission's score and every scenario's, as suite-level properties (xunit2 has no others)."""
    props = ET.SubElement(suite, "properties")
    values = [("score", f"{grade.score:g}"), ("max_score", f"{grade.max_score:g}"), ("status", grade.status)]
    for result in grade.scenarios:
        values += [(f"{result.id}.score", f"{result.score:g}"), (f"{result.id}.max_score", f"{result.max_score:g}")]
        if result.runs:
            values += [(f"{result.id}.pass_rate", result.pass_rate), (f"{result.id}.flaky", str(result.flaky).lower()),
                       (f"{result.id}.seeds", " ".join(str(run.seed) for run in result.runs))]
    for name, value in values:
        ET.SubElement(props, "property", name=xml_text(name), value=xml_text(value))


def _testcase(suite: ET.Element, grade: SubmissionGrade, result: ScenarioResult) -> None:
    case = ET.SubElement(suite, "testcase", name=xml_text(result.id), classname=xml_text(grade.submission),
                         time=f"{result.duration_s:.3f}")
    cause = xml_text(result.summary) or result.status  # the cause in one line
    if result.status in FAILURE:
        ET.SubElement(case, "failure", message=cause, type=result.status).text = xml_text(result.message)
    elif result.status == "error":
        ET.SubElement(case, "error", message=cause, type="error").text = xml_text(result.message)
    elif result.status in SKIPPED:
        ET.SubElement(case, "skipped", message=cause, type=result.status).text = xml_text(result.message)
    transcript = _transcript(result) if result.status != "passed" else ""
    out = "\n\n".join(part for part in (_runs(result), transcript) if part)
    if out:
        ET.SubElement(case, "system-out").text = xml_text(out)


def _runs(result: ScenarioResult) -> str:
    """A flaky scenario's runs, one line each: the seed to replay it with and its verdict."""
    if not result.flaky:
        return ""
    lines = [f"flaky: {result.pass_rate} runs passed, scored by {result.scoring} ({result.status})"]
    lines += [f"run {k}: seed {run.seed}: {run.status} {run.score:g}/{run.max_score:g}"
              + (f": {run.summary}" if run.summary else "") for k, run in enumerate(result.runs, start=1)]
    return "\n".join(lines)


def junit_xml(grades: list[SubmissionGrade], timestamp: datetime | None = None) -> bytes:
    """One testsuite per submission (a class-level file holds them all); `timestamp` is when the
    results were written, by default now."""
    stamp = (timestamp or datetime.now().astimezone()).isoformat(timespec="seconds")
    host = socket.gethostname()
    suites = ET.Element("testsuites", name="tweeter-harness",
                        **_counts([r for grade in grades for r in grade.scenarios]))
    for grade in grades:
        suite = ET.SubElement(suites, "testsuite", name=xml_text(grade.submission), **_counts(grade.scenarios),
                              timestamp=stamp, hostname=xml_text(host))
        _properties(suite, grade)
        for result in grade.scenarios:
            _testcase(suite, grade, result)
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True)
