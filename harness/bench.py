"""Benchmark: wall time of grading `reference/` with the public specs beside a floor.

The floor is what no grader can beat: starting and stopping the same number of Python processes
that the grading run starts, with the same parallelism, each printing one line and being killed. They
are the interpreter a submission's `python3` is (as the sandbox finds it, links followed: under
bubblewrap no virtual environment shows), not this harness's own: a virtual environment with an
editable install starts several times slower, which would flatter the ratio. A second floor starts
the reference's own programs as the scenarios do (the tracker until its first line, then its users,
from a copy that has its modules' bytecode, as every working copy has) and waits out the quiet
windows the scenarios prescribe: what grading this submission costs any grader, so that grading
divided by it is the harness's own overhead.
Where a virtual LAN can be built it also grades the reference in hosts mode, by turns with loopback,
and prints the ratio (target <= 1.3). Then, per mode, where the grading time went: each phase of a
scenario run (run/phases.py), summed over scenarios, and its share of the wall time (every moment
of the run split evenly among the scenarios running then; moments when none runs are loading,
judging and scheduling), so the gap to the floor is explained. With --rejudge it also grades the
example class (student_submissions/) and rejudges its results from the saved records, printing both
times. Prints figures; it is not a pass/fail test.
Usage: python -m harness.bench [--jobs 2] [--rounds 3] [--rejudge]
"""

from __future__ import annotations

import argparse
import functools
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

from harness.batch import GradeOptions, grade_all
from harness.cli import default_specs
from harness.inputs.scenario import Scenario, load_suite, step_args, step_kind
from harness.inputs.submissions import discover
from harness.net.mode import choose, hosts_unavailable
from harness.rejudge import rejudge
from harness.reports import files
from harness.run import bytecode, phases
from harness.run.runner import COPY_IGNORE
from harness.run.sandbox import Limits, Sandbox

ROOT = Path(__file__).resolve().parents[1]
FLOOR_PROGRAM = "import sys; print('ready', flush=True); sys.stdin.read()"
IN_RUNNER = "other, inside the runner"
OUTSIDE = "outside scenario runs (loading, judging, scheduling)"


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


def _innermost(spans: list[phases.Span], low: float, high: float) -> str | None:
    """What a scenario did between `low` and `high` (no span starts or ends inside): its innermost
    phase then, IN_RUNNER between its phases, None before its first or after its last."""
    if not spans or high <= min(s.start for s in spans) or low >= max(s.end for s in spans):
        return None
    covering = [s for s in spans if s.start <= low and high <= s.end]
    return max(covering, key=lambda s: s.start).phase if covering else IN_RUNNER


def grade_reference(jobs: int, network: str = "loopback",
                    breakdown: Breakdown | None = None) -> tuple[float, float, int]:
    suite = load_suite([default_specs()])
    submissions = discover([ROOT / "reference"])
    with phases.recording() as spans:
        started = time.monotonic()
        grades = grade_all(submissions, suite, GradeOptions(jobs=jobs, network=choose(network)))
        ended = time.monotonic()
    if breakdown is not None:
        breakdown.add(spans, started, ended)
    processes = sum(1 + len(scenario.users) for _, scenario in suite.values())
    return ended - started, grades[0].score, processes


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


def prescribed_quiet(scenario: Scenario) -> float:
    """Seconds a scenario's own steps ask every grader to keep watching for what must not happen: the
    grace after each tweet step (extra deliveries) and each `expect_not` window."""
    total = 0.0
    for step in scenario.steps:
        kind = step_kind(step)
        if kind in ("tweet", "tweets_at_once"):
            total += scenario.grace
        elif kind == "expect_not":
            total += step_args(step).within
    return total


