"""What the captured frames say was sent: messages from host to host, and which of them answer which.

- **a message** is a UDP datagram, or what one TCP connection carried one way in one turn (so a
  payload split over segments, or a connection per message, is one message at the time it was
  complete); only the frames the switch delivered count;
- **an answer** is a UDP message on the same two ports the other way as one its sender received
  and had not answered yet (an acknowledgement, however many other messages came in between), or
  data from the side that accepted a TCP connection; **late** when what it answers was sent before
  the window read (a ring update of the step before, acknowledged after the next line was typed).

A request is a message that is neither. Read while a scenario runs (the driver holds the tracker
until each tweet typed together reached it as a request) and when it is judged (a tweet's path in
judge/wire_evidence.py; the request a tracker died of in judge/endings.py).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from harness.run.records import WireEvent

TRACKER = "tracker"


@dataclass(frozen=True)
class Message:
    """One message from a host to another: when it was complete, who sent it to whom, what it held."""

    t: float
    src: str  # a handle, "tracker", or an address no host of the LAN has
    dst: str
    seq: int  # the capture's number of the frame that completed it
    payload: bytes
    answer: bool = False  # it answers a message the other way (an acknowledgement)
    late: bool = False  # it answers one sent before the window read (see _mark_answers)

    @property
    def request(self) -> bool:
        """Neither an answer nor a late one: what the sender itself asked or told."""
        return not (self.answer or self.late)


def messages(wire: list[WireEvent], start: float, end: float, handle_of: dict[str, str]) -> list[Message]:
    """The messages between `start` and `end` (delivered frames only), in the order they were complete.
    The UDP messages before `start` are read too, for what they leave unanswered (see _mark_answers)."""
    delivered = [e for e in wire if e.t <= end and e.fate == "delivered" and e.proto in ("udp", "tcp")]
    window = [e for e in delivered if e.t >= start]
    earlier = [_message(e, e.payload, handle_of) for e in delivered if e.t < start and e.proto == "udp"]
    found = [_message(e, e.payload, handle_of) for e in window if e.proto == "udp"]
    found += _tcp_messages([e for e in window if e.proto == "tcp"], handle_of)
    found.sort(key=lambda m: (m.t, m.seq))
    return _mark_answers(found, delivered, earlier)


def _message(event: WireEvent, payload: bytes, handle_of: dict[str, str], answer: bool = False) -> Message:
    return Message(event.t, _name(event.src, handle_of), _name(event.dst, handle_of), event.seq, payload, answer)


def _name(host: str | None, handle_of: dict[str, str]) -> str:
    if host is None:
        return "?"
    return TRACKER if host == TRACKER else handle_of.get(host, host)


def _tcp_messages(segments: list[WireEvent], handle_of: dict[str, str]) -> list[Message]:
    """Per connection, each turn of data one way is one message, complete at its last segment; data
    from the side that accepted the connection answers the side that opened it."""
    connections: dict[tuple, list[WireEvent]] = {}
    for segment in segments:
        key = tuple(sorted([(segment.src_ip, segment.sport), (segment.dst_ip, segment.dport)]))
        connections.setdefault(key, []).append(segment)
    found = []
    for flow in connections.values():
        opener = next(((s.src_ip, s.sport) for s in flow if s.tcp_flags and "S" in s.tcp_flags
                       and "A" not in s.tcp_flags), None)
        turn: list[WireEvent] = []
        for segment in [s for s in flow if s.payload] + [None]:  # type: ignore[list-item]
            if turn and (segment is None or (segment.src_ip, segment.sport) != (turn[0].src_ip, turn[0].sport)):
                side = (turn[0].src_ip, turn[0].sport)
                found.append(_message(turn[-1], b"".join(s.payload for s in turn), handle_of,
                                      answer=opener is not None and side != opener))
                turn = []
            if segment is not None:
                turn.append(segment)
    return found


def _mark_answers(found: list[Message], delivered: list[WireEvent], earlier: list[Message]) -> list[Message]:
    """A UDP message that answers one its sender received and has not answered yet (the same two
    ports the other way): an acknowledgement, however many other messages came in between.

    What was left unanswered before the window counts too: a late acknowledgement of the step
    before (a ring update acknowledged after the tweet was typed) answers that (`late`), and is no
    request of its own, so the next message on the same two ports the other way is not taken for
    its answer. It is not marked an answer: on a program's only socket, with no acknowledgements,
    the same two ports the other way are also a tweet's way home."""
    ports = {e.seq: (e.sport, e.dport) for e in delivered}
    unanswered: dict[str, list[Message]] = {}  # host -> messages it received and has not answered
    for message in earlier:
        asked = _asked(message, unanswered, ports)
        if asked is not None:
            unanswered[message.src].remove(asked)
        elif not message.answer:
            unanswered.setdefault(message.dst, []).append(message)
    before = {message.seq for message in earlier}
    marked = []
    for message in found:
        asked = None if message.answer else _asked(message, unanswered, ports)
        if asked is not None:
            unanswered[message.src].remove(asked)
            late = asked.seq in before
            message = Message(message.t, message.src, message.dst, message.seq, message.payload, not late, late)
        elif not message.answer:
            unanswered.setdefault(message.dst, []).append(message)
        marked.append(message)
    return marked


def _asked(message: Message, unanswered: dict[str, list[Message]], ports: dict[int, tuple]) -> Message | None:
    """The first message `message`'s sender received from its receiver and has not answered, on the
    same two ports the other way."""
    back = tuple(reversed(ports.get(message.seq, (None, None))))
    return next((m for m in unanswered.get(message.src, []) if m.src == message.dst and ports.get(m.seq) == back),
                None)


def requested(wire: list[WireEvent], since: float, texts: dict[str, str]) -> bool:
    """Whether each program of `texts` (program -> the text it was told to send) sent the tracker a
    request since `since`: a message that holds its text, or that answers nothing the tracker sent
    it (a ring update acknowledged late is no request)."""
    sent = {m.src for m in messages(wire, since, math.inf, {}) if m.dst == TRACKER and m.payload
            and m.src in texts and (m.request or _holds(m.payload, texts[m.src]))}
    return sent >= set(texts)


def _holds(payload: bytes, text: str) -> bool:
    """Whether `payload` holds `text` as typed or JSON-escaped (what most requests carry)."""
    return text.encode() in payload or json.dumps(text)[1:-1].encode() in payload
