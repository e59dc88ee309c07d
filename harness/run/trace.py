"""The live trace: every line each process printed and every line typed at it, in arrival order.

Reader threads append to it; the runner waits on it (a condition variable) for the event it needs,
so nothing ever sleeps for a fixed time. When the run is over it is frozen into the record's
transcript (records.Transcript), which is what the judge and the reports read.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, TypeVar

from harness.run.records import Event, EventKind, Transcript

T = TypeVar("T")


@dataclass
class Trace(Transcript):
    """Append-only, thread-safe list of events with waiting by predicate."""

    t0: float = field(default_factory=time.monotonic)
    _cond: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def add(self, proc: str, kind: EventKind, text: str) -> Event:
        with self._cond:
            event = Event(len(self.events), time.monotonic(), proc, kind, text)
            self.events.append(event)
            self._cond.notify_all()
            return event

    def notify(self) -> None:
        """Wake every waiter without adding an event (something outside the trace changed)."""
        with self._cond:
            self._cond.notify_all()

    def snapshot(self) -> list[Event]:
        with self._cond:
            return list(self.events)

    def since(self, after: int) -> list[Event]:
        with self._cond:  # seq is the index: only the new events are copied
            return self.events[max(after + 1, 0):]

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
