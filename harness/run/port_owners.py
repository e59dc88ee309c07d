"""Which program of a scenario owns a port on the shared loopback, so that a captured datagram can be
named by who sent it and who it was for.

On loopback every program has the address 127.0.0.1: only the port tells them apart. The harness
knows every process it started, and the kernel knows which sockets each one holds. A port is looked
up when a frame on it is captured, while the socket that sent or received it is still open: first
through duplicates of the program's descriptors (`ports.program_sockets`: a millisecond, no table
walk); where that is refused (a grading container without CAP_SYS_PTRACE, the programs running as a
user of their own) through /proc/<pid>/fd, read as that user, and the kernel's socket tables.
What is learnt is kept for the scenario: the owner of a port stays its owner after its program ends.
A port the harness reserved for another scenario running at the same time is never looked up.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
import time
from collections.abc import Callable, Iterator

from harness.run import ports

RECHECK_S = 0.1  # a port owned by none of the scenario's programs is looked up again after this long
_libc = ctypes.CDLL(None, use_errno=True)


class PortOwners:
    """Port -> program name for one scenario on loopback. `programs()` gives the pid of each program
    started so far (name -> pid); `assigned` the ports the harness handed out, owned by their program
    until a look-up says otherwise."""

    def __init__(self, assigned: dict[int, str]) -> None:
        self.known: dict[int, str] = dict(assigned)
        self.programs: Callable[[], dict[str, int]] = dict
        self._missed: dict[int, float] = {}  # a port found in no program's hands: when
        self._lock = threading.Lock()

    def owner(self, port: int) -> str | None:
        """The program that owns `port`, or None when none of the scenario's does."""
        found = self.known.get(port)
        if found is not None:
            return found
        reserved = ports.reserved_as(port)
        if reserved is not None:  # handed out by the harness: ours (a stand-in for one), or another scenario's
            found = self.known.get(reserved)
            if found is not None:
                self.known[port] = found
            return found
        with self._lock:
            if time.monotonic() - self._missed.get(port, -RECHECK_S) < RECHECK_S:
                return None
            self._learn()
            if port not in self.known:
                self._missed[port] = time.monotonic()
            return self.known.get(port)

    def concerns(self, source: int, destination: int) -> bool:
        """Whether a datagram from port `source` to port `destination` was sent or received by a
        program of the scenario (the other scenarios on loopback send theirs too)."""
        return self.owner(source) is not None or self.owner(destination) is not None

    def _learn(self) -> None:
        for name, pid in self.programs().items():
            for port in local_ports(pid):
                self.known[port] = name


def local_ports(pid: int) -> set[int]:
    """The local ports of every IP socket program `pid` (its process and all its children) holds."""
    own = ports.program_sockets(pid, None)
    if own is not None:
        return set(own)
    inodes = set().union(*(_socket_inodes(process) for process in ports.process_tree(pid)))
    if not inodes:
        return set()
    found: set[int] = set()
    for table in ports.UDP_TABLES + ports.TCP_TABLES:
        for local, _, inode in ports.socket_rows(f"/proc/{pid}/net/{table}"):
            if inode in inodes:
                found.add(local)
                inodes.discard(inode)
        if not inodes:
            break  # the TCP tables are read only for a program that holds a TCP socket
    return found


def _socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets process `pid` holds, read as its own user where the harness may not
    read another user's descriptors (root without CAP_SYS_PTRACE)."""
    inodes = ports.open_sockets(pid)
    if inodes or os.geteuid() != 0:
        return inodes
    with _reading_as_owner_of(pid):
        return ports.open_sockets(pid)


@contextlib.contextmanager
def _reading_as_owner_of(pid: int) -> Iterator[None]:
    """This thread's file-system identity set to process `pid`'s user and group for a moment: the
    kernel lets a process read the descriptors of another of the same user. Only this thread's
    identity changes, and it is set back."""
    try:
        owner = os.stat(f"/proc/{pid}")
    except OSError:
        yield
        return
    old_gid = _libc.setfsgid(owner.st_gid)
    old_uid = _libc.setfsuid(owner.st_uid)
    try:
        yield
    finally:
        _libc.setfsuid(old_uid)
        _libc.setfsgid(old_gid)
