"""Benchmark: wall time of grading `reference/` with the public specs beside a floor.

The floor is what no grader can beat: starting and stopping the same number of Python processes
that the grading run starts, with the same parallelism, each printing one line and being killed. They
are the interpreter a submission's `python3` is (as the sandbox finds it, links followed: under
bubblewrap no virtual environment shows), not this harness's own: a virtual environment with an
editable install starts several times slower, which would flatter the ratio. The programs floor starts
the reference's own programs as the scenarios do (the tracker until its first line, then its users,
from a copy that has its modules' bytecode, as every working copy has) and waits out the quiet
windows the scenarios prescribe, once whole and once each ended as soon as nothing can happen in it
(by the harness's own rule): what grading this submission costs any grader, so that grading divided
by it is the harness's own overhead (target <= 1.2, on loopback and on the LAN alike). For comparison
it also runs that floor with each program in the view bubblewrap gives it when graded: what
confinement alone costs, which the floor leaves out.
Where a virtual LAN can be built it also grades the reference in hosts mode, by turns with loopback.
Then it grades the purpose-built submissions that stop for good (tests/submissions/stuck_variants.py:
a tracker that never answers `tweet`; programs blocked from the start) and a slow one, each against
the reference (target <= 2 x for those that stop; the slow one keeps its score). Then, per mode,
where the grading time went: each phase of a scenario run (run/phases.py), summed over scenarios, and
its share of the wall time (every moment of the run split evenly among the scenarios running then;
moments when none runs are loading, judging and scheduling), so the gap to the floor is explained.
With --rejudge it also grades the example class (student_submissions/) and rejudges its results from
the saved records, printing both times. With --faults-cost it only measures what a LAN with network faults costs per frame: the
switch in user space (net/switch.py, with no fault to apply) against the kernel's bridge, one way in a
ping-pong between two hosts and per frame in a flood. With --stability it measures only determinism
instead: the reference and every example submission graded --runs times (--repeat) with the public
suite while --load busy processes keep the cores loaded, and a table per submission of the scenarios
whose verdicts differed between runs, with their pass rates (the target is none). Prints figures; it
is not a pass/fail test.
Usage: python -m harness.bench [--jobs 2] [--rounds 3] [--rejudge]
       python -m harness.bench --faults-cost [--rounds 3]
       python -m harness.bench --stability [--runs 20] [--load 2] [--jobs 2] [-k PATTERN]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TypeVar

from harness.batch import GradeOptions, grade_all, select_scenarios
from harness.cli import default_specs
from harness.inputs.scenario import Faults, Scenario, load_suite, step_args, step_kind
from harness.inputs.submissions import discover
from harness.judge.grading import SubmissionGrade
from harness.net.capture import SO_RCVBUFFORCE, Capture
from harness.net.lan import make_lan, socket_on
from harness.net.mode import MODES, choose, hosts_unavailable
from harness.net.switch import FaultySwitch
from harness.option_values import positive_int
from harness.rejudge import rejudge
from harness.reports import files
from harness.run import bytecode, filesystem, phases, quiescence
from harness.run.driver import WINDOW_CONFIRM_S, WINDOW_POLL_S
from harness.run.runner import COPY_IGNORE
from harness.run.sandbox import Limits, Sandbox

ROOT = Path(__file__).resolve().parents[1]
FLOOR_PROGRAM = "import sys; print('ready', flush=True); sys.stdin.read()"
BUSY_PROGRAM = "while True: pass"
IN_RUNNER = "other, inside the runner"
OUTSIDE = "outside scenario runs (loading, judging, scheduling)"
T = TypeVar("T")


@dataclass
class Breakdown:
    """Seconds per phase, added up over the grading runs measured."""

    summed: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # over scenarios
    of_wall: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # shares of wall time
    wall: float = 0.0
    scenarios: int = 0
    runs: int = 0

    def add(self, spans: list[phases.Span], started: float, ended: float) -> None:
        """One grading run's spans, between `started` and `ended` (monotonic)."""
        self.runs += 1
        self.wall += ended - started
        by_scenario: dict[str, list[phases.Span]] = defaultdict(list)
        for span in spans:
            by_scenario[span.scenario].append(span)
        self.scenarios += len(by_scenario)
        cuts = sorted({started, ended, *(t for span in spans for t in (span.start, span.end))})
        for low, high in zip(cuts, cuts[1:]):
            if low < started or high > ended:
                continue
            doing = [p for own in by_scenario.values() if (p := _innermost(own, low, high)) is not None]
            for name in doing:
                self.summed[name] += high - low
                self.of_wall[name] += (high - low) / len(doing)
            if not doing:
                self.of_wall[OUTSIDE] += high - low

    def lines(self) -> list[str]:
        wall = self.wall / self.runs
        rows = [f"  {'phase':<48} {'summed s':>9} {'ms/scenario':>12} {'of wall s':>10} {'share':>6}"]
        for name in [*phases.ORDER, IN_RUNNER, OUTSIDE]:
            summed, of_wall = self.summed.get(name, 0.0) / self.runs, self.of_wall.get(name, 0.0) / self.runs
            per = 1000 * summed * self.runs / self.scenarios if self.scenarios else 0.0
            rows.append(f"  {name:<48} {summed:9.2f} {per:12.0f} {of_wall:10.2f} {100 * of_wall / wall:5.1f}%")
        rows.append(f"  {'wall time of one grading run':<48} {'':>9} {'':>12} {wall:10.2f} {100:5.1f}%")
        return rows


