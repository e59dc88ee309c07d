"""The records: everything one scenario run saw, and nothing it concluded.

The run stage fills these in while it plays a scenario; the judge stage derives every check, score
and status from them alone; `rejudge` reads them back from disk and judges again without starting
a process. So they hold observations only (what was typed, which line answered it, which lines were
received tweets, when a program ended), never a verdict.

On disk, per scenario: `trace.jsonl` (every event, one JSON object a line) and `record.json` (the
step observations). Times are seconds since the scenario started, rounded to the microsecond, both
in memory once the run is over and on disk, so a rejudged verdict is the verdict graded.
"""

from __future__ import annotations

import base64
import bisect
import json
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from harness.net.capture import Fate, Frame, write_pcap, write_pcapng

_seq = attrgetter("seq")

EventKind = Literal["out", "in", "start", "exit", "note"]
Outcome = Literal["success", "failure"]
# the step limit; its program ended; the tracker did; nothing could happen any more (StepRecord.stuck says why)
GaveUp = Literal["timeout", "exited", "tracker_exited", "stuck"]
# the manifest has no such command; the prompt never came; a user registering at start-up was running already
NotTyped = Literal["no_command", "no_prompt", "at_startup"]
RECORD_FILE = "record.json"
TRACE_FILE = "trace.jsonl"
CAPTURE_FILE = "capture.pcap"
FAULTS_CAPTURE_FILE = "capture.pcapng"  # with network faults: a comment on each packet says its fate
RECORD_VERSION = 3
HARNESS_STOP = "stopped by the harness at the end of the scenario"  # the exit text of a program the harness ended


@dataclass(frozen=True)
class Event:
    """One thing that happened: `proc` printed or was typed `text` at time `t`."""

    seq: int
    t: float
    proc: str
    kind: EventKind
    text: str

    def to_json(self, t0: float) -> dict:
        return {"seq": self.seq, "t": round(self.t - t0, 6), "proc": self.proc, "kind": self.kind,
                "text": self.text}


@dataclass
class Transcript:
    """Every event of one scenario in arrival order (read-only once the run is over)."""

    t0: float = 0.0
    events: list[Event] = field(default_factory=list)

    def snapshot(self) -> list[Event]:
        return list(self.events)

    def lines(self, proc: str, kinds: tuple[EventKind, ...] = ("out",), after: int = -1) -> list[Event]:
        return [e for e in self.since(after) if e.proc == proc and e.kind in kinds]

    def since(self, after: int) -> list[Event]:
        """The events after seq `after` (seqs only grow: a waiter looks at what is new, not at all)."""
        events = self.snapshot()
        return events[bisect.bisect_right(events, after, key=_seq):]

    def procs(self) -> list[str]:
        return list(dict.fromkeys(event.proc for event in self.snapshot()))

    def exit_text(self, proc: str) -> str:
        """How `proc` ended (its first exit), or 'still running'."""
        exits = self.lines(proc, ("exit",))
        return exits[0].text if exits else "still running"

    def frozen(self) -> "Transcript":
        """A copy on the scenario's own clock (t0 = 0, microseconds), as it is saved and loaded."""
        return Transcript(0.0, [Event(e.seq, round(e.t - self.t0, 6), e.proc, e.kind, e.text)
                                for e in self.snapshot()])

    def write(self, path: Path) -> None:
        with path.open("w", encoding="utf-8") as out:
            for event in self.snapshot():
                out.write(json.dumps(event.to_json(self.t0), ensure_ascii=False) + "\n")

    @classmethod
    def read(cls, path: Path) -> "Transcript":
        events = []
        with path.open(encoding="utf-8") as source:
            for line in source:
                if line.strip():
                    data = json.loads(line)
                    events.append(Event(int(data["seq"]), float(data["t"]), str(data["proc"]),
                                        data["kind"], str(data["text"])))
        return cls(0.0, events)


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReplySeen(Record):
    """A canonical command typed at a user, and the result line that answered it (if any)."""

    user: str
    command: str  # canonical: register, follow, drop, tweet, end_tweet, exit, query
    what: str  # the command as the assignment writes it, e.g. "follow @bob @alice"
    typed_seq: int | None = None  # None: not typed, see not_typed
    not_typed: NotTyped | None = None
    outcome: Outcome | None = None
    line: str | None = None
    line_seq: int | None = None
    gave_up: GaveUp | None = None  # why no result line was found
    waited_s: float = 0.0


