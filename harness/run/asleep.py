"""Whether a program is asleep: its start-up done, waiting for its input, a datagram, a timer or a
child, and not in the middle of printing a line.

The register step waits for this before it looks at the ports a user's program holds (and types
them), and the tracker's start waits for it when a process the tracker started holds its port.

A thread asleep inside a write is not waiting for anything but its output to be taken: Python,
unbuffered, prints `print(a, b)` in four writes, a terminal's lock can put the writer to sleep
between two, and a line typed then would cut the program's line in two. Three facts of /proc are
read for each thread, and none is enough alone:
- its state: asleep (S), or stopped, or a zombie;
- its system call (`syscall`): not a write, and not "running";
- its scheduler statistics (`schedstat`), before and after the other two: unchanged, so that it was
  not scheduled at all while it was read (a thread read asleep in a write, then "running", woke up
  between the two reads; seen so a few hundred times in 57,000 looks at a program that prints
  without end).

A harness that may not trace the program (root of a Docker container, as on Gradescope: no
CAP_SYS_PTRACE, and the program runs as a uid of its own) cannot read its system call. A thread must
then have stayed asleep, not scheduled once, for STEADY_S between two looks: a program waiting for
its input stays asleep, while a write to a terminal sleeps only until a kernel worker takes its
bytes (a program printing without end, beside six busy processes, was seen asleep 20 times in 45,000
looks with 10 ms, never with 20 ms).
"""

from __future__ import annotations

import os
import time

from harness.run.ports import process_tree, read_proc

WRITING = {b"1", b"18", b"20", b"running"}  # x86_64's write, pwrite64 and writev; or not asleep at all
STEADY_S = 0.02  # where the system call cannot be read: how long a thread must sleep unscheduled


class SleepWatch:
    """Looks at programs again and again, while the harness waits for them to be asleep. It keeps,
    for each thread whose system call cannot be read, since when it has been seen asleep unscheduled."""

    def __init__(self) -> None:
        self._since: dict[tuple[int, str], tuple[bytes | None, float]] = {}

    def asleep(self, pid: int) -> bool:
        """Whether every thread of process `pid` and of all its descendants is asleep, and not inside a
        write. False if unreadable."""
        now = time.monotonic()
        try:
            threads = [(process, tid) for process in process_tree(pid) for tid in os.listdir(f"/proc/{process}/task")]
            return all([self._thread(process, tid, now) for process, tid in threads])  # every one: each since
        except (OSError, IndexError):
            return False

    def _thread(self, pid: int, tid: str, now: float) -> bool:
        base = f"/proc/{pid}/task/{tid}"
        ran = _schedstat(base)
        state = read_proc(f"{base}/stat").rsplit(b")", 1)[1].split()[0]
        if state == b"Z":
            return True  # a thread that has ended does nothing any more
        if state not in b"STtI":
            return False
        call = _system_call(base)
        if call in WRITING or _schedstat(base) != ran:
            return False
        if call is not None:
            return True
        seen = self._since.get((pid, tid))
        if seen is None or seen[0] != ran:
            self._since[(pid, tid)] = (ran, now)
            return False
        return now - seen[1] >= STEADY_S


def _schedstat(base: str) -> bytes | None:
    """How long the thread of /proc folder `base` has run, and how often (None on a kernel without
    scheduler statistics: its state and system call are then taken as read)."""
    try:
        return read_proc(f"{base}/schedstat")
    except FileNotFoundError:
        return None


def _system_call(base: str) -> bytes | None:
    """The number of the system call the thread of /proc folder `base` is in, "-1" outside one,
    "running"; None where the harness may not read it."""
    try:
        return read_proc(f"{base}/syscall").split(b" ", 1)[0].strip()
    except PermissionError:
        return None
