"""The time-space diagram of one scenario: lanes, rows and arrows laid out for SVG.

It has one vertical lane per process (the tracker, then the users in order of first appearance) and
time running downwards. Rows follow the order in which lines reached the harness (the trace's
sequence numbers), not a time scale: the events of a ring are sub-millisecond apart, so a linear
scale would draw them on top of each other. Each row shows its time since the scenario started; a
pause longer than GAP_S is drawn as a break. Each tweet is drawn as arrows from the forwarding
handle's lane to the receiver's lane, ending on the row where the receiver printed it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from harness.judge.grading import ScenarioResult
from harness.reports.text import format_time as _time, short, visible
from harness.run.records import Event, Transcript

# bounds: whatever a submission printed, the diagram stays small
MAX_LANES = 10  # processes drawn in a diagram
MAX_ROWS = 160  # rows (events) drawn in a diagram
MAX_ARROWS = 200  # tweet deliveries drawn in a diagram
MAX_LINE = 400  # characters shown of one line

# geometry of the diagram (px)
ROW_H = 19
GAP_S = 0.25  # a pause longer than this between two rows is drawn as a break
GAP_H = 16
TOP = 44  # room for the lane names
GUTTER = 70  # left margin with the row times
RIGHT = 16
MAX_WIDTH = 1090
LANE_INSET = 56  # first lane's distance from the gutter (room for its name box)
LANE_MIN, LANE_MAX = 112, 200
CHAR_W = 6.1  # width of one character of a 10px monospace label
ARROW_RISE = 12  # an arrow starts this much above the row where it ends (the send is not observed)

DEFAULT_TRACE_LINES = r"^\[trace\] "  # the reference's protocol-trace lines: not drawn in the diagram
RESULT_RE = re.compile(r"\b(success(ful(ly)?)?|succeeded|ok)\b|\b(failure|failed|fail|error|refused|"
                       r"rejected|invalid|denied)\b", re.IGNORECASE)
END_TWEET_RE = re.compile(r"\bend[-_ ]?tweet\b", re.IGNORECASE)
RETURNED_RE = re.compile(r"\b(return(ed|s)?|came back|back (at|to|home))\b", re.IGNORECASE)
COLOURS = {"normal": "#2563eb", "wrong-forwarder": "#ea580c", "duplicate": "#9333ea", "extra": "#dc2626",
           "unknown": "#6b7280", "return": "#059669", "missing": "#dc2626", "no-return": "#b91c1c"}
LEGEND = [
    ("normal", "delivered by its left neighbour in the ring (as required)"),
    ("wrong-forwarder", "out of order / wrong forwarder: not from the receiver's left neighbour "
                        "(e.g. a star, where every arrow starts at the tweeter)"),
    ("duplicate", "duplicate: a second or later copy printed by the same receiver"),
    ("extra", "extra: printed by a user who does not follow the tweeter"),
    ("unknown", "source not printed: drawn from the expected left neighbour"),
    ("return", "the tweet came back to the tweeter (drawn at the tweeter's line saying so, from the "
               "last follower that printed it before)"),
    ("missing", "missing: a follower that never printed it (dashed, ✗ at the end of the tweet)"),
    ("no-return", "never came back to the tweeter (✗)"),
]
# every class has a short name and a stroke of its own besides its colour (dash pattern, arrowhead),
# so a reader tells e.g. a wrong forwarder from an extra delivery without telling orange from red
NAMES = {"normal": "ring hop", "wrong-forwarder": "wrong forwarder", "duplicate": "duplicate",
         "extra": "extra delivery", "unknown": "source not printed", "return": "return", "missing": "missing",
         "no-return": "no return", "relay": "tracker relay", "tracker": "tracker traffic",
         "control": "set-up traffic", "lost": "dropped", "copy": "harness copy"}
DASHES = {"copy": "1 3", "wrong-forwarder": "10 3 2 3", "duplicate": "6 3", "extra": "2 3", "unknown": "6 3", "relay": "4 2"}
HEADS = {"wrong-forwarder": "open", "duplicate": "double", "extra": "dot", "relay": "square"}  # else "triangle"
HEAD_PATHS = {"triangle": "M0,0 L10,5 L0,10 z", "open": "M1,1 L9,5 L1,9 z", "double": "M0,0 L5,5 L0,10 z M5,0 L10,5 L5,10 z",
              "dot": "M5,1 A4,4 0 1 1 4.99,1 z", "square": "M1,1 L9,1 L9,9 L1,9 z"}
# a passed scenario is drawn without fault colours: what it shows was judged right (a FAILURE answer
# to a duplicate registration, say), and red there would send a reader looking for a fault
FAULTS = {"wrong-forwarder", "duplicate", "extra", "missing", "no-return", "relay"}
CALM = "#64748b"



# -- the diagram's model ---------------------------------------------------------------------------
@dataclass
class Lane:
    name: str  # process name in the trace
    label: str
    x: float = 0.0


@dataclass
class Item:
    """One thing drawn on one row of one lane."""

    lane: int
    kind: str  # typed | result-ok | result-fail | other | start | exit | note | delivery | returned | synthetic
    text: str = ""
    title: str = ""
    priority: int = 3  # 0 kept first when rows are capped
    line: int | None = None  # the seq of the printed or typed line it stands for


@dataclass
class Row:
    key: float  # the event's seq (a synthetic row sits between two seqs)
    t: float | None
    items: list[Item] = field(default_factory=list)
    y: float = 0.0

    @property
    def priority(self) -> int:
        return min((item.priority for item in self.items), default=3)


@dataclass
class Arrow:
    cls: str
    key: float
    src: int | None  # lane index; None: the source is not a drawn lane
    dst: int
    title: str
    label: str = ""
    line: int | None = None  # the seq of the line that puts it at its time (loopback)
    packet: int | None = None  # the seq of the captured packet it is (hosts)
    cut: bool = False  # dropped on the way (network faults): it stops half-way, with a ✕


@dataclass
class Mark:
    cls: str  # missing | no-return
    key: float
    lane: int
    src: int | None
    title: str
    label: str


class Diagram:
    """Lanes, rows and arrows of one scenario, laid out for SVG (from printed lines: loopback)."""

    legend_items = LEGEND
    colours = COLOURS
    axis = ""  # the template's own words, for this diagram

    def __init__(self, result: ScenarioResult, index: int, trace_lines: str | None, *, calm: bool = False) -> None:
        self.id = f"d{index}"
        self.calm = calm
        self.notes: list[str] = []
        trace = result.trace
        self.events: list[Event] = trace.snapshot() if isinstance(trace, Transcript) else []
        self.t0 = trace.t0 if isinstance(trace, Transcript) else 0.0
        self.noise = _compile(trace_lines)
        self.tweets = [t for t in (result.tweets or []) if isinstance(t, dict)]
        self.lanes = self._lanes()
        self.by_name = {lane.name.lower(): i for i, lane in enumerate(self.lanes)}
        self.rows: dict[float, Row] = {}
        self.arrows: list[Arrow] = []
        self.marks: list[Mark] = []
        self.tweet_rows: list[dict] = []
        self.hidden_arrows = 0
        self._collect_events()
        self._collect_tweets()
        self._cap_rows()
        self._layout()

    # lanes: the tracker, then users in order of first appearance, then handles only tweets name
    def _lanes(self) -> list[Lane]:
        names: dict[str, None] = {}
        for event in self.events:
            if event.proc != "harness":
                names.setdefault(str(event.proc), None)
        ordered = (["tracker"] if "tracker" in names else []) + [n for n in names if n != "tracker"]
        known = {n.lower() for n in ordered}
        for tweet in self.tweets:
            handles = [tweet.get("tweeter"), *(tweet.get("ring") or []),
                       *(d.get("receiver") for d in tweet.get("deliveries") or [] if isinstance(d, dict))]
            for handle in handles:
                name = _lane_name(handle)
                if name and name.lower() not in known:
                    known.add(name.lower())
                    ordered.append(name)
        if len(ordered) > MAX_LANES:
            self.notes.append(f"{len(ordered) - MAX_LANES} more processes not drawn "
                              f"({', '.join(visible(n, 40) for n in ordered[MAX_LANES:MAX_LANES + 5])}"
                              f"{', …' if len(ordered) > MAX_LANES + 5 else ''}); see the transcripts")
            ordered = ordered[:MAX_LANES]
        return [Lane(n, n if n in ("tracker", "harness") else f"@{n}") for n in ordered]

    def lane_of(self, handle: object) -> int | None:
        name = _lane_name(handle)
        return self.by_name.get(name.lower()) if name else None

    def _row(self, key: float, t: float | None) -> Row:
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = Row(key, t)
        elif row.t is None:
            row.t = t
        return row

    def _collect_events(self) -> None:
        delivery_seqs = {d.get("seq") for tweet in self.tweets for d in tweet.get("deliveries") or []
                         if isinstance(d, dict)}
        self.returned_seq = self._returned_lines()
        for event in self.events:
            lane = self.by_name.get(str(event.proc).lower())
            if lane is None or event.seq in delivery_seqs:
                continue  # deliveries are drawn with their tweet
            text = visible(event.text, MAX_LINE)
            t = event.t - self.t0
            kind, priority, mark = _classify(event, self.noise)
            if event.seq in self.returned_seq.values():
                kind, priority, mark = "returned", 0, "<"
            if kind is None:
                continue
            self._row(event.seq, t).items.append(
                Item(lane, kind, f"{mark} {text}" if mark else text,
                     f"{self.lanes[lane].label} {_time(t)} {mark} {text}".strip(), priority, event.seq))
        self._share_start_exit_rows()

    def _returned_lines(self) -> dict[int, int]:
        """Per tweet index, the seq of the tweeter's line that says the tweet came back (a guess:
        the dialect is not known here), looked for after the tweet's first delivery."""
        found: dict[int, int] = {}
        for index, tweet in enumerate(self.tweets):
            if tweet.get("returned") is not True:
                continue
            seqs = [d.get("seq") for d in tweet.get("deliveries") or [] if isinstance(d, dict)
                    and isinstance(d.get("seq"), int)]
            after = min(seqs) - 40 if seqs else -1  # lines of different processes arrive in any order
            tweeter = _lane_name(tweet.get("tweeter"))
            for event in self.events:
                if (event.seq > after and event.kind == "out" and tweeter
                        and str(event.proc).lower() == tweeter.lower()
                        and not (self.noise and self.noise.search(event.text[:4096]))
                        and RETURNED_RE.search(event.text[:4096]) and event.seq not in found.values()):
                    found[index] = event.seq
                    break
        return found

    def _share_start_exit_rows(self) -> None:
        """Starts and exits of different processes in a row share one row (they end every run)."""
        keys = sorted(self.rows)
        previous: Row | None = None
        for key in keys:
            row = self.rows[key]
            lone = len(row.items) == 1 and row.items[0].kind in ("start", "exit")
            if (lone and previous is not None and all(i.kind == row.items[0].kind for i in previous.items)
                    and row.items[0].lane not in {i.lane for i in previous.items}
                    and (row.t or 0) - (previous.t or 0) < GAP_S):
                previous.items.extend(row.items)
                del self.rows[key]
                continue
            previous = row if lone or all(i.kind in ("start", "exit") for i in row.items) else None

    def _collect_tweets(self) -> None:
        drawn = 0
        for number, tweet in enumerate(self.tweets, start=1):
            tweeter = str(tweet.get("tweeter") or "?")
            ring = [str(h) for h in tweet.get("ring") or []]
            cycle = [tweeter, *ring]
            left = {member: cycle[i - 1] for i, member in enumerate(cycle) if i > 0}
            deliveries = sorted((d for d in tweet.get("deliveries") or [] if isinstance(d, dict)),
                                key=lambda d: d.get("seq") if isinstance(d.get("seq"), (int, float)) else 1e18)
            seen: set[str] = set()
            counts = {cls: 0 for cls, _ in LEGEND}
            last_key = -1.0
            tag = f"#{number} " if len(self.tweets) > 1 else ""
            for position, delivery in enumerate(deliveries):
                receiver = str(delivery.get("receiver") or "?")
                forwarder = delivery.get("forwarder")
                seq = delivery.get("seq")
                key = float(seq) if isinstance(seq, (int, float)) else 1e9 + number * 1000 + position
                t = delivery.get("t") if isinstance(delivery.get("t"), (int, float)) else None
                cls = _delivery_class(receiver, forwarder, ring, left, seen)
                seen.add(receiver.lower())
                counts[cls] += 1
                last_key = max(last_key, key)
                dst = self.lane_of(receiver)
                src = self.lane_of(forwarder) if forwarder is not None else self.lane_of(left.get(receiver))
                printed = visible(delivery.get("text"), MAX_LINE)
                title = (f"tweet {tag}by {visible(tweeter)}: {visible(receiver)} printed it, forwarded by "
                         f"{visible(forwarder) if forwarder is not None else '(not printed)'} "
                         f"[{cls}] {_time(t)}: {printed}")
                if dst is None or drawn >= MAX_ARROWS:
                    self.hidden_arrows += 1
                    continue
                drawn += 1
                line = seq if isinstance(seq, int) else None
                self._row(key, t).items.append(Item(dst, "delivery", f"{tag}< {printed}", title, 0, line))
                label = tag + ("" if forwarder is not None and src is not None else
                               f"from {short(forwarder, 12)}" if forwarder is not None else "?")
                self.arrows.append(Arrow(cls, key, src, dst, title, label.strip(), line))
            self._tweet_end(number, tweet, tweeter, ring, left, deliveries, last_key, tag)
            self.tweet_rows.append(_tweet_summary(number, tweet, tweeter, ring, counts, deliveries))

    def _tweet_end(self, number: int, tweet: dict, tweeter: str, ring: list[str], left: dict,
                   deliveries: list[dict], last_key: float, tag: str) -> None:
        """The return arrow, and the ✗ marks of followers that never printed it, after the tweet."""
        got = {str(d.get("receiver") or "").lower() for d in deliveries}
        missing = [member for member in ring if member.lower() not in got]
        returned = tweet.get("returned")
        tweeter_lane = self.lane_of(tweeter)
        end_key = last_key + 0.5 + number * 1e-4 if last_key >= 0 else None
        if end_key is None:  # nobody printed it: after the tweet was typed (or at the end)
            typed = [e.seq for e in self.events if e.kind == "in" and tweeter_lane is not None
                     and str(e.proc).lower() == self.lanes[tweeter_lane].name.lower()
                     and str(tweet.get("text") or "\0") in e.text]
            end_key = (typed[-1] if typed else (self.events[-1].seq if self.events else 0)) + 0.5 + number * 1e-4
        end_t = self.rows[last_key].t if last_key in self.rows else None
        if returned is True and ring and tweeter_lane is not None:
            line = self.returned_seq.get(number - 1)
            key, t = (float(line), None) if line is not None else self._return_before_end_tweet(
                tweeter_lane, deliveries, end_key, end_t)
            source = self._last_receiver_before(deliveries, key)
            row = self._row(key, t)
            if not row.items:
                row.items.append(Item(tweeter_lane, "synthetic", "", "", 0))
            self.arrows.append(Arrow("return", key, source, tweeter_lane,
                                     f"tweet {tag}by {visible(tweeter)} came back round the ring (drawn from "
                                     f"the last follower that printed it before)", f"{tag}back".strip(), line))
        if missing or returned is False:
            row = self._row(end_key, end_t)
            row.items.append(Item(tweeter_lane if tweeter_lane is not None else 0, "synthetic", "", "", 0))
            for member in missing:
                lane = self.lane_of(member)
                if lane is not None:
                    self.marks.append(Mark("missing", end_key, lane, self.lane_of(left.get(member)),
                                           f"tweet {tag}by {visible(tweeter)}: {visible(member)} never printed it",
                                           f"{tag}missing".strip()))
            if returned is False and tweeter_lane is not None:
                self.marks.append(Mark("no-return", end_key, tweeter_lane, None,
                                       f"tweet {tag}by {visible(tweeter)} never came back round the ring",
                                       f"{tag}never came back".strip()))

    def _last_receiver_before(self, deliveries: list[dict], key: float) -> int | None:
        """The lane of the follower that printed the tweet last before it was seen back (the send of
        the return is not observed on loopback: the last one observed is the one that sent it)."""
        before = [d for d in deliveries if isinstance(d.get("seq"), (int, float)) and d["seq"] < key]
        last = (before or deliveries or [{}])[-1]
        return self.lane_of(last.get("receiver"))

    def _return_before_end_tweet(self, tweeter_lane: int, deliveries: list[dict], end_key: float,
                                 end_t: float | None) -> tuple[float, float | None]:
        """Where a return no line announced is drawn: after the last delivery, but above the tweeter's
        end-tweet (which it sends once the tweet is back), if that came first."""
        first = min((d["seq"] for d in deliveries if isinstance(d.get("seq"), int)), default=None)
        tweeter = self.lanes[tweeter_lane].name.lower()
        for event in self.events:
            if (first is not None and first < event.seq < end_key and str(event.proc).lower() == tweeter
                    and END_TWEET_RE.search(event.text[:4096])):
                return event.seq - 0.25, event.t - self.t0
        return end_key, end_t

    def _cap_rows(self) -> None:
        if len(self.rows) <= MAX_ROWS:
            return
        keep = sorted(self.rows.values(), key=lambda r: (r.priority, r.key))[:MAX_ROWS]
        kept = {row.key for row in keep}
        dropped = len(self.rows) - len(kept)
        self.rows = {key: row for key, row in self.rows.items() if key in kept}
        before = len(self.arrows)
        self.arrows = [a for a in self.arrows if a.key in kept]
        self.marks = [m for m in self.marks if m.key in kept]
        self.hidden_arrows += before - len(self.arrows)
        self.notes.append(f"truncated: {dropped} of {dropped + len(kept)} rows not drawn (printed lines "
                          "other than typed commands, results and tweets go first); see the transcripts")

    def _layout(self) -> None:
        count = max(len(self.lanes), 1)
        self.spacing = max(LANE_MIN, min(LANE_MAX, (MAX_WIDTH - GUTTER - LANE_INSET - RIGHT) / count))
        for i, lane in enumerate(self.lanes):
            lane.x = GUTTER + LANE_INSET + self.spacing * i
        self.width = int(GUTTER + LANE_INSET + self.spacing * count + RIGHT)
        self.label_chars = int((self.spacing - 14) / CHAR_W)
        self.gaps: list[dict] = []
        y, previous_t = float(TOP), None
        for key in sorted(self.rows):
            row = self.rows[key]
            if row.t is not None and previous_t is not None and row.t - previous_t > GAP_S:
                self.gaps.append({"y": y - ROW_H / 2 + GAP_H / 2, "label": f"+{_time(row.t - previous_t)}"})
                y += GAP_H
            row.y = y
            y += ROW_H
            if row.t is not None:
                previous_t = row.t
        self.height = int(y + 8)
        if self.hidden_arrows:
            self.notes.append(f"{self.hidden_arrows} deliveries not drawn (over {MAX_ARROWS}, or on a "
                              "process that is not drawn)")

    # -- what the template draws -------------------------------------------------------------
    def view(self) -> dict:
        rows = [self.rows[k] for k in sorted(self.rows)]
        from_right = {(a.key, a.dst) for a in self.arrows
                      if a.src is not None and self.lanes[a.src].x > self.lanes[a.dst].x}
        marks_out, labels = [], []
        for row in rows:
            for item in row.items:
                if item.kind == "synthetic":
                    continue
                x = self.lanes[item.lane].x
                kind = "result-answer" if self.calm and item.kind == "result-fail" else item.kind
                marks_out.append({"kind": kind, "x": x, "y": row.y, "title": item.title, "line": item.line})
                if item.kind not in ("delivery",) and item.text:
                    left = (row.key, item.lane) in from_right  # keep the label clear of the arrow
                    labels.append({"kind": kind, "x": x - 7 if left else x + 7, "y": row.y + 3.5,
                                   "anchor": "end" if left else "start", "line": item.line,
                                   "text": short(item.text, self.label_chars), "title": item.title})
        arrows = []
        for arrow in self.arrows:
            row = self.rows[arrow.key]
            x2 = self.lanes[arrow.dst].x
            if arrow.src is None:
                x1 = x2 - min(60, self.spacing * 0.45)
                dashed = True
            else:
                x1 = self.lanes[arrow.src].x
                dashed = False
            if abs(x1 - x2) < 1:  # sent to itself: a small loop
                path = (f"M{x1:.1f},{row.y - ARROW_RISE:.1f} C{x1 + 36:.1f},{row.y - ARROW_RISE:.1f} "
                        f"{x1 + 36:.1f},{row.y:.1f} {x2 + 5:.1f},{row.y:.1f}")
            else:
                end = x2 - 5 if x2 > x1 else x2 + 5
                path = f"M{x1:.1f},{row.y - ARROW_RISE:.1f} L{end:.1f},{row.y:.1f}"
            cut = None
            if arrow.cut:  # half-way, then a ✕
                cut = ((x1 + x2) / 2, row.y - ARROW_RISE / 2)
                path = f"M{x1:.1f},{row.y - ARROW_RISE:.1f} L{cut[0]:.1f},{cut[1]:.1f}"
            arrows.append({"cls": arrow.cls, "path": path, "title": arrow.title, "dashed": dashed,
                           "label": arrow.label, "lx": (x1 + x2) / 2, "ly": row.y - ARROW_RISE / 2 - 4,
                           "line": arrow.line, "packet": arrow.packet,
                           "cut": _cross_path(*cut) if cut else None})
        crosses = []
        for mark in self.marks:
            row = self.rows[mark.key]
            x = self.lanes[mark.lane].x
            ghost = None
            if mark.src is not None and mark.src != mark.lane:
                x1 = self.lanes[mark.src].x
                ghost = f"M{x1:.1f},{row.y - ARROW_RISE:.1f} L{x + (-7 if x > x1 else 7):.1f},{row.y:.1f}"
            crosses.append({"cls": mark.cls, "x": x, "y": row.y, "title": mark.title, "ghost": ghost,
                            "label": mark.label})
        return {"id": self.id, "width": self.width, "height": self.height,
                "lanes": [{"label": short(l.label, 14), "x": l.x, "title": visible(l.label)}
                          for l in self.lanes],
                "times": [{"y": r.y + 3.5, "text": _time(r.t)} for r in rows],
                "gaps": self.gaps, "marks": marks_out, "labels": labels, "arrows": arrows,
                "crosses": crosses, "bottom": self.height - 4, "notes": self.notes,
                "tweets": self.tweet_rows, "legend": self._legend(arrows, crosses), "colours": self._colours(),
                "gap_s": GAP_S, "axis": self.axis, "calm": self.calm, "heads": HEAD_PATHS,
                "shape": {cls: HEADS.get(cls, "triangle") for cls in self.colours},
                "faults": sorted(FAULTS & set(self.colours))}

    def _colours(self) -> dict[str, str]:
        return {cls: CALM if self.calm and cls in FAULTS else colour for cls, colour in self.colours.items()}

    def _legend(self, arrows: list[dict], crosses: list[dict]) -> list[dict]:
        """Every class for a scenario that lost points (the full key); only what is drawn for a passed one."""
        drawn = {a["cls"] for a in arrows} | {c["cls"] for c in crosses}
        return [{"cls": cls, "name": NAMES.get(cls, cls), "text": re.sub(rf"^{re.escape(cls)}: ", "", text),
                 "dash": DASHES.get(cls, ""),
                 "head": HEADS.get(cls, "triangle")}
                for cls, text in self.legend_items if not self.calm or cls in drawn]


