"""Ports for the programs of a scenario, and which ports a process has bound.

Ports are drawn outside the kernel's ephemeral range (/proc/sys/net/ipv4/ip_local_port_range), or
from the group's own range when the manifest names one, so a port handed to a user can never have
been taken by some program's own unbound socket a moment before (in a shared network that made
`register` fail about once in 500 six-user scenarios). On loopback a port is handed out only if it
can be bound for UDP and TCP right now and no running scenario holds it; on a virtual LAN every host
has a network stack of its own, so any port is free when the scenario starts.

A program can still take one of its own ports before it is told it: a real client bound its tracker
connection to a random port of the group's range, the very port it was then to register. So right
before `register` types a user's ports, once its program waits for input (its start-up done),
`check_before_register` reads the sockets of the user's host and replaces a port something there
already holds (`stand_in`), saying so in the transcript.

A port the submission hard-codes cannot be shared on loopback: scenarios that need it take turns
(`pinned`). A TCP tracker that closed its connections first leaves them in TIME_WAIT on that port for
up to 60 s, and a tracker that binds it again without SO_REUSEADDR cannot start: `time_wait` counts
them, so that failure is named for what it is.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import socket
import threading
from collections.abc import Iterator


PIDFD_GETFD = 438  # the system call that duplicates another process's descriptor (every architecture)
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
FALLBACK_EPHEMERAL = (32768, 60999)
LOWEST = 10000
_lock = threading.Lock()
_in_use: set[int] = set()
_pinned_locks: dict[int, threading.Lock] = {}
_stand_ins: dict[int, int] = {}  # on loopback: a reserved port -> the port that replaced it for its user


def ephemeral_range() -> tuple[int, int]:
    try:
        low, high = open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii").read().split()[:2]
        return int(low), int(high)
    except (OSError, ValueError):
        return FALLBACK_EPHEMERAL


def default_ranges() -> list[tuple[int, int]]:
    """Where ports are drawn from when the submission names no range of its own."""
    low, high = ephemeral_range()
    ranges = [(LOWEST, low - 1)] if low - 1 > LOWEST else []
    if high + 1 <= 65000:
        ranges.append((high + 1, 65000))
    return ranges or [(LOWEST, 65000)]


def _bindable(port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind(("0.0.0.0", port))
            except OSError:
                return False
    return True


def _candidates(ranges: list[tuple[int, int]], count: int, rng: random.Random) -> Iterator[int]:
    """Random distinct ports from the ranges; every port of a small range, in random order."""
    sizes = [last - first + 1 for first, last in ranges]
    if sum(sizes) <= 4096:
        ports = [port for first, last in ranges for port in range(first, last + 1)]
        rng.shuffle(ports)
        yield from ports
        return
    seen: set[int] = set()
    for _ in range(count * 200):
        first, last = rng.choices(ranges, weights=sizes)[0]
        port = rng.randint(first, last)
        if port not in seen:
            seen.add(port)
            yield port


def allocate(count: int, ranges: list[tuple[int, int]] | None = None, shared: bool = True,
             rng: random.Random | None = None, exclude: frozenset[int] | set[int] = frozenset()) -> list[int]:
    """`count` distinct ports from `ranges` (default: outside the ephemeral range), none of `exclude`.

    `shared`: the network is the machine's own (loopback), so each port must be bindable now and is
    reserved until `release`; otherwise (a LAN of its own) nothing else can hold it.
    """
    rng = rng or random.Random()
    chosen: list[int] = []
    with _lock:
        for port in _candidates(ranges or default_ranges(), count, rng):
            if len(chosen) == count:
                break
            if port in exclude or (shared and (port in _in_use or not _bindable(port))):
                continue
            chosen.append(port)
        if len(chosen) < count:
            raise RuntimeError(f"could not find {count} free ports in {ranges or default_ranges()}")
        if shared:
            _in_use.update(chosen)
    return chosen


def release(ports: list[int]) -> None:
    """Give back reserved ports, and with each the port that replaced it at `register` (`stand_in`)."""
    with _lock:
        for port in ports:
            current: int | None = port
            while current is not None:
                _in_use.discard(current)
                current = _stand_ins.pop(current, None)


def reserved_as(port: int) -> int | None:
    """The port a scenario of this harness reserved that `port` is, itself or through the ports that
    replaced it at `register` (`stand_in`); None when no scenario reserved it (loopback)."""
    with _lock:
        if port not in _in_use:
            return None
        replaced = {new: old for old, new in _stand_ins.items()}
        while port in replaced:
            port = replaced[port]
        return port


@contextlib.contextmanager
def pinned(port: int, abort: threading.Event) -> Iterator[None]:
    """Hold a hard-coded port on the shared network for one scenario; others needing it wait."""
    with _lock:
        lock = _pinned_locks.setdefault(port, threading.Lock())
    while not lock.acquire(timeout=0.25):  # a stopped grading run stops waiting too
        if abort.is_set():
            raise InterruptedError("grading was stopped")
    try:
        yield
    finally:
        lock.release()


# -- right before `register` types a user's ports ---------------------------------------------------
START_LIMIT_S = 1.0  # a program that never waits (a busy loop) has its host read after this long


def stand_in(port: int, ranges: list[tuple[int, int]] | None, exclude: set[int], shared: bool,
             rng: random.Random | None = None) -> int | None:
    """A free port of `ranges` (none of `exclude`) to register instead of `port`, which something on
    the user's host already holds; None when none is left. On loopback it is reserved as `port` is,
    and released with it."""
    try:
        new = allocate(1, ranges, shared, rng, exclude | {port})[0]
    except RuntimeError:
        return None
    if shared:
        with _lock:
            _stand_ins[port] = new
    return new


def _proc_net_ports(path: str) -> set[int]:
    ports: set[int] = set()
    try:
        with open(path, encoding="ascii") as table:
            next(table, None)
            for row in table:
                fields = row.split()
                if len(fields) > 1:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    except OSError:
        pass
    return ports


UDP_TABLES = ("udp", "udp6")
TCP_TABLES = ("tcp", "tcp6")  # reading these walks every slot of the kernel's TCP hash: ~12 ms each


def bound_ports(pid: int | str = "self", tables: tuple[str, ...] = UDP_TABLES + TCP_TABLES) -> set[int]:
    """Ports with a local socket bound (UDP, and TCP for submissions that use it) in the network
    namespace of process `pid`: on a virtual LAN that is its host's, not the harness's."""
    found: set[int] = set()
    for table in tables:
        found |= _proc_net_ports(f"/proc/{pid}/net/{table}")
    return found


def _proc_net_sockets(path: str, port: int, uid: int | None) -> set[int]:
    """The inodes of the sockets in table `path` bound to local `port` (and owned by `uid`, if given).
    A connection in TIME_WAIT has no inode: no process holds it, so it never counts as bound."""
    inodes: set[int] = set()
    try:
        with open(path, encoding="ascii") as table:
            next(table, None)
            for row in table:
                fields = row.split()  # sl local remote st queues timer retransmits uid timeout inode ...
                if len(fields) > 9 and int(fields[1].rsplit(":", 1)[1], 16) == port and fields[9] != "0" and \
                        (uid is None or int(fields[7]) == uid):
                    inodes.add(int(fields[9]))
    except (OSError, ValueError):
        pass
    return inodes


def socket_rows(path: str) -> Iterator[tuple[int, str, int]]:
    """(local port, state, inode) of every socket in table `path`; nothing if it cannot be read."""
    try:
        with open(path, encoding="ascii") as table:
            next(table, None)
            rows = table.read().splitlines()
    except OSError:
        return
    for row in rows:
        fields = row.split()
        if len(fields) > 9:
            yield int(fields[1].rsplit(":", 1)[1], 16), fields[3], int(fields[9])


TCP_TIME_WAIT, TCP_LISTEN = "06", "0A"


def time_wait(port: int, pid: int | str = "self") -> int:
    """How many TCP connections on local `port` are in TIME_WAIT in the network of process `pid`: the
    side that closed first keeps each for up to 60 s, and until then binding the port without
    SO_REUSEADDR fails (EADDRINUSE)."""
    return sum(1 for table in TCP_TABLES for local, state, _ in socket_rows(f"/proc/{pid}/net/{table}")
               if local == port and state == TCP_TIME_WAIT)


def time_wait_problem(port: int, count: int, failure: str) -> str:
    """Why a tracker on its hard-coded TCP `port` could not start while `count` connections of an
    earlier scenario were in TIME_WAIT on it (`failure`: what was seen of the tracker)."""
    return (f"port {port} is still in TIME_WAIT from the previous scenario ({count} TCP connection"
            f"{'s' if count != 1 else ''} the tracker closed first; the kernel keeps them for up to 60 s), so "
            f"the tracker could not bind its hard-coded port again ({failure}). A tracker that sets "
            "SO_REUSEADDR before bind can listen on it again at once; grading with --network hosts gives "
            "every scenario a network of its own")


def holders(pid: int | str, wanted: set[int], tcp: bool = True) -> dict[int, list[tuple[str, int]]]:
    """What holds each of the `wanted` ports in the network of process `pid` (its host): per port, the
    (what, inode) of every socket on it, `what` in words ("a UDP socket", "a TCP connection in
    TIME_WAIT", ...). On a shared network only sockets that could keep the program from binding count:
    UDP ones, and TCP ones if it uses TCP (`tcp`; the TCP tables cost milliseconds to read)."""
    own = program_sockets(int(pid), wanted) if _host_of_its_own(pid) else None
    if own is not None:
        return own
    found: dict[int, list[tuple[str, int]]] = {}
    for table in UDP_TABLES + (TCP_TABLES if tcp else ()):
        for local, state, inode in socket_rows(f"/proc/{pid}/net/{table}"):
            if local in wanted:
                found.setdefault(local, []).append((_socket_words(table, state), inode))
    return found


def _host_of_its_own(pid: int | str) -> bool:
    """Whether process `pid` runs on a host of its own (a network namespace not the harness's)."""
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino != os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return False


def program_sockets(pid: int, wanted: set[int] | None) -> dict[int, list[tuple[str, int]]] | None:
    """What holds each of the `wanted` ports (None: every port) among program `pid`'s own sockets (its
    process's and all their children's), read through duplicates of their descriptors; on a host
    where it runs alone, that is all the host holds. Neither the kernel's TCP tables (reading them
    walks the whole connection hash: milliseconds) nor a test bind (a socket of the harness's would
    hold the port while a program starting elsewhere, forked meanwhile, still has a copy of it).
    None when a socket of the program could not be read: the caller then reads the host's tables,
    rather than find nothing for want of looking."""
    found: dict[int, list[tuple[str, int]]] = {}
    for process in process_tree(pid):
        try:
            holder = os.pidfd_open(process)
        except OSError:
            continue  # it ended meanwhile: it holds nothing any more
        try:
            sockets = [(fd, int(link[8:-1])) for fd, link in descriptors(process).items()
                       if link.startswith("socket:[")]
            if not all(_note_socket(holder, fd, inode, wanted, found) for fd, inode in sockets):
                return None
        except OSError:
            return None
        finally:
            os.close(holder)
    return found


def _note_socket(holder: int, fd: int, inode: int, wanted: set[int] | None,
                 found: dict[int, list[tuple[str, int]]]) -> bool:
    """Add descriptor `fd` of the process behind pidfd `holder` to `found` when it is an IP socket on
    a `wanted` port (None: any); False when it could not be read."""
    copy = _libc.syscall(ctypes.c_long(PIDFD_GETFD), ctypes.c_int(holder), ctypes.c_int(fd), ctypes.c_uint(0))
    if copy < 0:
        return False
    try:
        sock = socket.socket(fileno=copy)
    except OSError:
        os.close(copy)
        return False
    with sock:
        try:
            port = sock.getsockname()[1] if sock.family in (socket.AF_INET, socket.AF_INET6) else None
            listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        except OSError:
            return False
        if port is not None and (wanted is None or port in wanted):
            words = "a UDP socket" if sock.type == socket.SOCK_DGRAM else \
                "a listening TCP socket" if listening else "a TCP connection"
            found.setdefault(port, []).append((words, inode))
    return True


def read_proc(path: str, size: int | None = None) -> bytes:
    """A file of /proc, whole (or its first `size` bytes), in few system calls (Python's `open` makes
    seven, and these files are read many times a second while a scenario runs). Raises OSError."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if size is not None:
            return os.read(fd, size)
        chunks = [os.read(fd, 65536)]
        while chunks[-1]:
            chunks.append(os.read(fd, 65536))
    finally:
        os.close(fd)
    return b"".join(chunks)


def process_tree(pid: int) -> list[int]:
    """Process `pid` and all its descendants."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                todo += [int(child) for child in read_proc(f"/proc/{current}/task/{task}/children").split()]
        except (OSError, ValueError):
            continue
    return found


def _socket_words(table: str, state: str) -> str:
    if table in UDP_TABLES:
        return "a UDP socket"
    return {TCP_LISTEN: "a listening TCP socket", TCP_TIME_WAIT: "a TCP connection in TIME_WAIT"}.get(
        state, "a TCP connection")


def descriptors(pid: int) -> dict[int, str]:
    """What each open descriptor of process `pid` is, as /proc/<pid>/fd shows it ("socket:[123]",
    "pipe:[45]", "/dev/pts/3", "anon_inode:[eventfd]", ...). Raises OSError when the process is gone
    or cannot be read; a descriptor closed while it is read is left out."""
    found: dict[int, str] = {}
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            found[int(name)] = os.readlink(f"/proc/{pid}/fd/{name}")
        except FileNotFoundError:
            continue
    return found


def open_sockets(pid: int) -> set[int]:
    """The inodes of the sockets process `pid` has open (empty if it cannot be read or is gone)."""
    inodes: set[int] = set()
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for name in names:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


class BindWatch:
    """Whether a process has bound a port yet, for a wait that asks again and again: the UDP tables
    (cheap to read) every time, the TCP tables (costly: reading them many times a second would eat a
    core) only every `tcp_every`-th time, for the rare program that listens on TCP. With `owner`, only
    sockets of that uid count: on a shared network the port may be held by a process of another user."""

    def __init__(self, pid: int, port: int, tcp_every: int = 25, owner: int | None = None) -> None:
        self.pid, self.port, self.tcp_every, self.owner = pid, port, tcp_every, owner
        self.asked = 0

    def sockets(self, every_table: bool = False) -> frozenset[int]:
        """The inodes of the sockets bound to the port (empty: not bound yet); `every_table`: the TCP
        tables too, whatever the turn (a last look before a wait concludes the port is not bound)."""
        self.asked += 1
        tables = UDP_TABLES + (TCP_TABLES if every_table or self.asked % self.tcp_every == 0 else ())
        return frozenset(inode for table in tables
                         for inode in _proc_net_sockets(f"/proc/{self.pid}/net/{table}", self.port, self.owner))

    def bound(self) -> bool:
        return bool(self.sockets())
