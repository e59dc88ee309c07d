"""`stuck` on real programs: blocked for good is told apart from slow, polling, sleeping and stopped.

Every program is started here for real (Python, C compiled with gcc, a shell, a parent waiting for its
child), its port read from what it prints, and its wait reached before anything is asserted: no
mocks, no fixed sleeps. A "not stuck" is asserted over more than a second of the program's loop.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.run import filesystem
from harness.run.asleep import SleepWatch
from harness.run.quiescence import SOFTNET_BACKLOG, Waiting, packets_in_backlog, stuck
from tests.conftest import wait_until

HORIZON_S = 10.0
REACH_S = 15.0  # how long a program may take to reach its wait on a busy machine
NEVER_S = 1.2  # a "not stuck" must hold this long: longer than one turn of each polling loop below

UDP = "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('127.0.0.1', 0))\n"
PRINT_PORT = "print(s.getsockname()[1], flush=True)\n"
RECEIVE_FOR_EVER = UDP + PRINT_PORT + "while True:\n    print(s.recvfrom(100)[0].decode(), flush=True)\n"

C_RECEIVER = r"""
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>

int main(int argc, char **argv) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0) return 1;
    if (argc > 1) {  /* a receive timeout of argv[1] seconds */
        struct timeval tv = {atoi(argv[1]), 0};
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    socklen_t size = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &size);
    printf("%d\n", ntohs(a.sin_port));
    fflush(stdout);
    char buffer[100];
    for (;;)
        recvfrom(s, buffer, sizeof buffer, 0, NULL, NULL);
}
"""


@dataclass
class Program:
    """A program started for a test: its process, what it printed, its terminal (if it has one)."""

    process: subprocess.Popen
    terminal: int | None = None  # the master side of its pty: what is written here, it reads
    lines: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def line(self) -> str:
        """The next line it prints (its stdout is a pipe; a read that blocks ends with its output)."""
        text = self.process.stdout.readline().strip()
        self.lines.append(text)
        return text

    def type(self, text: str) -> None:
        os.write(self.terminal, text.encode())

    def state(self) -> str:
        with open(f"/proc/{self.pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]


@pytest.fixture
def start():
    """Start programs in sessions of their own; at the end kill every process of each, close all."""
    started: list[Program] = []

    def run(argv: list[str], terminal: bool = False) -> Program:
        master, slave = os.openpty() if terminal else (None, None)
        try:
            process = subprocess.Popen(argv, stdin=slave if terminal else subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                       start_new_session=True)
        except BaseException:
            for fd in (master, slave):
                if fd is not None:
                    os.close(fd)
            raise
        if slave is not None:
            os.close(slave)
        started.append(Program(process, master))
        return started[-1]

    try:
        yield run
    finally:
        for program in started:
            try:
                os.killpg(program.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            program.process.wait()
            program.process.stdout.close()
            if program.terminal is not None:
                os.close(program.terminal)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


@pytest.fixture
def c_receiver(tmp_path) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    source, binary = tmp_path / "receiver.c", tmp_path / "receiver"
    source.write_text(C_RECEIVER)
    subprocess.run(["gcc", "-O1", "-o", str(binary), str(source)], check=True)
    return binary


def stuck_within(programs: dict[str, int], horizon_s: float = HORIZON_S) -> list[Waiting] | None:
    """`stuck` once it says stuck (within REACH_S: the programs reach their waits), else None."""
    found: list[list[Waiting] | None] = [None]

    def check() -> bool:
        found[0] = stuck(programs, horizon_s)
        return found[0] is not None

    wait_until(check, REACH_S)
    return found[0]


def never_stuck(programs: dict[str, int], horizon_s: float = HORIZON_S) -> bool:
    """Whether `stuck` says None on every call for NEVER_S, once every program is asleep in its wait."""
    watch = SleepWatch()
    assert wait_until(lambda: all(watch.asleep(pid) for pid in programs.values()), REACH_S)
    return not wait_until(lambda: stuck(programs, horizon_s) is not None, NEVER_S)


def send(port: int, data: bytes = b"x") -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(data, ("127.0.0.1", port))


# -- stuck: blocked for good, with the exact words --------------------------------------------------
def test_python_blocked_in_recvfrom_without_a_timeout_is_stuck(start):
    program = start(python(RECEIVE_FOR_EVER))
    port = program.line()
    assert stuck_within({"tracker": program.pid}) == [Waiting("tracker", f"`recvfrom` on UDP port {port}")]


def test_c_blocked_in_recvfrom_is_stuck(start, c_receiver):
    program = start([str(c_receiver)])
    port = program.line()
    assert stuck_within({"alice": program.pid}) == [Waiting("alice", f"`recvfrom` on UDP port {port}")]


def test_input_with_a_receive_thread_without_a_timeout_is_stuck(start):
    code = UDP + PRINT_PORT + "import threading\nthreading.Thread(target=s.recvfrom, args=(100,)).start()\ninput()\n"
    program = start(python(code), terminal=True)
    port = program.line()
    assert stuck_within({"alice": program.pid}) == [
        Waiting("alice", f"`read` on its terminal, and in `recvfrom` on UDP port {port}")]


def test_select_on_a_socket_and_the_terminal_without_a_timeout_is_stuck(start):
    code = UDP + PRINT_PORT + "import select, sys\nselect.select([s, sys.stdin], [], [])\n"
    program = start(python(code), terminal=True)
    port = program.line()
    assert stuck_within({"bob": program.pid}) == [
        Waiting("bob", f"`select` on its terminal and UDP port {port}, no timeout")]


def test_epoll_without_a_timeout_is_stuck(start):
    code = UDP + PRINT_PORT + "import selectors\nchoice = selectors.EpollSelector()\n" \
        "choice.register(s, selectors.EVENT_READ)\nchoice.select()\n"
    program = start(python(code))
    port = program.line()
    assert stuck_within({"bob": program.pid}) == [Waiting("bob", f"`epoll_wait` on UDP port {port}, no timeout")]


def test_accept_on_a_tcp_port_is_stuck(start):
    code = "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen()\n" + PRINT_PORT + "s.accept()\n"
    program = start(python(code))
    port = program.line()
    assert stuck_within({"tracker": program.pid}) == [Waiting("tracker", f"`accept` on TCP port {port}")]


def test_a_shell_that_execs_the_program_is_the_program(start):
    program = start(["sh", "-c", f"exec {sys.executable} -c \"$0\"", RECEIVE_FOR_EVER])
    port = program.line()
    assert stuck_within({"tracker": program.pid}) == [Waiting("tracker", f"`recvfrom` on UDP port {port}")]


def test_a_parent_waiting_for_its_blocked_child_says_what_the_child_waits_on(start):
    """The parent's `wait4` (like a launcher's, or bubblewrap's) is only said when nothing else is."""
    code = f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {RECEIVE_FOR_EVER!r}])\n"
    program = start(python(code))
    port = program.line()
    assert stuck_within({"tracker": program.pid}) == [Waiting("tracker", f"`recvfrom` on UDP port {port}")]