def _one_scenario_programs(python: str, folder: Path, users: int, quiet: float) -> None:
    """The reference's own tracker (in `folder`) until it prints its first line, then its users at
    once until each prints theirs, then the scenario's prescribed quiet windows, then all killed."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    start = functools.partial(subprocess.Popen, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=folder)
    procs = [start([python, "tracker.py", str(port)])]
    try:
        procs[0].stdout.readline()
        procs += [start([python, "user.py", "127.0.0.1", str(port)]) for _ in range(users)]
        for proc in procs[1:]:
            proc.stdout.readline()
        threading.Event().wait(quiet)  # stands for the windows the specs prescribe
    finally:
        _kill_all(procs)


def _kill_all(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.kill()
        proc.wait()


def programs_floor(jobs: int, python: str) -> float:
    """A floor no grader can beat for this submission: its own programs started as the scenarios start
    them, and the quiet windows the scenarios prescribe, with the same parallelism."""
    suite = load_suite([default_specs()])
    with tempfile.TemporaryDirectory(prefix="tweeter-bench-") as folder:
        # a copy with its modules' bytecode, as every working copy has it: whether or not this
        # environment lets Python write its cache (PYTHONDONTWRITEBYTECODE), no start compiles them
        copy = Path(folder) / "reference"
        shutil.copytree(ROOT / "reference", copy, ignore=COPY_IGNORE)
        bytecode.lay_into(copy)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(lambda s: _one_scenario_programs(python, copy, len(s.users), prescribed_quiet(s)),
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rejudge", action="store_true", help="also time grading and rejudging the examples")
    parser.add_argument("--floor-python", help="interpreter the floor starts (default: the one a submission's "
                        "python3 is)")
    args = parser.parse_args()
    python = args.floor_python or submissions_python()
    if args.rejudge:
        graded, rejudged = grade_and_rejudge_class(args.jobs)
        print(f"example class: grading {graded:.2f} s, rejudge {rejudged:.2f} s "
              f"({100 * rejudged / graded:.1f} % of grading; target < 5 %)", flush=True)
    runs, floors, hosts, own = [], [], [], []
    breakdowns = {"loopback": Breakdown(), "hosts": Breakdown()}
    lan = hosts_unavailable() is None
    for _ in range(args.rounds):
        elapsed, score, processes = grade_reference(args.jobs, "loopback", breakdowns["loopback"])
        runs.append(elapsed)
        floors.append(floor(args.jobs, python))
        own.append(programs_floor(args.jobs, python))
        line = (f"grading reference: loopback {elapsed:6.2f} s (score {score:g}), floor: {floors[-1]:6.2f} s "
                f"for {processes} processes of {python}")
        if lan:
            elapsed, score, _ = grade_reference(args.jobs, "hosts", breakdowns["hosts"])
            hosts.append(elapsed)
            line += f", hosts {elapsed:6.2f} s (score {score:g})"
        print(line, flush=True)
    grade_s, floor_s = statistics.median(runs), statistics.median(floors)
    print(f"\nmedian over {args.rounds} rounds, --jobs {args.jobs}: grading {grade_s:.2f} s, "
          f"floor {floor_s:.2f} s, ratio {grade_s / floor_s:.2f} (target <= 2)")
    own_s = statistics.median(own)
    print(f"the reference's own programs, started as the scenarios start them, and the quiet windows the "
          f"specs prescribe: {own_s:.2f} s; grading is {grade_s / own_s:.2f} x that")
    if lan:
        hosts_s = statistics.median(hosts)
        print(f"hosts mode (a virtual LAN per scenario, every frame captured): {hosts_s:.2f} s, "
              f"{hosts_s / grade_s:.2f} x loopback (target <= 1.3), {hosts_s / floor_s:.2f} x the floor")
    else:
        print(f"hosts mode not measured: {hosts_unavailable()}")
    for mode, breakdown in breakdowns.items():
        if breakdown.runs:
            print(f"\nwhere the time goes, {mode} (mean of {breakdown.runs} runs; floor {floor_s:.2f} s):")
            print("\n".join(breakdown.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