def _cross_path(x: float, y: float, size: float = 4.0) -> str:
    """A ✕ centred on (x, y)."""
    return (f"M{x - size:.1f},{y - size:.1f} L{x + size:.1f},{y + size:.1f} "
            f"M{x + size:.1f},{y - size:.1f} L{x - size:.1f},{y + size:.1f}")


def _lane_name(handle: object) -> str | None:
    if handle is None:
        return None
    name = str(handle).strip()
    return name[1:] if name.startswith("@") else name or None


def _compile(pattern: str | None) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern) if pattern else None
    except re.error:
        return None


def _classify(event: Event, noise: re.Pattern[str] | None) -> tuple[str | None, int, str]:
    """What an event is in the diagram: (kind, priority, transcript mark); kind None: not drawn."""
    if event.kind == "in":
        return "typed", 1, ">"
    if event.kind in ("start", "exit"):
        return event.kind, 2, "*"
    if event.kind == "note":
        return "note", 2, "*"
    if event.kind != "out":
        return None, 3, ""
    head = event.text[:4096]
    if noise and noise.search(head):
        return None, 3, ""
    match = RESULT_RE.search(head)
    if match:
        return ("result-ok" if match.group(1) else "result-fail"), 2, "<"
    if not head.strip():
        return None, 3, ""  # a blank line (or a prompt's end) says nothing
    return "other", 3, "<"


