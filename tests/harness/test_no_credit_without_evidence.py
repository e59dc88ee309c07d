"""No credit without evidence, as a rule over every check kind: each step kind is judged from a record in
which nothing was seen (no answer line, nothing printed, no packet, a program that had already ended),
on loopback and on a LAN whose capture is empty, and no check passes. The rule itself is enforced where
checks are made: a check cannot pass without saying what was seen."""

from __future__ import annotations

import pytest

from harness.inputs.scenario import DELIVERY_PROPERTIES, load_scenario
from harness.judge.checks import passed
from harness.judge.grading import judge_record
from harness.judge.steps import StepJudge
from harness.run.records import (Event, LineSeen, Network, QuerySeen, ReplySeen, ScenarioRecord, StepRecord,
                                 Transcript, TweetSeen)

SCENARIO = """
name: every step kind
points: 10
users: [alice, bob, carol, dave]
steps:
  - register: all
  - query: {user: alice, handles: [alice, bob, carol, dave]}
  - follow: {user: bob, target: alice}
  - tweet: {user: alice, deliver_to: [bob, carol, dave]}
  - tweets_at_once:
      - {user: alice, deliver_to: [bob, carol, dave]}
      - {user: bob, deliver_to: [carol]}
  - tweet: {user: alice, length: 141, expect: failure}
  - type: {to: bob, line: hello}
  - expect: {at: bob, pattern: "^hello"}
  - expect_not: {at: carol, pattern: "^hello"}
  - expect_alive: {at: dave}
  - end_tweet: {user: alice}
  - exit: {user: alice}
"""
HANDLES = {"alice": "@alice", "bob": "@bob", "carol": "@carol", "dave": "@dave"}


def unseen_reply(user: str, command: str, what: str, typed: int | None) -> ReplySeen:
    """A command typed (or not: the prompt never came back) that no result line answered."""
    if typed is None:
        return ReplySeen(user=user, command=command, what=what, not_typed="no_prompt")
    return ReplySeen(user=user, command=command, what=what, typed_seq=typed, gave_up="timeout", waited_s=10)


def unseen_tweet(user: str, followers: list[str], typed: int, outcome: str | None = "success") -> TweetSeen:
    """A tweet accepted (so that its delivery is judged) of which nothing was seen: nobody printed it,
    nothing says it came back, and the harness typed end-tweet itself."""
    reply = ReplySeen(user=user, command="tweet", what=f"tweet by @{user}", typed_seq=typed, outcome=outcome,
                      line=f"tweet: {outcome}" if outcome else None, line_seq=typed + 1 if outcome else None)
    return TweetSeen(user=user, tweeter=f"@{user}", text=f"hello from {user}, tweet 00{typed}", followers=followers,
                     reply=reply, returned=None, end_tweet="success", end_tweet_typed_seq=typed + 2,
                     reads_forwarder=False)


def nothing_seen(mode: str) -> ScenarioRecord:
    typed = [Event(seq, seq / 10, user, "in", "typed") for seq, user in
             enumerate(["alice", "alice", "bob", "alice", "alice", "bob", "alice", "bob", "alice", "alice"], start=1)]
    ended = Event(50, 0.05, "carol", "exit", "exited with status 0")  # carol had ended: her silence shows nothing
    three = ["@bob", "@carol", "@dave"]
    steps = [
        StepRecord(number=1, kind="register", replies=[unseen_reply(u, "register", f"register @{u}", None)
                                                       for u in HANDLES]),
        StepRecord(number=2, kind="query", query=QuerySeen(user="alice", typed_seq=2, gave_up="timeout", waited_s=10)),
        StepRecord(number=3, kind="follow", replies=[unseen_reply("bob", "follow", "follow @bob @alice", 3)]),
        StepRecord(number=4, kind="tweet", tweets=[unseen_tweet("alice", three, 4)]),
        StepRecord(number=5, kind="tweets_at_once", tweets=[unseen_tweet("alice", three, 5),
                                                            unseen_tweet("bob", ["@carol"], 6)]),
        StepRecord(number=6, kind="tweet", tweets=[unseen_tweet("alice", [], 7, outcome="failure")]),
        StepRecord(number=7, kind="type"),
        StepRecord(number=8, kind="expect", line=LineSeen(at="bob", gave_up="timeout", waited_s=5)),
        StepRecord(number=9, kind="expect_not", end_t=1.0, line=LineSeen(at="carol", waited_s=0.5)),
        StepRecord(number=10, kind="expect_alive", alive=False),
        StepRecord(number=11, kind="end_tweet", replies=[unseen_reply("alice", "end_tweet", "end-tweet @alice", 9)]),
        StepRecord(number=12, kind="exit", replies=[unseen_reply("alice", "exit", "exit @alice", 10)]),
    ]
    return ScenarioRecord(scenario_id="every_kind", file="", handles=HANDLES, steps=steps, prints_received=False,
                          network=Network(mode=mode, hosts={n: f"10.0.0.{i}" for i, n in enumerate(HANDLES, 2)}),
                          transcript=Transcript(0.0, [*typed, ended]))


@pytest.fixture
def scenario(tmp_path):
    path = tmp_path / "every_kind.yaml"
    path.write_text(SCENARIO)
    return load_scenario(path)


@pytest.mark.parametrize("mode", ["loopback", "hosts"])
def test_no_check_of_any_kind_passes_when_nothing_was_seen(scenario, mode):
    record = nothing_seen(mode)
    judge = StepJudge(scenario, record)
    checks = [check for step in record.steps for check in judge.checks(step)]
    kinds = {step.kind for step in record.steps if step.kind != "type"}
    assert kinds == {"register", "query", "follow", "tweet", "tweets_at_once", "expect", "expect_not",
                     "expect_alive", "end_tweet", "exit"}
    assert {check.step for check in checks} >= {step.number for step in record.steps if step.kind != "type"}
    names = {check.name for check in checks}
    assert {"the tweets were in flight at the same time", "a refused tweet reaches nobody"} <= names
    assert len({c.name for c in checks if c.step == 4}) == len(DELIVERY_PROPERTIES) + 1  # its reply and all seven
    # the only thing seen: the tweets' answer lines (so that their delivery is judged at all)
    assert {(c.step, c.name) for c in checks if c.status == "passed"} == {
        (4, "tweet by @alice answers SUCCESS"), (5, "tweet by @alice answers SUCCESS"),
        (5, "tweet by @bob answers SUCCESS"), (6, "tweet by @alice answers FAILURE")}
    assert all(c.status != "skipped" for c in checks if c.step == 4)  # graded, so never waved through
    result = judge_record("every_kind", "", scenario, record)
    assert result.score == 0 and result.status in ("failed", "blocked")


def test_a_check_cannot_pass_without_saying_what_was_seen():
    with pytest.raises(ValueError, match="cannot pass without saying what was seen"):
        passed("the text arrives intact", "  ")
