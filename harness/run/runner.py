"""Run one scenario against one submission: start its processes, play the steps, keep the record.

The runner decides no verdict. It records what each step saw (records.py); the judge decides. The
one place where the judge's view is needed during the run, whether playing on can still show
anything after a step, is asked of the `should_stop` function the caller passes in, so this stage
imports nothing of the judge.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import random
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pexpect

from harness.inputs.dialect import Dialect, render_typed
from harness.inputs.keys import SIGNAL_KEYS, key_names
from harness.inputs.scenario import Faults, Scenario, step_args, step_kind
from harness.net.lan import Host
from harness.net.mode import NetworkChoice
from harness.run import behind, bytecode, phases, ports, steps_commands, steps_raw, steps_tweets
from harness.run.asleep import SleepWatch
from harness.run.driver import (PENDING, STUCK, TRACKER, Driver, ScenarioAborted, ScenarioTimeout, SetupError,
                                UserSlot, search)
from harness.run.network import ScenarioNetwork
from harness.run.processes import ProcessSet
from harness.run.records import Event, ScenarioRecord, StepRecord
from harness.run.sandbox import Limits, Sandbox
from harness.run.trace import Trace

STARTUP_TIMEOUT_S = 10.0
TRACKER_SETTLE_S = 0.25  # a tracker whose port another of its processes holds must live this long first
TRACKER_SETTLE_LIMIT_S = 2.0  # ... and at most this long while its start-up is not over
COPY_IGNORE = shutil.ignore_patterns(".git", "__pycache__", "*.pyc", "grading-results")
ShouldStop = Callable[[ScenarioRecord, StepRecord], bool]
LOOPBACK = NetworkChoice("loopback", "the default when nothing else is asked for")

COMMANDS = ("register", "query", "follow", "drop", "tweet", "end_tweet", "exit")
HANDLERS: dict[str, Callable[[Driver, Any, float, StepRecord], None]] = {
    "register": steps_commands.play_register,
    "follow": steps_commands.play_follow,
    "drop": steps_commands.play_drop,
    "query": steps_commands.play_query,
    "end_tweet": steps_commands.play_end_tweet,
    "exit": steps_commands.play_exit,
    "tweet": steps_tweets.play_tweet,
    "tweets_at_once": steps_tweets.play_tweets_at_once,
    "type": steps_raw.play_type,
    "expect": steps_raw.play_expect,
    "expect_not": steps_raw.play_expect_not,
    "expect_alive": steps_raw.play_expect_alive,
}


FAULTS_NEED_HOSTS = ("this scenario runs under network faults ({faults}), which only a virtual LAN can "
                     "apply: grade it with --network hosts, as root; it was not run without them")


def never_stop(record: ScenarioRecord, step: StepRecord) -> bool:
    return False


def fault_seed(faults: Faults | None, given: int | None) -> int | None:
    """The seed faults are drawn from: the one given for this run, else the faults' own, else a fresh
    one (recorded, so the run can be replayed); None without faults."""
    if faults is None or given is not None:
        return given
    return faults.seed if faults.seed is not None else random.randrange(2**31)


class ScenarioRunner:
    """Plays one scenario; `run()` never raises for anything the submission does."""

    def __init__(self, submission: Path, dialect: Dialect, scenario: Scenario, scenario_id: str = "",
                 file: Path | str = "", step_timeout: float | None = None, limits: Limits | None = None,
                 drop_privileges: bool = True, abort: threading.Event | None = None,
                 network: NetworkChoice = LOOPBACK, should_stop: ShouldStop = never_stop,
                 scenario_timeout: float | None = None, keep_work: bool = False, faults: Faults | None = None,
                 seed: int | None = None) -> None:
        """`faults`: network faults replacing the scenario's own (--faults); `seed`: the seed they are
        drawn from, before the one the faults name (a run repeated or replayed passes its own)."""
        self.submission = submission
        self.dialect = dialect
        self.scenario = scenario
        self.step_timeout = step_timeout or scenario.step_timeout
        self.limits = limits or Limits()
        self.drop_privileges = drop_privileges
        self.abort = abort or threading.Event()
        self.network = network
        self.should_stop = should_stop
        self.timeout = scenario_timeout or scenario.timeout
        self.keep_work = keep_work  # leave the working copy for debugging (--keep-work)
        self.faults = faults or scenario.faults
        self.seed = fault_seed(self.faults, seed)
        self.trace = Trace()
        self.record = ScenarioRecord(scenario_id=scenario_id, file=str(file), handles={},
                                     timeout_s=self.timeout, trace_lines=dialect.manifest.trace_lines,
                                     prompt=dialect.manifest.prompt, prints_received=dialect.reads_received,
                                     replies={command: [dialect.manifest.replies.of(command).success,
                                                        dialect.manifest.replies.of(command).failure]
                                              for command in COMMANDS},
                                     reasons=dialect.manifest.replies.reasons.named(),
                                     registration="startup" if dialect.manifest.registers_at_startup else "command")
        self.record.seed = self.seed
        if self.faults is not None:
            self.record.faults = self.faults.model_dump(mode="json", exclude={"seed"}, exclude_defaults=True)

    def run(self) -> ScenarioRecord:
        with phases.scenario(self.record.scenario_id or self.scenario.name):
            return self._run()

    def _run(self) -> ScenarioRecord:
        started = time.monotonic()
        self.record.handles = {name: f"@{name}" for name in self.scenario.users}
        if self.record.registration == "startup" and self.scenario.before_registration() is not None:
            return self.record  # it cannot happen in this design: the judge says why, nothing runs
        if self.faults is not None and self.network.mode != "hosts":
            self.record.setup_error = FAULTS_NEED_HOSTS.format(faults=self.faults.describe(self.seed))
            return self.record
        workdir = Path(tempfile.mkdtemp(prefix=f"tweeter-run-{os.getpid()}-"))
        network: ScenarioNetwork | None = None
        sandbox: Sandbox | None = None
        procs: ProcessSet | None = None
        try:
            with phases.phase(phases.NETWORK):
                network = ScenarioNetwork(self.network, self.dialect.manifest.network, list(self.scenario.users),
                                          self.dialect.ports_per_user, workdir, self.abort, self.faults,
                                          self.seed or 0)
            network.describe(self.record)
            copy = workdir / "submission"
            with phases.phase(phases.COPY):
                shutil.copytree(self.submission, copy, symlinks=True, ignore=COPY_IGNORE)
                bytecode.lay_into(copy)
            with phases.phase(phases.SANDBOX):
                sandbox = Sandbox(self.limits, copy, self.drop_privileges, network.description(),
                                  terminal_signals=self.dialect.types_signal_keys or _types_signal_keys(self.scenario),
                                  programs=1 + len(self.scenario.users))
                self.record.protections = sandbox.protections()
                self.trace.add("harness", "note", f"sandbox: {json.dumps(self.record.protections, sort_keys=True)}")
                procs = ProcessSet(self.trace, copy, sandbox, self.dialect.manifest.pace_ms / 1000, self.abort)
            users = {name: UserSlot(name, f"@{name}", network.ip[name], network.user_ports[name])
                     for name in self.scenario.users}
            driver = Driver(self.dialect, self.trace, procs, users, (network.ip[TRACKER], network.tracker_port),
                            started + self.timeout, self.scenario.grace, self.abort,
                            lambda step: self._stop_after(step, network),
                            (lambda: network.wire_so_far(self.trace.t0)) if network.captured else None)
            driver.shared_network = network.lan is None
            network.watch(lambda: {name: child.pid for name, child in list(procs.children.items()) if not child.exited})
            driver.decides_stuck = self.faults is None  # under faults the switch may still hold frames
            start_all(driver, network.enter)
            with phases.phase(phases.STEPS):
                self._play_all(driver)
        except SetupError as exc:
            self.record.setup_error = str(exc)
        except (ScenarioAborted, InterruptedError):
            self.record.aborted = True
        except ScenarioTimeout:
            self.record.timed_out = True
        finally:
            with phases.phase(phases.TEARDOWN):
                self._tear_down(workdir, network, sandbox, procs)
        self.record.duration_s = time.monotonic() - started
        self.record.transcript = self.trace.frozen()
        return self.record

    def _tear_down(self, workdir: Path, network: ScenarioNetwork | None, sandbox: Sandbox | None,
                   procs: ProcessSet | None) -> None:
        """Every process killed and the network closed (the record is then complete, the ports free);
        the sandbox given back and the working copy deleted behind the scenario (run/behind.py)."""
        if procs is not None:
            procs.kill_all()
        if network is not None:
            network.close(self.record, self.trace.t0)
        if self.keep_work:
            self.trace.add("harness", "note", f"working copy kept at {workdir} (--keep-work)")
        behind.later(functools.partial(_give_back, sandbox, None if self.keep_work else workdir))

    def _play_all(self, driver: Driver) -> None:
        for number, step in enumerate(self.scenario.steps, start=1):
            kind, args = step_kind(step), step_args(step)
            timeout = getattr(args, "timeout", None) or self.step_timeout
            record = StepRecord(number=number, kind=kind, start_t=self._now())
            driver.stuck = None
            HANDLERS[kind](driver, args, timeout, record)
            record.stuck = driver.stuck
            record.ended = [name for name in [TRACKER, *driver.users] if name in driver.procs.children and driver.exited(name)]
            record.end_t = self._now()
            self.record.steps.append(record)
            if driver.should_stop(record):
                break


    def _stop_after(self, step: StepRecord, network: ScenarioNetwork) -> bool:
        """The judge's view of a step as seen so far (the record as it stands, the wire included):
        whether playing on can still show anything."""
        self.record.transcript = self.trace
        self.record.wire = network.wire_so_far(self.trace.t0)
        return self.should_stop(self.record, step)

    def _now(self) -> float:
        return round(time.monotonic() - self.trace.t0, 6)


def _give_back(sandbox: Sandbox | None, workdir: Path | None) -> None:
    """The sandbox's cgroup and user given back (its processes swept once more), the working copy
    removed."""
    if sandbox is not None:
        with contextlib.suppress(Exception):  # behind the scenario: nobody would hear it
            sandbox.close()
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)


def _types_signal_keys(scenario: Scenario) -> bool:
    """Whether a raw line of the scenario holds a key a terminal turns into a signal."""
    return any(step_kind(step) == "type" and key_names(step_args(step).line) & SIGNAL_KEYS for step in scenario.steps)


# -- start-up ----------------------------------------------------------------------------------
Joins = Callable[[str], Host | None]  # the LAN host a program joins, by its name (None on loopback)


def start_all(driver: Driver, enter: Joins) -> None:
    """The tracker first, ready before any user's program starts; then every user, each past its
    prompts. `enter(name)` is the host program `name` joins on a virtual LAN.
    Where the sandbox can hold a program at its door, the users' sandboxes are built while the
    tracker starts and their programs let in once it is ready: the order the programs see is the
    same, the harness's own launching is off the path."""
    if driver.dialect.manifest.registers_at_startup:  # each user starts at its `register` step
        driver.start_user = lambda name, handle: _start_user(driver, name, handle, enter(name))
        with phases.phase(phases.START_TRACKER):
            _launch(driver, TRACKER, driver.base_values(), enter(TRACKER))
            _await_tracker_ready(driver)
        return
    hold = driver.procs.sandbox.can_hold
    with phases.phase(phases.START_TRACKER):
        _launch(driver, TRACKER, driver.base_values(), enter(TRACKER))
        if hold:  # from this thread: a sandbox dies with the thread that forked it
            _launch_users(driver, enter, held=True)
        _await_tracker_ready(driver)
    with phases.phase(phases.START_USERS):
        if hold:
            for slot in driver.users.values():
                driver.procs.let_start(slot.name)
        else:
            _launch_users(driver, enter, held=False)
        for slot in driver.users.values():
            _answer_startup(driver, slot.name, "user", {**driver.base_values(), **slot.values()})
            if driver.dialect.user_ready_re:
                _await_setup_line(driver, slot.name, driver.dialect.user_ready_re.search, "say it is ready")
    if driver.exited(TRACKER):  # e.g. its port was bound by another process, which fooled readiness
        raise SetupError(f"the tracker exited at start-up ({driver.trace.exit_text(TRACKER)})")


