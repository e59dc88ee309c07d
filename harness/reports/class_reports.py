"""Reports over a whole batch: grades.csv for spreadsheets and summary.md for a CI job summary."""

from __future__ import annotations

import csv
import io

from harness.judge.grading import SubmissionGrade


def grades_csv(grades: list[SubmissionGrade]) -> str:
    """One row per submission: total, max, status (graded, not a submission, build failed, error,
    interrupted, not graded), then the score of every scenario."""
    scenario_ids = list(dict.fromkeys(s.id for g in grades for s in g.scenarios))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["submission", "score", "max_score", "status", *scenario_ids])
    for grade in grades:
        by_id = {s.id: s for s in grade.scenarios}
        score = "" if grade.status == "not graded" else f"{grade.score:g}"
        writer.writerow([_cell(grade.submission), score, f"{grade.max_score:g}", grade.status,
                         *(f"{by_id[i].score:g}" if i in by_id and by_id[i].status != "not graded" else ""
                           for i in scenario_ids)])
    return out.getvalue()


def _cell(text: str) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas: a folder name must not."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text


def summary_md(grades: list[SubmissionGrade]) -> str:
    modes = sorted({(g.network or {}).get("mode", "") for g in grades} - {""})
    incomplete = ["**Incomplete: grading was stopped; submissions marked `not graded` were not reached.**", ""] \
        if any(g.incomplete for g in grades) else []
    lines = ["# Tweeter grading summary", "", *incomplete, f"Network: {', '.join(modes) or 'not recorded'} "
             "(hosts: every program on a host of its own, every packet judged; loopback: printed lines only)", "",
             "| submission | score | passed | failed | not seen | error | blocked |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for grade in grades:
        counts = [sum(1 for s in grade.scenarios if s.status == st)
                  for st in ("passed", "failed", "unverified", "error", "blocked")]
        name = grade.submission.replace("|", "\\|")
        score = grade.status if grade.status in ("not graded", "not a submission") else f"{grade.score:g}/{grade.max_score:g}"
        lines.append(f"| {name} | {score} | " + " | ".join(map(str, counts)) + " |")
    lost = [(g, s) for g in grades for s in g.scenarios if s.status not in ("passed", "not graded")]
    if lost:
        lines += ["", "## Points lost", ""]
        for grade, result in lost:
            first = result.summary or (result.message.splitlines()[0] if result.message else "")
            lines.append(f"- **{grade.submission}** `{result.id}` ({result.status}, "
                         f"{result.score:g}/{result.max_score:g}): {first}")
    return "\n".join(lines) + "\n"
