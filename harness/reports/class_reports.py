"""Reports over a whole batch: grades.csv for spreadsheets and summary.md for a CI job summary."""

from __future__ import annotations

import csv
import io

from harness.judge.grading import ScenarioResult, SubmissionGrade
from harness.reports.text import evidence_line, network_label

MAX_ROW = "max points"
NOT_RUN = "not run"
FLAKY = "flaky"  # the status cell of a scenario whose runs disagree


def grades_csv(grades: list[SubmissionGrade]) -> str:
    """A row per submission: total, max, status (graded, not a submission, build failed, error,
    interrupted, not graded), every scenario's score, then every scenario's status (`<id>:status`:
    passed, failed, unverified, not applicable, error, blocked, not run, or flaky when its runs disagreed). The
    scores stay numbers in columns side by side, so a spreadsheet sums them; a scenario not run has
    an empty score, not 0. When scenarios were repeated, a `<id>:pass rate` column each follows: the
    share of its runs that passed, a number from 0 to 1. The first row is `max points`: what each
    scenario and the whole suite are worth."""
    maxima: dict[str, float] = {}  # every scenario's worth, in suite order (the same in every grade)
    for result in (s for g in grades for s in g.scenarios):
        maxima.setdefault(result.id, result.max_score)
    scenario_ids = list(maxima)
    repeated = any(s.runs for g in grades for s in g.scenarios)
    rates = [f"{i}:pass rate" for i in scenario_ids] if repeated else []
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["submission", "score", "max_score", "status", *scenario_ids,
                     *(f"{i}:status" for i in scenario_ids), *rates])
    total = f"{sum(maxima.values()):g}"
    writer.writerow([MAX_ROW, total, total, "", *(f"{maxima[i]:g}" for i in scenario_ids),
                     *("" for _ in scenario_ids), *("" for _ in rates)])
    for grade in grades:
        writer.writerow(_row(grade, scenario_ids, repeated))
    return out.getvalue()


def _row(grade: SubmissionGrade, scenario_ids: list[str], repeated: bool) -> list[str]:
    by_id = {s.id: s for s in grade.scenarios}
    ran = {i: by_id[i] for i in scenario_ids if i in by_id and by_id[i].status != "not graded"}
    score = "" if grade.status == "not graded" else f"{grade.score:g}"
    return [_cell(grade.submission), score, f"{grade.max_score:g}", grade.status,
            *(f"{ran[i].score:g}" if i in ran else "" for i in scenario_ids),
            *((FLAKY if ran[i].flaky else ran[i].status) if i in ran else NOT_RUN for i in scenario_ids),
            *((_share_passed(ran[i]) if i in ran else "" for i in scenario_ids) if repeated else ())]


def _share_passed(result: ScenarioResult) -> str:
    """The share of a scenario's completed runs that passed, as a number a spreadsheet reads."""
    done = result.completed_runs
    return f"{sum(run.status == 'passed' for run in done) / len(done):.4g}" if done else ""


def _cell(text: str) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas: a folder name must not."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text


def repeat_note(grades: list[SubmissionGrade]) -> str:
    """How often every scenario ran and how a flaky one was scored (empty for single runs)."""
    repeat = next((g.repeat for g in grades if g.repeat), None)
    if not repeat:
        return ""
    seeds = f"every run with seed {repeat['replay']}" if "replay" in repeat else \
        f"seeds counted up from {repeat.get('seed_base')}"
    return (f"Every scenario ran {repeat.get('runs')} time(s), {seeds}; flaky scenarios scored by "
            f"{repeat.get('scoring')}.")


def summary_md(grades: list[SubmissionGrade]) -> str:
    modes = sorted({network_label(g.network) for g in grades} - {""})
    evidence = list(dict.fromkeys(evidence_line(g.network) for g in grades if g.network))
    incomplete = ["**Incomplete: grading was stopped; submissions marked `not graded` were not reached.**", ""] \
        if any(g.incomplete for g in grades) else []
    repeats = [repeat_note(grades), ""] if any(g.repeat for g in grades) else []
    lines = ["# Tweeter grading summary", "", *incomplete, f"Network: {', '.join(modes) or 'not recorded'} "
             "(hosts: every program on a host of its own, every packet judged; loopback: printed lines only)", "",
             *(line for text in evidence for line in (text, "")), *repeats,
             "| submission | score | passed | failed | not seen | not applicable | error | blocked |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for grade in grades:
        counts = [sum(1 for s in grade.scenarios if s.status == st)
                  for st in ("passed", "failed", "unverified", "not applicable", "error", "blocked")]
        name = grade.submission.replace("|", "\\|")
        score = grade.status if grade.status in ("not graded", "not a submission") else f"{grade.score:g}/{grade.max_score:g}"
        lines.append(f"| {name} | {score} | " + " | ".join(map(str, counts)) + " |")
    flaky = [(g, s) for g in grades for s in g.scenarios if s.flaky]
    if flaky:
        lines += ["", "## Flaky scenarios (runs that disagreed)", ""]
        for grade, result in flaky:
            runs = ", ".join(f"seed {run.seed} {run.status}" for run in result.runs)
            lines.append(f"- **{grade.submission}** `{result.id}`: {result.pass_rate} runs passed ({runs}); "
                         f"scored by {result.scoring}: {result.status}, {result.score:g}/{result.max_score:g}")
    lost = [(g, s) for g in grades for s in g.scenarios if s.status not in ("passed", "not applicable", "not graded")]
    if lost:
        lines += ["", "## Points lost", ""]
        for grade, result in lost:
            first = result.summary or (result.message.splitlines()[0] if result.message else "")
            lines.append(f"- **{grade.submission}** `{result.id}` ({result.status}, "
                         f"{result.score:g}/{result.max_score:g}): {first}")
    return "\n".join(lines) + "\n"
