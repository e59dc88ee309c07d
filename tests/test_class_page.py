"""The class page (index.html): a purpose-built class graded once, then the page's numbers checked
against grades.csv, its grouped causes, its escaping, its policy, and in Chromium its sorting, its
links and that nothing on it is refused; the terminal's class table on an 80-column terminal."""

from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import io
import re
import shutil
import statistics
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.cli import main
from harness.judge.grading import ScenarioResult, SubmissionGrade, aggregate
from harness.reports import terminal
from harness.reports.class_page import render_class_page
from harness.reports.text import safe_name
from tests.conftest import ROOT, SPECS
from tests.harness.test_html_report import browser, needs_browser  # noqa: F401 (browser: a fixture)

SCENARIOS = ("register_duplicate", "follow_twice", "tweet_one_follower")
HIDDEN = "tweet_one_follower"
HOSTILE_NAME = "<script>alert(2)"  # a folder that is not a submission
HOSTILE_BUILD = 'echo "<script>alert(1)</script>"; exit 3'
SHARED_BUG = ("crash_a", "crash_b")  # one example, twice: the tracker crashes on a duplicate follow
IGNORE = shutil.ignore_patterns("__pycache__")
VOID = {"meta", "br", "img", "input", "link"}


# -- a small DOM of the page -------------------------------------------------------------------------
@dataclass
class Element:
    """One element of the page: its tag, attributes, children and every text inside it."""

    tag: str
    attrs: dict[str, str]
    children: list["Element"] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.texts)

    def find(self, tag: str, **attrs: str) -> list["Element"]:
        """Every descendant `tag` with these attributes (data_x for data-x; a value of None: present)."""
        wanted = {key.replace("_", "-"): value for key, value in attrs.items()}
        found = []
        for child in self.children:
            if child.tag == tag and all(k in child.attrs and v in (None, child.attrs[k]) for k, v in wanted.items()):
                found.append(child)
            found += child.find(tag, **attrs)
        return found


class Dom(HTMLParser):
    """The page as a tree of elements, each with every text inside it."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("document", {})
        self.stack = [self.root]
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list) -> None:
        element = Element(tag, {key: value or "" for key, value in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        while len(self.stack) > 1 and self.stack.pop().tag != tag:
            pass

    def handle_data(self, data: str) -> None:
        for element in self.stack:
            element.texts.append(data)


# -- the class, graded once --------------------------------------------------------------------------
@dataclass
class GradedClass:
    status: int
    output: str
    out: Path

    @property
    def page(self) -> Path:
        return self.out / "index.html"

    def dom(self) -> Element:
        return Dom(self.page.read_text(encoding="utf-8")).root

    def rows(self) -> list[dict[str, str]]:
        """grades.csv's rows, the max points row left out."""
        with (self.out / "grades.csv").open(newline="", encoding="utf-8") as file:
            return [row for row in csv.DictReader(file) if row["submission"] != "max points"]


