"""JUnit XML, Gradescope's results.json and grades.csv as CI systems and instructors read them,
from one class of real submissions graded in-process, with every scenario status among them:
passed (the reference), unverified (a follower that never forwards), failed and blocked (a program
that never answers), error (a tracker that dies at start; an empty folder, which is not a
submission) and not graded (grading stopped before a submission was reached). Every junit.xml written is validated against the xunit2 structure."""

from __future__ import annotations

import csv
import html
import json
import shutil
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from harness.batch import GradeOptions, grade_all
from harness.inputs.scenario import load_suite
from harness.inputs.submissions import discover
from harness.net.capture import loopback_capture_unavailable
from harness.net.mode import hosts_unavailable
from harness.judge.grading import SubmissionGrade
from harness.reports.files import safe_name, write_batch
from harness.reports.text import evidence_line
from tests.conftest import ROOT, SPECS, SUBMISSIONS

SCHEMA = xmlschema.XMLSchema(Path(__file__).parent / "data" / "junit-xunit2.xsd")
SUITE = ("tweet_ring_order", "register_new", "register_duplicate")  # suite order, not alphabetical
HIDDEN = "register_duplicate"
EXPECTED = {  # what each submission gets in each scenario (tests/test_examples.py holds the examples to it)
    "reference": {"tweet_ring_order": "passed", "register_new": "passed", "register_duplicate": "passed"},
    "follower_does_not_forward": {"tweet_ring_order": "unverified", "register_new": "passed",
                                  "register_duplicate": "passed"},
    "tracker_crashes_at_start": {"tweet_ring_order": "error", "register_new": "error", "register_duplicate": "error"},
    "silent": {"tweet_ring_order": "blocked", "register_new": "failed", "register_duplicate": "blocked"},
    "dave": {"tweet_ring_order": "error", "register_new": "error", "register_duplicate": "error"},
    "unreached": {"tweet_ring_order": "not graded", "register_new": "not graded", "register_duplicate": "not graded"},
}
JUNIT_OUTCOME = {"passed": None, "failed": "failure", "unverified": "failure", "error": "error",
                 "blocked": "skipped", "not graded": "skipped"}
CSV_STATUS = {"not graded": "not run"}


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> tuple[list[SubmissionGrade], dict, Path]:
    """The class graded with the three scenarios (one hidden), its reports written as `grade` does."""
    specs = tmp_path_factory.mktemp("specs")
    for name in SUITE:
        text = (SPECS / f"{name}.yaml").read_text()
        (specs / f"{name}.yaml").write_text(f"visibility: hidden\n{text}" if name == HIDDEN else text)
    suite = load_suite([specs / f"{name}.yaml" for name in SUITE])
    stopped_class = tmp_path_factory.mktemp("class")
    shutil.copytree(ROOT / "reference", stopped_class / "unreached", ignore=shutil.ignore_patterns("__pycache__"))
    (stopped_class / "dave").mkdir()  # an empty folder: not a submission
    examples = [ROOT / "reference", ROOT / "student_submissions" / "follower_does_not_forward",
                SUBMISSIONS / "tracker_crashes_at_start"]
    grades = grade_all(discover(examples), suite, GradeOptions(jobs=2))
    grades += grade_all(discover([SUBMISSIONS / "silent"]), suite, GradeOptions(jobs=2, step_timeout=1))
    stopped = threading.Event()
    stopped.set()  # grading was stopped before this submission was reached
    grades += grade_all(discover([stopped_class]), suite, GradeOptions(jobs=1), stop=stopped)
    out = tmp_path_factory.mktemp("out")
    write_batch(grades, out)
    return grades, suite, out


def statuses(grade: SubmissionGrade) -> dict[str, str]:
    return {s.id: s.status for s in grade.scenarios}


def test_the_class_covers_every_scenario_status(graded):
    grades, _, _ = graded
    assert {g.submission: statuses(g) for g in grades} == EXPECTED


# -- JUnit XML --------------------------------------------------------------------------------------
def test_every_junit_xml_written_is_valid_xunit2(graded):
    grades, _, out = graded
    files = [out / "junit.xml", *(out / safe_name(g.submission) / "junit.xml" for g in grades)]
    for file in files:
        SCHEMA.validate(str(file))  # raises, naming the element and the rule broken


def test_the_schema_rejects_properties_inside_a_testcase(graded):
    """The validation can fail: xunit1's per-testcase properties are not xunit2."""
    _, _, out = graded
    tree = ET.parse(out / "reference" / "junit.xml")
    case = tree.getroot().find("testsuite/testcase")
    ET.SubElement(ET.SubElement(case, "properties"), "property", name="score", value="7")
    assert not SCHEMA.is_valid(tree)
    del case[-1]
    assert SCHEMA.is_valid(tree)


