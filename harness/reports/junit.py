"""JUnit XML for CI: one testcase per scenario (failed -> failure, error -> error, blocked ->
skipped), score and max_score as properties, transcripts in system-out. Always valid XML 1.0: every
character XML forbids (control characters, lone surrogates) and every ANSI sequence is removed."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from harness.judge.grading import SubmissionGrade

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)?|\\x1b\[[0-9;?]*[@-~]")
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
TRANSCRIPT_LINES = 400


def xml_text(text: str) -> str:
    return NOT_XML.sub("", ANSI.sub("", text))


def _transcript(result) -> str:
    if result.trace is None:
        return ""
    events = [e for e in result.trace.snapshot() if e.kind in ("in", "out", "exit", "note")]
    shown = events[-TRANSCRIPT_LINES:]
    lines = [f"{e.t - result.trace.t0:9.4f} [{e.proc}] {'>' if e.kind == 'in' else '<' if e.kind == 'out' else '*'} "
             f"{e.text}" for e in shown]
    if len(events) > len(shown):
        lines.insert(0, f"({len(events) - len(shown)} earlier lines omitted; full transcripts beside this file)")
    return "\n".join(lines)


def junit_xml(grades: list[SubmissionGrade]) -> bytes:
    suites = ET.Element("testsuites")
    for grade in grades:
        statuses = [s.status for s in grade.scenarios]
        suite = ET.SubElement(suites, "testsuite", name=xml_text(grade.submission), tests=str(len(statuses)),
                              failures=str(statuses.count("failed") + statuses.count("unverified")),
                              errors=str(statuses.count("error")),
                              skipped=str(statuses.count("blocked") + statuses.count("not graded")),
                              time=f"{sum(s.duration_s for s in grade.scenarios):.3f}")
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="score", value=f"{grade.score:g}")
        ET.SubElement(props, "property", name="max_score", value=f"{grade.max_score:g}")
        for result in grade.scenarios:
            case = ET.SubElement(suite, "testcase", classname=xml_text(grade.submission),
                                 name=xml_text(result.id), time=f"{result.duration_s:.3f}")
            case_props = ET.SubElement(case, "properties")
            ET.SubElement(case_props, "property", name="score", value=f"{result.score:g}")
            ET.SubElement(case_props, "property", name="max_score", value=f"{result.max_score:g}")
            message = xml_text(result.message)
            first = xml_text(result.summary) or result.status  # the cause in one line
            if result.status in ("failed", "unverified"):
                ET.SubElement(case, "failure", message=first, type=result.status).text = message
            elif result.status == "error":
                ET.SubElement(case, "error", message=first).text = message
            elif result.status in ("blocked", "not graded"):
                ET.SubElement(case, "skipped", message=first)
            ET.SubElement(case, "system-out").text = xml_text(_transcript(result))
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True)