def test_a_program_under_bubblewrap_says_what_the_program_waits_on(start, tmp_path):
    """bubblewrap's monitor (`poll` on a signal and an event descriptor) and the first process of its
    PID namespace (`wait4`) are the harness's own: only the program's wait is said."""
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    program = start(filesystem.wrap(python(RECEIVE_FOR_EVER), tmp_path))
    port = program.line()
    assert stuck_within({"tracker": program.pid}) == [Waiting("tracker", f"`recvfrom` on UDP port {port}")]


def test_a_thread_joined_by_the_main_thread_says_what_the_thread_waits_on(start):
    code = UDP + PRINT_PORT + "import threading\nworker = threading.Thread(target=s.recvfrom, args=(100,))\n" \
        "worker.start()\nworker.join()\n"
    program = start(python(code))
    port = program.line()
    assert stuck_within({"alice": program.pid}) == [Waiting("alice", f"`recvfrom` on UDP port {port}")]


def test_several_programs_are_answered_in_the_order_given(start):
    tracker = start(python(RECEIVE_FOR_EVER))
    alice = start(python(UDP + PRINT_PORT + "input()\n"), terminal=True)
    tracker_port, _ = tracker.line(), alice.line()
    assert stuck_within({"tracker": tracker.pid, "alice": alice.pid}) == [
        Waiting("tracker", f"`recvfrom` on UDP port {tracker_port}"), Waiting("alice", "`read` on its terminal")]


def test_a_partly_typed_line_does_not_end_a_read_of_the_terminal(start):
    program = start(python("print('ready', flush=True)\nwhile True:\n    print(input(), flush=True)\n"), terminal=True)
    program.line()
    assert stuck_within({"alice": program.pid}) == [Waiting("alice", "`read` on its terminal")]
    program.type("twee")  # no Enter: a terminal in line mode gives the read nothing yet
    assert stuck({"alice": program.pid}, HORIZON_S) == [Waiting("alice", "`read` on its terminal")]


# -- not stuck: timers, work, data waiting to be read, a stopped program -----------------------------
def test_a_select_loop_with_a_short_timeout_is_not_stuck(start):
    program = start(python(UDP + PRINT_PORT + "import select\nwhile True:\n    select.select([s], [], [], 0.5)\n"))
    program.line()
    assert never_stuck({"alice": program.pid})


