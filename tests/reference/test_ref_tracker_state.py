"""The tracker's state machine driven in-process: policy, de-duplication, and fuzzing with garbage."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from reference.tracker import Tracker  # noqa: E402

ADDRESSES = {h: ("127.0.0.1", port) for h, port in (("@alice", 5001), ("@bob", 5011), ("@carol", 5021))}


def request(tracker: Tracker, message: dict[str, Any], address: tuple[str, int], now: float = 0.0
            ) -> dict[str, Any]:
    """Send one request; its (first) answer."""
    out = tracker.handle(json.dumps(message).encode(), address, now)
    return json.loads(out[0][0])


def populated() -> Tracker:
    """@alice, @bob, @carol registered; @bob follows @alice."""
    tracker = Tracker(log=lambda line: None)
    for number, (handle, address) in enumerate(ADDRESSES.items()):
        port = address[1]
        assert request(tracker, {"op": "register", "id": number, "handle": handle, "ip": "127.0.0.1",
                                 "ports": [port, port + 1, port + 2]}, address)["ok"]
    assert request(tracker, {"op": "follow", "id": 10, "handle": "@bob", "target": "@alice"},
                   ADDRESSES["@bob"])["ok"]
    return tracker


def test_a_repeated_request_gets_the_same_answer_without_being_applied_twice() -> None:
    tracker = populated()
    follow = {"op": "follow", "id": 20, "handle": "@carol", "target": "@alice"}
    first = tracker.handle(json.dumps(follow).encode(), ADDRESSES["@carol"], 0.0)
    again = tracker.handle(json.dumps(follow).encode(), ADDRESSES["@carol"], 0.0)
    assert json.loads(first[0][0])["ok"] is True and again == first[:1]
    assert tracker.users["@alice"].followers == ["@bob", "@carol"]


def test_busy_between_tweet_and_end_tweet_then_timeout() -> None:
    tracker = populated()
    reply = request(tracker, {"op": "tweet", "id": 30, "handle": "@alice", "text": "hi"}, ADDRESSES["@alice"])
    assert reply["followers"] == [["@bob", "127.0.0.1", 5012]]
    for message, address in (({"op": "follow", "id": 31, "handle": "@carol", "target": "@alice"}, "@carol"),
                             ({"op": "tweet", "id": 32, "handle": "@bob", "text": "me too"}, "@bob"),
                             ({"op": "exit", "id": 33, "handle": "@bob"}, "@bob")):
        busy = request(tracker, message, ADDRESSES[address])
        assert busy == {"op": "reply", "id": message["id"], "ok": False,
                        "reason": "tracker busy: @alice is tweeting", "busy": True}
    assert request(tracker, {"op": "query", "id": 34}, ("1.2.3.4", 9))["handles"] == ["@alice", "@bob", "@carol"]
    assert request(tracker, {"op": "end_tweet", "id": 35, "handle": "@bob"}, ADDRESSES["@bob"])["reason"] == \
        "no tweet of @bob in progress"
    tracker.tick(now=4.9)
    assert tracker.tweet is not None
    tracker.tick(now=5.0)
    assert tracker.tweet is None


def test_follow_sends_an_acknowledged_and_retried_ring_changed() -> None:
    tracker = populated()
    out = tracker.handle(json.dumps({"op": "follow", "id": 40, "handle": "@carol", "target": "@alice"}).encode(),
                         ADDRESSES["@carol"], 0.0)
    notice = json.loads(out[1][0])
    assert out[1][1] == ("127.0.0.1", 5002)
    assert notice["op"] == "ring_changed" and [f[0] for f in notice["followers"]] == ["@bob", "@carol"]
    assert [json.loads(d)["id"] for d, _ in tracker.tick(now=0.25)] == [notice["id"]]
    tracker.handle(json.dumps({"op": "reply", "id": notice["id"], "ok": True}).encode(), out[1][1], 0.3)
    assert tracker.tick(now=10.0) == []


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8),
                                                                                        inner, max_size=4),
                           max_leaves=12)
OPS = st.sampled_from(["register", "query", "follow", "drop", "tweet", "end_tweet", "exit", "exit_complete",
                       "reply", "setup", "", "nonsense"])
FIELDS = st.fixed_dictionaries({"op": OPS}, optional={
    "id": st.integers(min_value=-5, max_value=2**70) | JSON_VALUES,
    "handle": st.sampled_from(["@alice", "@bob", "@carol", "@zed", "@abcdefghijklmnop", "alice", "@al1ce"])
    | JSON_VALUES,
    "target": st.sampled_from(["@alice", "@bob", "@carol", "@zed", "@"]) | JSON_VALUES,
    "text": st.text(max_size=160) | JSON_VALUES,
    "ip": st.sampled_from(["127.0.0.1", "999.1.1.1", "0.0.0.0", "localhost"]) | JSON_VALUES,
    "ports": st.lists(st.integers(min_value=-1, max_value=70000), max_size=4) | JSON_VALUES,
})
DATAGRAMS = st.binary(max_size=200) | FIELDS.map(lambda m: json.dumps(m).encode()) \
    | st.builds(lambda m, cut: json.dumps(m).encode()[:cut], FIELDS, st.integers(0, 60)) \
    | st.just(b"{" * 5000) | st.just(b'{"op":"query","id":1,"pad":"' + b"x" * 70000 + b'"}')
SENDERS = st.sampled_from([*ADDRESSES.values(), ("10.9.9.9", 1234)])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(datagram=DATAGRAMS, sender=SENDERS)
def test_fuzz_garbage_never_changes_state_and_the_tracker_still_answers(datagram: bytes, sender) -> None:
    tracker = populated()
    before = tracker.snapshot()
    out = tracker.handle(datagram, sender, now=1.0)
    answers = [json.loads(data) for data, address in out if address == sender]
    if not any(answer.get("ok") is True for answer in answers if answer.get("op") == "reply"):
        assert tracker.snapshot() == before
    for answer in answers:
        assert answer["op"] == "reply" and (answer["ok"] is True or answer["reason"])
    query = request(tracker, {"op": "query", "id": 99}, ("10.0.0.1", 1))
    assert query["ok"] and set(query["handles"]) <= {"@alice", "@bob", "@carol"}
    assert request(tracker, {"op": "follow", "id": 98, "handle": "@carol", "target": "@bob"},
                   ADDRESSES["@carol"], now=1.0)["ok"] in (True, False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(datagrams=st.lists(DATAGRAMS, min_size=1, max_size=5))
def test_fuzz_a_real_tracker_over_udp(net, datagrams: list[bytes]) -> None:
    if not net.procs:
        net.tracker()
        net.registered("@alice")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as fuzzer:
        for datagram in datagrams:
            try:
                fuzzer.sendto(datagram, ("127.0.0.1", net.tracker_port))
            except OSError:  # larger than a datagram may be
                pass
    checker = net.procs[1]
    assert checker.command("query handles") == "query handles: SUCCESS 1 @alice"
    assert net.procs[0].popen.poll() is None