def test_class_junit_has_one_testsuite_per_submission_with_the_right_outcomes(graded):
    grades, suite, out = graded
    root = ET.parse(out / "junit.xml").getroot()
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [g.submission for g in grades]
    assert root.get("tests") == str(len(grades) * len(SUITE))
    for testsuite, grade in zip(suites, grades):
        cases = testsuite.findall("testcase")
        assert [c.get("name") for c in cases] == list(suite)
        expected = EXPECTED[grade.submission]
        for case in cases:
            outcome = JUNIT_OUTCOME[expected[case.get("name")]]
            assert [child.tag for child in case if child.tag != "system-out"] == ([outcome] if outcome else [])
            assert case.get("classname") == grade.submission
        counts = list(expected.values())
        assert testsuite.get("failures") == str(counts.count("failed") + counts.count("unverified"))
        assert testsuite.get("errors") == str(counts.count("error"))
        assert testsuite.get("skipped") == str(counts.count("blocked") + counts.count("not graded"))


def test_junit_scores_are_suite_properties(graded):
    _, _, out = graded
    testsuite = ET.parse(out / "silent" / "junit.xml").getroot().find("testsuite")
    props = {p.get("name"): p.get("value") for p in testsuite.find("properties")}
    assert props["score"] == "0" and props["max_score"] == "15" and props["status"] == "graded"
    assert props["register_new.score"] == "0" and props["register_new.max_score"] == "4"
    reference = ET.parse(out / "reference" / "junit.xml").getroot().find("testsuite")
    props = {p.get("name"): p.get("value") for p in reference.find("properties")}
    assert props["tweet_ring_order.score"] == props["tweet_ring_order.max_score"] == "7"


def test_junit_messages_are_the_cause_and_transcripts_only_for_scenarios_that_lost_points(graded):
    _, _, out = graded
    cases = {(s.get("name"), c.get("name")): c for s in ET.parse(out / "junit.xml").getroot()
             for c in s.findall("testcase")}
    for (submission, scenario), case in cases.items():
        assert case.find("properties") is None
        if EXPECTED[submission][scenario] == "passed":
            assert case.find("system-out") is None, (submission, scenario)
    failed = cases[("silent", "register_new")].find("failure")
    assert failed.get("type") == "failed" and "got no answer, and nothing could happen any more" in failed.text
    blocked = cases[("silent", "register_duplicate")].find("skipped")
    assert blocked.get("message").startswith("Blocked: `register @alice` got no answer, and nothing could happen any more")
    transcript = cases[("silent", "register_new")].find("system-out").text
    assert "[alice] > register @alice" in transcript  # what was typed, as the harness saw it
    error = cases[("tracker_crashes_at_start", "register_new")]
    assert "the tracker exited at start-up" in error.find("error").get("message")
    assert "deliberately broken" in error.find("system-out").text  # its last words
    assert cases[("follower_does_not_forward", "tweet_ring_order")].find("failure").get("type") == "unverified"
    unreached = cases[("unreached", "register_new")]
    assert unreached.find("skipped").get("type") == "not graded" and unreached.find("system-out") is None


# -- Gradescope -------------------------------------------------------------------------------------
def results(out: Path, name: str) -> dict:
    return json.loads((out / name / "results.json").read_text())


def output_lines(out: Path, name: str) -> list[str]:
    """The top-level output's lines but the last, which must say which evidence the verdicts rest on."""
    lines = results(out, name)["output"].splitlines()
    report = json.loads((out / name / "report.json").read_text())
    assert lines[-1] == evidence_line(report["network"]) and lines[-1].startswith("Evidence: ")
    return lines[:-1]


def test_gradescope_tests_are_numbered_in_suite_order(graded):
    grades, suite, out = graded
    for grade in grades:
        tests = results(out, grade.submission)["tests"]
        assert [(t["number"], t["extra_data"]["id"]) for t in tests] == \
            [(str(n), sid) for n, sid in enumerate(suite, start=1)]
        assert {t["extra_data"]["id"]: t["visibility"] for t in tests}[HIDDEN] == "hidden"