class QuerySeen(Record):
    """`query handles` typed at a user and the answer read back."""

    user: str
    typed_seq: int | None = None
    not_typed: NotTyped | None = None
    line: str | None = None  # the answer line (a FAILURE line too)
    line_seq: int | None = None
    refused: bool = False  # the answer was the FAILURE line
    count: int | None = None
    handles: list[str] | None = None  # on the answer line, or on the item lines after it
    gave_up: GaveUp | None = None
    waited_s: float = 0.0


class DeliverySeen(Record):
    """A follower's line that says a tweet reached it, attributed to one typed tweet."""

    receiver: str  # the handle of the user whose output it is
    seq: int
    t: float
    text: str | None = None
    tweeter: str | None = None
    forwarder: str | None = None
    printed_receiver: str | None = None


class TweetSeen(Record):
    """One typed tweet: its reply, who printed it, whether it came back, end-tweet's answer."""

    user: str
    tweeter: str
    text: str
    followers: list[str] | None = None  # the handles the scenario says must receive it
    reply: ReplySeen
    deliveries: list[DeliverySeen] = []
    returned: bool | None = None  # None: the submission prints no "came back" line
    end_tweet: Outcome | None = None
    end_tweet_typed_seq: int | None = None  # the harness typed end-tweet itself (the manifest's choice)
    back_seq: int | None = None  # the first line that shows it came back (its returned line or end-tweet's answer)
    reads_forwarder: bool = True  # the submission prints the forwarding handle


class LineSeen(Record):
    """A raw `expect` / `expect_not` step: the matching line, or why there was none."""

    at: str
    line: str | None = None
    line_seq: int | None = None
    gave_up: GaveUp | None = None
    waited_s: float = 0.0


class WireEvent(Record):
    """One frame that entered the LAN's switch (hosts mode): from which host to which, what it carried,
    and, with network faults, what the switch did with it (its `t` is when it entered the switch).

    `src`/`dst` name the host that has the address ("tracker" or a user's name), or keep the number
    for an address no host has. `t` is on the transcript's clock.
    """

    seq: int
    t: float
    length: int
    proto: Literal["udp", "tcp", "arp", "icmp", "ip", "other"]
    src: str | None = None
    dst: str | None = None
    src_ip: str | None = None
    dst_ip: str | None = None
    sport: int | None = None
    dport: int | None = None
    tcp_flags: str | None = None
    payload: bytes = b""
    fate: Fate = "delivered"  # with network faults: dropped, or the extra copy the switch made (duplicated)
    delay_ms: float | None = None  # with a delay fault: how long the switch held it

    @field_serializer("payload")
    def _payload_out(self, payload: bytes) -> str:
        return base64.b64encode(payload).decode("ascii")

    @field_validator("payload", mode="before")
    @classmethod
    def _payload_in(cls, value: object) -> object:
        return base64.b64decode(value, validate=True) if isinstance(value, str) else value


class Network(Record):
    """How the scenario's programs were connected, and why that way."""

    mode: Literal["hosts", "loopback"] = "loopback"
    reason: str = ""
    hosts: dict[str, str] = {}  # program name ("tracker" or a user name) -> its host's IPv4 address
    capture: Literal["lan", "loopback"] | None = None  # where the programs' packets were captured, if anywhere
    capture_dropped: int = 0  # frames over the capture limit, counted only

    @property
    def captured(self) -> bool:
        """Whether the wire was captured (a record from before loopback captures: on a LAN only)."""
        return self.capture is not None or self.mode == "hosts"


