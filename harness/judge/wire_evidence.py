"""What the wire shows about one tweet: its path from host to host, read from the packets as a chain.

A TA reading a capture does not need to read the packets to see a ring: the tweeter's host sends
something to the first follower, that host then sends something to the next one, and so on until the
last follower's host sends something back to the tweeter's. So a tweet's path is read here from who
sent to whom, and when, between the typing of the tweet and the end of its step:

- **messages** and **answers** as run/exchanges.py reads them from the frames; answers are not hops
  (an acknowledgement, whatever it carries), unless they carry the tweet's text;
- **causality**: a host takes part only once a message of the tweet reached it (the tweeter from the
  start), so traffic that began elsewhere is not this tweet's.

Contents are used where they help, never required: a message *carries* the tweet when it holds the
whole text (as typed, JSON-escaped, pickled, in base64 at any alignment, inside base64 or zlib), or
*part* of it (the longest prefix found, the first word at least). When a message to a user carries
the text, the hops are the messages that carry it (so a ring's set-up messages, which carry none,
are not taken for a star), and the way home is any message from the last follower to the tweeter;
when none does, every message a follower sends on is a hop. Part of a text shared with another tweet
in flight ties a message to neither. Under network faults only the frames the switch delivered count.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.run.exchanges import TRACKER, Message, messages
from harness.run.records import WireEvent

MIN_BASE64 = 16  # shorter base64 fragments could match by chance
MIN_PART = 4  # a shorter prefix of the text (or first word) could match by chance
Carried = str  # "whole", "part" or "" (nothing readable of this tweet)


@dataclass(frozen=True)
class Hop:
    """A message of the tweet: when, from which host to which, and how much of its text it held."""

    t: float
    src: str
    dst: str
    seq: int
    carried: Carried = ""
    length: int = 0  # characters of the text it held (all of them when whole)


# -- reading the text in a payload -------------------------------------------------------------------
def needles(text: str) -> list[bytes]:
    """Every form of the whole of `text` a submission's datagrams may hold it in."""
    forms = set(_plain_forms(text))
    raw = text.encode("utf-8", "surrogatepass")
    for shift in range(3):  # base64 of the text wherever it starts: the groups that hold only its bytes
        full_groups = (shift + len(raw)) // 3
        fragment = base64.b64encode(b"\0" * shift + raw)[4 if shift else 0:4 * full_groups]
        if len(fragment) >= MIN_BASE64:
            forms.add(fragment)
    return sorted((form for form in forms if form), key=len, reverse=True)


_PLAIN_FORMS: tuple[Callable[[str], bytes], ...] = (  # the text as typed, JSON-escaped (ASCII or UTF-8), pickled
    lambda text: text.encode("utf-8", "surrogatepass"),
    lambda text: text.encode("raw_unicode_escape"),
    lambda text: json.dumps(text)[1:-1].encode("ascii"),
    lambda text: json.dumps(text, ensure_ascii=False)[1:-1].encode("utf-8", "surrogatepass"),
)


def _plain_forms(text: str) -> list[bytes]:
    """The text as typed, JSON-escaped (ASCII or UTF-8) and pickled (raw-unicode-escape)."""
    return [form(text) for form in _PLAIN_FORMS]


def _unwrapped(payload: bytes) -> list[bytes]:
    """The payload, and what it decodes to where the whole of it is base64 or zlib."""
    found = [payload]
    body = payload.strip()
    if len(body) >= 8 and len(body) % 4 == 0:
        try:
            found.append(base64.b64decode(body, validate=True))
        except (binascii.Error, ValueError):
            pass
    for data in list(found):
        if data[:1] == b"\x78":
            try:
                found.append(zlib.decompressobj().decompress(data, 1 << 16))
            except zlib.error:
                pass
    return found


def longest_prefix(payload: bytes, text: str) -> int:
    """How many characters of the start of `text` the payload holds (0 if fewer than MIN_PART)."""
    shortest = min(MIN_PART, len(text))
    best = 0
    for data in _unwrapped(payload):
        for form in _PLAIN_FORMS:
            if form(text[:shortest]) not in data:
                continue  # not even the shortest prefix that counts: no longer one either
            low, high = max(best, shortest), len(text)
            while low < high:  # a prefix found means every shorter one is there too
                middle = (low + high + 1) // 2
                if form(text[:middle]) in data:
                    low = middle
                else:
                    high = middle - 1
            best = max(best, low)
    return best