def run_cli(*args: str) -> tuple[int, str]:
    """The command line in this process, its output (not a terminal) captured."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        status = main(list(args))
    return status, output.getvalue()


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> GradedClass:
    """A correct submission, two that share one bug, one whose build fails (its command hostile), and
    a folder that is not a submission (its name hostile), graded on loopback with three scenarios,
    one of them hidden."""
    base = tmp_path_factory.mktemp("class_page")
    specs = base / "specs"
    specs.mkdir()
    for spec in SPECS.glob("*.yaml"):
        shutil.copy(spec, specs)
    hidden = specs / f"{HIDDEN}.yaml"
    hidden.write_text(hidden.read_text() + "visibility: hidden\n")
    folder = base / "class"
    shutil.copytree(ROOT / "reference", folder / "correct", ignore=IGNORE)
    for name in SHARED_BUG:
        shutil.copytree(ROOT / "student_submissions" / "tracker_crashes_on_duplicate_follow", folder / name,
                        ignore=IGNORE)
    shutil.copytree(ROOT / "reference", folder / "broken_build", ignore=IGNORE)
    (folder / "broken_build" / "tweeter.yaml").write_text(f"build: '{HOSTILE_BUILD}'\n")
    (folder / HOSTILE_NAME).mkdir()
    out = base / "out"
    chosen = [arg for scenario in SCENARIOS for arg in ("-k", scenario)]
    status, output = run_cli("grade", str(folder), "--specs", str(specs), *chosen, "--network", "loopback",
                             "--jobs", "2", "--out", str(out))
    return GradedClass(status, output, out)


def test_grade_writes_the_page_and_names_it_last(graded):
    assert graded.status == 2  # a build failed, and one entry is not a submission
    assert graded.page.is_file()
    assert graded.output.strip().splitlines()[-1] == f"Class page: {graded.page}"


def test_the_class_numbers_are_those_of_grades_csv(graded):
    rows = graded.rows()
    page = graded.dom()
    scores = sorted(float(row["score"]) for row in rows if row["status"] == "graded")
    quartiles = statistics.quantiles(scores, n=4, method="inclusive")
    shown = {dd.attrs["data-stat"]: float(dd.text.split("/")[0]) for dd in page.find("dd", data_stat=None)}
    assert shown == {"count": len(scores), "min": scores[0], "lower quartile": quartiles[0],
                     "median": statistics.median(scores), "upper quartile": quartiles[2], "max": scores[-1],
                     "mean": pytest.approx(statistics.fmean(scores), rel=1e-3)}
    assert len(scores) == 3
    statuses = {chip.attrs["data-status"]: int(chip.find("b")[0].text) for chip in page.find("span", data_status=None)}
    assert {status: n for status, n in statuses.items() if n} == Counter(row["status"] for row in rows)
    assert statuses["build failed"] == statuses["not a submission"] == 1
    maximum = float(rows[0]["max_score"])
    bars = {bar.attrs["data-range"]: int(bar.attrs["data-count"]) for bar in page.find("g", data_range=None)}
    assert len(bars) == 10 and sum(bars.values()) == len(scores)
    assert bars["90–100 %"] == scores.count(maximum) == 1
    assert bars["70–79 %"] == 2  # the two crashes: 9/12


def test_the_scenario_rows_count_what_grades_csv_says_hardest_first(graded):
    ran = [row for row in graded.rows() if row["status"] in ("graded", "interrupted")]
    bodies = graded.dom().find("tbody", data_scenario=None)
    assert sorted(body.attrs["data-scenario"] for body in bodies) == sorted(SCENARIOS)
    for body in bodies:
        scenario = body.attrs["data-scenario"]
        counts = {td.attrs["data-verdict"]: int(td.text) for td in body.find("td", data_verdict=None)}
        expected = Counter(row[f"{scenario}:status"] for row in ran)
        assert {verdict: n for verdict, n in counts.items() if n} == expected, scenario
    assert bodies[0].attrs["data-scenario"] == "follow_twice"  # the only one anybody failed
    rates = [body.find("td", **{"class": "rate"})[0].text.split("(")[0].strip() for body in bodies]
    assert rates == ["1/3", "3/3", "3/3"]


def test_two_submissions_with_one_bug_are_one_cause_of_two(graded):
    [body] = graded.dom().find("tbody", data_scenario="follow_twice")
    [cause] = body.find("li", data_count=None)
    assert cause.attrs["data-count"] == "2" and "(2 submissions)" in cause.text
    assert "the tracker's program exited" in cause.text
    assert [a.text for a in cause.find("a")] == list(SHARED_BUG)
    assert [a.attrs["href"] for a in cause.find("a")] == [f"{name}/report.html#follow_twice" for name in SHARED_BUG]


def test_a_hidden_scenario_is_shown_and_marked_as_the_other_class_reports_show_it(graded):
    assert f"{HIDDEN}:status" in graded.rows()[0]  # grades.csv lists it
    [body] = graded.dom().find("tbody", data_scenario=HIDDEN)
    assert [badge.text for badge in body.find("span", **{"class": "badge visibility"})] == ["hidden"]


def test_submissions_that_could_not_be_graded_say_why_and_hostile_text_stays_text(graded):
    html = graded.page.read_text(encoding="utf-8")
    page = Dom(html).root
    assert len(page.find("script")) == 1  # the page's own; none from a name or a cause
    assert "<script>alert" not in html and "&lt;script&gt;alert(2)" in html
    [table] = page.find("table", **{"class": "sortable submissions"})
    rows = {row.find("td")[0].text: row.find("td") for row in table.find("tr")[1:]}
    assert set(rows) == {"correct", *SHARED_BUG, "broken_build", HOSTILE_NAME}
    assert rows[HOSTILE_NAME][4].text == "Not a submission: an empty folder"
    assert rows["broken_build"][4].text == f"the build failed: `{HOSTILE_BUILD}` exited with status 3"
    assert rows["broken_build"][4].attrs["class"] == "why"
    for row in graded.rows():
        cells = rows[row["submission"]]
        assert cells[2].text == row["status"]
        score = "" if row["status"] == "not a submission" else f"{row['score']}/{row['max_score']}"
        assert cells[1].text == score


def test_the_policy_is_report_htmls_and_allows_only_the_pages_own_script(graded):
    page = graded.dom()
    [policy] = page.find("meta", http_equiv="Content-Security-Policy")
    [report_policy] = Dom((graded.out / "correct" / "report.html").read_text()).root.find(
        "meta", http_equiv="Content-Security-Policy")
    without_hash = re.compile(r"'sha256-[^']+'")
    assert without_hash.sub("HASH", policy.attrs["content"]) == without_hash.sub("HASH", report_policy.attrs["content"])
    [script] = page.find("script")
    digest = base64.b64encode(hashlib.sha256(script.text.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy.attrs["content"]
    html = graded.page.read_text(encoding="utf-8")
    assert not re.search(r"\ssrc=|url\(|@import", html)  # nothing loaded from anywhere


def test_every_link_is_a_report_that_exists(graded):
    links = [a.attrs["href"] for a in graded.dom().find("a")]
    assert len(links) >= 7  # five submissions, two under the shared cause
    for link in links:
        target = graded.out / link.split("#")[0]
        assert target.is_file() and target.name == "report.html", link
    assert f"{safe_name(HOSTILE_NAME)}/report.html" in links


def test_rejudge_rewrites_the_same_page(graded):
    before = graded.page.read_text(encoding="utf-8")
    graded.page.unlink()
    status, output = run_cli("rejudge", str(graded.out))
    assert status == 2 and output.strip().splitlines()[-1] == f"Class page: {graded.page}"
    assert graded.page.read_text(encoding="utf-8") == before


# -- in a real browser --------------------------------------------------------------------------------
@pytest.fixture
def open_page(browser):
    """Open a file in Chromium, with every console error, page error and failed request collected."""
    opened = []

    def load(path: Path, problems: list[str]):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        opened.append(page)
        return page

    yield load
    for page in opened:
        page.close()


def submission_order(page) -> list[str]:
    return page.eval_on_selector_all("table.submissions tbody tr", "rows => rows.map(r => r.cells[0].textContent)")


def percent(row: dict[str, str]) -> float:
    """A grades.csv row's score as a share of its points; -1 where the page shows no score."""
    return -1.0 if row["status"] == "not a submission" else float(row["score"]) / float(row["max_score"])


