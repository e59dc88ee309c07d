"""The class page (index.html): a whole class at a glance, for the instructor who just graded it.

grades.csv and summary.md hold every number, but an instructor reads them line by line. This page
answers the questions a class raises at once: how did the class do (count, median, spread and a
histogram of the scores; how many could not be graded, and on which network and evidence the others
were), which scenarios did it struggle with (a row per scenario, hardest first, with the causes that
failed it grouped: thirty submissions with one cause are one line of thirty), and where is each
submission's report (a sortable table, a link per row). A scenario whose runs disagreed under
`--repeat` is marked flaky with each submission's pass rate.

Visibility follows the other class reports (grades.csv, summary.md, junit.xml): they are the
instructor's, so every scenario is shown, and one that students cannot see yet is marked with its
visibility, as report.html marks it; only Gradescope's output hides scenarios from students.

Everything a submission printed or named is hostile: every string is made visible and bounded
(text.visible) and the template autoescapes. The page is self-contained, under the same content-
security policy as report.html: inline styles and SVG, and one small script (sorting the table),
allowed by its hash alone.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass

# the judge's own rule for "the same cause" (link_failures): a cause without its handles, numbers and texts
from harness.judge.grading import ScenarioResult, SubmissionGrade, cause_shape
from harness.reports.class_reports import repeat_note
from harness.reports.html import ANCHOR_RE, TEMPLATES, environment, script_hash
from harness.reports.terminal import lost_points, score_text
from harness.reports.text import MAX_TEXT, evidence_line, network_label, number, safe_name, visible

CLASS_PAGE = "index.html"
SORT_JS = (TEMPLATES / "sort_table.js").read_text(encoding="utf-8")
SORT_JS_HASH = script_hash(SORT_JS)
VERDICTS = ("passed", "failed", "unverified", "not applicable", "error", "blocked")  # a scenario's, in each row
LOST = ("failed", "unverified", "error", "blocked")  # the verdicts whose causes are listed
SUBMISSION_STATUSES = ("graded", "interrupted", "not graded", "not a submission", "build failed", "error")
RAN = ("graded", "interrupted")  # submissions whose scenarios ran: only they count in the scenario rows
BINS = 10  # histogram bars, each a tenth of the points
CHART_WIDTH, CHART_HEIGHT, CHART_TOP, CHART_FOOT = 560, 150, 18, 20  # the histogram's size (SVG units)
MAX_NAMED = 12  # submissions named under one cause; the rest are counted
MAX_CAUSE = 500  # characters of a one-line cause


@dataclass(frozen=True)
class Bar:
    """One bar of the histogram: its range of scores (in percent), how many fell in it, where it is drawn."""

    label: str
    count: int
    x: float
    y: float
    width: float
    height: float


def render_class_page(grades: list[SubmissionGrade]) -> str:
    """The class page as one self-contained HTML document, the submissions in name order (so that
    grading and rejudging, which read them in different orders, write the same page)."""
    in_order = sorted(grades, key=lambda grade: grade.submission)
    return environment().get_template("class_page.html.j2").render(**_page(in_order))


def report_link(submission: str, scenario_id: str = "") -> str:
    """A submission's report.html (relative to index.html), at one scenario when its id can name it."""
    fragment = f"#{scenario_id}" if ANCHOR_RE.fullmatch(scenario_id) else ""
    return f"{safe_name(submission)}/report.html{fragment}"


def _page(grades: list[SubmissionGrade]) -> dict:
    return {"total": len(grades), "scores": _scores(grades), "statuses": _statuses(grades),
            "graded_with": _graded_with(grades), "scenarios": _scenarios(grades),
            "submissions": [_submission(grade) for grade in grades], "repeat": visible(repeat_note(grades)),
            "incomplete": any(grade.incomplete for grade in grades), "script": SORT_JS, "script_hash": SORT_JS_HASH}


# -- the class -------------------------------------------------------------------------------------
def _scores(grades: list[SubmissionGrade]) -> dict:
    """Count, mean, median, quartiles and extremes of the graded submissions' scores, and the
    histogram (by share of the points, so any choice of scenarios draws the same way)."""
    graded = [grade for grade in grades if grade.status == "graded"]
    scores = sorted(grade.score for grade in graded)
    if not scores:
        return {"count": 0}
    quartiles = statistics.quantiles(scores, n=4, method="inclusive") if len(scores) > 1 else scores * 3
    maxima = {grade.max_score for grade in graded}
    median = number(statistics.median(scores))
    return {"count": len(scores), "out_of": number(maxima.pop()) if len(maxima) == 1 else "", "median": median,
            "stats": [("min", number(scores[0])), ("lower quartile", number(quartiles[0])),
                      ("median", median), ("upper quartile", number(quartiles[2])),
                      ("max", number(scores[-1])), ("mean", number(round(statistics.fmean(scores), 2)))],
            "bars": _histogram([_percent(grade) for grade in graded]),
            "chart": {"width": CHART_WIDTH, "height": CHART_HEIGHT, "base": CHART_HEIGHT - CHART_FOOT}}


def _percent(grade: SubmissionGrade) -> float:
    return 100 * grade.score / grade.max_score if grade.max_score else 100.0


