"""A step ends as soon as its outcome is decided: when every program is blocked for good (no timer, nothing
queued, nothing in flight), on purpose-built submissions (tests/submissions/stuck_variants.py), with the
cause line naming what each program waits on; and a program that is merely slow is never cut short. How
long each takes is the bench's business (python -m harness.bench), not a pass/fail test's."""

from __future__ import annotations

import re

from tests.conftest import Graded
from tests.submissions.stuck_variants import build


def test_a_tweet_nobody_will_ever_answer_fails_with_what_each_program_waits_on(grade, tmp_path):
    graded = grade(build("tracker_ignores_tweet", tmp_path), specs=["tweet_one_follower"])
    scenario = graded.scenario("tracker_ignores_tweet", "tweet_one_follower")
    assert scenario["status"] == "failed"
    assert scenario["summary"] == "`tweet by @alice` got no answer, and nothing could happen any more"
    reply = next(c for c in scenario["checks"] if c["name"] == "tweet by @alice answers SUCCESS")
    assert re.search(r"nothing could happen any more: .*@alice waits in `recvfrom` on UDP port \d+", reply["message"])
    assert re.search(r"the tracker waits in `select` on UDP port \d+", reply["message"])
    assert "; no datagram in flight; @alice printed meanwhile: " in reply["message"]
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


def registered_port(scenario: dict, handle: str) -> str:
    """The first port `handle` registered (the one it talks to the tracker from), read from the
    scenario's last lines ("> register @alice 10.0.0.2 30357 ...")."""
    return re.search(rf"> register {handle} \S+ (\d+) ", scenario["message"])[1]


def test_compiled_user_blocked_in_recvfrom_fails_with_what_each_program_waits_on(grade, tmp_path):
    """The kernel's facts do not depend on the language: a compiled program blocked in the C API's
    `recvfrom` (and a tracker in `poll`) is decided at once, as a Python one is."""
    graded = grade(build("cpp_recvfrom_for_ever", tmp_path), specs=["tweet_one_follower"])
    scenario = graded.scenario("cpp_recvfrom_for_ever", "tweet_one_follower")
    assert scenario["status"] == "failed"
    assert scenario["summary"] == "`tweet by @alice` got no answer, and nothing could happen any more"
    reply = next(c for c in scenario["checks"] if c["name"] == "tweet by @alice answers SUCCESS")
    users = "; ".join(f"{handle} waits in `poll` on its terminal, UDP port \\d+, UDP port \\d+ and UDP port \\d+, "
                      "no timeout" for handle in ("@bob", "@carol"))
    assert re.fullmatch(r"expected SUCCESS; no answer, and nothing could happen any more: the tracker waits in "
                        rf"`poll` on UDP port \d+, no timeout; @alice waits in `recvfrom` on UDP port "
                        rf"{registered_port(scenario, '@alice')}; {users}; no datagram in flight; "
                        r"@alice printed meanwhile: only \d+ protocol-trace lines?", reply["message"]), reply["message"]
    assert "stopped waiting" not in scenario["message"]  # decided, not waited out


def test_input_beside_a_receive_thread_names_both_waits(grade, tmp_path):
    """A user is stuck only when all its threads are: both waits are named, each with its own "in"."""
    graded = grade(build("input_beside_receive_thread", tmp_path), specs=["tweet_one_follower"])
    scenario = graded.scenario("input_beside_receive_thread", "tweet_one_follower")
    assert scenario["status"] == "failed"
    assert scenario["summary"] == "`tweet by @alice` got no answer, and nothing could happen any more"
    reply = next(c for c in scenario["checks"] if c["name"] == "tweet by @alice answers SUCCESS")
    assert re.search(r"nothing could happen any more: the tracker waits in `select` on UDP port \d+, no timeout; "
                     r"@alice waits in `read` on its terminal, and in `recvfrom` on UDP port "
                     rf"{registered_port(scenario, '@alice')}; @bob waits in `select`", reply["message"]), \
        reply["message"]
    # (how many lines: the ack of @bob's ring notice may come just before the tweet is typed, or after)
    assert re.search(r"; no datagram in flight; @alice printed meanwhile: only \d+ protocol-trace lines?$",
                     reply["message"]), reply["message"]
    assert "stopped waiting" not in scenario["message"]


