"""Run one scenario against one submission: start its processes, play the steps, keep the trace.

Every wait is for an event in the trace (a line printed, a process exit) with a deadline; the only
deliberate wait is the scenario's `grace` after a tweet, during which an extra delivery would show.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pexpect

from harness import ports
from harness.checks import (DELIVERY_PROPERTIES, CheckResult, Delivery, TweetObservation, failed,
                            judge_delivery, passed)
from harness.dialect import Dialect, render
from harness.processes import ProcessSet
from harness.sandbox import Limits, Sandbox
from harness.scenario import (ExpectArgs, ExpectNotArgs, PairArgs, QueryArgs, RegisterArgs, Scenario,
                              TweetArgs, TypeArgs, UserArgs, AliveArgs, step_args, step_kind)
from harness.trace import Event, Trace

TRACKER = "tracker"
TRACKER_IP = "127.0.0.1"
STARTUP_TIMEOUT_S = 10.0
STRAGGLER_S = 1.0
COPY_IGNORE = shutil.ignore_patterns(".git", "__pycache__", "*.pyc", "grading-results")


class SetupError(Exception):
    """The submission could not be started, so the scenario could not be run (status `error`)."""


class ScenarioTimeout(Exception):
    """The whole scenario ran past its time limit."""


class ScenarioAborted(Exception):
    """Grading was stopped (Ctrl+C, SIGTERM) while this scenario ran."""


ABORTED = object()
ABORT_POLL_S = 0.25  # how soon a running scenario notices that grading was stopped


@dataclass
class StepRecord:
    number: int
    description: str
    checks: list[CheckResult] = field(default_factory=list)
    points: float | None = None

    @property
    def failed(self) -> bool:
        return any(check.failed for check in self.checks)


@dataclass
class RunOutcome:
    """What happened in one scenario run: steps played, their checks, and the trace."""

    status: str  # passed | failed | error
    steps: list[StepRecord]
    trace: Trace
    error: str | None
    duration_s: float
    total_steps: int
    protections: dict = field(default_factory=dict)
    tweets: list[dict] = field(default_factory=list)
    trace_lines: str | None = None  # the dialect's regex for protocol-trace lines


@dataclass
class UserSlot:
    name: str
    handle: str
    ports: list[int]
    exited_on_purpose: bool = False

    def values(self) -> dict[str, str]:
        values = {"handle": self.handle, "name": self.name, "ip": TRACKER_IP,
                  "ports": " ".join(map(str, self.ports))}
        values.update({f"port{i}": str(p) for i, p in enumerate(self.ports, start=1)})
        return values


@dataclass
class PendingTweet:
    args: TweetArgs
    text: str
    typed_seq: int
    reply: str | None = None
    reply_seq: int = -1


class ScenarioRunner:
    """Plays one scenario; `run()` never raises for anything the submission does."""

    def __init__(self, submission: Path, dialect: Dialect, scenario: Scenario,
                 step_timeout: float | None = None, limits: Limits | None = None,
                 drop_privileges: bool = True, abort: threading.Event | None = None,
                 isolate_network: bool = False) -> None:
        self.submission = submission
        self.isolate_network = isolate_network
        self.abort = abort or threading.Event()
        self.limits = limits or Limits()
        self.drop_privileges = drop_privileges
        self.protections: dict = {}
        self.tweets: list[dict] = []  # what each judged tweet did, for the reports
        self.dialect = dialect
        self.scenario = scenario
        self.step_timeout = step_timeout or scenario.step_timeout
        self.trace = Trace()
        self.users: dict[str, UserSlot] = {}
        self.tracker_port = 0
        self.procs: ProcessSet | None = None
        self.cursor: dict[str, int] = {}
        self.deadline = 0.0

    # -- the whole run -----------------------------------------------------------------------
    def run(self) -> RunOutcome:
        started = time.monotonic()
        self.deadline = started + self.scenario.timeout
        steps: list[StepRecord] = []
        status, error = "passed", None
        allocated = ports.allocate(1 + self.dialect.ports_per_user * len(self.scenario.users))
        workdir = Path(tempfile.mkdtemp(prefix="tweeter-run-"))
        sandbox: Sandbox | None = None
        try:
            copy = workdir / "submission"
            shutil.copytree(self.submission, copy, symlinks=True, ignore=COPY_IGNORE)
            sandbox = Sandbox(self.limits, copy, self.drop_privileges, self.isolate_network)
            self.protections = sandbox.protections()
            self.trace.add("harness", "note", f"sandbox: {json.dumps(self.protections, sort_keys=True)}")
            self.procs = ProcessSet(self.trace, copy, sandbox)
            self._assign_ports(allocated)
            self._start_all()
            for number, step in enumerate(self.scenario.steps, start=1):
                record = self._play(number, step)
                steps.append(record)
                if record.failed:
                    status = "failed"
                    break
        except SetupError as exc:
            status, error = "error", str(exc)
        except ScenarioAborted:
            status, error = "error", "interrupted: grading was stopped while this scenario ran"
        except ScenarioTimeout:
            status = "failed"
            error = f"the scenario did not finish within its {self.scenario.timeout:g} s limit"
            if steps and not steps[-1].failed:
                steps[-1].checks.append(failed("finishes in time", error))
        finally:
            if self.procs is not None:
                self.procs.kill_all()
            if sandbox is not None:
                sandbox.close()
            ports.release(allocated)
            shutil.rmtree(workdir, ignore_errors=True)
        return RunOutcome(status, steps, self.trace, error, time.monotonic() - started,
                          len(self.scenario.steps), self.protections, self.tweets,
                          self.dialect.manifest.trace_lines)

    def _assign_ports(self, allocated: list[int]) -> None:
        self.tracker_port, rest = allocated[0], allocated[1:]
        per_user = self.dialect.ports_per_user
        for index, name in enumerate(self.scenario.users):
            self.users[name] = UserSlot(name, f"@{name}", rest[index * per_user:(index + 1) * per_user])

    def _base_values(self) -> dict[str, str]:
        return {"tracker_ip": TRACKER_IP, "tracker_port": str(self.tracker_port)}

    # -- start-up ----------------------------------------------------------------------------
    def _start_all(self) -> None:
        self._launch(TRACKER, self._base_values())
        self._await_tracker_ready()
        for slot in self.users.values():
            self._launch(slot.name, {**self._base_values(), **slot.values()})
        for slot in self.users.values():
            self._answer_startup(slot.name, "user", {**self._base_values(), **slot.values()})
            if self.dialect.user_ready_re:
                self._await_setup_line(slot.name, self.dialect.user_ready_re.search, "be ready")
        if self._exited(TRACKER):  # e.g. its port was bound by another process, which fooled readiness
            raise SetupError(f"the tracker exited at start-up ({self._exit_text(TRACKER)})")

    def _launch(self, name: str, values: dict[str, str]) -> None:
        role = TRACKER if name == TRACKER else "user"
        command = self.dialect.launch_command(role, values)
        assert self.procs is not None
        try:
            child = self.procs.launch(name, command)
        except (pexpect.ExceptionPexpect, OSError, ValueError) as exc:
            raise SetupError(f"could not start the {role} with `{command}`: {exc}") from None
        self.cursor[name] = child.start_seq

    def _await_tracker_ready(self) -> None:
        self._answer_startup(TRACKER, TRACKER, self._base_values())
        if self.dialect.tracker_ready_re:
            self._await_setup_line(TRACKER, self.dialect.tracker_ready_re.search, "say it is ready")
            return
        bound = self._wait(
            lambda: True if self.tracker_port in ports.bound_ports(self._pid(TRACKER)) or self._exited(TRACKER)
            else None,
            STARTUP_TIMEOUT_S, poll=0.01)
        if self._exited(TRACKER):
            raise SetupError(f"the tracker exited at start-up ({self._exit_text(TRACKER)})")
        if not bound:
            raise SetupError(f"the tracker did not bind its port {self.tracker_port} within "
                             f"{STARTUP_TIMEOUT_S:g} s")

    def _answer_startup(self, name: str, role: str, values: dict[str, str]) -> None:
        for line in self.dialect.startup_lines(role):
            if line.expect:
                self._await_setup_line(name, _search(line.expect), f"prompt /{line.expect}/")
            self._send(name, render(line.send, values))

    def _await_setup_line(self, name: str, matcher: Callable[[str], object], what: str) -> None:
        event = self._wait_line(name, matcher, self.cursor[name], STARTUP_TIMEOUT_S)
        if not isinstance(event, Event):
            raise SetupError(f"{self._label(name)} did not {what} within {STARTUP_TIMEOUT_S:g} s"
                             + (f" ({self._exit_text(name)})" if self._exited(name) else ""))
        self.cursor[name] = event.seq

    # -- waiting on the trace ----------------------------------------------------------------
    def _exited(self, name: str) -> bool:
        assert self.procs is not None
        child = self.procs.children.get(name)
        return child is None or child.exited

    def _pid(self, name: str) -> int:
        assert self.procs is not None
        return self.procs.children[name].pid

    def _exit_text(self, name: str) -> str:
        exits = [e.text for e in self.trace.lines(name, ("exit",))]
        return exits[-1] if exits else "still running"

    def _wait_line(self, name: str, matcher: Callable[[str], object], after: int,
                   timeout: float) -> Event | str | None:
        """First line of `name` after seq `after` that matches; 'exited' if it ended; None on timeout."""
        def probe() -> Event | str | None:
            for event in self.trace.lines(name, after=after):
                if matcher(event.text):
                    return event
            return "exited" if self._exited(name) else None

        return self._wait(probe, timeout)

    def _wait(self, probe: Callable[[], object], timeout: float, poll: float = ABORT_POLL_S) -> object:
        """Wait on the trace for `probe`, within the step's and the scenario's time, until aborted."""
        value = self.trace.wait_for(lambda: ABORTED if self.abort.is_set() else probe(),
                                    self._budget(timeout), poll=min(poll, ABORT_POLL_S))
        if value is ABORTED:
            raise ScenarioAborted()
        return value

    def _budget(self, timeout: float) -> float:
        if self.abort.is_set():
            raise ScenarioAborted()
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise ScenarioTimeout()
        return min(timeout, remaining)

    def _label(self, name: str) -> str:
        return "the tracker" if name == TRACKER else self.users[name].handle

    # -- typing ------------------------------------------------------------------------------
    def _send(self, name: str, line: str) -> int:
        assert self.procs is not None
        return self.procs.send_line(name, line)

    def _type_command(self, proc: str, command: str, timeout: float, **extra: str) -> int | None:
        """Type a canonical command through the dialect; the seq of the last line typed, None if absent."""
        script = self.dialect.command_lines(command)
        if script is None:
            return None
        values = {**self._base_values(), **self.users[proc].values(), **extra}
        typed = max(self.cursor.get(proc, -1), self._last_typed(proc))  # a prompt answered is used up
        for line in script:
            if line.expect:
                event = self._wait_line(proc, _search(line.expect), typed, timeout)
                if not isinstance(event, Event):
                    break
            typed = self._send(proc, render(line.send, values))
        return typed

    def _await_reply(self, name: str, command: str, after: int, timeout: float) -> tuple[str | None, Event | None]:
        """The result line of `command` at `name`: ('success'|'failure'|None, line)."""
        start = max(after, self.cursor.get(name, -1))
        event = self._wait_line(name, lambda text: self.dialect.reply_outcome(command, text), start, timeout)
        if isinstance(event, Event):
            self.cursor[name] = event.seq
            return self.dialect.reply_outcome(command, event.text), event
        return None, None

    # -- steps -------------------------------------------------------------------------------
    def _play(self, number: int, step: object) -> StepRecord:
        kind, args = step_kind(step), step_args(step)  # type: ignore[arg-type]
        timeout = getattr(args, "timeout", None) or self.step_timeout
        record = StepRecord(number, describe_step(kind, args), points=getattr(args, "points", None))
        handler = getattr(self, f"_step_{kind}")
        record.checks = handler(args, timeout)
        for check in record.checks:
            check.step = number
        record.checks.extend(self._still_running(number, args))
        return record

    def _still_running(self, number: int, args: object) -> list[CheckResult]:
        """A crash is a failure of the step that caused it, whatever that step's own checks said."""
        problems = []
        for name in [TRACKER, *self.users]:
            if name != TRACKER and self.users[name].exited_on_purpose:
                continue
            if self._exited(name):
                check = failed(f"{self._label(name)} keeps running",
                               f"{self._label(name)}'s program ended ({self._exit_text(name)})")
                check.step = number
                problems.append(check)
        return problems

    def _reply_check(self, name: str, command: str, what: str, expect: str, timeout: float,
                     after: int | None) -> tuple[CheckResult, Event | None]:
        label = f"{what} answers {expect.upper()}"
        if after is None:
            return failed(label, f"the submission's manifest says it has no `{command}` command"), None
        outcome, event = self._await_reply(name, command, after, timeout)
        if outcome is None:
            why = (f"{self._label(name)}'s program ended ({self._exit_text(name)})" if self._exited(name)
                   else f"no result line within {timeout:g} s")
            return failed(label, f"expected {expect.upper()}; {why}"), None
        if outcome != expect:
            return failed(label, f"expected {expect.upper()}, seen {outcome.upper()}: {event.text!r}"), event
        return passed(label, event.text), event

    def _step_register(self, args: RegisterArgs, timeout: float) -> list[CheckResult]:
        names = list(self.users) if args.users == "all" else args.users
        checks = []
        for name in names:
            handle = args.handle or self.users[name].handle
            typed = self._type_command(name, "register", timeout, handle=handle,
                                       name=handle.lstrip("@"))
            check, _ = self._reply_check(name, "register", f"register {handle}", args.expect, timeout, typed)
            checks.append(check)
            if check.failed:
                break
        return checks

    def _pair(self, command: str, args: PairArgs, timeout: float) -> list[CheckResult]:
        target = args.target if args.target.startswith("@") else self.users[args.target].handle
        typed = self._type_command(args.user, command, timeout, target=target, target_name=target.lstrip("@"))
        what = f"{command} {self.users[args.user].handle} {target}"
        return [self._reply_check(args.user, command, what, args.expect, timeout, typed)[0]]

    def _step_follow(self, args: PairArgs, timeout: float) -> list[CheckResult]:
        return self._pair("follow", args, timeout)

    def _step_drop(self, args: PairArgs, timeout: float) -> list[CheckResult]:
        return self._pair("drop", args, timeout)

    def _step_end_tweet(self, args: UserArgs, timeout: float) -> list[CheckResult]:
        typed = self._type_command(args.user, "end_tweet", timeout)
        what = f"end-tweet {self.users[args.user].handle}"
        return [self._reply_check(args.user, "end_tweet", what, args.expect, timeout, typed)[0]]

    def _step_exit(self, args: UserArgs, timeout: float) -> list[CheckResult]:
        slot = self.users[args.user]
        typed = self._type_command(args.user, "exit", timeout)
        slot.exited_on_purpose = args.expect == "success"
        check, _ = self._reply_check(args.user, "exit", f"exit {slot.handle}", args.expect, timeout, typed)
        return [check]

    def _step_query(self, args: QueryArgs, timeout: float) -> list[CheckResult]:
        name = "query handles lists exactly the registered handles"
        typed = self._type_command(args.user, "query", timeout)
        if typed is None:
            return [failed(name, "the submission's manifest says it has no `query` command")]
        expected = sorted(h if h.startswith("@") else f"@{h}" for h in args.handles)
        start = max(typed, self.cursor.get(args.user, -1))
        event = self._wait_line(args.user, lambda t: self.dialect.parse_query(t) is not None
                                or self.dialect.reply_outcome("query", t) == "failure", start, timeout)
        if not isinstance(event, Event):
            return [failed(name, f"expected the list {expected}; no answer within {timeout:g} s")]
        self.cursor[args.user] = event.seq
        parsed = self.dialect.parse_query(event.text)
        if parsed is None:
            return [failed(name, f"expected the list {expected}; seen FAILURE: {event.text!r}")]
        count, handles = parsed
        if handles is None:
            handles = self._query_items(args.user, event.seq, count or 0, timeout)
        problems = []
        if sorted(handles) != expected:
            problems.append(f"expected {expected or 'no handles'}, seen {sorted(handles) or 'none'}")
        if count is not None and count != len(expected):
            problems.append(f"expected n = {len(expected)}, seen n = {count}")
        if problems:
            return [failed(name, "; ".join(problems) + f" (line: {event.text!r})")]
        return [passed(name, f"n = {len(expected)}: {' '.join(expected)}")]

    def _query_items(self, name: str, after: int, count: int, timeout: float) -> list[str]:
        def probe() -> list[str] | None:
            found = [h for e in self.trace.lines(name, after=after)
                     if (h := self.dialect.parse_query_item(e.text))]
            return found[:count] if len(found) >= count or self._exited(name) else None

        items = self._wait(probe, timeout) or []
        if items:
            last = [e for e in self.trace.lines(name, after=after) if self.dialect.parse_query_item(e.text)]
            self.cursor[name] = last[len(items) - 1].seq
        return items

    def _step_type(self, args: TypeArgs, timeout: float) -> list[CheckResult]:
        self._send(args.to, self._render_raw(args.line))
        return []

    def _render_raw(self, line: str) -> str:
        values = {**self._base_values(), "ip": TRACKER_IP, "unique": secrets.token_hex(4)}
        for slot in self.users.values():
            values.update({f"{slot.name}.{key}": value for key, value in slot.values().items()})
        return render(line, values)

    def _last_typed(self, name: str) -> int:
        typed = self.trace.lines(name, ("in",))
        return typed[-1].seq if typed else -1

    def _matcher(self, args: ExpectArgs) -> Callable[[str], object]:
        return (lambda text: args.pattern in text) if args.literal else _search(args.pattern)

    def _step_expect(self, args: ExpectArgs, timeout: float) -> list[CheckResult]:
        label = f"{self._label(args.at)} prints /{args.pattern}/"
        event = self._wait_line(args.at, self._matcher(args), self._last_typed(args.at), timeout)
        if isinstance(event, Event):
            return [passed(label, event.text)]
        why = "its program ended" if event == "exited" else f"not within {timeout:g} s"
        return [failed(label, f"expected a line matching /{args.pattern}/; {why}")]

    def _step_expect_not(self, args: ExpectNotArgs, timeout: float) -> list[CheckResult]:
        label = f"{self._label(args.at)} does not print /{args.pattern}/"
        matcher = self._matcher(args)
        start = self._last_typed(args.at)
        hit = self._wait(lambda: next((e for e in self.trace.lines(args.at, after=start)
                                       if matcher(e.text)), None), args.within)
        if hit:
            return [failed(label, f"it printed {hit.text!r}")]
        return [passed(label, f"nothing matching within {args.within:g} s")]

    def _step_expect_alive(self, args: AliveArgs, timeout: float) -> list[CheckResult]:
        label = f"{self._label(args.at)} is still running"
        if self._exited(args.at):
            return [failed(label, f"its program ended ({self._exit_text(args.at)})")]
        return [passed(label)]

    # -- tweets ------------------------------------------------------------------------------
    def _step_tweet(self, args: TweetArgs, timeout: float) -> list[CheckResult]:
        return self._tweets([args], timeout)

    def _step_tweets_at_once(self, tweets: list[TweetArgs], timeout: float) -> list[CheckResult]:
        return self._tweets(tweets, timeout)

    def _tweet_text(self, args: TweetArgs) -> str:
        token = secrets.token_hex(3)
        if args.length is not None:
            base = f"t{token} " + "the quick brown fox jumps over the lazy dog, 0123456789! " * 200
            return base[:args.length].rstrip() + "x" * (args.length - len(base[:args.length].rstrip()))
        if args.text is None:
            return f"hello from {args.user}, tweet {token}"
        return render(args.text, {"unique": token})

    def _tweets(self, tweets: list[TweetArgs], timeout: float) -> list[CheckResult]:
        pending = []
        for args in tweets:
            text = self._tweet_text(args)
            typed = self._type_command(args.user, "tweet", timeout, text=text)
            pending.append(PendingTweet(args, text, -1 if typed is None else typed))
            if typed is None:
                return [failed("tweet", "the submission's manifest says it has no `tweet` command")]
        checks: list[CheckResult] = []
        for tweet in pending:
            what = f"tweet by {self.users[tweet.args.user].handle}"
            expect = tweet.args.expect if len(pending) == 1 else "success"
            check, event = self._reply_check(tweet.args.user, "tweet", what, expect, timeout, tweet.typed_seq)
            tweet.reply = self.dialect.reply_outcome("tweet", event.text) if event else None
            tweet.reply_seq = event.seq if event else tweet.typed_seq
            if len(pending) == 1 or tweet.reply != "failure":
                checks.append(check)
        first_seq = min(t.typed_seq for t in pending)
        accepted = [t for t in pending if t.reply == "success"]
        self._await_tweets_done(accepted, first_seq, timeout)
        self._wait(lambda: None, self.scenario.grace)  # extra deliveries would show now
        deliveries = self._deliveries(pending, first_seq)
        for tweet in pending:
            if tweet.reply == "success" and tweet.args.deliver_to is not None:
                graded = tuple(tweet.args.grade) if tweet.args.grade is not None else DELIVERY_PROPERTIES
                observation = self._observe(tweet, deliveries[id(tweet)])
                self.tweets.append(observation.to_json(self.trace.t0))
                checks.extend(judge_delivery(observation, graded))
            elif tweet.reply == "failure" or tweet.args.expect == "failure":
                checks.append(self._refused_not_delivered(tweet, deliveries[id(tweet)]))
        return checks

    def _refused_not_delivered(self, tweet: PendingTweet, got: list[Delivery]) -> CheckResult:
        name = "a refused tweet reaches nobody"
        if got:
            return failed(name, f"the tweet was answered FAILURE but {', '.join(sorted({d.receiver for d in got}))}"
                          " printed it")
        return passed(name)

    def _observe(self, tweet: PendingTweet, got: list[Delivery]) -> TweetObservation:
        user = tweet.args.user
        followers = [self.users[n].handle if not n.startswith("@") else n for n in tweet.args.deliver_to or []]
        return TweetObservation(
            tweeter=self.users[user].handle, text=tweet.text, followers=followers, deliveries=got,
            returned=self._returned(tweet) if self.dialect.returned_re else None,
            end_tweet=self._end_tweet_outcome(tweet), reads_forwarder=self.dialect.reads_forwarder)

    def _returned(self, tweet: PendingTweet) -> bool:
        return any(self.dialect.is_returned(e.text) for e in self.trace.lines(tweet.args.user, after=tweet.typed_seq))

    def _end_tweet_outcome(self, tweet: PendingTweet) -> str | None:
        for event in self.trace.lines(tweet.args.user, after=tweet.reply_seq):
            outcome = self.dialect.reply_outcome("end_tweet", event.text)
            if outcome:
                return outcome
        return None

    def _deliveries(self, pending: list[PendingTweet], first_seq: int) -> dict[int, list[Delivery]]:
        """Received-tweet lines printed since the tweets were typed, attributed to their tweet."""
        result: dict[int, list[Delivery]] = {id(t): [] for t in pending}
        for slot in self.users.values():
            for event in self.trace.lines(slot.name, after=first_seq):
                received = self.dialect.parse_received(event.text)
                if received is None:
                    continue
                tweet = _attribute(received, pending, self.users)
                if tweet is not None:
                    result[id(tweet)].append(Delivery(slot.handle, event, received))
        return result

    def _await_tweets_done(self, accepted: list[PendingTweet], first_seq: int, timeout: float) -> None:
        """Wait until every accepted tweet reached its followers, came back and end-tweet was answered.

        Once a tweeter has ended its tweet (end-tweet answered), followers' lines still missing get
        STRAGGLER_S more: lines of different processes reach the harness in any order, but a tweet
        that never went round (a follower that does not forward) must not hold the step for its
        whole timeout.
        """
        manual_sent: set[int] = set()
        ended_at: dict[int, float] = {}

        def finished(tweet: PendingTweet, receivers: set[str]) -> bool:
            followers = {self.users[n].handle if not n.startswith("@") else n for n in tweet.args.deliver_to or []}
            round_done = self._returned(tweet) if self.dialect.returned_re else followers <= receivers
            if round_done and not self.dialect.end_tweet_automatic and id(tweet) not in manual_sent:
                manual_sent.add(id(tweet))
                self._type_command(tweet.args.user, "end_tweet", timeout)
            if not self._end_tweet_outcome(tweet):
                return False
            ended = ended_at.setdefault(id(tweet), time.monotonic())
            return followers <= receivers or time.monotonic() - ended >= STRAGGLER_S

        def done() -> bool | None:
            deliveries = self._deliveries(accepted, first_seq)
            return True if all(finished(t, {d.receiver for d in deliveries[id(t)]}) for t in accepted) else None

        self._wait(done, timeout, poll=0.05)