def _histogram(percents: list[float]) -> list[Bar]:
    """Ten bars, 0–9 % … 90–100 % (full marks in the last)."""
    counts = Counter(min(int(percent // (100 / BINS)), BINS - 1) for percent in percents)
    tallest = max(counts.values())
    slot = CHART_WIDTH / BINS
    room = CHART_HEIGHT - CHART_TOP - CHART_FOOT
    bars = []
    for index in range(BINS):
        height = room * counts[index] / tallest
        high = 100 if index == BINS - 1 else (index + 1) * 100 // BINS - 1
        bars.append(Bar(f"{index * 100 // BINS}–{high} %", counts[index], index * slot + 4,
                        CHART_HEIGHT - CHART_FOOT - height, slot - 8, height))
    return bars


def _statuses(grades: list[SubmissionGrade]) -> list[tuple[str, int]]:
    """How many submissions ended in each way: graded, not graded, build failed, ..."""
    counts = Counter(grade.status for grade in grades)
    others = sorted(set(counts) - set(SUBMISSION_STATUSES))
    return [(status, counts[status]) for status in (*SUBMISSION_STATUSES, *others)]


def _graded_with(grades: list[SubmissionGrade]) -> list[dict]:
    """Each network (and why it was chosen) and evidence the class was graded with, and for how many:
    from the network each report records (its evidence, or what its mode gives where none is recorded)."""
    counts = Counter((network_label(grade.network) or "not recorded", visible((grade.network or {}).get("reason", "")),
                      evidence_line(grade.network)) for grade in grades)
    return [{"network": network, "reason": reason, "evidence": evidence, "count": count}
            for (network, reason, evidence), count in counts.items()]


# -- the scenarios ---------------------------------------------------------------------------------
def _scenarios(grades: list[SubmissionGrade]) -> list[dict]:
    """A row per scenario, in suite order, then sorted hardest first (the lowest pass rate)."""
    first: dict[str, ScenarioResult] = {}  # what the scenario is (the same in every grade)
    counted: dict[str, list[tuple[SubmissionGrade, ScenarioResult]]] = {}
    for grade in grades:
        for result in grade.scenarios:
            first.setdefault(result.id, result)
            if grade.status in RAN and result.status != "not graded":
                counted.setdefault(result.id, []).append((grade, result))
    rows = [_scenario_row(counted.get(scenario_id, []), result) for scenario_id, result in first.items()]
    return sorted(rows, key=lambda row: (row["rate"] is None, row["rate"] or 0.0))


def _scenario_row(pairs: list[tuple[SubmissionGrade, ScenarioResult]], first: ScenarioResult) -> dict:
    counts = Counter(result.status for _, result in pairs)
    applies = len(pairs) - counts["not applicable"]
    rate = counts["passed"] / applies if applies else None
    runs = [run for _, result in pairs for run in result.completed_runs]
    return {"id": visible(first.id, 120), "name": visible(first.name), "points": number(first.max_score),
            "visibility": visible(first.visibility, 40),
            "counts": [(verdict, counts[verdict]) for verdict in VERDICTS], "rate": rate,
            "rate_text": f"{counts['passed']}/{applies} ({rate:.0%})" if rate is not None else "—",
            "bar": [(verdict, 100 * counts[verdict] / len(pairs)) for verdict in VERDICTS if counts[verdict]],
            "runs": f"{sum(run.status == 'passed' for run in runs)}/{len(runs)}" if runs else "",
            "flaky": [{"name": visible(grade.submission), "href": report_link(grade.submission, result.id),
                       "pass_rate": visible(result.pass_rate, 20)} for grade, result in pairs if result.flaky],
            "causes": _causes(pairs)}


def _causes(pairs: list[tuple[SubmissionGrade, ScenarioResult]]) -> list[dict]:
    """The causes that cost a scenario its points, one line per cause and verdict, most shared first.
    A cause is its shape: the same words whatever the handles, times, numbers or quoted texts in it
    (two crashes at 0.25 s and 0.14 s are one cause), as the judge compares causes."""
    groups: dict[tuple[str, str], list[tuple[SubmissionGrade, ScenarioResult]]] = {}
    for grade, result in pairs:
        if result.status in LOST:
            groups.setdefault((result.status, cause_shape(result.summary)), []).append((grade, result))
    lines = [_cause_line(status, members) for (status, _), members in groups.items()]
    return sorted(lines, key=lambda line: -line["count"])


def _cause_line(status: str, members: list[tuple[SubmissionGrade, ScenarioResult]]) -> dict:
    """One cause: its most common wording, how many submissions share it, and the first of them."""
    wording = Counter(result.summary for _, result in members).most_common(1)[0][0]
    return {"status": status, "text": visible(wording, MAX_CAUSE) or "(no cause recorded)", "count": len(members),
            "submissions": [{"name": visible(grade.submission, 80), "href": report_link(grade.submission, result.id)}
                            for grade, result in members[:MAX_NAMED]],
            "more": max(0, len(members) - MAX_NAMED)}


# -- the submissions -------------------------------------------------------------------------------
def _submission(grade: SubmissionGrade) -> dict:
    """One row of the submissions table: a score only where there is one, and why not otherwise."""
    score = score_text(grade)
    return {"name": visible(grade.submission), "href": report_link(grade.submission), "status": grade.status,
            "score": score, "score_sort": f"{_percent(grade):.4f}" if score else "-1",
            "network": network_label(grade.network) or "not recorded",
            "lost": visible(lost_points(grade), MAX_TEXT), "why": bool(grade.error)}