@dataclass
class CpuUse:
    """What one measured run cost in CPU: the whole machine's busy core-seconds (/proc/stat: every
    process, the kernel's work for them included) and this process's own (the harness, when grading)."""

    machine: float
    own: float


def cpu_of(run: Callable[[], T]) -> tuple[T, CpuUse]:
    """`run`'s result and what it cost in CPU."""
    machine, own = _machine_busy(), time.process_time()
    result = run()
    return result, CpuUse(_machine_busy() - machine, time.process_time() - own)


def _machine_busy() -> float:
    """Core-seconds the machine has spent busy since it started (all but idle and waiting on I/O)."""
    with open("/proc/stat", encoding="ascii") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def cpu_lines(grading: list[CpuUse], grading_s: float, floor: list[CpuUse], floor_s: float) -> list[str]:
    """What the 1.2x target asks of the CPU: grading and the programs floor are both bound by it (their
    cores are as busy), so their wall times stand about as their CPU does, and the harness's own
    process spends its share of that margin."""
    machine, own = statistics.median(c.machine for c in grading), statistics.median(c.own for c in grading)
    floor_machine = statistics.median(c.machine for c in floor)
    floor_own = statistics.median(c.own for c in floor)
    cores = os.cpu_count() or 1
    return [f"CPU, core-seconds of the whole machine (median; {cores} cores): the programs floor with early ends "
            f"{floor_machine:.2f} ({floor_machine / floor_s:.2f} cores busy; the bench's own process "
            f"{floor_own:.2f}), grading on loopback {machine:.2f} ({machine / grading_s:.2f} cores busy; "
            f"{machine / floor_machine:.2f} x the floor's)",
            f"the harness's own process when grading: {own:.2f} core-s, {own / floor_machine:.2f} x the floor's "
            f"CPU (the 1.2 x target leaves 0.2 x for it, the sandbox and the steps, which the floor does not play)"]


def _innermost(spans: list[phases.Span], low: float, high: float) -> str | None:
    """What a scenario did between `low` and `high` (no span starts or ends inside): its innermost
    phase then, IN_RUNNER between its phases, None before its first or after its last."""
    if not spans or high <= min(s.start for s in spans) or low >= max(s.end for s in spans):
        return None
    covering = [s for s in spans if s.start <= low and high <= s.end]
    return max(covering, key=lambda s: s.start).phase if covering else IN_RUNNER


def grade_reference(jobs: int, network: str = "loopback",
                    breakdown: Breakdown | None = None) -> tuple[float, str, int]:
    """Seconds to grade the reference, its score (naming every scenario it did not pass: the
    reference must score full marks, and a run that does not is worth knowing of), processes."""
    suite = load_suite([default_specs()])
    submissions = discover([ROOT / "reference"])
    with phases.recording() as spans:
        started = time.monotonic()
        grades = grade_all(submissions, suite, GradeOptions(jobs=jobs, network=choose(network)))
        ended = time.monotonic()
    if breakdown is not None:
        breakdown.add(spans, started, ended)
    processes = sum(1 + len(scenario.users) for _, scenario in suite.values())
    missed = [f"{result.id} {result.status}" for result in grades[0].scenarios if result.status != "passed"]
    return ended - started, f"{grades[0].score:g}" + (f"; {', '.join(missed)}" if missed else ""), processes