def full_marks(graded: Graded, name: str) -> dict[str, str]:
    """Each scenario's status, once the submission got every point."""
    report = graded.report(name)
    assert report["score"] == report["max_score"], [s["message"] for s in report["scenarios"]]
    return {s["id"]: s["status"] for s in report["scenarios"]}


def test_a_user_that_sends_only_on_a_one_second_tick_is_never_cut_short(grade, tmp_path):
    """Until each tick every program is blocked, but the user's `select` has a timeout of at most 1 s."""
    graded = grade(build("polls_every_second", tmp_path), specs=["tweet_one_follower"])
    assert full_marks(graded, "polls_every_second") == {"tweet_one_follower": "passed"}


def test_a_receive_timeout_set_with_so_rcvtimeo_is_a_timer(grade, tmp_path):
    """The 3 s the user waits in a plain `recvfrom` end by its socket's SO_RCVTIMEO: a timer that only
    getsockopt shows, and it must be counted."""
    graded = grade(build("rcvtimeo_retry", tmp_path), specs=["tweet_one_follower", "tweet_ring_order"],
                   extra=("--jobs", "2"))
    assert full_marks(graded, "rcvtimeo_retry") == {"tweet_one_follower": "passed", "tweet_ring_order": "passed"}
    transcripts = graded.out / "rcvtimeo_retry" / "transcripts" / "tweet_one_follower"
    assert (transcripts / "tracker.log").read_text().count('"op":"tweet"') == 2  # the lost copy, then the retry
    assert "[trace] no answer within 3 s\n" in (transcripts / "alice.log").read_text()


def test_a_second_of_sleep_per_hop_is_never_cut_short(grade, tmp_path):
    """While a follower sleeps before passing the tweet on, its sleep is the only timer left."""
    graded = grade(build("sleeps_per_hop", tmp_path), specs=["tweet_ring_order"])
    assert full_marks(graded, "sleeps_per_hop") == {"tweet_ring_order": "passed"}


def test_a_tracker_that_dies_on_a_tweet_is_named_with_the_datagram_that_killed_it(grade, tmp_path):
    """A program that ended is not "stuck": the cause is its end, and what reached it just before."""
    graded = grade(build("tracker_dies_on_tweet", tmp_path), specs=["tweet_one_follower"])
    scenario = graded.scenario("tracker_dies_on_tweet", "tweet_one_follower")
    assert scenario["status"] == "failed"
    ended = (r"the tracker's program exited with status 1 at \d+\.\d\d s, after the datagram of "
             r"`tweet @alice \"hello from alice, tweet [0-9a-f]+\"` \(typed at @alice\) reached it")
    assert re.fullmatch(ended, scenario["summary"]), scenario["summary"]
    failed = {c["name"]: c["message"] for c in scenario["checks"] if c["status"] != "passed"}
    assert failed.keys() == {"tweet by @alice answers SUCCESS", "the tracker keeps running"}
    assert all(c["status"] == "failed" for c in scenario["checks"] if c["name"] in failed)
    assert re.fullmatch(f"expected SUCCESS; no answer: {ended}", failed["tweet by @alice answers SUCCESS"])
    assert re.fullmatch(ended + "; its last line: \"KeyError: 'followers'\"", failed["the tracker keeps running"])


def test_a_tcp_tracker_that_listens_is_ready_however_rarely_its_tables_are_read(grade, tmp_path, monkeypatch):
    """The tracker's bind is looked for in the UDP tables at every look, in the costly TCP ones only
    every so often: a TCP tracker asleep on its listening socket is bound, not stuck, so a wait that
    would conclude "nothing can happen" reads every table once more first. Here the TCP tables are
    never read in the loop, so without that last look the scenario could not start."""
    from harness.run import ports
    from tests.submissions.variants import build as build_variant
    monkeypatch.setattr(ports.BindWatch.__init__, "__defaults__", (10 ** 9, None))  # (tcp_every, owner)
    graded = grade(build_variant("tcp_transport", tmp_path), specs=["register_new"])
    scenario = graded.scenario("tcp_transport", "register_new")
    assert scenario["status"] == "passed", scenario["message"]
