"""Reading a tweet's path (and who sent the tracker a request) from captured packets, whatever they
carry: the text in every encoding students use, only part of it, or nothing readable at all
(hand-built wire events; the real capture is tested in tests/test_wire.py and tests/test_evidence.py)."""

from __future__ import annotations

import base64
import json
import pickle
import zlib

import pytest

from harness.judge.wire_evidence import carried, describe_part, needles, tweet_path
from harness.run.exchanges import messages, requested
from harness.run.records import WireEvent

TEXT = "hello from alice, tweet 9f3a2c — naïve \"quotes\""
HANDLES = {"alice": "@alice", "bob": "@bob", "carol": "@carol", "dave": "@dave", "erin": "@erin"}
RING = ["@bob", "@carol", "@dave"]
PORTS = {"tracker": 5000, "alice": 6000, "bob": 6100, "carol": 6200, "dave": 6300, "erin": 6400}


def udp(seq: int, src: str, dst: str, payload: bytes, t: float | None = None, sport: int | None = None,
        dport: int | None = None) -> WireEvent:
    return WireEvent(seq=seq, t=t if t is not None else seq / 1000, length=len(payload) + 42, proto="udp",
                     src=src, dst=dst, src_ip=f"ip-{src}", dst_ip=f"ip-{dst}", sport=sport or PORTS[src] + 1,
                     dport=dport or PORTS[dst], payload=payload)


def scrambled(data: bytes) -> bytes:
    """What a program that XORs every datagram sends: nothing of the text is readable."""
    return bytes(byte ^ 0xA5 for byte in data)


def path_of(pairs: list[tuple[str, str]], payload=lambda src, dst: TEXT.encode(), **kwargs):
    wire = [udp(i, src, dst, payload(src, dst)) for i, (src, dst) in enumerate(pairs, start=1)]
    return tweet_path(wire, TEXT, "@alice", kwargs.pop("ring", RING), 0, 1, HANDLES, **kwargs)


@pytest.mark.parametrize("encode", [
    lambda text: text.encode(),
    lambda text: json.dumps({"op": "tweet", "text": text}).encode(),
    lambda text: json.dumps({"text": text}, ensure_ascii=False).encode(),
    lambda text: pickle.dumps(("tweet", "@alice", text)),
    lambda text: pickle.dumps(("tweet", text), protocol=0),
    lambda text: base64.b64encode(b"TWEET|" + text.encode()),
    lambda text: base64.b64encode(b"TW|" + text.encode() + b"|end"),
    lambda text: base64.b64encode(b"T|" + text.encode()),
    lambda text: zlib.compress(json.dumps({"text": text}).encode()),
    lambda text: base64.b64encode(zlib.compress(text.encode())),
], ids=["raw", "json", "json-utf8", "pickle", "pickle-0", "base64-0", "base64-1", "base64-2", "zlib", "base64-zlib"])
def test_the_text_is_found_in_every_encoding_students_use(encode):
    assert carried(encode(TEXT), TEXT)[0] == "whole"


def test_part_of_the_text_is_found_and_named_for_what_it_is():
    assert carried(b'{"text":"hello"}', TEXT) == ("part", 5)
    assert describe_part(TEXT, 5) == "'hello', the first word of the text"
    assert carried(base64.b64encode(b"000@alice$hello from al$"), TEXT) == ("part", 13)
    assert describe_part(TEXT, 13) == f"'hello from al', the first 13 of its {len(TEXT)} characters"
    assert carried(b'{"text":"hel"}', TEXT) == ("", 0)  # shorter than the first word: could be anything
    assert carried(b'{"op":"setup","left":"@alice"}', TEXT) == ("", 0)


def test_part_shared_with_another_tweet_in_flight_ties_a_packet_to_neither():
    other = "hello from bob, tweet 000000"
    assert carried(b"hello", TEXT, (other,)) == ("", 0)
    assert carried(TEXT.encode(), TEXT, (other,))[0] == "whole"


def test_short_base64_fragments_are_not_looked_for():
    assert all(len(form) >= 16 for form in needles("hi there") if form.isalnum() and form != b"hi there")


