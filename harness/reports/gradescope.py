"""Gradescope's results.json, with fields and types exactly as its autograder specification.

Each scenario is one test; a hidden scenario stays hidden (its visibility is passed through); the
explanation goes in the test's output; timing and status details go in extra_data.
"""

from __future__ import annotations

from harness.judge.grading import ScenarioResult, SubmissionGrade

GRADESCOPE_STATUS = {"passed": "passed"}  # failed, error and blocked are all "failed" to Gradescope


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
                       "duration_s": round(result.duration_s, 3)},
    }


def results_json(grade: SubmissionGrade, execution_time: float) -> dict:
    """The whole results.json for one submission."""
    lines = [f"Score: {grade.score:g}/{grade.max_score:g}"]
    if grade.error:
        lines.append(grade.error)
    if grade.incomplete:
        lines.append("Grading was interrupted: some scenarios were not run.")
    return {
        "score": float(grade.score),
        "execution_time": int(round(execution_time)),
        "output": "\n".join(lines),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [_test(number, result) for number, result in enumerate(grade.scenarios, start=1)],
    }