def _delivery_class(receiver: str, forwarder: object, ring: list[str], left: dict, seen: set[str]) -> str:
    ring_lower = {member.lower(): member for member in ring}
    if receiver.lower() not in ring_lower:
        return "extra"
    if receiver.lower() in seen:
        return "duplicate"
    if forwarder is None:
        return "unknown"
    expected = left.get(ring_lower[receiver.lower()])
    return "normal" if expected is not None and str(forwarder).lower() == expected.lower() else "wrong-forwarder"


def _tweet_summary(number: int, tweet: dict, tweeter: str, ring: list[str], counts: dict,
                   deliveries: list[dict]) -> dict:
    got = {str(d.get("receiver") or "").lower() for d in deliveries}
    returned = tweet.get("returned")
    end = tweet.get("end_tweet")
    observed = [f"{visible(d.get('receiver'), 40)} ← {visible(d.get('forwarder'), 40) if d.get('forwarder') is not None else '?'}"
                for d in deliveries[:30]]
    if len(deliveries) > 30:
        observed.append(f"… {len(deliveries) - 30} more")
    return {"number": number, "tweeter": visible(tweeter, 40), "text": visible(tweet.get("text"), 160),
            "expected": " → ".join(visible(h, 40) for h in [tweeter, *ring, tweeter]) if ring else "(no followers)",
            "observed": ", ".join(observed) or "nobody printed it",
            "missing": [visible(m, 40) for m in ring if m.lower() not in got],
            "counts": {k: v for k, v in counts.items() if v},
            "returned": {True: "yes", False: "no", None: "not printed"}.get(returned, visible(returned, 20)),
            "end_tweet": {"success": "SUCCESS", "failure": "FAILURE", None: "no answer"}.get(end, visible(end, 20))}
