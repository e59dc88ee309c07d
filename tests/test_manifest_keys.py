"""Each manifest key real submissions need, on a purpose-built submission that needs exactly that key
(tests/submissions/console_variants.py): graded to full marks with it, and where the key matters
for the verdict, differently without it."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from tests.conftest import ROOT
from tests.submissions.console_variants import build

FULL_MARKS = {  # variant -> the scenarios that exercise its key
    "env_tracker": ["register_new", "tweet_one_follower"],
    "ctrl_c_menu": ["register_new", "follow_success", "query_several", "tweet_one_follower"],
    "prompt_each_command": ["register_new", "follow_twice", "tweet_one_follower", "garbage_input"],
    "two_line_tweets": ["tweet_ring_order", "tweet_text_intact"],
    "query_count_line": ["query_several", "query_none", "register_duplicate"],
    "query_nested": ["query_several", "query_none", "exit_cleanup"],
    "same_result_lines": ["register_duplicate", "follow_twice", "query_several", "tweet_one_follower"],
    "silent_end_tweet": ["tweet_one_follower", "end_tweet_wrong_user"],
    "prints_own_tweet": ["tweet_one_follower", "tweet_no_followers"],
    "races_input": ["register_new", "follow_twice", "tweet_one_follower"],
}


@pytest.mark.parametrize("name", sorted(FULL_MARKS))
def test_the_key_makes_the_submission_gradable(grade, tmp_path, name):
    graded = grade(build(name, tmp_path), specs=FULL_MARKS[name], extra=("--jobs", "2"))
    report = graded.report(name)
    assert {s["id"]: s["message"] for s in report["scenarios"] if s["status"] != "passed"} == {}
    assert graded.status == 0


def without(folder, pattern: str) -> None:
    """Delete the manifest lines matching `pattern`: the submission as graded without that key."""
    manifest = folder / "tweeter.yaml"
    manifest.write_text("".join(line for line in manifest.read_text().splitlines(keepends=True)
                                if not re.search(pattern, line)))


def test_keys_are_typed_as_keys_and_shown_as_written(grade, tmp_path):
    graded = grade(build("ctrl_c_menu", tmp_path), specs=["register_new"])
    log = (graded.out / "ctrl_c_menu" / "transcripts" / "register_new" / "alice.log").read_text()
    assert "> {ctrl-c}" in log and "\x03" not in log
    assert re.search(r"< Command> ?$", log, re.MULTILINE) or "Command>" in log  # Ctrl+C brought the prompt


def test_own_copy_printed_like_a_delivery_is_only_excused_by_the_key(grade, tmp_path):
    folder = build("prints_own_tweet", tmp_path)
    without(folder, r"own_copy")
    graded = grade(folder, specs=["tweet_no_followers"], extra=("--network", "loopback"))
    scenario = graded.scenario("prints_own_tweet", "tweet_no_followers")
    assert scenario["status"] == "failed"
    assert "only followers of @alice may print it, but @alice did too" in scenario["message"]


def test_a_console_that_loses_fast_input_needs_pace(grade, tmp_path):
    folder = build("races_input", tmp_path)
    without(folder, r"^pace_ms:")
    graded = grade(folder, specs=["follow_twice"])
    scenario = graded.scenario("races_input", "follow_twice")
    assert scenario["status"] in ("blocked", "failed") and scenario["score"] == 0  # commands typed too fast are lost


def test_the_tracker_line_stands_for_a_silent_end_tweet(grade_console_only, tmp_path):
    folder = build("silent_end_tweet", tmp_path)
    graded = grade_console_only(folder, specs=["tweet_one_follower"])
    came_back = next(c for c in graded.scenario("silent_end_tweet", "tweet_one_follower")["checks"]
                     if c["name"].startswith("it returns"))
    assert came_back["status"] == "passed" and came_back["evidence"] == "console"


SLOW_FOLLOW_SPEC = """name: a follow answered late, then a query
points: 2
setup: 1
users: [alice, bob]
steps:
  - register: all
  - follow: {user: bob, target: alice, timeout: 1, points: 1}
  - query: {user: bob, handles: [alice, bob], points: 1}
"""


def test_a_late_answer_is_never_taken_for_the_next_commands(grade, tmp_path):
    """Every command is answered by the same bare line; @bob answers follow 2 s late, after
    `query handles` was typed and answered: the follow is unanswered, the query gets its own answer."""
    spec = tmp_path / "slow_follow.yaml"
    spec.write_text(SLOW_FOLLOW_SPEC)
    graded = grade(build("slow_follow_reply", tmp_path), extra=("--specs", str(spec)))
    scenario = graded.scenario("slow_follow_reply", "slow_follow")
    checks = {c["name"]: c for c in scenario["checks"]}
    follow = checks["follow @bob @alice answers SUCCESS"]
    # its answer is 2 s away, beyond the follow's 1 s limit: nothing can answer within it
    assert follow["status"] == "failed" and "no answer, and nothing could happen any more: " in follow["message"]
    assert "timeout beyond the limit" in follow["message"]
    assert checks["query handles lists exactly the registered handles"]["status"] == "passed"
    assert scenario["score"] == 1  # the query's point: every scenario plays on after a failed step


def test_a_prompt_that_never_comes_back_means_the_command_was_not_typed(grade, tmp_path):
    submission = tmp_path / "no_prompt"
    shutil.copytree(ROOT / "reference", submission, ignore=shutil.ignore_patterns("__pycache__"))
    (submission / "tweeter.yaml").write_text('prompt: "^Enter a command:"\n')
    graded = grade(submission, specs=["register_new"], extra=("--step-timeout", "1"))
    message = graded.scenario("no_prompt", "register_new")["message"]
    assert "@alice never showed its prompt '^Enter a command:' again after it started, so `register` was not " \
           "typed" in message
    assert "no result line" not in message and "no answer" not in message
    record = json.loads((graded.out / "no_prompt" / "transcripts" / "register_new" / "record.json").read_text())
    assert record["steps"][0]["replies"][0]["not_typed"] == "no_prompt"
