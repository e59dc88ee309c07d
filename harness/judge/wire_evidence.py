"""What the wire shows about one tweet: the packets that carried its text, host to host.

A packet carries a tweet when its payload holds the tweet's unique text as it was typed, JSON-escaped
(ASCII or not), as a pickled string, or in base64 (any alignment); for TCP, within the bytes one
connection sent in that direction, so a text split across segments is still found. Only packets
between the tweet being typed and the end of its step count, so two tweets with the same text in
different steps are told apart. Under network faults only the frames the switch delivered count: a
dropped frame reached nobody, and a copy the switch made is not a second send by the submission.

From those hops: who gave each follower its first copy, and whether that forms one chain from the
tweeter round the followers (a ring) or not (a star, a relay by the tracker).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from harness.run.records import WireEvent

TRACKER = "tracker"
MIN_BASE64 = 16  # shorter base64 fragments could match by chance


@dataclass(frozen=True)
class Hop:
    """A packet that carried the tweet: when, from which host, to which (handles, or "tracker")."""

    t: float
    src: str
    dst: str
    seq: int


def needles(text: str) -> list[bytes]:
    """Every form of `text` a submission's datagrams may hold it in."""
    forms = {text.encode("utf-8", "surrogatepass"), text.encode("raw_unicode_escape"),
             json.dumps(text)[1:-1].encode("ascii"), json.dumps(text, ensure_ascii=False)[1:-1].encode("utf-8", "surrogatepass")}
    raw = text.encode("utf-8", "surrogatepass")
    for shift in range(3):  # base64 of the text wherever it starts: the groups that hold only its bytes
        full_groups = (shift + len(raw)) // 3
        fragment = base64.b64encode(b"\0" * shift + raw)[4 if shift else 0:4 * full_groups]
        if len(fragment) >= MIN_BASE64:
            forms.add(fragment)
    return sorted((form for form in forms if form), key=len, reverse=True)


def tweet_hops(wire: list[WireEvent], text: str, start: float, end: float, handle_of: dict[str, str]) -> list[Hop]:
    """The packets between `start` and `end` that carried `text`, in capture order."""
    forms = needles(text)
    window = [e for e in wire if start <= e.t <= end and e.payload and e.proto in ("udp", "tcp")
              and e.fate == "delivered"]
    hops = [_hop(e, handle_of) for e in window if e.proto == "udp" and any(f in e.payload for f in forms)]
    hops += _tcp_hops([e for e in window if e.proto == "tcp"], forms, handle_of)
    return sorted(hops, key=lambda hop: (hop.t, hop.seq))


def _hop(event: WireEvent, handle_of: dict[str, str]) -> Hop:
    return Hop(event.t, _name(event.src, handle_of), _name(event.dst, handle_of), event.seq)


def _name(host: str | None, handle_of: dict[str, str]) -> str:
    if host is None:
        return "?"
    return TRACKER if host == TRACKER else handle_of.get(host, host)


def _tcp_hops(segments: list[WireEvent], forms: list[bytes], handle_of: dict[str, str]) -> list[Hop]:
    """Per connection and direction: the segment in which a form of the text is complete."""
    flows: dict[tuple, list[WireEvent]] = {}
    for segment in segments:
        flows.setdefault((segment.src_ip, segment.sport, segment.dst_ip, segment.dport), []).append(segment)
    hops = []
    for flow in flows.values():
        stream, ends = b"", []
        for segment in flow:
            stream += segment.payload
            ends.append(len(stream))
        found = set()
        for form in forms:
            at = stream.find(form)
            while at >= 0:
                last = at + len(form)
                found.add(next(i for i, end in enumerate(ends) if end >= last))
                at = stream.find(form, at + 1)
        hops += [_hop(flow[i], handle_of) for i in sorted(found)]
    return hops


class WireView:
    """The hops of one tweet read as a TA reads a capture."""

    def __init__(self, hops: list[Hop], tweeter: str, ring: list[str]) -> None:
        self.hops = hops
        self.tweeter = tweeter
        self.ring = ring  # the followers, sorted: the ring's order
        self.first_from: dict[str, str] = {}  # receiver -> who sent its first copy
        for hop in hops:
            if hop.dst not in (TRACKER, tweeter):
                self.first_from.setdefault(hop.dst, hop.src)

    @property
    def seen(self) -> bool:
        """Whether any packet to or between users carried the text (else the wire cannot judge)."""
        return any(hop.dst != TRACKER for hop in self.hops)

    def left_of(self, follower: str) -> str:
        cycle = [self.tweeter, *self.ring]
        return cycle[cycle.index(follower) - 1]

    def relays(self) -> list[Hop]:
        """The tracker sending the tweet to a user other than the tweeter."""
        return [hop for hop in self.hops if hop.src == TRACKER and hop.dst != self.tweeter]

    def outsiders(self) -> list[Hop]:
        """Copies sent to a host that is neither the tweeter's, a follower's nor the tracker's."""
        return [hop for hop in self.hops if hop.dst not in (TRACKER, self.tweeter, *self.ring)]

    def chain(self) -> list[str] | None:
        """The followers in the order the tweet went round, from who gave whom the first copy;
        None when that is not one chain from the tweeter (a star, a relay, a fork)."""
        received = {f: sender for f, sender in self.first_from.items() if f in self.ring}
        if not received:
            return None
        by_sender: dict[str, list[str]] = {}
        for follower, sender in received.items():
            by_sender.setdefault(sender, []).append(follower)
        chain, current = [], self.tweeter
        while len(by_sender.get(current, [])) == 1 and len(chain) <= len(received):
            current = by_sender[current][0]
            chain.append(current)
        return chain if len(chain) == len(received) else None

    def extra_sends_by_tweeter(self, chain: list[str]) -> list[Hop]:
        """The tweeter sending the tweet to a follower other than the first of the ring."""
        return [hop for hop in self.hops if hop.src == self.tweeter and hop.dst in self.ring and hop.dst != chain[0]]

    def came_back_from(self, last: str | None) -> Hop | None:
        """The first copy that reached the tweeter's host from `last` (any follower if None)."""
        return next((hop for hop in self.hops if hop.dst == self.tweeter
                     and (hop.src == last if last else hop.src in self.ring)), None)