def test_gradescope_output_lists_the_points_lost_on_visible_tests_only(graded):
    grades, _, out = graded
    silent = next(g for g in grades if g.submission == "silent")
    output = output_lines(out, "silent")
    register = next(s for s in silent.scenarios if s.id == "register_new")
    ring = next(s for s in silent.scenarios if s.id == "tweet_ring_order")
    assert output == [
        "Score on the visible tests: 0/11 (the other tests, and the total, are shown when grades are published)",
        f"Lost 7 points: {ring.name} ({ring.summary})",
        f"Lost 4 points: {register.name} ({register.summary})",
    ]  # register_duplicate (hidden) lost 4 too, and is not named
    assert ring.summary.startswith("Blocked:") and register.summary
    forwarder = next(g for g in grades if g.submission == "follower_does_not_forward").scenarios[0]
    assert output_lines(out, "follower_does_not_forward") == [
        "Score on the visible tests: 4/11 (the other tests, and the total, are shown when grades are published)",
        f"Lost 7 points: {forwarder.name} ({forwarder.summary})"]
    assert output_lines(out, "reference") == \
        ["Score on the visible tests: 11/11 (the other tests, and the total, are shown when grades are published)"]
    crashed = output_lines(out, "tracker_crashes_at_start")
    assert [line.split(":")[0] for line in crashed[1:]] == ["Lost 7 points", "Lost 4 points"]
    assert all("the tracker exited at start-up" in line for line in crashed[1:])
    empty = output_lines(out, "dave")  # nothing could run: the reason, once
    assert empty[1] == "Not a submission: an empty folder" and not any(line.startswith("Lost") for line in empty)
    unreached = output_lines(out, "unreached")
    assert unreached[1:] == [f"Lost {n} points: {s.name} (Not graded: grading was stopped before this scenario ran.)"
                             for n, s in ((7, ring), (4, register))] + \
        ["Grading was interrupted: some scenarios were not run."]


# -- grades.csv -------------------------------------------------------------------------------------
def test_grades_csv_has_a_max_points_row_and_a_status_per_scenario(graded):
    grades, suite, out = graded
    with (out / "grades.csv").open() as file:
        rows = list(csv.DictReader(file))
    ids = list(suite)
    header = list(rows[0])
    assert header == ["submission", "score", "max_score", "status", *ids, *(f"{i}:status" for i in ids)]
    maximum = rows[0]
    assert maximum["submission"] == "max points"
    assert [maximum[i] for i in ids] == ["7", "4", "4"] and maximum["score"] == maximum["max_score"] == "15"
    by_name = {row["submission"]: row for row in rows[1:]}
    assert list(by_name) == [g.submission for g in grades]
    assert by_name["dave"]["status"] == "not a submission" and by_name["dave"]["score"] == "0"
    for name, expected in EXPECTED.items():
        row = by_name[name]
        assert {i: row[f"{i}:status"] for i in ids} == {i: CSV_STATUS.get(s, s) for i, s in expected.items()}
        scores = [row[i] for i in ids]
        if row["status"] == "not graded":
            assert scores == ["", "", ""] and row["score"] == ""  # not run is no score, not 0
        else:
            assert sum(float(s) for s in scores) == float(row["score"])  # the columns sum to the total
    assert [by_name["follower_does_not_forward"][i] for i in ids] == ["0", "4", "4"]


# -- which evidence the verdicts rest on -------------------------------------------------------------
@pytest.mark.parametrize("network, evidence", [("loopback", "console only"), ("loopback", "wire (loopback capture)"),
                                               ("hosts", "wire (LAN)")])
def test_every_report_format_says_which_evidence_the_verdicts_rest_on(grade, grade_console_only, network, evidence):
    """Each level of evidence, as it happens: a LAN; loopback captured (root); loopback where no
    packet socket may be opened (the harness run without CAP_NET_RAW, as in a locked-down container)."""
    if network == "hosts" and hosts_unavailable() is not None:
        pytest.skip(f"hosts mode unavailable here: {hosts_unavailable()}")
    if evidence == "wire (loopback capture)" and loopback_capture_unavailable() is not None:
        pytest.skip(f"no loopback capture here: {loopback_capture_unavailable()}")
    if evidence == "console only" and loopback_capture_unavailable() is None:
        graded = grade_console_only(ROOT / "reference", specs=["register_new"])
    else:
        graded = grade(ROOT / "reference", specs=["register_new"], extra=("--network", network))
    report = json.loads((graded.out / "reference" / "report.json").read_text())
    line = evidence_line(report["network"])
    assert report["network"]["evidence"] == evidence and line.startswith(f"Evidence: {evidence}: "), graded.output
    assert line in graded.output  # the terminal
    assert line in (graded.out / "summary.md").read_text()
    assert results(graded.out, "reference")["output"].splitlines()[-1] == line  # Gradescope
    assert html.escape(line, quote=False) in (graded.out / "reference" / "report.html").read_text()
    assert html.escape(line, quote=False) in (graded.out / "index.html").read_text()