def test_a_text_split_across_tcp_segments_is_one_message_complete_at_its_last_segment():
    data = json.dumps({"op": "tweet", "text": TEXT}).encode()
    syn = WireEvent(seq=0, t=0.0005, length=60, proto="tcp", src="bob", dst="carol", src_ip="b", dst_ip="c",
                    sport=40000, dport=9000, tcp_flags="S")
    segments = [WireEvent(seq=i, t=i / 1000, length=60, proto="tcp", src="bob", dst="carol", src_ip="b",
                          dst_ip="c", sport=40000, dport=9000, tcp_flags="PA", payload=chunk)
                for i, chunk in enumerate([data[:20], data[20:45], data[45:]], start=1)]
    ack = WireEvent(seq=4, t=0.004, length=60, proto="tcp", src="carol", dst="bob", src_ip="c", dst_ip="b",
                    sport=9000, dport=40000, tcp_flags="PA", payload=b"OK")
    found = messages([syn, *segments, ack], 0, 1, HANDLES)
    assert [(m.src, m.dst, m.seq, m.answer) for m in found] == [("@bob", "@carol", 3, False), ("@carol", "@bob", 4, True)]
    assert carried(found[0].payload, TEXT)[0] == "whole"


def test_a_ring_a_star_a_relay_and_a_wrong_order_read_as_such():
    ring = path_of([("alice", "tracker"), ("alice", "bob"), ("bob", "carol"), ("carol", "dave"), ("dave", "alice")])
    assert ring.readable and ring.chain() == RING and not ring.relays() and not ring.star_sends()
    assert ring.came_back_from("@dave") is not None
    star = path_of([("alice", "bob"), ("alice", "carol"), ("alice", "dave"), ("dave", "alice")])
    assert star.chain() is None and [h.dst for h in star.star_sends()] == ["@carol", "@dave"]
    relay = path_of([("alice", "tracker"), ("tracker", "bob"), ("tracker", "carol"), ("tracker", "dave")])
    assert [h.dst for h in relay.relays()] == RING
    follow_order = path_of([("alice", "carol"), ("carol", "bob"), ("bob", "dave"), ("dave", "alice")])
    assert follow_order.chain() == ["@carol", "@bob", "@dave"]  # a ring, in the wrong order
    leak = path_of([("alice", "bob"), ("bob", "carol"), ("carol", "dave"), ("dave", "erin")])
    assert [h.dst for h in leak.outsiders()] == ["@erin"]


def test_a_way_home_that_carries_a_code_still_comes_back():
    def payload(src, dst):
        return b'{"done":1}' if (src, dst) == ("dave", "alice") else TEXT.encode()
    path = path_of([("alice", "bob"), ("bob", "carol"), ("carol", "dave"), ("dave", "alice")], payload)
    assert path.chain() == RING and path.came_back_from("@dave").carried == ""


def test_unreadable_packets_are_followed_hop_by_hop_and_set_up_messages_are_not_a_star():
    """The reference's traffic, scrambled: set-ups to every follower (each acknowledged on the same two
    ports), then the tweet from the tweeter to the first follower and on round the ring."""
    setup = [("alice", "bob"), ("alice", "carol"), ("alice", "dave")]
    wire, seq = [], 0
    for src, dst in setup:
        seq += 1
        wire.append(udp(seq, src, dst, scrambled(b'{"op":"setup"}'), sport=PORTS[src] + 3, dport=PORTS[dst] + 2))
        seq += 1
        wire.append(udp(seq, dst, src, scrambled(b'{"ok":1}'), sport=PORTS[dst] + 2, dport=PORTS[src] + 3))
    for src, dst in [("alice", "bob"), ("bob", "carol"), ("carol", "dave"), ("dave", "alice")]:
        seq += 1
        wire.append(udp(seq, src, dst, scrambled(TEXT.encode()), sport=PORTS[src] + 3, dport=PORTS[dst] + 2))
    ring = tweet_path(wire, TEXT, "@alice", RING, 0, 1, HANDLES)
    assert not ring.readable and ring.answers_ignored == 3
    assert ring.chain() == RING and ring.came_back_from("@dave") is not None
    star = [e for e in wire if (e.src, e.dst) not in (("bob", "carol"), ("carol", "dave"))]
    star += [udp(90, "alice", "carol", scrambled(TEXT.encode()), t=0.5), udp(91, "alice", "dave", b"\x01", t=0.6)]
    seen = tweet_path(star, TEXT, "@alice", RING, 0, 1, HANDLES)
    assert seen.chain() is None and not any(h.src in RING and h.dst in RING for h in seen.hops)


