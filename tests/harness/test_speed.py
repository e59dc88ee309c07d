"""What makes grading fast, and the benchmark's account of where its time goes: the port-bound probe
reads the costly TCP tables only now and then, scenario phases are timed only while someone listens,
the breakdown splits the wall time among the scenarios running at each moment, and the CPU figure
compares grading's CPU with the floor's."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from harness.batch import GradeOptions, prepare
from harness.bench import IN_RUNNER, OUTSIDE, Breakdown, CpuUse, cpu_lines, prescribed_windows
from harness.cli import default_specs
from harness.inputs.scenario import load_suite
from harness.inputs.submissions import discover
from harness.run import phases, ports
from harness.run.runner import ScenarioRunner
from harness.run.sandbox import still_running
from tests.conftest import ROOT

LISTENER = """
import socket, sys
kind = socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM
sock = socket.socket(socket.AF_INET, kind)
sock.bind(("127.0.0.1", 0))
if kind == socket.SOCK_STREAM:
    sock.listen()
print(sock.getsockname()[1], flush=True)
sys.stdin.read()
"""


@pytest.fixture
def listener():
    started: list[subprocess.Popen] = []

    def start(kind: str) -> tuple[int, int]:
        proc = subprocess.Popen([sys.executable, "-c", LISTENER, kind], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        started.append(proc)
        return proc.pid, int(proc.stdout.readline())

    yield start
    for proc in started:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stdin.close()


def test_a_udp_port_is_seen_bound_at_the_first_ask(listener):
    pid, port = listener("udp")
    assert ports.BindWatch(pid, port).bound()
    free = next(p for p in range(20000, 30000) if p not in ports.bound_ports(pid, ports.UDP_TABLES))
    assert not ports.BindWatch(pid, free).bound()


def test_a_port_counts_as_the_trackers_only_if_its_user_and_its_program_hold_it(listener):
    pid, port = listener("udp")
    sockets = ports.BindWatch(pid, port, owner=os.geteuid()).sockets()
    assert sockets and sockets <= ports.open_sockets(pid)  # the listener itself holds it
    assert not sockets & ports.open_sockets(os.getpid())  # this process does not
    assert not ports.BindWatch(pid, port, owner=os.geteuid() + 1).bound()  # another user's port


def test_killed_processes_are_awaited_by_their_ends_not_by_a_poll():
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        assert still_running({proc.pid}, 0) == {proc.pid}
        proc.kill()
        started = time.monotonic()
        assert still_running({proc.pid}, 30) == set()  # ended (not yet reaped) counts as ended
        assert time.monotonic() - started < 5
    finally:
        proc.wait()
        proc.stdin.close()


def test_a_tcp_listener_is_seen_only_at_the_asks_that_read_the_tcp_tables(listener):
    pid, port = listener("tcp")
    watch = ports.BindWatch(pid, port, tcp_every=3)
    assert [watch.bound() for _ in range(6)] == [False, False, True, False, False, True]


def test_phases_are_kept_only_while_recording_and_carry_the_scenario_of_their_thread():
    with phases.phase(phases.COPY):
        pass  # nobody listens: nothing is kept
    with phases.recording() as spans:
        def run(name: str) -> None:
            with phases.scenario(name), phases.phase(phases.STEPS), phases.phase(phases.QUIET):
                pass
        threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted((s.scenario, s.phase) for s in spans) == sorted(
        [("a", phases.STEPS), ("a", phases.QUIET), ("b", phases.STEPS), ("b", phases.QUIET)])
    quiet = next(s for s in spans if s.scenario == "a" and s.phase == phases.QUIET)
    steps = next(s for s in spans if s.scenario == "a" and s.phase == phases.STEPS)
    assert steps.start <= quiet.start <= quiet.end <= steps.end


def test_the_breakdown_splits_each_moment_among_the_scenarios_running_then():
    span = phases.Span
    # a: copy 0-1, steps 1-4 with a quiet wait 2-3; b: start 2-6; nothing runs 6-8
    spans = [span("a", phases.COPY, 0, 1), span("a", phases.STEPS, 1, 4), span("a", phases.QUIET, 2, 3),
             span("b", phases.START_TRACKER, 2, 6)]
    breakdown = Breakdown()
    breakdown.add(spans, 0, 8)
    assert dict(breakdown.summed) == {phases.COPY: 1, phases.STEPS: 2, phases.QUIET: 1, phases.START_TRACKER: 4}
    assert dict(breakdown.of_wall) == {phases.COPY: 1, phases.STEPS: 1.5, phases.QUIET: 0.5,
                                       phases.START_TRACKER: 3, OUTSIDE: 2}
    assert sum(breakdown.of_wall.values()) == pytest.approx(breakdown.wall)


def test_the_cpu_figure_compares_the_medians_of_grading_and_of_the_floor():
    grading = [CpuUse(7.0, 1.2), CpuUse(9.0, 2.0), CpuUse(6.0, 1.0)]
    floor = [CpuUse(5.0, 0.3), CpuUse(4.0, 0.2), CpuUse(6.0, 0.25)]
    machine, harness = cpu_lines(grading, 3.5, floor, 2.5)
    assert "the programs floor with early ends 5.00 (2.00 cores busy; the bench's own process 0.25)" in machine
    assert "grading on loopback 7.00 (2.00 cores busy; 1.40 x the floor's)" in machine
    assert harness.startswith("the harness's own process when grading: 1.20 core-s, 0.24 x the floor's CPU")


def test_a_gap_between_a_scenarios_phases_is_counted_as_the_runners_own():
    breakdown = Breakdown()
    breakdown.add([phases.Span("a", phases.COPY, 0, 1), phases.Span("a", phases.TEARDOWN, 2, 3)], 0, 3)
    assert dict(breakdown.of_wall) == {phases.COPY: 1, IN_RUNNER: 1, phases.TEARDOWN: 1}


def test_a_scenario_run_of_the_reference_passes_through_every_phase_in_order():
    suite = load_suite([default_specs()])
    file, scenario = suite["tweet_one_follower"]
    prepared = prepare(discover([ROOT / "reference"])[0], GradeOptions(jobs=1))
    with phases.recording() as spans:
        record = ScenarioRunner(prepared.folder, prepared.dialect, scenario, "tweet_one_follower", file).run()
    assert record.setup_error is None and not record.timed_out
    outer = [s.phase for s in spans if s.phase != phases.QUIET]
    assert outer == [phases.NETWORK, phases.COPY, phases.SANDBOX, phases.START_TRACKER, phases.START_USERS,
                     phases.STEPS, phases.TEARDOWN]
    assert {s.scenario for s in spans} == {"tweet_one_follower"}
    assert any(s.phase == phases.QUIET for s in spans)  # the grace after the tweet
    assert all(a.end <= b.start for a, b in zip([s for s in spans if s.phase != phases.QUIET],
                                                [s for s in spans if s.phase != phases.QUIET][1:]))


def test_the_programs_floor_waits_the_quiet_windows_each_scenario_prescribes(tmp_path):
    """The grace after each tweet step and each `expect_not` window: time no grader can skip."""
    spec = tmp_path / "quiet.yaml"
    spec.write_text("name: q\npoints: 1\nusers: [alice, bob]\ngrace: 0.25\nsteps:\n  - register: all\n"
                    "  - follow: {user: bob, target: alice}\n  - tweet: {user: alice, deliver_to: [bob]}\n"
                    "  - tweets_at_once: [{user: alice, deliver_to: [bob]}, {user: bob, deliver_to: []}]\n"
                    "  - expect_not: {at: bob, pattern: x, within: 0.75}\n")
    [(_, scenario)] = load_suite([spec]).values()
    assert prescribed_windows(scenario) == pytest.approx([0.25, 0.25, 0.75])
    public = load_suite([default_specs()])
    assert prescribed_windows(public["register_new"][1]) == []  # no tweet, no expect_not
    assert public["tweet_ring_order"][1].grace in prescribed_windows(public["tweet_ring_order"][1])