def test_a_socket_timeout_of_one_second_is_not_stuck(start):
    code = UDP + PRINT_PORT + "s.settimeout(1)\nwhile True:\n    try:\n        s.recvfrom(100)\n" \
        "    except TimeoutError:\n        pass\n"
    program = start(python(code))
    program.line()
    assert never_stuck({"alice": program.pid})


def test_c_with_so_rcvtimeo_of_three_seconds_is_not_stuck(start, c_receiver):
    program = start([str(c_receiver), "3"])
    program.line()
    assert never_stuck({"alice": program.pid})


def test_a_sleep_of_one_second_per_turn_is_not_stuck(start):
    program = start(python("import time\nprint('ready', flush=True)\nwhile True:\n    time.sleep(1)\n"))
    program.line()
    assert never_stuck({"alice": program.pid})


def test_a_busy_loop_is_not_stuck(start):
    program = start(python("print('ready', flush=True)\nwhile True:\n    pass\n"))
    program.line()
    assert not wait_until(lambda: stuck({"alice": program.pid}, HORIZON_S) is not None, NEVER_S)


def test_one_working_program_means_nobody_is_stuck(start):
    tracker = start(python(RECEIVE_FOR_EVER))
    alice = start(python("print('ready', flush=True)\nwhile True:\n    pass\n"))
    tracker.line(), alice.line()
    assert stuck_within({"tracker": tracker.pid}) is not None
    assert not wait_until(lambda: stuck({"tracker": tracker.pid, "alice": alice.pid}, HORIZON_S) is not None,
                          NEVER_S)


def test_a_datagram_queued_in_a_socket_no_thread_reads_wakes_nothing_and_is_said(start):
    """Nothing will ever read a socket that no thread waits on (until the harness types): what is
    queued there cannot wake the program, and the wait says it is there."""
    code = UDP + "other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nother.bind(('127.0.0.1', 0))\n" \
        "print(s.getsockname()[1], other.getsockname()[1], flush=True)\ns.recvfrom(100)\n"
    program = start(python(code))
    read_port, held_port = program.line().split()
    assert stuck_within({"alice": program.pid}) == [Waiting("alice", f"`recvfrom` on UDP port {read_port}")]
    send(int(held_port))
    assert wait_until(lambda: stuck({"alice": program.pid}, HORIZON_S) == [Waiting(
        "alice", f"`recvfrom` on UDP port {read_port}; a datagram waits unread on UDP port {held_port}, "
        "which no thread reads")], REACH_S)
    send(int(read_port))  # the socket it waits on: it wakes, and its script ends
    assert program.process.wait(timeout=REACH_S) == 0


def test_a_pending_connection_that_no_thread_accepts_wakes_nothing_and_is_said(start):
    code = UDP + "listener = socket.socket()\nlistener.bind(('127.0.0.1', 0))\nlistener.listen()\n" \
        "print(listener.getsockname()[1], s.getsockname()[1], flush=True)\ns.recvfrom(100)\n"
    program = start(python(code))
    port, read_port = program.line().split()
    assert stuck_within({"tracker": program.pid}) is not None
    with socket.create_connection(("127.0.0.1", int(port))):
        assert wait_until(lambda: stuck({"tracker": program.pid}, HORIZON_S) == [Waiting(
            "tracker", f"`recvfrom` on UDP port {read_port}; a connection waits to be accepted on TCP port "
            f"{port}, which no thread reads")], REACH_S)


def test_a_datagram_sent_while_it_was_stopped_is_not_stuck_and_it_then_reads_it(start):
    program = start(python(RECEIVE_FOR_EVER))
    port = int(program.line())
    assert stuck_within({"alice": program.pid}) is not None
    os.kill(program.pid, signal.SIGSTOP)
    assert wait_until(lambda: program.state() == "T", REACH_S)
    assert stuck({"alice": program.pid}, HORIZON_S) is None  # held by the harness: it will continue
    send(port, b"tweet")
    assert stuck({"alice": program.pid}, HORIZON_S) is None
    os.kill(program.pid, signal.SIGCONT)
    assert program.line() == "tweet"
    assert stuck_within({"alice": program.pid}) == [Waiting("alice", f"`recvfrom` on UDP port {port}")]