def test_a_late_acknowledgement_of_the_step_before_does_not_hide_the_next_message_on_its_ports():
    """A scrambled star on a loaded machine: the ring update of the step before is sent to every
    follower before the tweet is typed (t < 0.1), @bob's and @dave's acknowledgements come after it,
    and the tweet then goes to every follower on the same two ports. Each acknowledgement answers its
    set-up, so the tweet's messages are no answers: all three are hops, and it is a star, not a ring
    that reached only @carol."""
    def ring_port(name: str, sent: bool) -> int:
        return PORTS[name] + (3 if sent else 2)

    wire = []
    for seq, dst in enumerate(["bob", "carol", "dave"], start=1):
        wire.append(udp(seq, "alice", dst, scrambled(b'{"op":"setup"}'), t=seq / 100,
                        sport=ring_port("alice", True), dport=ring_port(dst, False)))
    wire.append(udp(4, "carol", "alice", scrambled(b'{"ok":1}'), t=0.05,
                    sport=ring_port("carol", False), dport=ring_port("alice", True)))
    typed = 0.1
    late = [("bob", 0.2), ("dave", 0.21)]
    wire += [udp(5 + i, src, "alice", scrambled(b'{"ok":1}'), t=t, sport=ring_port(src, False),
                 dport=ring_port("alice", True)) for i, (src, t) in enumerate(late)]
    wire += [udp(7 + i, "alice", dst, scrambled(TEXT.encode()), t=0.3 + i / 100, sport=ring_port("alice", True),
                 dport=ring_port(dst, False)) for i, dst in enumerate(["bob", "carol", "dave"])]
    path = tweet_path(wire, TEXT, "@alice", RING, typed, 1, HANDLES)
    assert [(h.src, h.dst) for h in path.hops] == [("@alice", "@bob"), ("@alice", "@carol"), ("@alice", "@dave")]
    assert path.chain() is None
    read = messages(wire, typed, 1, HANDLES)
    assert [(m.answer, m.late) for m in read] == [(False, True)] * 2 + [(False, False)] * 3


def test_a_tweet_ends_at_its_end_tweet_not_at_a_late_acknowledgement_to_the_tracker():
    ring_port = PORTS["alice"] + 2
    wire = [udp(1, "tracker", "alice", b'{"op":"ring_changed"}', t=0.05, sport=PORTS["tracker"], dport=ring_port),
            udp(2, "alice", "tracker", TEXT.encode(), t=0.11), udp(3, "alice", "bob", TEXT.encode(), t=0.12),
            udp(4, "bob", "alice", TEXT.encode(), t=0.13),
            udp(5, "alice", "tracker", b'{"ok":1}', t=0.14, sport=ring_port, dport=PORTS["tracker"]),
            udp(6, "alice", "tracker", b'{"op":"end_tweet"}', t=0.15)]
    assert tweet_path(wire, TEXT, "@alice", ["@bob"], 0.1, 1, HANDLES).span == (0.11, 0.15)


def test_tweets_typed_together_have_reached_the_tracker_only_once_each_sent_its_request():
    """The driver holds the tracker until each tweet typed together reached it. @bob's late
    acknowledgement of a ring update (the tracker's port and @bob's ring port, the other way) is
    no request; his tweet request is. On a program's only socket, with no acknowledgements, the
    request on the same two ports as the tracker's last notice still counts when it holds the text."""
    texts = {"alice": "hello from alice, tweet 1", "bob": "hello from bob, tweet 2"}
    tracker_port, ring_port = PORTS["tracker"], PORTS["bob"] + 2
    notice = udp(1, "tracker", "bob", b'{"op":"ring_changed"}', t=0.01, sport=tracker_port, dport=ring_port)
    wire = [notice, udp(2, "alice", "tracker", json.dumps({"op": "tweet", "text": texts["alice"]}).encode(), t=0.11),
            udp(3, "bob", "tracker", b'{"ok":true}', t=0.12, sport=ring_port, dport=tracker_port)]
    assert not requested(wire, 0.1, texts)
    wire.append(udp(4, "bob", "tracker", json.dumps({"op": "tweet", "text": texts["bob"]}).encode(), t=0.13))
    assert requested(wire, 0.1, texts)

    only_socket = [notice, wire[1], udp(3, "bob", "tracker", f"TWEET {texts['bob']}".encode(), t=0.12,
                                        sport=ring_port, dport=tracker_port)]
    assert requested(only_socket, 0.1, texts)


def test_traffic_that_the_tweet_did_not_cause_is_not_its_path():
    wire = [udp(1, "carol", "dave", scrambled(TEXT.encode())),  # before anything of the tweet reached @carol
            udp(2, "alice", "bob", scrambled(TEXT.encode())), udp(3, "bob", "carol", scrambled(TEXT.encode())),
            udp(4, "alice", "bob", TEXT.encode(), t=5.0)]  # after the step
    path = tweet_path(wire, TEXT, "@alice", RING, 0, 1, HANDLES)
    assert [(h.src, h.dst) for h in path.hops] == [("@alice", "@bob"), ("@bob", "@carol")]
