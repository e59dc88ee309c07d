"""Benchmark: wall time of grading `reference/` with the public specs beside a floor.

The floor is what no grader can beat: starting and stopping the same number of Python processes
that the grading run starts, with the same parallelism, each printing one line and being killed.
Where a virtual LAN can be built it also grades the reference in hosts mode, by turns with loopback,
and prints the ratio (target <= 1.3). With --rejudge it also grades the example class
(student_submissions/) and rejudges its results from the saved records, printing both times.
Prints figures; it is not a pass/fail test.
Usage: python -m harness.bench [--jobs 2] [--rounds 3] [--rejudge]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness.batch import GradeOptions, grade_all
from harness.cli import default_specs
from harness.inputs.scenario import load_suite
from harness.inputs.submissions import discover
from harness.net.mode import choose, hosts_unavailable
from harness.rejudge import rejudge
from harness.reports import files

ROOT = Path(__file__).resolve().parents[1]
FLOOR_PROGRAM = "import sys; print('ready', flush=True); sys.stdin.read()"


def grade_reference(jobs: int, network: str = "loopback") -> tuple[float, float, int]:
    suite = load_suite([default_specs()])
    submissions = discover([ROOT / "reference"])
    started = time.perf_counter()
    grades = grade_all(submissions, suite, GradeOptions(jobs=jobs, network=choose(network)))
    elapsed = time.perf_counter() - started
    processes = sum(1 + len(scenario.users) for _, scenario in suite.values())
    return elapsed, grades[0].score, processes


def _one_scenario_floor(users: int) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", FLOOR_PROGRAM], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE) for _ in range(users + 1)]
    for proc in procs:
        proc.stdout.readline()
    for proc in procs:
        proc.kill()
        proc.wait()


def floor(jobs: int) -> float:
    """Same processes per scenario, same number of scenarios at once."""
    suite = load_suite([default_specs()])
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(_one_scenario_floor, [len(s.users) for _, s in suite.values()]))
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
    args = parser.parse_args()
    if args.rejudge:
        graded, rejudged = grade_and_rejudge_class(args.jobs)
        print(f"example class: grading {graded:.2f} s, rejudge {rejudged:.2f} s "
              f"({100 * rejudged / graded:.1f} % of grading; target < 5 %)", flush=True)
    runs, floors, hosts = [], [], []
    lan = hosts_unavailable() is None
    for _ in range(args.rounds):
        elapsed, score, processes = grade_reference(args.jobs)
        runs.append(elapsed)
        floors.append(floor(args.jobs))
        line = (f"grading reference: loopback {elapsed:6.2f} s (score {score:g}), floor: {floors[-1]:6.2f} s "
                f"for {processes} processes")
        if lan:
            elapsed, score, _ = grade_reference(args.jobs, "hosts")
            hosts.append(elapsed)
            line += f", hosts {elapsed:6.2f} s (score {score:g})"
        print(line, flush=True)
    grade_s, floor_s = statistics.median(runs), statistics.median(floors)
    print(f"\nmedian over {args.rounds} rounds, --jobs {args.jobs}: grading {grade_s:.2f} s, "
          f"floor {floor_s:.2f} s, ratio {grade_s / floor_s:.2f} (target <= 3)")
    if lan:
        hosts_s = statistics.median(hosts)
        print(f"hosts mode (a virtual LAN per scenario, every frame captured): {hosts_s:.2f} s, "
              f"{hosts_s / grade_s:.2f} x loopback (target <= 1.3)")
    else:
        print(f"hosts mode not measured: {hosts_unavailable()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