def test_a_poll_without_a_timeout_stopped_and_continued_is_still_stuck(start):
    """Stopped and continued (the harness holds the tracker so), a `poll` with no timeout goes on in
    `restart_syscall`, still asleep in the kernel's poll: it has no timer either."""
    program = start(python(UDP + PRINT_PORT + "import select\npoller = select.poll()\n"
                           "poller.register(s, select.POLLIN)\nwhile True:\n    poller.poll()\n"
                           "    print(s.recvfrom(100)[0].decode(), flush=True)\n"))
    port = int(program.line())
    waits = [Waiting("alice", f"`poll` on UDP port {port}, no timeout")]
    assert stuck_within({"alice": program.pid}) == waits
    os.kill(program.pid, signal.SIGSTOP)
    assert wait_until(lambda: program.state() == "T", REACH_S)
    os.kill(program.pid, signal.SIGCONT)
    assert wait_until(lambda: program.state() == "S", REACH_S)
    assert stuck_within({"alice": program.pid}) == waits
    send(port, b"tweet")
    assert program.line() == "tweet"


def test_a_line_typed_while_it_was_stopped_is_not_stuck_and_it_then_reads_it(start):
    program = start(python("print('ready', flush=True)\nwhile True:\n    print(input(), flush=True)\n"), terminal=True)
    program.line()
    assert stuck_within({"alice": program.pid}) == [Waiting("alice", "`read` on its terminal")]
    os.kill(program.pid, signal.SIGSTOP)
    assert wait_until(lambda: program.state() == "T", REACH_S)
    program.type("tweet hello\n")
    assert stuck({"alice": program.pid}, HORIZON_S) is None
    os.kill(program.pid, signal.SIGCONT)
    assert program.line() == "tweet hello"
    assert stuck_within({"alice": program.pid}) == [Waiting("alice", "`read` on its terminal")]


def test_a_long_timeout_is_stuck_only_for_a_shorter_horizon(start):
    """`select` with 30 s: nothing happens within 10 s (counted from when its wait began at the
    latest), but within 60 s its timer ends."""
    program = start(python(UDP + PRINT_PORT + "import select\nselect.select([s], [], [], 30)\n"))
    port = program.line()
    assert stuck_within({"alice": program.pid}, 10.0) == [
        Waiting("alice", f"`select` on UDP port {port}, timeout beyond the limit")]
    assert stuck({"alice": program.pid}, 60.0) is None


# -- processes that end while they are read ---------------------------------------------------------
def test_processes_that_come_and_go_while_being_read_raise_nothing(start):
    forking = start(["sh", "-c", "echo ready; while :; do /bin/true; done"])
    forking.line()
    for _ in range(300):
        assert stuck({"forking": forking.pid}, HORIZON_S) is None


def test_a_program_that_has_ended_is_not_stuck(start):
    program = start(python("print('bye', flush=True)\n"))
    program.line()
    assert wait_until(lambda: program.state() == "Z", REACH_S)  # ended, not yet reaped
    assert stuck({"alice": program.pid}, HORIZON_S) is None
    program.process.wait()
    assert stuck({"alice": program.pid}, HORIZON_S) is None  # gone altogether


# -- cost ----------------------------------------------------------------------------------------
def test_one_call_for_six_programs_is_cheap(start, capsys):
    """Prints the figure; the time itself is not asserted (a busy machine would fail it)."""
    code = UDP + PRINT_PORT + "import threading\nthreading.Thread(target=s.recvfrom, args=(100,)).start()\ninput()\n"
    programs = {}
    for index in range(6):
        program = start(python(code), terminal=True)
        program.line()
        programs[f"user{index}"] = program.pid
    assert stuck_within(programs) is not None
    costs = []
    for _ in range(40):
        began = time.perf_counter()
        assert stuck(programs, HORIZON_S) is not None
        costs.append(time.perf_counter() - began)
    with capsys.disabled():
        print(textwrap.dedent(f"""
            stuck() for 6 programs (12 threads): median {statistics.median(costs) * 1000:.2f} ms,
            max {max(costs) * 1000:.2f} ms over {len(costs)} calls"""))


def test_a_packet_in_a_receive_backlog_is_counted_from_the_kernels_table():
    """The kernel's own table, with one CPU's backlog column set: a packet sent but not yet in any
    socket (delivery deferred to ksoftirqd on a loaded machine) is seen; a kernel too old to print
    the column is not taken for an empty backlog."""
    rows = [line.split() for line in Path("/proc/net/softnet_stat").read_bytes().splitlines()]
    assert rows and all(len(row) > SOFTNET_BACKLOG for row in rows)

    def table(backlog_of_first: int, columns: int = 99) -> bytes:
        lines = []
        for i, row in enumerate(rows):
            row = list(row)
            row[SOFTNET_BACKLOG] = b"%08x" % (backlog_of_first if i == 0 else 0)
            lines.append(b" ".join(row[:columns]))
        return b"\n".join(lines) + b"\n"

    assert packets_in_backlog(table(0)) == 0
    assert packets_in_backlog(table(3)) == 3
    assert packets_in_backlog(table(0, columns=SOFTNET_BACKLOG)) is None
