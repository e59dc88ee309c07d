"""Gradescope's results.json, with fields and types exactly as its autograder specification.

Each scenario is one test, numbered by its place in the suite ("1", "2", ...: Gradescope orders
tests by number); a hidden scenario stays hidden (its visibility is passed through); the
explanation goes in the test's output; timing and status details go in extra_data (with a repeated
scenario's runs, seeds, pass rate and flaky mark; a flaky scenario's output opens with them). The top-level
output, which students see first, says where points were lost, one line per visible scenario, and
which evidence the verdicts rest on (the packets, or only what the programs printed).
Hidden scenarios are left out of it, and so is the total while any exists: Gradescope itself hides
the total from students until grades are published, and the output must not tell them either.
"""

from __future__ import annotations

from harness.judge.grading import ScenarioResult, SubmissionGrade
from harness.reports.text import evidence_line

GRADESCOPE_STATUS = {"passed": "passed", "not applicable": "passed"}  # full points; the rest "failed"


def _test(number: int, result: ScenarioResult) -> dict:
    """One scenario as a Gradescope test; its output opens with the cause, then what it tests."""
    output = result.message or "Passed."
    if result.description:
        output = f"{output}\n\nWhat this scenario tests: {result.description}" if result.message \
            else f"{result.description}\n\n{output}"
    return {
        "name": result.name,
        "number": str(number),
        "score": float(result.score),
        "max_score": float(result.max_score),
        "status": GRADESCOPE_STATUS.get(result.status, "failed"),
        "output": output.replace("\r\n", "\n"),
        "output_format": "text",
        "tags": list(result.tags),
        "visibility": result.visibility,
        "extra_data": {"id": result.id, "harness_status": result.status,
                       "duration_s": round(result.duration_s, 3), **result.runs_json()},
    }


def _points(value: float) -> str:
    return f"{value:g} point" + ("" if value == 1 else "s")


def lost_points(grade: SubmissionGrade) -> list[str]:
    """A line per visible scenario that lost points, in suite order: how many, and the cause."""
    lines = []
    for result in grade.scenarios:
        lost = result.max_score - result.score
        if result.visibility == "visible" and lost > 1e-9:
            cause = result.summary or result.status
            lines.append(f"Lost {_points(lost)}: {result.name} ({cause})")
    return lines


def _overview(grade: SubmissionGrade) -> list[str]:
    """The score students may see now: the total, or only the visible scenarios' when some are hidden."""
    shown = [r for r in grade.scenarios if r.visibility == "visible"]
    if len(shown) == len(grade.scenarios):
        return [f"Score: {grade.score:g}/{grade.max_score:g}"]
    return [f"Score on the visible tests: {sum(r.score for r in shown):g}/{sum(r.max_score for r in shown):g} "
            "(the other tests, and the total, are shown when grades are published)"]


def results_json(grade: SubmissionGrade, execution_time: float) -> dict:
    """The whole results.json for one submission."""
    lines = _overview(grade)
    if grade.error:  # nothing could run: every scenario lost its points for this one reason
        lines.append(grade.error)
    else:
        lines += lost_points(grade)
    if grade.incomplete:
        lines.append("Grading was interrupted: some scenarios were not run.")
    lines.append(evidence_line(grade.network))
    return {
        "score": float(grade.score),
        "execution_time": int(round(execution_time)),
        "output": "\n".join(lines),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [_test(number, result) for number, result in enumerate(grade.scenarios, start=1)],
    }