def _attribute(received, pending: list[PendingTweet], users: dict[str, UserSlot]) -> PendingTweet | None:
    """Which typed tweet a received line belongs to: by tweeter if printed, else by text."""
    if received.tweeter is not None:
        for tweet in pending:
            if users[tweet.args.user].handle.lower() == received.tweeter.lower():
                return tweet
        return None
    for tweet in pending:
        if received.text == tweet.text:
            return tweet
    for tweet in pending:
        if received.text and tweet.text.startswith(received.text):
            return tweet
    return pending[0] if len(pending) == 1 else None


def _search(pattern: str) -> Callable[[str], object]:
    import re
    compiled = re.compile(pattern)
    return lambda text: compiled.search(text[:4096])


def describe_step(kind: str, args: object) -> str:
    """How a step reads in a failure explanation: in the assignment's words."""
    def handle(name: str) -> str:
        return name if name.startswith("@") else f"@{name}"

    expect = getattr(args, "expect", "success")
    suffix = "" if expect == "success" else " (must be refused)"
    if kind == "register":
        users = args.users if args.users != "all" else "every user"
        who = args.handle or (" ".join(map(handle, users)) if isinstance(users, list) else users)
        return f"register {who}{suffix}"
    if kind in ("follow", "drop"):
        return f"{handle(args.user)} {'follows' if kind == 'follow' else 'drops'} {handle(args.target)}{suffix}"
    if kind == "query":
        return f"{handle(args.user)} types query handles (expect: {' '.join(map(handle, args.handles)) or 'none'})"
    if kind == "tweet":
        return _describe_tweet(args, handle) + suffix
    if kind == "tweets_at_once":
        return "at the same time: " + "; ".join(_describe_tweet(t, handle) for t in args)
    if kind in ("end_tweet", "exit"):
        return f"{handle(args.user)} types {kind.replace('_', '-')}{suffix}"
    if kind == "type":
        return f"type {args.line!r} at {args.to}"
    if kind == "expect":
        return f"{args.at} prints /{args.pattern}/"
    if kind == "expect_not":
        return f"{args.at} does not print /{args.pattern}/ within {args.within:g} s"
    return f"{args.at} is still running"


def _describe_tweet(args: TweetArgs, handle: Callable[[str], str]) -> str:
    size = f"a text of {args.length} characters" if args.length else repr(args.text) if args.text else "a unique text"
    to = ", ".join(map(handle, sorted(args.deliver_to))) if args.deliver_to else "nobody"
    return f"{handle(args.user)} tweets {size} (must reach {to})"
