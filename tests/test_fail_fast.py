"""A step ends as soon as its outcome is decided: when every program is blocked for good (no timer, nothing
queued, nothing in flight), on purpose-built submissions (tests/submissions/stuck_variants.py), with the
cause line naming what each program waits on; and a program that is merely slow is never cut short. How
long each takes is the bench's business (python -m harness.bench), not a pass/fail test's."""

from __future__ import annotations

import re

from tests.submissions.stuck_variants import build


def test_a_tweet_nobody_will_ever_answer_fails_with_what_each_program_waits_on(grade, tmp_path):
    graded = grade(build("tracker_ignores_tweet", tmp_path), specs=["tweet_one_follower"])
    scenario = graded.scenario("tracker_ignores_tweet", "tweet_one_follower")
    assert scenario["status"] == "failed"
    assert scenario["summary"] == "`tweet by @alice` got no answer, and nothing could happen any more"
    reply = next(c for c in scenario["checks"] if c["name"] == "tweet by @alice answers SUCCESS")
    assert re.search(r"nothing could happen any more: .*@alice waits in `recvfrom` on UDP port \d+", reply["message"])
    assert re.search(r"the tracker waits in `select` on UDP port \d+", reply["message"])
    assert reply["message"].endswith("no datagram in flight")
    assert "stopped waiting" not in scenario["message"]  # decided, not waited out


def test_programs_blocked_from_the_start_cannot_be_graded_and_say_why(grade, tmp_path):
    graded = grade(build("blocks_from_the_start", tmp_path), specs=["register_new"])
    scenario = graded.scenario("blocks_from_the_start", "register_new")
    assert scenario["status"] == "error"
    assert re.match(r"Could not run this scenario: the tracker did not bind its port \d+, and nothing could happen "
                    r"any more: the tracker waits in `read` on its terminal", scenario["message"]), scenario["message"]


def test_a_slow_retry_is_never_cut_short(grade, tmp_path):
    graded = grade(build("tweet_answered_on_retry", tmp_path), specs=["tweet_one_follower", "tweet_ring_order"],
                   extra=("--jobs", "2"))
    assert {s["id"]: s["status"] for s in graded.report("tweet_answered_on_retry")["scenarios"]} == {
        "tweet_one_follower": "passed", "tweet_ring_order": "passed"}
    log = (graded.out / "tweet_answered_on_retry" / "transcripts" / "tweet_one_follower" / "tracker.log").read_text()
    assert log.count('"op":"tweet"') == 2  # it did wait for the retry, 3 s after the first request