def carried(payload: bytes, text: str, others: tuple[str, ...] = ()) -> tuple[Carried, int]:
    """("whole", len) when the payload holds the whole text in some form, ("part", n) when it holds
    its first n characters (at least its first word, or MIN_PART), else ("", 0). Part of a text that
    another tweet in flight starts with too ties the message to neither."""
    if not payload:
        return "", 0
    if any(form in data for data in _unwrapped(payload) for form in needles(text)):
        return "whole", len(text)
    length = longest_prefix(payload, text)
    first_word = len(text.split(" ", 1)[0])
    if length < min(first_word, 8) or any(other[:length] == text[:length] for other in others):
        return "", 0
    return "part", length


def describe_part(text: str, length: int) -> str:
    """'hello', the first word of the text / the first 20 of its 64 characters, 'hello from …'."""
    part = text[:length]
    if part == text.split(" ", 1)[0] or part.rstrip(",.!?;:") == text.split(" ", 1)[0]:
        return f"{part!r}, the first word of the text"
    return f"{part!r}, the first {length} of its {len(text)} characters"


# -- the tweet's path -------------------------------------------------------------------------------
@dataclass
class TweetPath:
    """The hops of one tweet read as a TA reads a capture: from the tweeter, host to host.

    `readable`: some message to a user held the text (whole or in part), so the hops are the messages
    that held it; else every message a host of the tweet sent to a user after it was reached.
    """

    tweeter: str
    ring: list[str]  # the followers, sorted: the ring's order
    hops: list[Hop] = field(default_factory=list)  # the tweet's messages (and the way home), in time order
    readable: bool = False
    to_tracker: bool = False  # the text went to the tracker (the tweet request) in a readable form
    span: tuple[float, float] | None = None  # from the first message of the tweet to its end at the tracker
    contacts: dict[str, list[str]] = field(default_factory=dict)  # user -> every host that sent it something
    answers_ignored: int = 0
    place: str = "host"  # what sends and receives: a "host" of a LAN, or a "program" on loopback
    unattributed: bool = False  # on loopback: a message of its time had an end no program was seen to hold

    # who sent what to whom
    def senders(self, receiver: str) -> list[str]:
        return list(dict.fromkeys(h.src for h in self.hops if h.dst == receiver))

    def followers_reached(self) -> list[str]:
        return [f for f in self.ring if self.senders(f)]

    def left_of(self, follower: str) -> str:
        cycle = [self.tweeter, *self.ring]
        return cycle[cycle.index(follower) - 1]

    def relays(self) -> list[Hop]:
        """The tracker sending the tweet's text to a user other than the tweeter."""
        return [h for h in self.hops if h.src == TRACKER and h.dst != self.tweeter and h.carried]

    def star_sends(self) -> list[Hop]:
        """The tweeter sending the text to followers other than the one its ring starts with."""
        if not self.readable:
            return []
        sent = [h for h in self.hops if h.src == self.tweeter and h.dst in self.ring and h.carried]
        firsts = list(dict.fromkeys(h.dst for h in sent))
        return [h for h in sent if h.dst in firsts[1:]] if len(firsts) > 1 else []

    def outsiders(self) -> list[Hop]:
        """Messages of the tweet to a host that is neither the tweeter's, a follower's nor the tracker's.
        Unreadable, only what a follower passed on counts: the tweeter also tears down old rings."""
        return [h for h in self.hops if h.dst not in (TRACKER, self.tweeter, *self.ring)
                and (self.readable or h.src in self.ring)]

    def chain(self) -> list[str] | None:
        """The followers in the order the tweet went round: from the follower the tweeter reached
        that no follower passed it to, each to the one it passed it on to. None when the followers'
        hops do not make one chain (one passed it to two others, or it went round in a loop)."""
        onward: dict[str, list[str]] = {}
        for hop in self.hops:
            if hop.src in self.ring and hop.dst in self.ring and hop.dst != hop.src:
                targets = onward.setdefault(hop.src, [])
                if hop.dst not in targets:
                    targets.append(hop.dst)
        passed_to = {f for targets in onward.values() for f in targets}
        starts = [f for f in self.ring if self.tweeter in self.senders(f) and f not in passed_to]
        if not onward:
            reached = [f for f in self.ring if self.tweeter in self.senders(f)]
            return reached if len(reached) == 1 else None
        if len(starts) != 1 or any(len(targets) > 1 for targets in onward.values()):
            return None
        chain = [starts[0]]
        while onward.get(chain[-1]) and onward[chain[-1]][0] not in chain:
            chain.append(onward[chain[-1]][0])
        visited = set(chain)
        return chain if visited >= set(onward) | passed_to else None

    def came_back_from(self, last: str | None) -> Hop | None:
        """The first message that reached the tweeter's host from `last` (any follower if None)."""
        return next((h for h in self.hops if h.dst == self.tweeter
                     and (h.src == last if last else h.src in self.ring)), None)

    def most_carried(self, receiver: str) -> int:
        """The most of the text any message to `receiver` held (characters; 0: nothing readable)."""
        return max((h.length for h in self.hops if h.dst == receiver), default=0)

    def to_json(self) -> list[dict]:
        return [{"t": h.t, "src": h.src, "dst": h.dst, "seq": h.seq, "carried": h.carried or "nothing readable"}
                for h in self.hops]


