"""What a submission's process does between fork and exec: join its cgroup and its host, take its
limits, drop root.

It is a value (a dataclass that is called), not a closure, so that the launcher process
(run/launcher.py) can be handed it and run it in the programs it starts. So it imports only the
standard library and the network's namespace calls: the launcher stays small, and forking it cheap.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.net.lan import CLONE_NEWNET, unshare


@dataclass(frozen=True)
class Confinement:
    """A sandbox's confinement of one program: its cgroup, its host (`enter`: joins it on a virtual
    LAN; a picklable callable, e.g. a host's `enter`), its limits and its user."""

    cgroup: Path | None
    enter: Callable[[], None] | None
    cpu_seconds: int
    memory_bytes: int
    file_size_bytes: int
    open_files: int
    uid: int | None
    processes: int
    keep_fd: int | None = None  # a descriptor to keep open across exec (a held program's gate)

    def __call__(self) -> None:
        if self.cgroup is not None:
            _join(self.cgroup)
        if self.enter is not None:
            self.enter()
        set_limit(resource.RLIMIT_CPU, self.cpu_seconds)
        set_limit(resource.RLIMIT_AS, self.memory_bytes)
        set_limit(resource.RLIMIT_FSIZE, self.file_size_bytes)
        set_limit(resource.RLIMIT_NOFILE, self.open_files)
        set_limit(resource.RLIMIT_CORE, 0)
        if self.uid is not None:
            os.setgroups([])
            os.setgid(self.uid)
            os.setuid(self.uid)
        set_limit(resource.RLIMIT_NPROC, self.processes)
        if self.keep_fd is not None:  # a pipe is opened close-on-exec, so that no other program inherits it
            os.set_inheritable(self.keep_fd, True)


def own_empty_network() -> None:
    """A network namespace of its own with nothing in it (a build needs no network); as root only."""
    if os.geteuid() == 0:
        unshare(CLONE_NEWNET)


def set_limit(kind: int, value: int) -> None:
    """Soft and hard limit `kind` to `value`; a hard limit already tighter is kept."""
    try:
        resource.setrlimit(kind, (value, value))
    except (ValueError, OSError):
        current = resource.getrlimit(kind)[1]
        if current != resource.RLIM_INFINITY and current < value:
            return  # already tighter than asked
        raise


def _join(cgroup: Path) -> None:
    """Move the calling process, a child between fork and exec with one thread, into `cgroup`.
    Through `tasks` with "0" (this thread): the kernel then moves it without the lock that a write of
    a pid to `cgroup.procs` takes for every thread group of the machine, which waits out an RCU grace
    period (5-20 ms on the start of every program, measured); the one thread is the whole process."""
    tasks = cgroup / "tasks"
    if tasks.exists():
        tasks.write_text("0")
    else:
        (cgroup / "cgroup.procs").write_text(str(os.getpid()))