def _start_user(driver: Driver, name: str, handle: str, enter: Host | None) -> int:
    """Start a user that registers from its start-up prompts, answering them with `handle`; the seq
    of the last answer typed (its registration's reply comes after it)."""
    values = {**driver.base_values(), **driver.users[name].values(), "handle": handle, "name": handle.lstrip("@")}
    _launch(driver, name, values, enter)
    _answer_startup(driver, name, "user", values)
    return driver.cursor[name]


def _launch_users(driver: Driver, enter: Joins, held: bool) -> None:
    for slot in driver.users.values():
        _launch(driver, slot.name, {**driver.base_values(), **slot.values()}, enter(slot.name), held)


def _launch(driver: Driver, name: str, values: dict[str, str], enter: Host | None,
            held: bool = False) -> None:
    role = TRACKER if name == TRACKER else "user"
    command = driver.dialect.launch_command(role, values)
    try:
        child = driver.procs.launch(name, command, enter, driver.dialect.environment(values), held)
    except (pexpect.ExceptionPexpect, OSError, ValueError) as exc:
        raise SetupError(f"could not start the {role} with `{command}`: {exc}") from None
    driver.cursor[name] = child.start_seq


def _await_tracker_ready(driver: Driver) -> None:
    """Wait until the tracker is ready (its ready line, else its port bound). On loopback a hard-coded
    TCP port that connections of the previous scenario still hold in TIME_WAIT cannot be bound again
    without SO_REUSEADDR: a tracker that fails to start then is told so, not that it was not ready."""
    port = driver.tracker_port
    manifest = driver.dialect.manifest
    pinned_tcp = (driver.shared_network  # loopback: the previous scenario's connections are on this network
                  and manifest.transport == "tcp" and manifest.network.tracker.port == port)
    lingering = ports.time_wait(port) if pinned_tcp else 0
    if lingering:
        driver.trace.add("harness", "note", f"port {port} is in TIME_WAIT ({lingering} TCP connections of an "
                         "earlier scenario): a tracker that binds it without SO_REUSEADDR cannot start yet")
    try:
        _answer_startup(driver, TRACKER, TRACKER, driver.base_values())
        if driver.dialect.tracker_ready_re:
            _await_setup_line(driver, TRACKER, driver.dialect.tracker_ready_re.search, "say it is ready")
            return
        watch = ports.BindWatch(driver.pid(TRACKER), port, owner=driver.procs.sandbox.uid)
        sockets = driver.wait(lambda: True if driver.exited(TRACKER) else (watch.sockets() or None),
                              STARTUP_TIMEOUT_S, poll=0.005, decided=True)
        if sockets == STUCK:  # the wait reads the TCP tables only now and then: all of them, once more
            sockets = watch.sockets(every_table=True) or STUCK
        if sockets == STUCK:
            raise SetupError(f"the tracker did not bind its port {port}, and nothing could happen any more: "
                             f"{driver.stuck}")
        if sockets and not driver.exited(TRACKER) and not driver.procs.holds(TRACKER, sockets):
            # a process the tracker started holds the port (a wrapper script's child, or a squatter while
            # the tracker itself fails to bind it): the tracker must stay up a moment, and until its start-up
            # is over (all of it asleep: a tracker failing to bind runs until it exits, however loaded the
            # machine), before it counts
            since, launched, sleep = time.monotonic(), driver.pid(TRACKER), SleepWatch()
            driver.watch(lambda: True if driver.exited(TRACKER) or (
                time.monotonic() - since >= TRACKER_SETTLE_S and sleep.asleep(launched)) else None,
                TRACKER_SETTLE_LIMIT_S)
        if driver.exited(TRACKER):
            raise SetupError(f"the tracker exited at start-up ({driver.trace.exit_text(TRACKER)})")
        if not sockets:
            raise SetupError(f"the tracker did not bind its port {port} within {STARTUP_TIMEOUT_S:g} s")
    except SetupError as failed:
        left = ports.time_wait(port) if pinned_tcp else 0  # or seen at start, and ended while it waited
        if lingering or left:
            raise SetupError(ports.time_wait_problem(port, max(lingering, left), str(failed))) from None
        raise


def _answer_startup(driver: Driver, name: str, role: str, values: dict[str, str]) -> None:
    for line in driver.dialect.startup_lines(role):
        if line.expect:
            _await_setup_line(driver, name, search(line.expect), f"prompt /{line.expect}/", partial=True)
        driver.cursor[name] = driver.send(name, render_typed(line.send, values))


def _await_setup_line(driver: Driver, name: str, matcher: Callable[[str], object], what: str,
                      partial: bool = False) -> None:
    event = driver.wait_line(name, matcher, driver.cursor[name], STARTUP_TIMEOUT_S, partial)
    if event == PENDING:
        return  # a prompt still without its newline: the line typed next ends it
    if event == STUCK:
        raise SetupError(f"{driver.label(name)} did not {what}, and nothing could happen any more: {driver.stuck}")
    if not isinstance(event, Event):
        raise SetupError(f"{driver.label(name)} did not {what} within {STARTUP_TIMEOUT_S:g} s"
                         + (f" ({driver.trace.exit_text(name)})" if driver.exited(name) else ""))
    driver.cursor[name] = event.seq
