"""Reports over a whole batch: grades.csv for spreadsheets and summary.md for a CI job summary."""

from __future__ import annotations

import csv
import io

from harness.judge.grading import SubmissionGrade


def grades_csv(grades: list[SubmissionGrade]) -> str:
    """One row per submission: total, max, status, then the score of every scenario."""
    scenario_ids = list(dict.fromkeys(s.id for g in grades for s in g.scenarios))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["submission", "score", "max_score", "complete", *scenario_ids])
    for grade in grades:
        by_id = {s.id: s for s in grade.scenarios}
        writer.writerow([_cell(grade.submission), f"{grade.score:g}", f"{grade.max_score:g}",
                         "no" if grade.incomplete or grade.error else "yes",
                         *(f"{by_id[i].score:g}" if i in by_id else "" for i in scenario_ids)])
    return out.getvalue()


def _cell(text: str) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas: a folder name must not."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text


def summary_md(grades: list[SubmissionGrade]) -> str:
    modes = sorted({(g.network or {}).get("mode", "") for g in grades} - {""})
    lines = ["# Tweeter grading summary", "", f"Network: {', '.join(modes) or 'not recorded'} "
             "(hosts: every program on a host of its own, every packet judged; loopback: printed lines only)", "",
             "| submission | score | passed | failed | not seen | error | blocked |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for grade in grades:
        counts = [sum(1 for s in grade.scenarios if s.status == st)
                  for st in ("passed", "failed", "unverified", "error", "blocked")]
        name = grade.submission.replace("|", "\\|")
        lines.append(f"| {name} | {grade.score:g}/{grade.max_score:g} | " + " | ".join(map(str, counts)) + " |")
    lost = [(g, s) for g in grades for s in g.scenarios if s.status != "passed"]
    if lost:
        lines += ["", "## Points lost", ""]
        for grade, result in lost:
            first = result.summary or (result.message.splitlines()[0] if result.message else "")
            lines.append(f"- **{grade.submission}** `{result.id}` ({result.status}, "
                         f"{result.score:g}/{result.max_score:g}): {first}")
    if any(g.incomplete for g in grades):
        lines += ["", "_Grading was interrupted: the results are incomplete._"]
    return "\n".join(lines) + "\n"
