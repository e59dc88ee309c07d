"""Submissions that cannot run or never answer end with a clear status, and leave no process."""

from __future__ import annotations

import re

from tests.conftest import SUBMISSIONS


def test_tracker_that_dies_at_start_is_an_error_not_a_failure(grade):
    graded = grade(SUBMISSIONS / "tracker_crashes_at_start", specs=["register_new"])
    scenario = graded.scenario("tracker_crashes_at_start", "register_new")
    assert scenario["status"] == "error"
    assert "the tracker exited at start-up" in scenario["message"]
    assert "deliberately broken" in scenario["message"]  # its last words are shown
    assert graded.status == 1


def test_program_that_never_answers_fails_once_nothing_can_happen(grade):
    graded = grade(SUBMISSIONS / "silent", specs=["register_new"], extra=("--step-timeout", "1"))
    scenario = graded.scenario("silent", "register_new")
    assert scenario["status"] == "failed"
    assert "Failed at step 1 of 1" in scenario["message"]
    assert re.search(r"expected SUCCESS; no answer, and nothing could happen any more: .*@alice waits in .*; "
                     r"@alice printed meanwhile: nothing", scenario["message"])
    assert re.search(r"> register @alice \d+\.\d+\.\d+\.\d+ \d+", scenario["message"])  # what was typed is shown


def test_a_scenario_whose_preparing_step_fails_is_blocked_and_linked_not_failed_again(grade):
    graded = grade(SUBMISSIONS / "silent", specs=["register_new", "register_duplicate"],
                   extra=("--step-timeout", "1"))
    blocked = graded.scenario("silent", "register_duplicate")
    assert blocked["status"] == "blocked" and blocked["score"] == 0
    assert blocked["summary"].startswith("Blocked: `register @alice` got no answer, and nothing could happen any more")
    assert "(step 1 only prepares what this scenario tests; `register_new` tests it)" in blocked["summary"]
    assert blocked["linked"] == ["register_new"]
    assert "Probably the same cause as `register_new`" in blocked["message"]


def test_missing_folder_is_a_usage_error(grade, tmp_path):
    graded = grade(tmp_path / "nope")
    assert graded.status == 2 and "no such folder" in graded.output


def test_folder_without_submissions_is_a_usage_error(grade, tmp_path):
    graded = grade(tmp_path)
    assert graded.status == 2 and "not a submission" in graded.output