STUCK_BUILDER = ROOT / "tests" / "submissions" / "stuck_variants.py"
STUCK_FIGURES = (  # (submission, what it does, whether it stops for good)
    ("tracker_ignores_tweet", "a tracker that never answers `tweet`, its user then blocked for good", True),
    ("blocks_from_the_start", "programs blocked for ever from the start (the tracker never binds)", True),
    ("tweet_answered_on_retry", "slow but correct: each tweet answered only on a retry 3 s later", False))


def stuck_figures(jobs: int, network: str, reference_s: float, rounds: int) -> list[str]:
    """How long the purpose-built submissions that stop for good (and one merely slow) take to grade
    with the public suite, against the reference (target: at most 2 x for those that stop, the median
    of `rounds` runs: how the programs' timers race the steps differs from run to run; the slow one,
    graded once, keeps its score). They are built from the tests' builder, so only in a checkout."""
    if not STUCK_BUILDER.exists():
        return [f"stuck submissions not measured: {STUCK_BUILDER} is not here (a checkout of the project has it)"]
    lines = []
    with tempfile.TemporaryDirectory(prefix="tweeter-bench-stuck-") as folder:
        subprocess.run([sys.executable, str(STUCK_BUILDER), folder], check=True, capture_output=True)
        suite = load_suite([default_specs()])
        for name, what, stops in STUCK_FIGURES:
            times, scores = [], set()
            for _ in range(rounds if stops else 1):
                started = time.monotonic()
                grade = grade_all(discover([Path(folder) / name]), suite,
                                  GradeOptions(jobs=jobs, network=choose(network)))[0]
                times.append(time.monotonic() - started)
                scores.add(f"{grade.score:g}/{grade.max_score:g}")
            elapsed = statistics.median(times)
            runs = f" (median of {' / '.join(f'{t:.2f}' for t in times)} s)" if len(times) > 1 else ""
            lines.append(f"{name} ({what}): {elapsed:.2f} s{runs}, {elapsed / reference_s:.2f} x the reference "
                         f"(score {', '.join(sorted(scores))})")
    return lines


def submissions_python() -> str:
    """The interpreter a submission's `python3` runs."""
    with tempfile.TemporaryDirectory(prefix="tweeter-bench-") as folder:
        sandbox = Sandbox(Limits(), Path(folder))
        try:
            found = sandbox.executable("python3", sandbox.search_path(os.environ.get("PATH", "/usr/bin:/bin")))
        finally:
            sandbox.close()
    return os.path.realpath(found or sys.executable)


def _one_scenario_floor(python: str, users: int) -> None:
    procs = [subprocess.Popen([python, "-c", FLOOR_PROGRAM], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE) for _ in range(users + 1)]
    try:
        for proc in procs:
            proc.stdout.readline()
    finally:
        _kill_all(procs)


def floor(jobs: int, python: str) -> float:
    """Same processes per scenario, same number of scenarios at once."""
    suite = load_suite([default_specs()])
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(lambda users: _one_scenario_floor(python, users), [len(s.users) for _, s in suite.values()]))
    return time.perf_counter() - started


def prescribed_windows(scenario: Scenario) -> list[float]:
    """Seconds a scenario's own steps ask every grader to keep watching for what must not happen: the
    grace after each tweet step (extra deliveries) and each `expect_not` window."""
    windows = []
    for step in scenario.steps:
        kind = step_kind(step)
        if kind in ("tweet", "tweets_at_once"):
            windows.append(scenario.grace)
        elif kind == "expect_not":
            windows.append(step_args(step).within)
    return windows


def _watch(programs: dict[str, int], seconds: float, early: bool) -> None:
    """One quiet window: all of it, or (`early`) until nothing can happen before it would close, by
    the harness's own rule (quiescence.Settling with the driver's WINDOW_CONFIRM_S and WINDOW_POLL_S)."""
    end = time.monotonic() + seconds
    settling = quiescence.Settling(WINDOW_CONFIRM_S, WINDOW_POLL_S)
    while (left := end - time.monotonic()) > 0:
        if early and settling.due() and settling.saw(quiescence.stuck(programs, left)):
            return
        threading.Event().wait(min(left, WINDOW_POLL_S if early else left))