@needs_browser
def test_in_chromium_nothing_is_refused_and_sorting_works(graded, open_page):
    problems: list[str] = []
    page = open_page(graded.page, problems)
    by_name = sorted(graded.rows(), key=lambda row: row["submission"])
    ascending = sorted(by_name, key=percent)
    descending = sorted(ascending, key=percent, reverse=True)  # equals keep their order, as in the page
    assert submission_order(page) == [row["submission"] for row in by_name]  # name order at first
    score = page.locator("table.submissions th", has_text="score")
    score.locator("button").click()
    assert submission_order(page) == [row["submission"] for row in ascending]
    assert score.get_attribute("aria-sort") == "ascending"
    score.locator("button").click()
    assert submission_order(page) == [row["submission"] for row in descending]
    assert submission_order(page)[0] == "correct" and submission_order(page)[-1] == HOSTILE_NAME
    assert score.get_attribute("aria-sort") == "descending"
    status = page.locator("table.submissions th", has_text="status")
    status.locator("button").click()
    assert submission_order(page) == [row["submission"] for row in sorted(descending, key=lambda r: r["status"])]
    assert status.get_attribute("aria-sort") == "ascending" and score.get_attribute("aria-sort") is None
    assert problems == []


@needs_browser
def test_in_chromium_a_cause_opens_its_report_at_the_scenario(graded, open_page):
    problems: list[str] = []
    page = open_page(graded.page, problems)
    page.locator("tbody[data-scenario=follow_twice] li a", has_text="crash_b").click()
    page.wait_for_load_state("load")
    assert page.url.endswith("crash_b/report.html#follow_twice")
    assert page.title().startswith("Tweeter report: crash_b")
    assert page.evaluate("document.getElementById('follow_twice').querySelector('details.scenario-body').open")
    assert problems == []


