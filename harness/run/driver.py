"""Driving one scenario's live programs: typing canonical commands and waiting for what they print.

Every wait is for an event in the trace (a line printed, a process exit) with a deadline: the step's
own and the scenario's, whichever comes first; a stopped grading run ends every wait at once.
The step handlers (steps_*.py) use only this; what they see goes into the step's record.
"""

from __future__ import annotations

import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

from harness.inputs.dialect import MATCH_LIMIT, Dialect, Typed, render_typed
from harness.run import exchanges, phases, quiescence
from harness.run.processes import ProcessSet
from harness.run.records import Event, ReplySeen, StepRecord, WireEvent
from harness.run.trace import Trace

TRACKER = "tracker"
PENDING = "pending"  # a wait matched the line a program is still printing (a prompt without newline)
ABORTED = object()
ABORT_POLL_S = 0.25  # how soon a running scenario notices that grading was stopped
HOLD_LIMIT_S = 2.0  # the longest the tracker is held while tweets typed together are on their way to it
STUCK = "stuck"  # a wait ended because nothing could happen any more (see Stillness)
STUCK_CONFIRM_S = 0.1  # nothing can happen: it must stay so, with nothing new printed or sent, this long
STUCK_POLL_S = 0.05  # how often a wait that may end that way looks again
# a quiet window ends early once nothing can happen before it closes: two readings this far apart (each
# of one moment; see Stillness), looked at this often (a reading costs about 2 ms)
WINDOW_CONFIRM_S = 0.015
WINDOW_POLL_S = 0.005
TRACKER_GONE_S = 0.5  # after the tracker ended, how long a reply it sent just before may take to show
SETTLE_S = 0.3  # a raw line typed at a program without a prompt: how long it may stay silent before the next
ANSWERED_QUIET_S = 0.05  # ... or how long it must stay quiet once it has answered something


class SetupError(Exception):
    """The submission could not be started, so the scenario could not be run."""


class ScenarioTimeout(Exception):
    """The whole scenario ran past its time limit."""


class ScenarioAborted(Exception):
    """Grading was stopped (Ctrl+C, SIGTERM) while this scenario ran."""


@dataclass
class UserSlot:
    name: str
    handle: str
    ip: str  # its host's address (on loopback: 127.0.0.1)
    ports: list[int]

    def values(self) -> dict[str, str]:
        values = {"handle": self.handle, "name": self.name, "ip": self.ip,
                  "ports": " ".join(map(str, self.ports))}
        values.update({f"port{i}": str(p) for i, p in enumerate(self.ports, start=1)})
        return values


@dataclass
class TypedCommand:
    """A canonical command typed at a user: the seq of its last line, or why it was not typed."""

    seq: int | None
    not_typed: str | None = None  # "no_command" (the manifest has none) or "no_prompt"


def gave_up(outcome: object) -> str:
    """Why a wait for a line ended without one: its program ended, the tracker did, nothing could
    happen any more, or time ran out."""
    return outcome if outcome in ("exited", "tracker_exited", STUCK) else "timeout"  # type: ignore[return-value]


class Stillness:
    """Whether the scenario's programs have stayed unable to do anything (quiescence.stuck) long
    enough (quiescence.Settling), with the same wait each, nothing new printed, nothing printed still
    unread by the harness (ProcessSet.unread: a pty's bytes, an end not yet noted) and no new frame
    on the LAN."""

    def __init__(self, driver: "Driver", confirm_s: float, every_s: float) -> None:
        self.driver = driver
        self.settling = quiescence.Settling(confirm_s, every_s)
        self.waits: str | None = None  # what each program waits on, once settled

    def settled(self, horizon: float) -> bool:
        """Whether nothing could happen within `horizon`, for long enough. The facts are read at most
        every `every_s` (the trace waits for a reading), not at every line."""
        if not self.settling.due():
            return False
        procs = self.driver.procs
        waits = None if procs.unread() else self.driver.nothing_can_happen(horizon)
        wire = len(self.driver.wire_so_far()) if self.driver.wire_so_far is not None else 0
        self.waits = waits
        return self.settling.saw((waits, len(self.driver.trace.events), procs.partial_sizes(), wire)
                                 if waits else None)


def search(pattern: str) -> Callable[[str], object]:
    compiled = re.compile(pattern)
    return lambda text: compiled.search(text[:MATCH_LIMIT])


