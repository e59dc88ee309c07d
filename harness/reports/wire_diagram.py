"""The time-space diagram of a scenario graded on a virtual LAN: the wire as it was captured.

One lane per host (the tracker, then the users), time downwards on the capture's clock (packets and
printed lines share it), one arrow per datagram or TCP segment from the sender's host to the
receiver's. The tweet's hops are bold and coloured by what they are (from the left neighbour as
required, from the wrong host, through the tracker, to someone outside the ring, a second copy, the
copy that came back); the rest of the traffic is faint (to and from the tracker, between users:
setups, acknowledgements). Printed lines are notes on their host's lane, received tweets included.
"""

from __future__ import annotations

from harness.judge.grading import ScenarioResult
from harness.reports.diagram import GAP_S, Arrow, Diagram, Item, Mark, _classify, _tweet_summary
from harness.reports.text import MAX_TEXT, format_time, visible
from harness.run.records import WireEvent

TRACKER = "tracker"
WIRE_COLOURS = {"normal": "#2563eb", "wrong-forwarder": "#ea580c", "relay": "#b45309", "duplicate": "#9333ea",
                "extra": "#dc2626", "return": "#059669", "tracker": "#94a3b8", "control": "#cbd5e1",
                "missing": "#dc2626", "no-return": "#b91c1c", "lost": "#e11d48", "copy": "#a855f7"}
WIRE_LEGEND = [
    ("normal", "a hop of the tweet from the receiver's left neighbour in the ring (as required)"),
    ("wrong-forwarder", "a hop from the wrong host: not the receiver's left neighbour (a star: all from the tweeter)"),
    ("relay", "the tracker sending the tweet to a user itself (a tweet travels user to user)"),
    ("duplicate", "a second or later copy to the same host"),
    ("extra", "a copy to a host outside the ring"),
    ("return", "the tweet coming back to the tweeter from the last follower"),
    ("tracker", "other traffic to and from the tracker (commands, replies), faint"),
    ("control", "other traffic between users (ring set-up, acknowledgements), faint"),
    ("missing", "missing: a follower no packet of the tweet reached (✗ after the tweet)"),
    ("no-return", "never came back to the tweeter (✗)"),
    ("lost", "a packet the harness dropped (network faults): it stops half-way, ✕"),
    ("copy", "the extra copy of a packet the harness duplicated (network faults), dotted"),
]
ARROW_PRIORITY = {"tracker": 3, "control": 3}  # the faint arrows are the first to go when rows are capped


def _fate_text(packet: WireEvent) -> str:
    """What the harness did to a packet under network faults, for its tooltip."""
    held = f", held {packet.delay_ms:g} ms" if packet.delay_ms else ""
    if packet.fate == "dropped":
        return " dropped by the harness"
    if packet.fate == "duplicated":
        return f" a copy made by the harness{held}"
    return held


