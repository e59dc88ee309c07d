"""Finding a tweet in captured packets, whatever encoding carries it, and reading the hops as a ring,
a star or a relay (hand-built wire events; the real capture is tested in tests/test_wire.py)."""

from __future__ import annotations

import base64
import json
import pickle

import pytest

from harness.judge.wire_evidence import WireView, needles, tweet_hops
from harness.run.records import WireEvent

TEXT = "hello from alice, tweet 9f3a2c — naïve \"quotes\""
HANDLES = {"alice": "@alice", "bob": "@bob", "carol": "@carol", "dave": "@dave"}


def udp(seq: int, src: str, dst: str, payload: bytes, t: float | None = None) -> WireEvent:
    return WireEvent(seq=seq, t=t if t is not None else seq / 1000, length=len(payload) + 42, proto="udp",
                     src=src, dst=dst, src_ip=f"ip-{src}", dst_ip=f"ip-{dst}", sport=1000, dport=2000,
                     payload=payload)


@pytest.mark.parametrize("encode", [
    lambda text: text.encode(),
    lambda text: json.dumps({"op": "tweet", "text": text}).encode(),
    lambda text: json.dumps({"text": text}, ensure_ascii=False).encode(),
    lambda text: pickle.dumps(("tweet", "@alice", text)),
    lambda text: pickle.dumps(("tweet", text), protocol=0),
    lambda text: base64.b64encode(b"TWEET|" + text.encode()),
    lambda text: base64.b64encode(b"TW|" + text.encode() + b"|end"),
    lambda text: base64.b64encode(b"T|" + text.encode()),
], ids=["raw", "json", "json-utf8", "pickle", "pickle-0", "base64-0", "base64-1", "base64-2"])
def test_the_text_is_found_in_every_encoding_students_use(encode):
    hops = tweet_hops([udp(1, "alice", "bob", b"x" + encode(TEXT) + b"y")], TEXT, 0, 1, HANDLES)
    assert [(h.src, h.dst) for h in hops] == [("@alice", "@bob")]


def test_other_texts_and_packets_outside_the_window_are_not_hops():
    other = TEXT.replace("9f3a2c", "000000")
    wire = [udp(1, "alice", "bob", other.encode()), udp(2, "alice", "bob", TEXT.encode(), t=5.0),
            WireEvent(seq=3, t=0.003, length=42, proto="arp", src="alice", dst="bob")]
    assert tweet_hops(wire, TEXT, 0, 1, HANDLES) == []


def test_short_base64_fragments_are_not_looked_for():
    assert all(len(form) >= 16 for form in needles("hi there") if form.isalnum() and form != b"hi there")


def test_a_text_split_across_tcp_segments_is_one_hop_at_the_segment_that_completes_it():
    data = json.dumps({"op": "tweet", "text": TEXT}).encode()
    segments = [WireEvent(seq=i, t=i / 1000, length=60, proto="tcp", src="bob", dst="carol", src_ip="b",
                          dst_ip="c", sport=40000, dport=9000, tcp_flags="PA", payload=chunk)
                for i, chunk in enumerate([data[:20], data[20:45], data[45:]], start=1)]
    hops = tweet_hops(segments, TEXT, 0, 1, HANDLES)
    assert [(h.src, h.dst, h.seq) for h in hops] == [("@bob", "@carol", 3)]


def ring_view(pairs: list[tuple[str, str]]) -> WireView:
    wire = [udp(i, src, dst, TEXT.encode()) for i, (src, dst) in enumerate(pairs, start=1)]
    return WireView(tweet_hops(wire, TEXT, 0, 1, HANDLES), "@alice", ["@bob", "@carol", "@dave"])


def test_a_ring_a_star_and_a_relay_read_as_such():
    ring = ring_view([("alice", "tracker"), ("alice", "bob"), ("bob", "carol"), ("carol", "dave"), ("dave", "alice")])
    assert ring.chain() == ["@bob", "@carol", "@dave"] and not ring.relays()
    assert ring.came_back_from("@dave") is not None
    star = ring_view([("alice", "bob"), ("alice", "carol"), ("alice", "dave"), ("dave", "alice")])
    assert star.chain() is None and star.first_from == {"@bob": "@alice", "@carol": "@alice", "@dave": "@alice"}
    relay = ring_view([("tracker", "bob"), ("tracker", "carol"), ("tracker", "dave"), ("tracker", "alice")])
    assert [h.dst for h in relay.relays()] == ["@bob", "@carol", "@dave"]
    follow_order = ring_view([("alice", "carol"), ("carol", "bob"), ("bob", "dave"), ("dave", "alice")])
    assert follow_order.chain() == ["@carol", "@bob", "@dave"]  # a ring, in the wrong order
    leak = ring_view([("alice", "bob"), ("bob", "carol"), ("carol", "dave"), ("dave", "erin")])
    assert [h.dst for h in leak.outsiders()] == ["erin"]
