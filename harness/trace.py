"""The trace: every line each process printed and every line typed at it, in arrival order.

It is the single source of truth for checks and reports. Reader threads append to it; the runner
waits on it (a condition variable) for the event it needs, so nothing ever sleeps for a fixed time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Literal, TypeVar

EventKind = Literal["out", "in", "start", "exit", "note"]
T = TypeVar("T")


@dataclass(frozen=True)
class Event:
    """One thing that happened: `proc` printed or was typed `text` at monotonic time `t`."""

    seq: int
    t: float
    proc: str
    kind: EventKind
    text: str

    def to_json(self, t0: float) -> dict:
        return {"seq": self.seq, "t": round(self.t - t0, 6), "proc": self.proc, "kind": self.kind,
                "text": self.text}


@dataclass
class Trace:
    """Append-only, thread-safe list of events with waiting by predicate."""

    t0: float = field(default_factory=time.monotonic)
    events: list[Event] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def add(self, proc: str, kind: EventKind, text: str) -> Event:
        with self._cond:
            event = Event(len(self.events), time.monotonic(), proc, kind, text)
            self.events.append(event)
            self._cond.notify_all()
            return event

    def snapshot(self) -> list[Event]:
        with self._cond:
            return list(self.events)

    def wait_for(self, probe: Callable[[], T | None], timeout: float, poll: float | None = None) -> T | None:
        """Return the first non-None value of `probe()`, re-evaluated on every new event.

        `poll` re-evaluates also every `poll` seconds for conditions outside the trace (a port bound).
        Returns None when `timeout` expires first.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = probe()
                if value is not None:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining if poll is None else min(remaining, poll))

    def lines(self, proc: str, kinds: tuple[EventKind, ...] = ("out",), after: int = -1) -> list[Event]:
        with self._cond:
            return [e for e in self.events if e.proc == proc and e.kind in kinds and e.seq > after]

    def procs(self) -> list[str]:
        seen: dict[str, None] = {}
        for event in self.snapshot():
            seen.setdefault(event.proc, None)
        return list(seen)
