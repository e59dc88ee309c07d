"""Where a scenario's wall time goes: named phases timed on the monotonic clock.

The runner marks its phases (network set-up, working copy, sandbox, start-up, steps, quiet waits,
teardown); nothing is kept unless someone listens (`recording()`, used by `python -m harness.bench`),
so grading pays one list check per phase. The spans are figures for people, never evidence: the
records and the verdicts do not depend on them.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

# the phases, in the order a scenario passes through them
NETWORK = "network set-up (ports, or LAN + capture)"
COPY = "working copy"
SANDBOX = "sandbox (uid, cgroup, chown)"
START_TRACKER = "start tracker until ready (users held at the door)"
START_USERS = "start users until ready"
STEPS = "steps: typing, waiting for replies"
QUIET = "quiet waits (grace, expect_not)"
TEARDOWN = "teardown (kill, LAN, copy removed)"
ORDER = (NETWORK, COPY, SANDBOX, START_TRACKER, START_USERS, STEPS, QUIET, TEARDOWN)


@dataclass(frozen=True)
class Span:
    """One phase of one scenario run: which, when it started and ended (monotonic seconds)."""

    scenario: str
    phase: str
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


_lock = threading.Lock()
_listeners: list[list[Span]] = []
_current = threading.local()  # the scenario the calling thread runs


def _listening() -> bool:
    return bool(_listeners)


@contextlib.contextmanager
def recording() -> Iterator[list[Span]]:
    """Collect every span timed while inside (from every thread) into the list yielded."""
    spans: list[Span] = []
    with _lock:
        _listeners.append(spans)
    try:
        yield spans
    finally:
        with _lock:
            _listeners.remove(spans)


@contextlib.contextmanager
def scenario(name: str) -> Iterator[None]:
    """The calling thread runs scenario `name` until the block ends: its phases are named after it."""
    previous = getattr(_current, "name", "")
    _current.name = name
    try:
        yield
    finally:
        _current.name = previous


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    """Time the block as phase `name` of the scenario this thread runs (kept only while recording)."""
    if not _listening():
        yield
        return
    start = time.monotonic()
    try:
        yield
    finally:
        span = Span(getattr(_current, "name", ""), name, start, time.monotonic())
        with _lock:
            for spans in _listeners:
                spans.append(span)