class Driver:
    """The live programs of one scenario, their trace, and how to type at and wait on them."""

    def __init__(self, dialect: Dialect, trace: Trace, procs: ProcessSet, users: dict[str, UserSlot],
                 tracker: tuple[str, int], deadline: float, grace: float, abort: threading.Event,
                 should_stop: Callable[[StepRecord], bool],
                 wire_so_far: Callable[[], list[WireEvent]] | None = None) -> None:
        self.dialect = dialect
        self.trace = trace
        self.procs = procs
        self.users = users
        self.tracker_ip, self.tracker_port = tracker
        self.deadline = deadline
        self.grace = grace  # after tweets, how long an extra delivery may take to show
        self.abort = abort
        self.should_stop = should_stop  # the judge's view: whether playing on can still show anything
        self.wire_so_far = wire_so_far  # the captured frames so far (None: nothing is captured)
        self.shared_network = False  # loopback: the machine's network, shared with earlier scenarios
        self.cursor: dict[str, int] = {}  # per program: the last line already used as an answer
        # set where users register from their start-up prompts: starts one, answering with a handle
        self.start_user: Callable[[str, str], int] | None = None
        self.decides_stuck = False  # whether a wait may end when nothing can happen (not under faults)
        self.stuck: str | None = None  # what each program waited on when a wait ended that way

    # -- the programs ------------------------------------------------------------------------
    def base_values(self) -> dict[str, str]:
        return {"tracker_ip": self.tracker_ip, "tracker_port": str(self.tracker_port)}

    def exited(self, name: str) -> bool:
        child = self.procs.children.get(name)
        return child is None or child.exited

    def tracker_gone(self) -> bool:
        """The tracker ended a moment ago or more (TRACKER_GONE_S: a reply it sent just before ending
        may still be on its way): a command waiting on it can no longer be answered."""
        if not self.exited(TRACKER):
            return False
        ends = self.trace.lines(TRACKER, ("exit",))
        return not ends or time.monotonic() - ends[0].t >= TRACKER_GONE_S

    def pid(self, name: str) -> int:
        return self.procs.children[name].pid

    def label(self, name: str) -> str:
        return "the tracker" if name == TRACKER else self.users[name].handle

    def handle(self, name: str) -> str:
        """A user's handle; a literal handle (starting with @) as written."""
        return name if name.startswith("@") else self.users[name].handle

    @contextmanager
    def tracker_held_for(self, tweets: dict[str, str]) -> Iterator[None]:
        """Where the wire is captured, hold the tracker stopped while the block types, until each user
        of `tweets` (user -> the text it tweets) has sent it a request (seen on the wire; at most
        HOLD_LIMIT_S): tweets typed at the same moment then reach it together, so they are in flight
        together however fast each ring goes round. Without a capture nothing shows what was sent:
        nothing is held."""
        if self.wire_so_far is None or not tweets or self.exited(TRACKER):
            yield
            return
        since = time.monotonic() - self.trace.t0
        self.procs.hold(TRACKER, True)
        try:
            yield
            self.wait(lambda: True if exchanges.requested(self.wire_so_far(), since, tweets) else None,  # type: ignore[misc]
                      HOLD_LIMIT_S, poll=0.005)
        finally:
            self.procs.hold(TRACKER, False)

    # -- waiting on the trace ----------------------------------------------------------------
    def wait(self, probe: Callable[[], object], timeout: float, poll: float = ABORT_POLL_S,
             decided: bool = False) -> object:
        """Wait on the trace for `probe`, within the step's and the scenario's time, until aborted.
        With `decided`, also until nothing can happen any more (STUCK; `self.stuck` says why): every
        program blocked with no timer within the time left and nothing to wake it."""
        still = Stillness(self, STUCK_CONFIRM_S, STUCK_POLL_S) if decided and self.decides_stuck else None
        value = self._wait(probe, timeout, min(poll, STUCK_POLL_S) if still else poll, still)
        if value == STUCK:
            self.stuck = still.waits  # type: ignore[union-attr]
        return value

    def _wait(self, probe: Callable[[], object], timeout: float, poll: float, still: "Stillness | None") -> object:
        """`probe`'s first value; STUCK once `still` settles first; None when the time is up."""
        budget = self._budget(timeout)
        end = time.monotonic() + budget

        def look() -> object:
            if self.abort.is_set():
                return ABORTED
            value = probe()
            if value is None and still is not None and still.settled(end - time.monotonic()):
                return STUCK
            return value

        value = self.trace.wait_for(look, budget, poll=min(poll, ABORT_POLL_S))
        if value is ABORTED:
            raise ScenarioAborted()
        return value

    def nothing_can_happen(self, horizon: float) -> str | None:
        """What each running program waits on, when none can do anything within `horizon` seconds
        (run/quiescence.py), in a student's words; else None."""
        program = self.procs.sandbox.program_pid  # the sandbox's own processes only wait for it: not read
        running = {name: program(child.pid) or child.pid for name, child in self.procs.children.items()
                   if not child.exited}
        waits = quiescence.stuck(running, horizon) if running else None
        if not waits:
            return None
        told = "; ".join(f"{self.label(w.program)} waits in {w.what}" for w in waits)
        return told + ("; no datagram in flight" if self.wire_so_far is not None else "; nothing queued")

    def watch(self, probe: Callable[[], object], seconds: float) -> object:
        """Watch for `seconds` whether `probe` finds something: a window that shows something did
        NOT happen (timed as a quiet wait). It closes early once nothing can happen before it would
        close (Stillness over WINDOW_CONFIRM_S): no program can then print or send anything in it."""
        still = Stillness(self, WINDOW_CONFIRM_S, WINDOW_POLL_S) if self.decides_stuck else None
        with phases.phase(phases.QUIET):
            value = self._wait(probe, seconds, WINDOW_POLL_S if still else ABORT_POLL_S, still)
        return None if value == STUCK else value

    def _budget(self, timeout: float) -> float:
        if self.abort.is_set():
            raise ScenarioAborted()
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise ScenarioTimeout()
        return min(timeout, remaining)

    def wait_line(self, name: str, matcher: Callable[[str], object], after: int,
                  timeout: float, partial: bool = False, needs_tracker: bool = False) -> Event | str | None:
        """First line of `name` after seq `after` that matches; with `partial`, also the line it is
        still printing (PENDING: a prompt without newline, seen at once); 'exited' if it ended;
        with `needs_tracker`, 'tracker_exited' once the tracker is gone; STUCK once nothing can
        happen any more; None on timeout."""
        def probe() -> Event | str | None:
            for event in self.trace.lines(name, after=after):
                if matcher(event.text):
                    return event
            if partial and (pending := self.procs.pending(name)) and matcher(pending):
                return PENDING
            if self.exited(name):
                return "exited"
            return "tracker_exited" if needs_tracker and name != TRACKER and self.tracker_gone() else None

        return self.wait(probe, timeout, decided=True)

    def last_typed(self, name: str) -> int:
        typed = self.trace.lines(name, ("in",))
        return typed[-1].seq if typed else -1

    # -- typing ------------------------------------------------------------------------------
    def send(self, name: str, line: str | Typed) -> int:
        return self.procs.send_line(name, line)

    def type_command(self, user: str, command: str, timeout: float, **extra: str) -> TypedCommand:
        """Type a canonical command through the dialect, after the user's prompt if it has one."""
        last = self._up_to_last_line(user, command, timeout, extra)
        return last if isinstance(last, TypedCommand) else TypedCommand(self.send(user, last))

    def type_together(self, commands: list[tuple[str, str, dict[str, str]]], timeout: float) -> list[TypedCommand]:
        """Type several canonical commands (user, command, placeholders) as close together as the
        dialect allows: each command is typed up to its last line (a menu choice, its prompt
        answered) in turn, and then the last lines, each after its prompt, are written at the same
        moment (a ring of a fast submission goes round in well under a millisecond)."""
        ready = [self._up_to_last_line(user, command, timeout, extra) for user, command, extra in commands]
        seqs = iter(self.procs.send_lines_together([(user, line) for (user, _, _), line in zip(commands, ready)
                                                    if not isinstance(line, TypedCommand)]))
        return [line if isinstance(line, TypedCommand) else TypedCommand(next(seqs)) for line in ready]

    def _up_to_last_line(self, user: str, command: str, timeout: float,
                         extra: dict[str, str]) -> Typed | TypedCommand:
        """Type every line of `command` but the last, each after what it waits for, and wait for what
        the last one waits for: the last line, ready to write; or how typing ended without it."""
        script = self.dialect.command_lines(command)
        if script is None:
            return TypedCommand(None, "no_command")
        values = {**self.base_values(), **self.users[user].values(), **extra}
        if self.dialect.prompt_re is not None and not self._prompt_shown(user, timeout):
            return TypedCommand(None, "no_prompt")
        return self._up_to_last(user, [(line.expect, line.send) for line in script], values, timeout)

    def _up_to_last(self, user: str, script: list[tuple[str | None, str]], values: dict[str, str],
                    timeout: float) -> Typed | TypedCommand:
        """Type each (what to wait for, line) of `script` but the last, and wait for what the last
        waits for: the last line, rendered; or the seq of the last line typed when a wait failed."""
        typed = max(self.cursor.get(user, -1), self.last_typed(user))  # a prompt answered is used up
        for index, (expect, send) in enumerate(script):
            if expect:
                event = self.wait_line(user, search(expect), typed, timeout, partial=True)
                if not isinstance(event, Event) and event != PENDING:
                    return TypedCommand(typed)
            if index == len(script) - 1:
                return render_typed(send, values)
            typed = self.send(user, render_typed(send, values))
        return TypedCommand(typed)  # an empty script: nothing to type

    def type_raw(self, to: str, line: str, values: dict[str, str], timeout: float) -> None:
        """Type a scenario's raw line as a person would: at a user, after its prompt (when it has one)
        and through the manifest's `raw_lines` (a key first, say); then, at a program without a
        prompt, wait until it has dealt with it (it answered and went quiet, or stayed silent a
        moment), so that a late answer is never taken for the next command's."""
        if to == TRACKER:
            self.send(to, render_typed(line, values))
            return
        if self.dialect.prompt_re is not None:
            self._prompt_shown(to, timeout)  # typed anyway when it does not come: the raw step checks nothing
        last = self._up_to_last(to, self.dialect.raw_lines(line), values, timeout)
        typed = last.seq if isinstance(last, TypedCommand) else self.send(to, last)
        if self.dialect.prompt_re is None and typed is not None:
            self._settle(to, typed, timeout)

    def _settle(self, name: str, typed: int, timeout: float) -> None:
        """Wait until `name` has answered the line typed (seq `typed`) and been quiet ANSWERED_QUIET_S,
        or printed nothing for SETTLE_S, or ended; sooner once nothing can happen any more (as a quiet
        window ends): it has then dealt with the line, or never will."""
        def settled() -> bool | None:
            if self.exited(name):
                return True
            lines = self.trace.lines(name, after=typed)
            since = lines[-1].t if lines else next((e.t for e in self.trace.lines(name, ("in",), after=typed - 1)),
                                                    time.monotonic())
            return True if time.monotonic() - since >= (ANSWERED_QUIET_S if lines else SETTLE_S) else None

        still = Stillness(self, WINDOW_CONFIRM_S, WINDOW_POLL_S) if self.decides_stuck else None
        self._wait(settled, min(timeout, SETTLE_S * 4), WINDOW_POLL_S if still else 0.01, still)

    def _prompt_shown(self, user: str, timeout: float) -> bool:
        """Whether `user` shows its prompt again since the last line typed at it."""
        typed = max(self.cursor.get(user, -1), self.last_typed(user))  # a prompt answered is used up
        prompt = self.wait_line(user, self.dialect.is_prompt, typed, timeout, partial=True)
        return isinstance(prompt, Event) or prompt == PENDING

    def await_answer(self, user: str, after: int, timeout: float,
                     is_answer: Callable[[str], object]) -> Event | str | None:
        """The first line after `after` (and after the last line already used as an answer) that
        answers the command just typed: a line printed before it was typed is never its answer."""
        start = max(after, self.cursor.get(user, -1))
        event = self.wait_line(user, is_answer, start, timeout, needs_tracker=True)
        if isinstance(event, Event):
            self.cursor[user] = event.seq
        return event

    def await_reply(self, user: str, command: str, what: str, typed: TypedCommand, timeout: float) -> ReplySeen:
        """The result line of `command` typed at `user`, as seen."""
        seen = ReplySeen(user=user, command=command, what=what, typed_seq=typed.seq, not_typed=typed.not_typed,
                         waited_s=timeout)
        if typed.seq is None:
            return seen
        event = self.await_answer(user, typed.seq, timeout, lambda text: self.dialect.reply_outcome(command, text))
        if isinstance(event, Event):
            seen.outcome = self.dialect.reply_outcome(command, event.text)  # type: ignore[assignment]
            seen.line, seen.line_seq = event.text, event.seq
        else:
            seen.gave_up = gave_up(event)
        return seen

    def register_at_startup(self, user: str, handle: str, timeout: float) -> ReplySeen:
        """Start `user`'s program, answer its start-up prompts with `handle`, and read the reply of the
        registration it makes there (a program already running cannot register again that way)."""
        assert self.start_user is not None
        what = f"register {handle}"
        if user in self.procs.children:
            return ReplySeen(user=user, command="register", what=what, not_typed="at_startup", waited_s=timeout)
        seen = self.await_reply(user, "register", what, TypedCommand(self.start_user(user, handle)), timeout)
        if seen.outcome == "success" and self.dialect.user_ready_re is not None:
            self.wait_line(user, self.dialect.user_ready_re.search, self.procs.children[user].start_seq, timeout)
        return seen

    def command(self, user: str, command: str, what: str, timeout: float, **extra: str) -> ReplySeen:
        """Type `command` at `user` and read its reply."""
        typed = self.type_command(user, command, timeout, **extra)
        return self.await_reply(user, command, what, typed, timeout)

    def raw_values(self, to: str, unique: str) -> dict[str, str]:
        """Placeholders of a raw line typed at `to`: the tracker, `to`'s own address as {ip}, every
        user's handle and ports, a unique token."""
        own_ip = self.users[to].ip if to in self.users else self.tracker_ip
        values = {**self.base_values(), "ip": own_ip, "unique": unique}
        for slot in self.users.values():
            values.update({f"{slot.name}.{key}": value for key, value in slot.values().items()})
        return values