# -- pages drawn from grades made here ---------------------------------------------------------------
def result(scenario_id: str, status: str, cause: str = "", points: float = 4.0) -> ScenarioResult:
    earned = points if status in ("passed", "not applicable") else 0.0
    return ScenarioResult(scenario_id, scenario_id.replace("_", " "), f"{scenario_id}.yaml", earned, points, status,
                          0.1, cause, [])


def test_thirty_submissions_with_one_cause_are_one_line_whatever_the_times_in_it():
    grades = [SubmissionGrade(f"student{n:02d}", "", [result("follow_twice", "failed",
              f"the tracker's program exited with status 1 at 0.{n:02d} s, after `follow @bob @alice`")])
              for n in range(30)]
    grades.append(SubmissionGrade("other", "", [result("follow_twice", "failed", "`follow @bob @alice` answered SUCCESS")]))
    [body] = Dom(render_class_page(grades)).root.find("tbody", data_scenario="follow_twice")
    lines = body.find("li", data_count=None)
    assert [line.attrs["data-count"] for line in lines] == ["30", "1"]
    assert "(30 submissions)" in lines[0].text and "and 18 more" in lines[0].text
    assert len(lines[0].find("a")) == 12


def test_a_flaky_scenario_is_marked_with_each_pass_rate():
    runs = [result("tweet_ring_order", status) for status in ("passed", "failed", "passed")]
    for seed, run in enumerate(runs, start=1):
        run.seed = seed
    flaky = aggregate(runs, "majority")
    steady = aggregate([result("tweet_ring_order", "passed") for _ in range(3)], "majority")
    repeat = {"runs": 3, "scoring": "majority", "seed_base": 1}
    page = render_class_page([SubmissionGrade("alice", "", [flaky], repeat=repeat),
                              SubmissionGrade("bob", "", [steady], repeat=repeat)])
    [body] = Dom(page).root.find("tbody", data_scenario="tweet_ring_order")
    assert "flaky" in [badge.text for badge in body.find("span", **{"class": "badge flaky"})]
    assert "alice 2/3 runs passed" in re.sub(r"\s+", " ", body.text) and "bob" not in body.text
    assert body.find("td", data_runs=None)[0].text == "5/6"  # runs passed across the class
    assert "Every scenario ran 3 time(s)" in page


# -- the terminal ------------------------------------------------------------------------------------
class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_an_80_column_terminal_each_row_fits_and_long_lists_are_counted(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    lost = [result(f"scenario_number_{n}", "failed") for n in range(12)]
    grades = [SubmissionGrade("a_rather_long_folder_name_from_an_lms_export", "", lost),
              SubmissionGrade("short", "", lost[:1]),
              SubmissionGrade("empty", "", [], error="the submission's tweeter.yaml is invalid: a reason long enough "
                              "to wrap in its column", status="error")]
    screen = FakeTerminal()
    terminal.print_summary(grades, screen)
    table = [line for line in re.sub(r"\x1b\[[0-9;]*m", "", screen.getvalue()).splitlines() if line[:1] in "┏┃┡│└"]
    assert table and max(len(line) for line in table) <= 80, "\n".join(table)
    rows = [line for line in table if line.startswith("│ ") and line[2] != " "]
    assert [row.split("│")[1].strip()[:5] for row in rows] == ["a_rat", "short", "empty"]
    listed = re.search(r"((?:scenario_number_\d+ \(-4\), )+)… and (\d+) more", rows[0])
    assert listed and listed.group(1).count("scenario_number") + int(listed.group(2)) == 12
    assert "scenario_number_0 (-4)" in rows[1] and "more" not in rows[1]
    assert "to wrap" in "".join(table)  # why it is not graded is wrapped, not cut


def test_the_readme_shows_the_class_page_of_the_example_class():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "](docs/images/class-page.png)" in readme
    png = (ROOT / "docs" / "images" / "class-page.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(png[16:20], "big") == 1280  # its width