class WireDiagram(Diagram):
    """The diagram of one scenario from its capture (hosts mode)."""

    wire_mode = True

    def __init__(self, result: ScenarioResult, index: int, trace_lines: str | None, *, calm: bool = False) -> None:
        record = result.record
        self.wire: list[WireEvent] = [w for w in (record.wire if record else []) if w.proto in ("udp", "tcp")]
        self.arp = sum(1 for w in (record.wire if record else []) if w.proto == "arp")
        super().__init__(result, index, trace_lines, calm=calm)
        if self.arp:
            self.notes.append(f"{self.arp} ARP frames not drawn (they are in {record.capture_file})")

    def _key(self, t: float, seq: int, packet: bool) -> float:
        """Rows by time; a packet and a line at the same microsecond keep their own rows."""
        return round(t, 6) + (seq % 1000) * 1e-10 + (5e-11 if packet else 0.0)

    def _collect_events(self) -> None:
        self.returned_seq = {}
        for event in self.events:
            lane = self.by_name.get(str(event.proc).lower())
            if lane is None:
                continue
            kind, priority, mark = _classify(event, self.noise)
            t = event.t - self.t0
            text = visible(event.text, MAX_TEXT)
            if event.seq in self.delivery_seqs:
                kind, priority, mark = "delivery-note", 0, "<"
            if kind is None:
                continue
            self._row(self._key(t, event.seq, False), t).items.append(
                Item(lane, kind, f"{mark} {text}" if mark else text,
                     f"{self.lanes[lane].label} {format_time(t)} {mark} {text}".strip(), priority, event.seq))

    @property
    def delivery_seqs(self) -> set:
        return {d.get("seq") for tweet in self.tweets for d in tweet.get("deliveries") or [] if isinstance(d, dict)}

    def _collect_tweets(self) -> None:
        hop_class = self._hop_classes()
        for packet in self.wire:
            src, dst = self._lane_of_host(packet.src), self._lane_of_host(packet.dst)
            if dst is None:
                self.hidden_arrows += 1
                continue
            cls, tag = hop_class.get(packet.seq, (self._faint(packet), ""))
            key = self._key(packet.t, packet.seq, True)
            title = (f"{format_time(packet.t)} {packet.proto.upper()} {visible(packet.src, 40)}:{packet.sport} → "
                     f"{visible(packet.dst, 40)}:{packet.dport} {packet.length} bytes [{cls}]{_fate_text(packet)}: "
                     f"{visible(packet.payload.decode('utf-8', 'replace'), 200)}")
            row = self._row(key, packet.t)
            row.items.append(Item(dst, "synthetic", "", "", ARROW_PRIORITY.get(cls, 0)))
            self.arrows.append(Arrow(cls, key, src, dst, title, tag, packet=packet.seq, cut=packet.fate == "dropped"))
        for number, tweet in enumerate(self.tweets, start=1):
            self._tweet_marks(number, tweet)
            self.tweet_rows.append(self._summary(number, tweet))

    def _lane_of_host(self, host: str | None) -> int | None:
        return self.by_name.get(str(host).lower()) if host is not None else None

    def _faint(self, packet: WireEvent) -> str:
        """The class of a packet that is not a hop of a tweet (dropped packets and the harness's copies
        never are)."""
        if packet.fate == "dropped":
            return "lost"
        if packet.fate == "duplicated":
            return "copy"
        return "tracker" if TRACKER in (packet.src, packet.dst) else "control"

    def _hop_classes(self) -> dict[int, tuple[str, str]]:
        """Each tweet hop's class and label, by packet seq."""
        classes: dict[int, tuple[str, str]] = {}
        for number, tweet in enumerate(self.tweets, start=1):
            tag = f"#{number}" if len(self.tweets) > 1 else ""
            tweeter = str(tweet.get("tweeter") or "")
            ring = [str(h) for h in tweet.get("ring") or []]
            cycle = [tweeter, *ring]
            left = {member: cycle[i - 1] for i, member in enumerate(cycle) if i > 0}
            reached: set[str] = set()
            for hop in tweet.get("hops") or []:
                if not isinstance(hop, dict) or hop.get("seq") in classes:
                    continue
                src, dst = str(hop.get("src")), str(hop.get("dst"))
                if dst == TRACKER or (src == TRACKER and dst == tweeter):
                    continue  # the tweet command and its reply: tracker traffic
                if dst == tweeter:
                    cls = "return" if ring and src == ring[-1] else "wrong-forwarder"
                elif src == TRACKER:
                    cls = "relay"
                elif dst not in ring:
                    cls = "extra"
                elif dst in reached:
                    cls = "duplicate"
                else:
                    cls = "normal" if left.get(dst) == src else "wrong-forwarder"
                reached.add(dst)
                classes[hop["seq"]] = (cls, tag)
        return classes

    def _tweet_marks(self, number: int, tweet: dict) -> None:
        """✗ for followers no packet reached, and for a tweet that never came back."""
        tag = f"#{number} " if len(self.tweets) > 1 else ""
        tweeter = str(tweet.get("tweeter") or "?")
        ring = [str(h) for h in tweet.get("ring") or []]
        hops = [h for h in tweet.get("hops") or [] if isinstance(h, dict)]
        reached = {str(h.get("dst")) for h in hops}
        missing = [member for member in ring if member not in reached]
        back = any(str(h.get("dst")) == tweeter and str(h.get("src")) in ring for h in hops)
        if not missing and (back or not ring):
            return
        times = [float(h.get("t") or 0) for h in hops] or [0.0]
        end_t = max(times) + 1e-6
        row = self._row(self._key(end_t, number, True), end_t)
        tweeter_lane = self.lane_of(tweeter)
        row.items.append(Item(tweeter_lane if tweeter_lane is not None else 0, "synthetic", "", "", 0))
        for member in missing:
            lane = self.lane_of(member)
            if lane is not None:
                self.marks.append(Mark("missing", row.key, lane, None,
                                       f"tweet {tag}by {visible(tweeter)}: no packet of it reached {visible(member)}",
                                       f"{tag}missing".strip()))
        if ring and not back and tweeter_lane is not None:
            self.marks.append(Mark("no-return", row.key, tweeter_lane, None,
                                   f"tweet {tag}by {visible(tweeter)}: no packet carried it back",
                                   f"{tag}never came back".strip()))

    def _summary(self, number: int, tweet: dict) -> dict:
        tweeter = str(tweet.get("tweeter") or "?")
        ring = [str(h) for h in tweet.get("ring") or []]
        deliveries = [d for d in tweet.get("deliveries") or [] if isinstance(d, dict)]
        summary = _tweet_summary(number, tweet, tweeter, ring, {}, deliveries)
        hops = [h for h in tweet.get("hops") or [] if isinstance(h, dict) and h.get("dst") != TRACKER]
        seen = [f"{visible(h.get('dst'), 40)} ← {visible(h.get('src'), 40)}" for h in hops[:30]]
        summary["observed"] = ", ".join(seen) or "no packet carried it"
        summary["missing"] = [visible(m, 40) for m in ring if m not in {str(h.get("dst")) for h in hops}]
        return summary

    legend_items = WIRE_LEGEND
    colours = WIRE_COLOURS
    axis = (f"Time runs downwards on the capture's clock (packets and printed lines share it), not to scale; "
            f"a dotted break marks a pause longer than {GAP_S} s. One arrow per datagram or TCP segment, "
            "from the sender's host to the receiver's; hover over an arrow for its bytes.")
