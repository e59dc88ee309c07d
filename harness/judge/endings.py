"""A program's end, judged by design and told as a TA tells it.

A program that ends is not a bug in itself: a user may end by design once its registration is refused,
when nothing more is asked of it. Its end costs points only when it was not told to exit and it
crashed (a signal; an uncaught error in its last lines), or when a later step of the scenario needs
it; so the verdict never depends on whether its exit was seen before teardown. The end is told with
what that program itself last read: the line typed at it, or, for the tracker, the line whose request
reached it last (where the wire is captured).
"""

from __future__ import annotations

import math
import re

from harness.inputs.scenario import Scenario, step_args, step_kind
from harness.run.exchanges import messages
from harness.run.records import HARNESS_STOP, Event, ScenarioRecord

TRACKER = "tracker"
CRASH_LINES = 30  # how far back before a program's end an uncaught error is looked for
CRASH = re.compile(r"Traceback \(most recent call last\)|Exception in thread|terminate called|Segmentation fault|"
                   r"core dumped|^\s*panic|AddressSanitizer|^\w+(Error|Exception)\b.*:")


class ProgramEnds:
    """The ends of the programs of one scenario run."""

    def __init__(self, scenario: Scenario, record: ScenarioRecord) -> None:
        self.scenario = scenario
        self.record = record
        self.transcript = record.transcript

    def label(self, name: str) -> str:
        return "the tracker" if name == TRACKER else self.record.handles.get(name, f"@{name}")

    def costly(self) -> list[tuple[int, Event]]:
        """(number of the step during which it ended, exit event) of every end that costs points."""
        steps = self.record.steps
        found = []
        for event in self.transcript.snapshot():
            if event.kind != "exit" or event.text == HARNESS_STOP or not steps:
                continue
            t = event.t - self.transcript.t0
            number = max((s.number for s in steps if s.start_t <= t), default=steps[0].number)
            if event.proc not in self._told_to_exit(number) and (
                    self.crashed(event) or event.proc in self.scenario.needed_after(number)):
                found.append((number, event))
        return found

    def crashed(self, event: Event) -> bool:
        """Whether a program's end was a crash: a signal, or an uncaught error in its last lines."""
        if event.text.startswith("killed by signal"):
            return True
        before = [e for e in self.transcript.lines(event.proc) if e.seq < event.seq][-CRASH_LINES:]
        return any(CRASH.search(e.text[:4096]) for e in before)

    def told(self, proc: str, lines: bool = True) -> str:
        """How `proc` ended, in one sentence a student can act on: how, when, after which input it
        read, and (with `lines`) its last lines (an uncaught error's line alone)."""
        event = next(iter(self.transcript.lines(proc, ("exit",))), None)
        if event is None:
            return f"{self.label(proc)}'s program ended"
        head = f"{self.label(proc)}'s program {event.text} at {event.t - self.transcript.t0:.2f} s{self._after(event)}"
        if not lines:
            return head
        last = [e.text for e in self.transcript.lines(proc) if e.seq < event.seq and not self._trace_line(e.text)][-2:]
        if last and CRASH.search(last[-1][:4096]):
            return f"{head}; its last line: {last[-1][:200]!r}"
        return head + (f"; its last lines: {'; '.join(repr(t[:120]) for t in last)}" if last else "; it printed nothing")

    def gone(self, proc: str, typed_seq: int, what: str) -> str:
        """Why `what` got no answer: the program it waited on (the user, or the tracker) had ended,
        before or after it was typed (its last lines are in the check of its end)."""
        exits = self.transcript.lines(proc, ("exit",))
        before = f" (before `{what}` was typed)" if exits and exits[0].seq < typed_seq else ""
        return f"{self.told(proc, lines=False)}{before}"

    def _after(self, event: Event) -> str:
        """What the program that ended had last been given: the line typed at it; for the tracker,
        the line whose request reached it last (from the capture), else the last line typed. An
        acknowledgement is no request: a user's late answer to a ring update comes of no line typed at
        it, and may well reach the tracker after the request it died of, unread."""
        t = event.t - self.transcript.t0
        if event.proc == TRACKER:
            requests = [m.src for m in messages(self.record.wire, -math.inf, t, {}) if m.dst == TRACKER and m.payload
                        and m.src in self.record.handles and m.request]
            sender = requests[-1] if requests else None
            typed = [e for e in self.transcript.snapshot() if e.kind == "in" and e.seq < event.seq
                     and (sender is None or e.proc == sender)]
            if not typed:
                return " before anything was typed"
            if sender is not None:
                return f", after the datagram of `{typed[-1].text}` (typed at {self.label(sender)}) reached it"
            return f", after `{typed[-1].text}` was typed at {self.label(typed[-1].proc)}"
        typed = [e for e in self.transcript.lines(event.proc, ("in",)) if e.seq < event.seq]
        return f", after `{typed[-1].text}` was typed at it" if typed else " before anything was typed at it"

    def _told_to_exit(self, number: int) -> set[str]:
        """Users told to exit (and expected to) at or before step `number`."""
        return {step_args(step).user for step in self.scenario.steps[:number]
                if step_kind(step) == "exit" and step_args(step).expect == "success"}

    def _trace_line(self, text: str) -> bool:
        pattern = self.record.trace_lines
        return bool(pattern) and re.search(pattern, text[:4096]) is not None
