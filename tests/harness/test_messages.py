"""Explanations a student acts on, on their exact text: what a program printed while the harness
waited (protocol-trace lines said so), times before the command typed, a tracker's end told with the
request it died of, a property not graded that was not seen, a tweet that reached no follower, a
tweet that came back unseen on a LAN, a command a program does not have, a program that never said
it is ready, causes linked only when they are the same, and an invalid manifest's reason kept on the
line class tables show."""

from __future__ import annotations

from harness.batch import invalid_manifest
from harness.inputs.scenario import Scenario
from harness.judge.delivery import judge_delivery
from harness.judge.grading import ScenarioResult, link_failures
from harness.judge.steps import StepJudge
from harness.judge.endings import ProgramEnds
from harness.run.records import Event, ReplySeen, ScenarioRecord, Transcript, TweetSeen, WireEvent
from tests.conftest import ROOT

SCENARIO = Scenario.model_validate({"name": "one follow", "points": 1, "users": ["alice", "bob"],
                                    "steps": [{"register": "all"}, {"follow": {"user": "bob", "target": "alice"}}]})


def judge(*events: Event) -> StepJudge:
    record = ScenarioRecord(scenario_id="one_follow", file="", handles={"alice": "@alice", "bob": "@bob"},
                            trace_lines=r"^\[trace\] ", transcript=Transcript(0.0, list(events)),
                            replies={"follow": ["^follow: SUCCESS", "^follow: FAILURE"]})
    return StepJudge(SCENARIO, record)


def test_a_wait_that_saw_only_protocol_trace_lines_says_so():
    typed = Event(1, 0.10, "bob", "in", "follow @bob @alice")
    trace = Event(2, 0.12, "bob", "out", "[trace] send 10.0.0.1:4000 follow")
    text = judge(typed, trace).waited("bob", 1, 10.0, "follow")
    assert text == "stopped waiting after 10 s (the step limit); @bob printed meanwhile: only 1 protocol-trace line"


def test_an_end_before_the_command_is_said_to_come_before_it():
    ended = Event(1, 0.01, "tracker", "exit", "exited with status 1")
    typed = Event(2, 0.10, "bob", "in", "follow @bob @alice")
    text = judge(ended, typed).waited("bob", 2, 10.0, "follow")
    assert text.endswith("; meanwhile the tracker's program exited with status 1 0.09 s before it was typed")
    assert "+-" not in text


def test_a_tracker_that_died_is_told_with_the_request_it_died_of_not_a_late_acknowledgement():
    """@bob's follow reached the tracker, then @alice's answer to the ring update of the follow before
    (the same two ports the other way), late, still unread when the tracker died of the follow."""
    def udp(seq: int, t: float, src: str, dst: str, sport: int, dport: int, payload: bytes) -> WireEvent:
        return WireEvent(seq=seq, t=t, length=42 + len(payload), proto="udp", src=src, dst=dst, sport=sport,
                         dport=dport, payload=payload)
    tracker, alice_ring, bob = 5000, 6002, 6100
    events = [Event(1, 0.10, "alice", "in", "register @alice 127.0.0.1 6001 6002 6003"),
              Event(2, 0.20, "bob", "in", "follow @bob @alice"), Event(3, 0.30, "bob", "in", "follow @bob @alice"),
              Event(4, 0.36, "tracker", "exit", "exited with status 1")]
    wire = [udp(1, 0.21, "bob", "tracker", bob, tracker, b"follow"),
            udp(2, 0.22, "tracker", "alice", tracker, alice_ring, b"ring_changed"),
            udp(3, 0.31, "bob", "tracker", bob, tracker, b"follow"),
            udp(4, 0.32, "alice", "tracker", alice_ring, tracker, b"ok")]
    record = ScenarioRecord(scenario_id="one_follow", file="", handles={"alice": "@alice", "bob": "@bob"},
                            transcript=Transcript(0.0, events), wire=wire)
    assert ProgramEnds(SCENARIO, record).told("tracker", lines=False) == (
        "the tracker's program exited with status 1 at 0.36 s, after the datagram of `follow @bob @alice` (typed at "
        "@bob) reached it")