def _one_scenario_programs(python: str, folder: Path, users: int, windows: list[float], early: bool,
                           sandboxed: bool = False) -> None:
    """The reference's own tracker (in `folder`) until it prints its first line, then its users at
    once until each prints theirs, then the scenario's prescribed quiet windows (`early`: each ended
    as soon as nothing can happen in it), then all killed; `sandboxed`: each program in the view
    bubblewrap gives it when graded (run/filesystem.py)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def start(argv: list[str]) -> subprocess.Popen:
        return subprocess.Popen(filesystem.wrap(argv, folder) if sandboxed else argv, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=folder)

    procs = [start([python, "tracker.py", str(port)])]
    try:
        procs[0].stdout.readline()
        procs += [start([python, "user.py", "127.0.0.1", str(port)]) for _ in range(users)]
        for proc in procs[1:]:
            proc.stdout.readline()
        programs = {str(index): (filesystem.program_pid(proc.pid) if sandboxed else None) or proc.pid
                    for index, proc in enumerate(procs)}
        for seconds in windows:
            _watch(programs, seconds, early)
    finally:
        _kill_all(procs)


def _kill_all(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.kill()
        proc.wait()


def programs_floor(jobs: int, python: str, early: bool, sandboxed: bool = False) -> float:
    """A floor no grader can beat for this submission: its own programs started as the scenarios start
    them, and the quiet windows the scenarios prescribe (`early`: each ended as soon as nothing can
    happen in it, as the harness ends them), with the same parallelism. `sandboxed`: each program in
    the view bubblewrap gives it (what confinement alone costs, for comparison; started by this
    process as it is, where grading starts bubblewrap as the scenario's user, with its limits)."""
    suite = load_suite([default_specs()])
    with tempfile.TemporaryDirectory(prefix="tweeter-bench-") as folder:
        # a copy with its modules' bytecode, as every working copy has it: whether or not this
        # environment lets Python write its cache (PYTHONDONTWRITEBYTECODE), no start compiles them
        copy = Path(folder) / "reference"
        shutil.copytree(ROOT / "reference", copy, ignore=COPY_IGNORE)
        bytecode.lay_into(copy)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(lambda s: _one_scenario_programs(python, copy, len(s.users), prescribed_windows(s), early,
                                                           sandboxed),
                          [scenario for _, scenario in suite.values()]))
        return time.perf_counter() - started


def grade_and_rejudge_class(jobs: int) -> tuple[float, float]:
    """Seconds to grade the example class and write its reports, then to rejudge them."""
    suite = load_suite([default_specs()])
    with tempfile.TemporaryDirectory(prefix="tweeter-bench-") as out:
        started = time.perf_counter()
        files.write_batch(grade_all(discover([ROOT / "student_submissions"]), suite, GradeOptions(jobs=jobs)),
                          Path(out))
        graded = time.perf_counter() - started
        started = time.perf_counter()
        rejudge(Path(out))
        return graded, time.perf_counter() - started


PING_PONGS, FLOOD = 2000, 5000


def lan_costs(switched: bool) -> tuple[float, float]:
    """(µs one way in a ping-pong, µs per frame in a flood) between two hosts, through the kernel's
    bridge (with the capture, as in hosts mode) or through the switch in user space."""
    with tempfile.TemporaryDirectory(prefix=f"tweeter-bench-{os.getpid()}-") as folder:
        lan = make_lan(["tracker", "alice"], Path(folder), bridge=not switched)
        forwarder = FaultySwitch(lan.switch_path, lan.ports, Faults(), 0) if switched else \
            Capture(lan.switch_path, lan.ports)
        try:
            forwarder.start()
            sender, receiver = socket_on(lan.hosts["alice"]), socket_on(lan.hosts["tracker"])
            with sender, receiver:
                return _ping_pong_and_flood(sender, receiver, (lan.hosts["tracker"].ip, 9000))
        finally:
            forwarder.stop()
            lan.close()


def _ping_pong_and_flood(sender: socket.socket, receiver: socket.socket, target: tuple[str, int]) -> tuple[float, float]:
    receiver.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)  # the whole flood waits there
    receiver.bind(target)
    for sock in (sender, receiver):
        sock.settimeout(5)
    sender.sendto(b"warm", target)  # ARP first
    receiver.recvfrom(64)
    started = time.perf_counter()
    for _ in range(PING_PONGS):
        sender.sendto(b"ping", target)
        data, back = receiver.recvfrom(64)
        receiver.sendto(data, back)
        sender.recv(64)
    one_way = (time.perf_counter() - started) / PING_PONGS / 2
    started = time.perf_counter()
    for _ in range(FLOOD):
        sender.sendto(b"x" * 100, target)
    for _ in range(FLOOD):
        receiver.recv(256)
    return one_way * 1e6, (time.perf_counter() - started) / FLOOD * 1e6