class StepRecord(Record):
    """What one played step saw; `number` counts from 1, `kind` is the step's key."""

    number: int
    kind: str
    start_t: float = 0.0  # when the step began and ended, on the transcript's clock
    end_t: float = 0.0
    replies: list[ReplySeen] = []
    query: QuerySeen | None = None
    tweets: list[TweetSeen] = []
    line: LineSeen | None = None
    alive: bool | None = None  # expect_alive: the program was still running
    ended: list[str] = []  # processes (tracker or user names) that had ended when the step was over
    attempts: int = 1  # tweets at once are played again once when they did not overlap
    stuck: str | None = None  # what each program waited on when a wait ended because nothing could happen

    def tweets_overlapped(self) -> bool:
        """Whether every tweet of the step was typed before any of them came back (they were in flight
        at the same time, so the tracker had to deal with both)."""
        typed = [t.reply.typed_seq for t in self.tweets if t.reply.typed_seq is not None]
        back = [t.back_seq for t in self.tweets if t.back_seq is not None]
        return bool(typed) and (not back or max(typed) < min(back))


class ScenarioRecord(Record):
    """One scenario run against one submission: the steps played and how the run ended."""

    version: int = RECORD_VERSION
    scenario_id: str
    file: str
    handles: dict[str, str]  # user name -> handle typed
    steps: list[StepRecord] = []
    setup_error: str | None = None  # the submission could not be started
    aborted: bool = False  # grading was stopped while it ran
    timed_out: bool = False  # the whole scenario ran out of time
    timeout_s: float = 0.0
    duration_s: float = 0.0
    protections: dict = {}
    trace_lines: str | None = None  # the dialect's protocol-trace lines (left out of excerpts)
    prompt: str | None = None  # the prompt a user prints before each command (the manifest's)
    replies: dict[str, list[str]] = {}  # command -> [success regex, failure regex] (the manifest's)
    reasons: dict[str, str] = {}  # refusal reason name -> regex in a FAILURE line (the manifest's replies.reasons)
    prints_received: bool = True  # whether the submission prints the tweets it receives
    registration: Literal["command", "startup"] = "command"  # a user registers when told, or at its start-up
    network: Network = Network()
    faults: dict | None = None  # the network faults applied (the scenario's, or --faults), as the scenario key
    wire: list[WireEvent] = []  # every frame on the LAN, in time order (hosts mode)
    seed: int | None = None  # the seed this run was given (network faults draw from it; --replay repeats it)
    transcript: Transcript = Field(default_factory=Transcript, exclude=True)
    frames: list[Frame] = Field(default_factory=list, exclude=True)  # the raw capture, for capture.pcap

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    def save(self, folder: Path) -> None:
        """record.json, trace.jsonl and (hosts mode) capture.pcap, or capture.pcapng with faults, in
        `folder`, the scenario's transcripts folder."""
        folder.mkdir(parents=True, exist_ok=True)
        self.transcript.write(folder / TRACE_FILE)
        if self.frames and self.faults is not None:
            write_pcapng(self.frames, folder / FAULTS_CAPTURE_FILE, self.seed)
        elif self.frames:
            write_pcap(self.frames, folder / CAPTURE_FILE)
        (folder / RECORD_FILE).write_text(self.model_dump_json(indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "ScenarioRecord":
        """The record saved in `folder`; raises OSError or ValueError when it is missing or malformed."""
        record = cls.model_validate_json((folder / RECORD_FILE).read_text(encoding="utf-8"))
        if record.version != RECORD_VERSION:
            raise ValueError(f"record version {record.version}, this harness reads {RECORD_VERSION}")
        record.transcript = Transcript.read(folder / TRACE_FILE)
        return record

    @property
    def capture_file(self) -> str:
        """The name of the capture saved beside the record."""
        return FAULTS_CAPTURE_FILE if self.faults is not None else CAPTURE_FILE