def tweet_path(wire: list[WireEvent], text: str, tweeter: str, ring: list[str], start: float, end: float,
               handle_of: dict[str, str], others: tuple[str, ...] = (), place: str = "host") -> TweetPath:
    """The path of the tweet `text` typed by `tweeter` between `start` and `end` (see the module's
    docstring); `others`: the texts of tweets in flight at the same time; `place`: "host" on a LAN,
    "program" on loopback (where every program has the same address)."""
    found = messages(wire, start, end, handle_of)
    path = TweetPath(tweeter, ring, place=place)
    programs = {TRACKER, *handle_of.values()}
    path.unattributed = place == "program" and any(m.src not in programs or m.dst not in programs for m in found)
    reading = [(m, *carried(m.payload, text, others)) for m in found]
    foreign = {m.seq for m, _, _ in reading if any(carried(m.payload, other)[0] for other in others)}
    path.readable = any(kind and m.dst not in (TRACKER, tweeter) for m, kind, _ in reading)
    path.to_tracker = any(kind and m.dst == TRACKER for m, kind, _ in reading)
    for message in found:
        if not message.answer and message.dst != TRACKER:
            senders = path.contacts.setdefault(message.dst, [])
            if message.src not in senders:
                senders.append(message.src)
    reached = {tweeter: start}
    for message, kind, length in reading:
        if message.src not in reached or message.seq in foreign and not kind:
            continue
        if not _is_hop(path, message, kind):
            path.answers_ignored += message.answer
            continue
        path.hops.append(Hop(message.t, message.src, message.dst, message.seq, kind, length))
        reached.setdefault(message.dst, message.t)
    path.span = _span(path, reading, found)
    return path


def _is_hop(path: TweetPath, message: Message, kind: Carried) -> bool:
    """Whether a message from a host the tweet reached is one of its hops."""
    if kind:
        return True
    if message.answer:
        return False
    if path.readable:  # the way home may carry a completion code; a follower's onward copy carries text
        return message.dst == path.tweeter and message.src in path.ring
    if message.src == TRACKER or message.dst == TRACKER:
        return False  # unreadable: the tracker's own traffic (answers, notices) is not the tweet
    return True


def _span(path: TweetPath, reading: list[tuple[Message, Carried, int]], found: list[Message]) -> tuple[float, float] | None:
    """From the first message that carried the tweet to its end: the tweeter's first message to the
    tracker after the last hop (end-tweet), else the last hop."""
    carrying = [m.t for m, kind, _ in reading if kind]
    if not carrying:
        return None
    last = max([h.t for h in path.hops] + carrying)
    end = next((m.t for m in found if m.t > last and m.src == path.tweeter and m.dst == TRACKER and m.request), last)
    return min(carrying), end