def faults_cost(rounds: int) -> None:
    """Print what the switch in user space costs per frame, against the bridge (medians of `rounds`)."""
    bridge = [lan_costs(False) for _ in range(rounds)]
    switch = [lan_costs(True) for _ in range(rounds)]
    (bridge_way, bridge_flood), (switch_way, switch_flood) = (
        tuple(statistics.median(run[i] for run in runs) for i in (0, 1)) for runs in (bridge, switch))
    print(f"one way, ping-pong of {PING_PONGS}: bridge {bridge_way:.1f} µs, switch in user space "
          f"{switch_way:.1f} µs: +{switch_way - bridge_way:.1f} µs per frame")
    print(f"flood of {FLOOD} datagrams: bridge {bridge_flood:.1f} µs per frame, switch in user space "
          f"{switch_flood:.1f} µs per frame ({switch_flood / bridge_flood:.1f} x)")


class CpuLoad:
    """`count` processes that keep a core each busy while grading runs (the load CI machines see)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> "CpuLoad":
        self.procs = [subprocess.Popen([sys.executable, "-c", BUSY_PROGRAM]) for _ in range(self.count)]
        return self

    def __exit__(self, *exc: object) -> None:
        _kill_all(self.procs)


def stability(runs: int, jobs: int, load: int, patterns: list[str], network: str) -> list[SubmissionGrade]:
    """The reference and every example submission, each scenario of the public suite run `runs`
    times under `load` busy processes."""
    suite = load_suite([default_specs()])
    if patterns:
        suite = select_scenarios(suite, patterns)
    submissions = discover([ROOT / "reference", ROOT / "student_submissions"])
    with CpuLoad(load):
        return grade_all(submissions, suite, GradeOptions(jobs=jobs, repeat=runs, network=choose(network)))


def stability_lines(grades: list[SubmissionGrade], runs: int, load: int) -> list[str]:
    """Per submission: how many scenarios gave differing verdicts, and those scenarios' pass rates."""
    width = max(len("submission"), *(len(g.submission) for g in grades))
    lines = [f"{runs} runs of every scenario under {load} busy processes "
             f"(network: {(grades[0].network or {}).get('mode', '?') if grades else '?'})",
             f"{'submission':<{width}}  {'scenarios':>9}  {'runs passed':>11}  {'differing':>9}  where (runs passed)"]
    for grade in grades:
        differing = [s for s in grade.scenarios if s.flaky]
        done = [run for s in grade.scenarios for run in s.completed_runs]
        passed = f"{sum(run.status == 'passed' for run in done)}/{len(done)}"
        where = ", ".join(f"{s.id} ({s.pass_rate})" for s in differing) or (grade.error or "").split("\n")[0]
        lines.append(f"{grade.submission:<{width}}  {len(grade.scenarios):>9}  {passed:>11}  {len(differing):>9}  "
                     f"{where}".rstrip())
    total = sum(1 for g in grades for s in g.scenarios if s.flaky)
    lines.append(f"scenarios with differing verdicts, all submissions: {total} (target 0)")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rejudge", action="store_true", help="also time grading and rejudging the examples")
    parser.add_argument("--floor-python", help="interpreter the floor starts (default: the one a submission's "
                        "python3 is)")
    parser.add_argument("--faults-cost", action="store_true",
                        help="only measure the per-frame cost of the switch that applies network faults")
    parser.add_argument("--stability", action="store_true",
                        help="only the stability figure: differing verdicts over repeated runs under CPU load")
    parser.add_argument("--runs", type=positive_int, default=20, help="runs of every scenario (--stability)")
    parser.add_argument("--load", type=int, default=2, help="busy processes beside grading (--stability)")
    parser.add_argument("-k", dest="patterns", action="append", default=[], metavar="PATTERN",
                        help="only the scenarios whose id matches (--stability; default: every one)")
    parser.add_argument("--network", choices=MODES, default="auto", help="network to grade on (--stability)")
    args = parser.parse_args()
    if args.stability:
        print("\n".join(stability_lines(stability(args.runs, args.jobs, args.load, args.patterns, args.network),
                                         args.runs, args.load)))
        return 0
    if args.faults_cost:
        if hosts_unavailable() is not None:
            print(f"faults cost not measured: {hosts_unavailable()}")
            return 0
        faults_cost(args.rounds)
        return 0
    python = args.floor_python or submissions_python()
    if args.rejudge:
        graded, rejudged = grade_and_rejudge_class(args.jobs)
        print(f"example class: grading {graded:.2f} s, rejudge {rejudged:.2f} s "
              f"({100 * rejudged / graded:.1f} % of grading; target < 5 %)", flush=True)
    runs, floors, hosts, prescribed, early, sandboxed = [], [], [], [], [], []
    grading_cpu: list[CpuUse] = []
    early_cpu: list[CpuUse] = []
    confined = filesystem.bubblewrap_unavailable() is None
    breakdowns = {"loopback": Breakdown(), "hosts": Breakdown()}
    lan = hosts_unavailable() is None
    for _ in range(args.rounds):
        (elapsed, score, processes), used = cpu_of(lambda: grade_reference(args.jobs, "loopback",
                                                                           breakdowns["loopback"]))
        runs.append(elapsed)
        grading_cpu.append(used)
        floors.append(floor(args.jobs, python))
        prescribed.append(programs_floor(args.jobs, python, early=False))
        floor_s, used = cpu_of(lambda: programs_floor(args.jobs, python, early=True))
        early.append(floor_s)
        early_cpu.append(used)
        if confined:
            sandboxed.append(programs_floor(args.jobs, python, early=True, sandboxed=True))
        line = (f"grading reference: loopback {elapsed:6.2f} s (score {score}), floor: {floors[-1]:6.2f} s "
                f"for {processes} processes of {python}, programs floor {prescribed[-1]:.2f} s "
                f"({early[-1]:.2f} s with early ends{f', {sandboxed[-1]:.2f} s sandboxed' if confined else ''})")
        if lan:
            elapsed, score, _ = grade_reference(args.jobs, "hosts", breakdowns["hosts"])
            hosts.append(elapsed)
            line += f", hosts {elapsed:6.2f} s (score {score})"
        print(line, flush=True)
    grade_s, floor_s = statistics.median(runs), statistics.median(floors)
    print(f"\nmedian over {args.rounds} rounds, --jobs {args.jobs}: grading {grade_s:.2f} s, "
          f"floor {floor_s:.2f} s, ratio {grade_s / floor_s:.2f} (target <= 2)")
    prescribed_s, early_s = statistics.median(prescribed), statistics.median(early)
    print(f"programs floor: the reference's own programs, started as the scenarios start them, and the quiet "
          f"windows the specs prescribe: {prescribed_s:.2f} s; with each window ended as soon as nothing can "
          f"happen in it (as grading ends them): {early_s:.2f} s")
    print(f"grading the reference, loopback: {grade_s / early_s:.2f} x the programs floor with early ends "
          f"(target <= 1.2), {grade_s / prescribed_s:.2f} x the prescribed one")
    if lan:
        hosts_s = statistics.median(hosts)
        print(f"grading the reference, LAN (a virtual LAN per scenario, every frame captured): {hosts_s:.2f} s, "
              f"{hosts_s / early_s:.2f} x the programs floor with early ends (target <= 1.2), "
              f"{hosts_s / prescribed_s:.2f} x the prescribed one, {hosts_s / grade_s:.2f} x loopback")
    else:
        print(f"hosts mode not measured: {hosts_unavailable()}")
    if confined:  # what confinement alone costs, beside what the targets compare
        sandboxed_s = statistics.median(sandboxed)
        print(f"for comparison, the programs floor with early ends and each program in the view bubblewrap gives "
              f"it when graded: {sandboxed_s:.2f} s ({sandboxed_s / early_s:.2f} x the one without); grading is "
              f"{grade_s / sandboxed_s:.2f} x it on loopback"
              + (f", {hosts_s / sandboxed_s:.2f} x on the LAN" if lan else ""))
    print("\n".join(cpu_lines(grading_cpu, grade_s, early_cpu, early_s)))
    print(f"\nsubmissions that stop for good (target <= 2 x the reference) and one slow one, "
          f"{'hosts' if lan else 'loopback'}:")
    reference_s = statistics.median(hosts) if lan else grade_s
    print("\n".join(stuck_figures(args.jobs, "hosts" if lan else "loopback", reference_s, args.rounds)), flush=True)
    for mode, breakdown in breakdowns.items():
        if breakdown.runs:
            print(f"\nwhere the time goes, {mode} (mean of {breakdown.runs} runs; floor {floor_s:.2f} s):")
            print("\n".join(breakdown.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