def tweet(**seen) -> TweetSeen:
    reply = ReplySeen(user="alice", command="tweet", what="tweet by @alice", typed_seq=1, outcome="success")
    return TweetSeen(user="alice", tweeter="@alice", text="hi there", followers=["@bob", "@carol"], reply=reply, **seen)


def test_an_ungraded_property_not_seen_says_not_seen_once_and_no_follower_reads_as_none():
    checks = {c.name: c for c in judge_delivery(tweet(), graded=("reached",))}
    order = checks["followers receive it in alphabetical (ring) order"]
    assert order.status == "skipped"
    assert order.message.startswith("not graded in this scenario (not seen: none of @bob, @carol received it, so "
                                    "its way round the ring cannot be seen")
    assert "not seen: not seen:" not in order.message and "only no follower" not in order.message


def test_a_return_unseen_on_a_lan_with_end_tweet_sent_by_the_user_is_told_as_it_is():
    checks = {c.name: c for c in judge_delivery(tweet(returned=None, end_tweet=None), wire_note="tangled")}
    back = checks["it returns to the tweeter and end-tweet succeeds"]
    assert back.message == ("not seen: @alice prints nothing when its tweet comes back and no end-tweet from "
                            "@alice was answered; print a line when the tweet comes back (tweets.returned) (tangled)")


def test_a_command_the_program_does_not_have_is_named_as_the_program_s_behaviour():
    assert judge().not_typed("alice", "end_tweet", "no_command") == (
        "@alice's program has no `end-tweet` command (its tweeter.yaml says `commands.end_tweet: null`), so "
        "`end-tweet` could not be typed")


def test_a_user_that_never_says_it_is_ready_is_named_in_plain_words(grade, tmp_path):
    folder = tmp_path / "never_ready"
    folder.mkdir()
    for name in ("tracker.py", "user.py", "wire.py", "reliable.py", "console.py"):
        (folder / name).write_text((ROOT / "reference" / name).read_text())
    (folder / "tweeter.yaml").write_text('launch: {user: "python3 user.py"}\nready: {user: "^never"}\n')
    graded = grade(folder, specs=["register_new"])
    message = graded.scenario("never_ready", "register_new")["message"]
    assert message.startswith("Could not run this scenario: @alice did not say it is ready within 10 s "
                              "(exited with status 2)")


def result(sid: str, status: str, summary: str) -> ScenarioResult:
    return ScenarioResult(id=sid, name=sid, file="", score=0, max_score=1, status=status, duration_s=0,
                          message=summary, checks=[], summary=summary)


def test_a_dependency_is_named_as_the_probable_cause_only_when_its_cause_is_the_same():
    base = result("register_new", "failed", "`register @alice` got no answer within 1 s")
    same = result("register_duplicate", "blocked", "Blocked: `register @carol` got no answer within 2 s (step 1 "
                  "only prepares what this scenario tests; `register_new` tests it)")
    other = result("query_several", "failed", "`query handles` listed ['@alice'] instead of ['@alice', '@bob']")
    link_failures([base, same, other], {"register_duplicate": ["register_new"], "query_several": ["register_new"]})
    assert same.linked == ["register_new"] and "Probably the same cause as `register_new`" in same.message
    assert other.linked == [] and "Probably" not in other.message


def test_an_invalid_manifest_keeps_its_reason_on_the_first_line():
    text = invalid_manifest(["tweeter.yaml:3:5: lanch: unknown key `lanch`; did you mean `launch`?",
                             "tweeter.yaml:7:1: pace_ms: must be at most 5000"])
    assert text.splitlines()[0] == ("the submission's tweeter.yaml is invalid: tweeter.yaml:3:5: lanch: unknown key "
                                    "`lanch`; did you mean `launch`? (and 1 more)")
    assert text.splitlines()[1:] == ["tweeter.yaml:3:5: lanch: unknown key `lanch`; did you mean `launch`?",
                                     "tweeter.yaml:7:1: pace_ms: must be at most 5000"]
