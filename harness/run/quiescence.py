"""Whether a scenario's programs can no longer do anything: decided from the kernel's facts.

A step that waits for a program to print something waits out its limit when every program is blocked
for good (a tracker that never answers, a user stuck in `recvfrom`). `stuck` tells that case apart
from a program that is merely slow, so the step can fail at once and say what each program waits on.

It answers "stuck" only when all of this holds, read from /proc for every thread of every process
of each program's tree (the process the harness started and all its descendants: bubblewrap's two
processes, a shell, a launcher, the program and its children):
- every thread sleeps (state S) inside a system call that waits for input with nothing else to end
  it: `read`, `recvfrom`, `accept`, `poll`/`select`/`epoll_wait`, `wait4`, `pause`, a `futex` (a
  lock, which only another thread can release, and all of them are blocked), `sleep`s;
- no timer can end any of these waits within the horizon: the call's own timeout (a register, or a
  struct read from the process's memory), `SO_RCVTIMEO` of the socket it receives on, a timer
  descriptor it waits on, a non-canonical terminal's VTIME; and no process can be sent a timer's
  signal (an `alarm` caught by a handler, POSIX timers);
- nothing could wake them: no descriptor a thread waits on is ready (a typed line, a datagram, a
  pending child exit, an event), no byte is still leaving a socket any of the processes holds, and
  no packet waits in any CPU's receive backlog (sent, not yet delivered: on a loaded machine the
  kernel may deliver it a moment after `sendto` returned). A datagram, connection or byte queued on
  a socket or pipe that no thread of any program waits on cannot wake anything (nothing will read it
  until the harness types something): the wait is said with it, "a datagram waits unread on UDP port
  ..., which no thread reads";
- no thread ran while all this was read (its scheduler counters are the same at the end as at the
  start), so the facts hold together at one moment and are not stitched from different ones.

Why it is safe. A false "stuck" would cut a correct slow program short and cost it points, so
anything not understood is "not stuck" (None): a thread running or stopped (a program the harness
holds with SIGSTOP is not stuck: it will continue), a system call not in the table above, a
descriptor of an unknown kind (inotify, a regular file, a nested epoll), a wait for writing, a
timeout that cannot be read, a process that cannot be read or ends while it is read, a process that
has ended and is not yet collected by its parent, a 32-bit process (its system calls have other
numbers), a machine that is not x86_64 (the table is x86_64's). A program whose runtime wakes itself
on timers (a JVM's housekeeping threads) is therefore never "stuck": its limit applies as before.
A relative timeout (`poll(.., 30000)`, `select` with 30 s) is counted from the latest moment its wait
can have begun: the thread's own start, or the last time this module saw the thread not in that very
wait; only a wait that cannot end within the horizon even then counts as no timer. A wait restarted
after a signal with its remaining time (`restart_syscall`) is a timer of unknown length: not stuck,
unless the kernel shows it still sleeping in a `poll` that had no timeout (nothing left to time).

What it cannot see, and the harness rules out itself: input from outside the programs (the harness
typing, a datagram in flight on the LAN), processes that left the tree (a double fork), an `alarm`
whose signal would kill the program (not caught: the program then dies, which the harness sees),
a timeout struct that another thread rewrote after the wait began, and a program still held at
bubblewrap's gate (`--block-fd`: it waits in `read` on a pipe until the harness lets it start).

Descriptors are looked at through duplicates (`pidfd_getfd`) with calls that change nothing of the
program's (poll with no wait, FIONREAD, getsockopt, getsockname, tcgetattr); every duplicate is
closed before `stuck` returns.
"""

from __future__ import annotations

import array
import ctypes
import fcntl
import os
import platform
import select
import socket
import struct
import termios
import threading
import time
from dataclasses import dataclass, field

from harness.run.ports import PIDFD_GETFD, descriptors, read_proc


class Settling:
    """When a reading that "nothing can happen" counts: the same reading held for `confirm_s`, with
    readings at most every `every_s` (one takes milliseconds), the first only `every_s` after the wait
    began, so a wait that ends sooner reads nothing. Each reading is of one moment; two of them apart,
    with nothing new between, also rule out what the per-process facts do not show (a frame still
    crossing a LAN's links). Shared by the driver's waits and the bench's floor, so both end a wait by
    the same rule."""

    def __init__(self, confirm_s: float, every_s: float) -> None:
        self.confirm_s = confirm_s
        self.every_s = every_s
        self.read_at = time.monotonic()
        self.state: object = None
        self.since = 0.0

    def due(self) -> bool:
        """Whether it is time for another reading."""
        return time.monotonic() - self.read_at >= self.every_s

    def saw(self, state: object) -> bool:
        """Take a reading (None: something can happen); whether the same one has now held long enough."""
        now = self.read_at = time.monotonic()
        if state != self.state:
            self.state, self.since = state, now
            return False
        return state is not None and now - self.since >= self.confirm_s


@dataclass(frozen=True)
class Waiting:
    """What one program waits on, in words for a student."""

    program: str  # the harness's name for the program, e.g. "tracker" or "alice"
    what: str  # e.g. "`recvfrom` on UDP port 30357"; several threads' waits: "..., and in `read` on ..."


# x86_64 system call numbers of the waits understood; any other call is "not stuck".
SYSCALLS_X86_64 = {
    0: "read", 7: "poll", 19: "readv", 23: "select", 34: "pause", 35: "nanosleep", 43: "accept",
    45: "recvfrom", 47: "recvmsg", 61: "wait4", 128: "rt_sigtimedwait", 130: "rt_sigsuspend",
    202: "futex", 230: "clock_nanosleep", 232: "epoll_wait", 247: "waitid", 270: "pselect6",
    271: "ppoll", 281: "epoll_pwait", 288: "accept4", 299: "recvmmsg", 441: "epoll_pwait2",
    449: "futex_waitv",
}
SYSCALLS = SYSCALLS_X86_64 if platform.machine() == "x86_64" else None
# The name a student knows (glibc's `select` may enter the kernel as pselect6, `recv` as recvfrom).
SHOWN = {"accept4": "accept", "pselect6": "select", "ppoll": "poll", "epoll_pwait": "epoll_wait",
         "epoll_pwait2": "epoll_wait", "rt_sigsuspend": "sigsuspend", "rt_sigtimedwait": "sigtimedwait",
         "nanosleep": "sleep", "clock_nanosleep": "sleep", "futex_waitv": "futex"}
POSIX_TIMERS_SHOWN = os.path.exists("/proc/self/timers")  # without it a POSIX timer would be unseen

CLK_TCK = os.sysconf("SC_CLK_TCK")
MARGIN_S = 0.05  # clock granularity: a timer ending this close to the horizon counts as within it
MAX_PROCESSES = 64
MAX_FDS = 4096
SIGALRM_BIT = 1 << (14 - 1)
WRITE_EVENTS = select.POLLOUT | select.POLLWRNORM | select.POLLWRBAND
READ_EVENTS = select.POLLIN | select.POLLPRI | select.POLLRDNORM | select.POLLRDBAND | getattr(select, "POLLRDHUP", 0)
MSG_DONTWAIT = 0x40
FUTEX_PRIVATE, FUTEX_CLOCK_REALTIME = 128, 256
FUTEX_WAIT, FUTEX_WAIT_BITSET = 0, 9
FUTEX_BLOCKING_OPS = {0, 6, 9, 11, 13}  # WAIT, LOCK_PI, WAIT_BITSET, WAIT_REQUEUE_PI, LOCK_PI2
TIMER_ABSTIME = 1
CLOCKS = {0: time.CLOCK_REALTIME, 1: time.CLOCK_MONOTONIC, 7: time.CLOCK_BOOTTIME, 11: getattr(time, "CLOCK_TAI", 11)}
NAMESPACED_CLOCKS = {1, 7}  # a time namespace shifts these: absolute deadlines are compared only in ours
SOL_SOCKET, SO_TYPE, SO_RCVTIMEO, SO_ACCEPTCONN, SO_DOMAIN = 1, 3, 20, 30, 39
SIOCOUTQ = termios.TIOCOUTQ
SOFTNET_BACKLOG = 11  # /proc/net/softnet_stat: the column of a CPU's receive backlog (Linux 5.10 and later)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.getsockopt.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint))
_libc.getsockname.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint))
_libc.getpeername.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint))


class _Doubt(Exception):
    """Something can happen, or it cannot be known that nothing can: the programs are not stuck."""


def stuck(programs: dict[str, int], horizon_s: float) -> list[Waiting] | None:
    """Every program's wait, when nothing can happen within `horizon_s` seconds; else None.

    `programs` maps the harness's name of each program to the pid it started; that process and all
    its descendants are looked at. None also whenever anything cannot be read or is not understood
    (see the module's docstring): a false "stuck" would cut a correct program short."""
    if SYSCALLS is None or not POSIX_TIMERS_SHOWN or not programs:
        return None
    look = _Look(horizon_s)
    try:
        trees = {name: _gather(pid, look) for name, pid in programs.items()}
        waits = {name: _program_waits(tree, look) for name, tree in trees.items()}
        unread = {name: _unread(tree, look) for name, tree in trees.items()}
        _none_ran(trees)
        _no_packet_in_backlog()
        return [Waiting(name, _what(waits[name]) + unread[name]) for name in programs]
    except Exception:  # _Doubt; a process that ended while it was read (OSError, ValueError); anything else
        return None  # unforeseen: never "stuck" on a doubt, and never an error that stops a grading run
    finally:
        look.close()


# -- one look: what is opened while the programs are read, all closed at the end ------------------
class _Look:
    """The state of one call of `stuck`: its clock readings, and the pidfds, duplicated descriptors
    and memory files it opened (closed by `close`)."""

    def __init__(self, horizon_s: float) -> None:
        self.horizon_s = horizon_s
        self.now = time.monotonic()
        self.boot = time.clock_gettime(time.CLOCK_BOOTTIME)
        self._pidfds: dict[int, int] = {}
        self._dups: dict[tuple[int, int], int] = {}
        self._memory: dict[int, int] = {}
        self.checked: set[str] = set()  # sockets and pipes (by their fd link) already looked at
        self.watched: set[str] = set()  # the descriptors (by their fd link) some thread waits on
        self.unread: dict[str, str] = {}  # fd link -> in words, what is queued there for reading

    def dup(self, pid: int, fd: int) -> int:
        """A duplicate of descriptor `fd` of process `pid` in this process (close-on-exec)."""
        if (pid, fd) not in self._dups:
            if pid not in self._pidfds:
                self._pidfds[pid] = os.pidfd_open(pid)
            copy = _libc.syscall(ctypes.c_long(PIDFD_GETFD), ctypes.c_int(self._pidfds[pid]), ctypes.c_int(fd),
                                 ctypes.c_uint(0))
            if copy < 0:
                raise _Doubt(f"descriptor {fd} of {pid} cannot be duplicated: {os.strerror(ctypes.get_errno())}")
            self._dups[(pid, fd)] = copy
        return self._dups[(pid, fd)]

    def memory(self, pid: int, address: int, size: int) -> bytes:
        """`size` bytes of process `pid`'s memory at `address` (_Doubt if they cannot all be read)."""
        if pid not in self._memory:
            self._memory[pid] = os.open(f"/proc/{pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
        data = os.pread(self._memory[pid], size, address) if size else b""
        if len(data) != size:
            raise _Doubt("memory cannot be read")
        return data

    def close(self) -> None:
        for fd in [*self._dups.values(), *self._pidfds.values(), *self._memory.values()]:
            try:
                os.close(fd)
            except OSError:
                pass
        self._dups.clear()
        self._pidfds.clear()
        self._memory.clear()


# -- the threads of a program's tree -----------------------------------------------------------------
@dataclass
class _Thread:
    pid: int
    tid: int
    call: str  # the system call's name
    args: tuple[int, ...]  # its six arguments
    schedstat: bytes  # the scheduler's counters when first read: unchanged at the end = it never ran
    since: float  # monotonic time before which the current wait cannot have begun
    identity: bytes  # "pid (command name" and start ticks: a process that exec'd another program differs


@dataclass
class _Process:
    pid: int
    threads: list[_Thread]
    fds: dict[int, str] = field(default_factory=dict)


@dataclass
class _Seen:
    line: bytes
    since: float
    at: float


_history: dict[tuple[int, int, int], _Seen] = {}  # (pid, tid, start ticks) -> the thread's last wait seen
POLL_NUMBER, RESTART_SYSCALL = b"7", b"219"  # x86_64's poll and restart_syscall
POLL_SLEEPS = (b"poll_schedule_timeout", b"do_sys_poll")  # where the kernel's poll sleeps (wchan)
_history_lock = threading.Lock()
HISTORY_KEPT_S = 600.0
HISTORY_MOST = 4096


def _gather(root: int, look: _Look) -> list[_Process]:
    """Every process of the tree at `root`, parents first, with the wait of each living thread;
    _Doubt as soon as one thread is not asleep in a wait this module understands."""
    processes: list[_Process] = []
    todo = [root]
    while todo:
        pid = todo.pop(0)
        process = _Process(pid, [])
        for tid in sorted(int(name) for name in os.listdir(f"/proc/{pid}/task")):
            thread = _thread(pid, tid, look)
            if thread is not None:
                if not process.threads:
                    _check_64_bit(pid, thread.identity)
                process.threads.append(thread)
            todo += [int(child) for child in read_proc(f"/proc/{pid}/task/{tid}/children").split()]
        if not process.threads:  # the program has ended (the harness sees that itself), or a child has
            raise _Doubt("a process has ended")  # and its parent may be waking up to collect it
        processes.append(process)
        if len(processes) > MAX_PROCESSES:
            raise _Doubt("too many processes")
    return processes


def _thread(pid: int, tid: int, look: _Look) -> _Thread | None:
    """The wait of one thread (None: a zombie, which can do nothing any more: a thread that has ended,
    while others of its process go on)."""
    base = f"/proc/{pid}/task/{tid}"
    schedstat = read_proc(f"{base}/schedstat")
    line = read_proc(f"{base}/syscall").strip()
    stat = read_proc(f"{base}/stat")
    fields = stat.rsplit(b")", 1)[1].split()
    if fields[0] == b"Z":
        return None
    since = _since(pid, tid, int(fields[19]), fields[0] + b" " + line, look)
    if fields[0] != b"S":  # running, stopped by a signal or a tracer, in uninterruptible I/O
        raise _Doubt(f"thread {tid} is in state {fields[0].decode()}")
    if int(fields[31]) & SIGALRM_BIT:  # "sigcatch": the process's handlers (enough for a classic signal)
        raise _Doubt("SIGALRM is caught: an alarm may be set")
    words = _restarted(base, line.split())
    if not words or not words[0].lstrip(b"-").isdigit() or int(words[0]) not in SYSCALLS:
        raise _Doubt(f"thread {tid} is not in a wait that is understood: {line[:40]!r}")
    args = tuple(int(word, 16) for word in words[1:7])
    identity = stat[:stat.rindex(b")")] + b" " + fields[19]
    return _Thread(pid, tid, SYSCALLS[int(words[0])], args, schedstat, since, identity)


def _restarted(base: str, words: list[bytes]) -> list[bytes]:
    """The system call a thread waits in, as /proc shows it (its number, then its argument registers),
    with one case understood: a `poll` with no timeout that a signal interrupted (the harness holding
    the tracker with SIGSTOP, then SIGCONT) goes on in `restart_syscall`, its registers unchanged and
    the kernel's poll still where it sleeps (`wchan`). It is that `poll` again, with nothing left to
    time; any other `restart_syscall` (a sleep, a futex or a poll with a timeout) may have a timer left
    and stays not understood."""
    if words[:1] != [RESTART_SYSCALL] or len(words) < 4 or _int32(int(words[3], 16)) >= 0:
        return words
    if not read_proc(f"{base}/wchan").startswith(POLL_SLEEPS):
        return words
    return [POLL_NUMBER, *words[1:]]


_sixty_four: dict[bytes, bool] = {}  # (pid, command name, start ticks) -> a 64-bit program


def _check_64_bit(pid: int, identity: bytes) -> None:
    """_Doubt unless process `pid` runs a 64-bit program: a 32-bit one's system calls have numbers of
    another table (its `restart_syscall` is 0, x86_64's `read`). The answer is kept per process and
    command name: a program that execs another one changes its name."""
    if identity not in _sixty_four:
        if len(_sixty_four) > 4096:
            _sixty_four.clear()
        _sixty_four[identity] = read_proc(f"/proc/{pid}/exe", 5) == b"\x7fELF\x02"
    if not _sixty_four[identity]:
        raise _Doubt("not a 64-bit program: its system call numbers are another table's")


def _since(pid: int, tid: int, start_ticks: int, seen_now: bytes, look: _Look) -> float:
    """The latest moment before which the thread's current wait cannot have begun: its start, or the
    last time it was seen elsewhere (another call, other arguments, running, stopped: `seen_now` is
    its state and /proc/<pid>/task/<tid>/syscall). Seen asleep in the same call with the same
    arguments, the wait is the same one or a later one, which ends later still; a wait interrupted by
    a signal goes on in `restart_syscall` (not understood: not stuck), or begins again with the time
    it had left (select, ppoll) or all of it: the bound holds in every case. Forgetting a thread only
    moves the bound back to its start, which is always safe."""
    started = look.now - (look.boot - start_ticks / CLK_TCK) - 1 / CLK_TCK
    key = (pid, tid, start_ticks)
    with _history_lock:
        seen = _history.get(key)
        since = started if seen is None else seen.since if seen.line == seen_now else seen.at
        since = max(since, started)
        _history[key] = _Seen(seen_now, since, look.now)
        if len(_history) > HISTORY_MOST:
            for old in [k for k, v in _history.items() if v.at < look.now - HISTORY_KEPT_S]:
                del _history[old]
            if len(_history) > HISTORY_MOST:
                _history.clear()
    return since


def _none_ran(trees: dict[str, list[_Process]]) -> None:
    """_Doubt unless no thread was scheduled while the programs were read: then every fact read holds
    at one moment (a thread that forked, sent or received would have run)."""
    for tree in trees.values():
        for process in tree:
            for thread in process.threads:
                if read_proc(f"/proc/{thread.pid}/task/{thread.tid}/schedstat") != thread.schedstat:
                    raise _Doubt(f"thread {thread.tid} ran meanwhile")


def _no_packet_in_backlog() -> None:
    """_Doubt while a packet waits in a CPU's receive backlog: a datagram sent but not yet in its
    receiver's socket. Sending on loopback or a veth queues the packet there; the kernel usually
    delivers it before `sendto` returns, but on a loaded machine it may wait for ksoftirqd, and then
    no socket shows it."""
    waiting = packets_in_backlog(read_proc("/proc/net/softnet_stat"))
    if waiting is None:
        raise _Doubt("the kernel does not show its receive backlogs")
    if waiting:
        raise _Doubt(f"{waiting} packets wait in a receive backlog")


def packets_in_backlog(softnet_stat: bytes) -> int | None:
    """The packets waiting in all CPUs' receive backlogs, from the text of /proc/net/softnet_stat
    (its 12th column, Linux 5.10 and later); None where the kernel does not print it."""
    waiting = 0
    for line in softnet_stat.splitlines():
        columns = line.split()
        if len(columns) <= SOFTNET_BACKLOG:
            return None
        waiting += int(columns[SOFTNET_BACKLOG], 16)
    return waiting


# -- a process as a whole: its kind, its signals and timers, what its descriptors hold ---------------
def _check_process(process: _Process, look: _Look) -> None:
    """_Doubt if a POSIX timer can send process `process` a signal, or a socket it holds has bytes
    still leaving it; what its sockets and pipes hold for reading is noted (`look.unread`), for
    `_unread` to judge once every thread's wait is known."""
    if read_proc(f"/proc/{process.pid}/timers").strip():
        raise _Doubt("the process has POSIX timers")
    process.fds = descriptors(process.pid)
    for fd, link in process.fds.items():
        if link not in look.checked and link.startswith(("socket:", "pipe:")):
            dup = look.dup(process.pid, fd)
            look.checked.add(link)
            if link.startswith("pipe:") and fcntl.fcntl(dup, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY:
                continue  # the write end of a pipe: its data is for the reader, wherever that is
            queued = _queued_words(dup, link.startswith("socket:"))
            if queued:
                look.unread[link] = queued


def _unread(tree: list[_Process], look: _Look) -> str:
    """What waits unread in the descriptors of a program's tree, in words ("" when nothing does);
    _Doubt if a thread of any program waits on one of them (it is about to wake)."""
    links = list(dict.fromkeys(link for process in tree for link in process.fds.values() if link in look.unread))
    if any(link in look.watched for link in links):
        raise _Doubt("a descriptor that a thread waits on has data queued")
    return "".join(f"; {look.unread[link]}, which no thread reads" for link in links)


def _mask(status: bytes, name: bytes) -> int:
    """A signal mask line ("SigCgt:\\t0000000000004a02") of /proc/<pid>/status, as a number."""
    start = status.index(name + b":") + len(name) + 1
    return int(status[start:status.index(b"\n", start)], 16)


def _queued_words(dup: int, is_socket: bool) -> str:
    """What a read of a socket or of the read end of a pipe would return now, in words ("" when
    nothing: a datagram, even an empty one; bytes; a connection to accept); _Doubt while a socket
    has bytes still on their way out (they may wake a peer)."""
    if not is_socket:
        return "bytes wait unread in a pipe" if _queued(dup) > 0 else ""
    if _sockopt(dup, SO_ACCEPTCONN):
        what = "a connection waits to be accepted" if _revents(dup, select.POLLIN) else ""
    elif _queued(dup, SIOCOUTQ) > 0:
        raise _Doubt("a socket has bytes on their way out")
    elif _sockopt(dup, SO_TYPE) == socket.SOCK_STREAM:
        what = "bytes wait unread" if _queued(dup) > 0 else ""  # a connection its peer closed holds none
    else:
        what = "a datagram waits unread" if _revents(dup, select.POLLIN) else ""  # an empty one too
    return f"{what} on {_socket_words(dup)}" if what else ""


def _queued(dup: int, request: int = termios.FIONREAD) -> int:
    count = array.array("i", [0])
    fcntl.ioctl(dup, request, count, True)
    return count[0]


def _revents(dup: int, events: int) -> int:
    """What poll reports for the descriptor now (without waiting): requested events, errors, hang-up."""
    poller = select.poll()
    poller.register(dup, events)
    return sum(revents for _, revents in poller.poll(0))


def _sockopt(dup: int, option: int) -> int:
    value, size = ctypes.c_int(0), ctypes.c_uint(4)
    if _libc.getsockopt(dup, SOL_SOCKET, option, ctypes.byref(value), ctypes.byref(size)) != 0:
        raise _Doubt("getsockopt failed")
    return value.value


def _receive_timeout(dup: int) -> float | None:
    """The socket's SO_RCVTIMEO in seconds (None: none set)."""
    value, size = ctypes.create_string_buffer(16), ctypes.c_uint(16)
    if _libc.getsockopt(dup, SOL_SOCKET, SO_RCVTIMEO, value, ctypes.byref(size)) != 0 or size.value != 16:
        raise _Doubt("SO_RCVTIMEO cannot be read")
    seconds, micros = struct.unpack("qq", value.raw)
    return None if seconds == micros == 0 else seconds + micros / 1e6


def _port(dup: int, peer: bool = False) -> int | None:
    """The local (or remote) port of an IPv4 or IPv6 socket; None when it has none."""
    address, size = ctypes.create_string_buffer(128), ctypes.c_uint(128)
    if (_libc.getpeername if peer else _libc.getsockname)(dup, address, ctypes.byref(size)) != 0:
        return None
    return struct.unpack_from("!H", address.raw, 2)[0] or None


# -- what each thread waits on -----------------------------------------------------------------------
@dataclass(frozen=True)
class _Wait:
    words: str
    plumbing: bool = False  # a wait for the program's own parts (a child, a lock, bubblewrap's monitor)


def _program_waits(tree: list[_Process], look: _Look) -> list[_Wait]:
    waits = []
    for process in tree:
        if process.threads:
            _check_process(process, look)
            waits += [WAITS[thread.call](thread, process, look) for thread in process.threads]
    return waits


def _what(waits: list[_Wait]) -> str:
    """The program's waits in words: those for input (a parent's wait for its child, a thread's wait
    for a lock, said only when nothing else is waited on), each said once. Waits of several threads
    (or processes) each get their own "in": "`read` on its terminal, and in `recvfrom` on UDP port
    30357" is two waits, where "`select` on its terminal and UDP port 30357" is one wait on both."""
    chosen = list(dict.fromkeys([w.words for w in waits if not w.plumbing] or [w.words for w in waits]))
    return chosen[0] + "".join(f", {'and ' if i == len(chosen) - 1 else ''}in {words}"
                               for i, words in enumerate(chosen) if i)


def _receive_wait(thread: _Thread, process: _Process, look: _Look) -> _Wait:
    """`read`, `recvfrom`, `recvmsg`, `recvmmsg`, `accept` on one descriptor."""
    flags = {"recvfrom": 3, "recvmsg": 2, "recvmmsg": 3}.get(thread.call)
    if flags is not None and thread.args[flags] & MSG_DONTWAIT:
        raise _Doubt("a receive that does not wait")
    if thread.call == "recvmmsg" and thread.args[4]:
        raise _Doubt("recvmmsg with a timeout")
    socket_only = thread.call not in ("read", "readv")
    words, timer = _descriptor(look, process, _int32(thread.args[0]), thread, select.POLLIN, timed=True,
                               socket_only=socket_only)
    return _Wait(f"`{SHOWN.get(thread.call, thread.call)}` on {words}{', timeout beyond the limit' if timer else ''}")


def _poll_wait(thread: _Thread, process: _Process, look: _Look) -> _Wait:
    """`poll`, `ppoll`: the pollfd array is read from memory; a wait for writing is not judged."""
    address, count = thread.args[0], thread.args[1]
    if thread.call == "poll":
        timeout = _int32(thread.args[2]) / 1000 if _int32(thread.args[2]) >= 0 else None
    else:
        timeout = _timespec(look, process, thread.args[2])
    _relative_timer(look, thread, timeout)
    if count > MAX_FDS:
        raise _Doubt("too many descriptors")
    raw = look.memory(process.pid, address, 8 * count)
    wanted = [(fd, events) for fd, events, _ in struct.iter_unpack("iHH", raw) if fd >= 0]
    return _set_wait(thread, process, look, wanted, timeout)


def _select_wait(thread: _Thread, process: _Process, look: _Look) -> _Wait:
    """`select`, `pselect6`: the fd_set bitmaps and the timeout are read from memory."""
    count = thread.args[0]
    if count > MAX_FDS:
        raise _Doubt("too many descriptors")
    reads, writes, errors = (_fd_set(look, process, thread.args[i], count) for i in (1, 2, 3))
    if writes:
        raise _Doubt("a wait for writing")
    read_timeout = _timeval if thread.call == "select" else _timespec
    timeout = read_timeout(look, process, thread.args[4])
    _relative_timer(look, thread, timeout)
    wanted = [(fd, (select.POLLIN if fd in reads else 0) | (select.POLLPRI if fd in errors else 0))
              for fd in sorted(reads | errors)]
    return _set_wait(thread, process, look, wanted, timeout)


def _epoll_wait(thread: _Thread, process: _Process, look: _Look) -> _Wait:
    """`epoll_wait` and its variants: the interest list is read from the epoll descriptor's fdinfo.
    Each descriptor is asked whether it is ready by itself (the epoll descriptor is not polled: that
    would change its ready list); for an edge-triggered one that may say "ready" where epoll would not
    wake, which only errs towards "not stuck"."""
    epfd = _int32(thread.args[0])
    if process.fds.get(epfd) != "anon_inode:[eventpoll]":
        raise _Doubt("not an epoll descriptor")
    if thread.call == "epoll_pwait2":
        timeout = _timespec(look, process, thread.args[3])
    else:
        timeout = _int32(thread.args[3]) / 1000 if _int32(thread.args[3]) >= 0 else None
    _relative_timer(look, thread, timeout)
    wanted = []
    for fd, events, inode in _epoll_targets(process.pid, epfd):
        if process.fds.get(fd, "").startswith("anon_inode:[signalfd]"):
            raise _Doubt("a signal descriptor in an epoll set")  # its readiness depends on who asks
        if fd not in process.fds or os.fstat(look.dup(process.pid, fd)).st_ino != inode:
            raise _Doubt("an epoll entry for a descriptor since closed or replaced")
        wanted.append((fd, events & 0xFFFF))
    return _set_wait(thread, process, look, wanted, timeout)


def _epoll_targets(pid: int, epfd: int) -> list[tuple[int, int, int]]:
    """(descriptor, events, inode) of every entry of epoll descriptor `epfd` of process `pid`."""
    targets = []
    for line in read_proc(f"/proc/{pid}/fdinfo/{epfd}").decode().splitlines():
        if line.startswith("tfd:"):
            words = line.split()
            inode = next(word[4:] for word in words if word.startswith("ino:"))
            targets.append((int(words[1]), int(words[3], 16), int(inode, 16)))
    return targets


def _set_wait(thread: _Thread, process: _Process, look: _Look, wanted: list[tuple[int, int]],
              timeout: float | None) -> _Wait:
    """A wait on several descriptors (poll, select, epoll): not stuck if one is wanted for writing or
    is ready now. Only event, signal, process and timer descriptors: a wait of the program's own."""
    names = []
    for fd, events in wanted:
        if events & WRITE_EVENTS:
            raise _Doubt("a wait for writing")
        names.append(_descriptor(look, process, fd, thread, events & READ_EVENTS, timed=False)[0])
    own = bool(names) and all(name in INTERNAL for name in names)
    shown = SHOWN.get(thread.call, thread.call)
    on = f" on {_and(list(dict.fromkeys(names)))}" if names else " on nothing"
    return _Wait(f"`{shown}`{on}, {'no timeout' if timeout is None else 'timeout beyond the limit'}", plumbing=own)


def _child_wait(thread: _Thread, process: _Process, look: _Look) -> _Wait:
    """`wait4`, `waitid`: its children are in the tree, and blocked too."""
    return _Wait(f"`{thread.call}` for a child", plumbing=True)


def _signal_wait(thread: _Thread, process: _Process, look: _Look) -> _Wait:
    """`pause`, `sigsuspend`, `sigtimedwait`: a signal comes only from outside (a caught SIGALRM or a
    POSIX timer was ruled out for the process); one waited for by `sigtimedwait` must not be SIGALRM."""
    if thread.call == "rt_sigtimedwait":
        if struct.unpack("Q", look.memory(process.pid, thread.args[0], 8))[0] & SIGALRM_BIT:
            raise _Doubt("waits for SIGALRM")
        _relative_timer(look, thread, _timespec(look, process, thread.args[2]))
    return _Wait(f"`{SHOWN.get(thread.call, thread.call)}` for a signal")


def _futex_wait(thread: _Thread, process: _Process, look: _Look) -> _Wait:
    """A lock or condition: only another thread can release it. FUTEX_WAIT's timeout is relative,
    FUTEX_WAIT_BITSET's absolute (CLOCK_MONOTONIC, or CLOCK_REALTIME with the flag); futex_waitv's
    absolute on the clock it names."""
    if thread.call == "futex_waitv":
        timeout, clock = thread.args[3], thread.args[4]
        if timeout:
            _absolute_timer(look, process, clock, _timespec(look, process, timeout))
    else:
        op, timeout = thread.args[1], thread.args[3]
        command = op & ~(FUTEX_PRIVATE | FUTEX_CLOCK_REALTIME)
        if command not in FUTEX_BLOCKING_OPS:
            raise _Doubt("a futex operation that is not a wait")
        if timeout and command == FUTEX_WAIT:
            _relative_timer(look, thread, _timespec(look, process, timeout))
        elif timeout and command == FUTEX_WAIT_BITSET:
            _absolute_timer(look, process, 0 if op & FUTEX_CLOCK_REALTIME else 1, _timespec(look, process, timeout))
        elif timeout:
            raise _Doubt("a priority-inheritance lock with a timeout")
    return _Wait("`futex` (a lock or condition)" + (", timeout beyond the limit" if timeout else ""), plumbing=True)


def _sleep_wait(thread: _Thread, process: _Process, look: _Look) -> _Wait:
    """`nanosleep`, `clock_nanosleep`: always a timer; stuck only if it ends beyond the horizon."""
    length = _timespec(look, process, thread.args[0 if thread.call == "nanosleep" else 2])
    if length is None:
        raise _Doubt("a sleep without its length")
    if thread.call == "nanosleep":
        _relative_timer(look, thread, length)
    elif thread.args[1] & TIMER_ABSTIME:
        _absolute_timer(look, process, thread.args[0], length)
    elif thread.args[0] in CLOCKS:
        _relative_timer(look, thread, length)
    else:
        raise _Doubt("a sleep on a clock that is not understood")
    return _Wait("`sleep` beyond the limit")


WAITS = {
    "read": _receive_wait, "readv": _receive_wait, "recvfrom": _receive_wait, "recvmsg": _receive_wait,
    "recvmmsg": _receive_wait, "accept": _receive_wait, "accept4": _receive_wait,
    "poll": _poll_wait, "ppoll": _poll_wait, "select": _select_wait, "pselect6": _select_wait,
    "epoll_wait": _epoll_wait, "epoll_pwait": _epoll_wait, "epoll_pwait2": _epoll_wait,
    "wait4": _child_wait, "waitid": _child_wait, "pause": _signal_wait, "rt_sigsuspend": _signal_wait,
    "rt_sigtimedwait": _signal_wait, "futex": _futex_wait, "futex_waitv": _futex_wait,
    "nanosleep": _sleep_wait, "clock_nanosleep": _sleep_wait,
}
assert set(WAITS) == set(SYSCALLS_X86_64.values())


# -- one descriptor: what it is, whether it is ready, whether a timer of its own ends the wait -------
INTERNAL = {"an event descriptor", "a signal descriptor", "a process descriptor", "a timer descriptor"}


def _descriptor(look: _Look, process: _Process, fd: int, thread: _Thread, events: int, timed: bool,
                socket_only: bool = False) -> tuple[str, bool]:
    """(words for descriptor `fd`, whether it has a timer beyond the horizon) for a wait of `thread`
    to read it. _Doubt when it is ready now, when a timer of its own may end the wait within the
    horizon (`timed`: the call itself, not poll, obeys SO_RCVTIMEO and VTIME), or it is not understood."""
    link = process.fds.get(fd)
    if link is None:
        raise _Doubt(f"descriptor {fd} is not open")
    look.watched.add(link)
    kind = _kind(link)
    if socket_only and kind != "socket":
        raise _Doubt("a receive on something that is not a socket")
    if kind == "signalfd":
        return _signal_descriptor(process, fd, thread), False
    dup = look.dup(process.pid, fd)
    if _revents(dup, events):
        raise _Doubt(f"descriptor {fd} is ready")
    if kind == "socket":
        timeout = _receive_timeout(dup) if timed else None
        _relative_timer(look, thread, timeout)
        return _socket_words(dup), timeout is not None
    if kind == "terminal" and os.isatty(dup):
        timeout = _terminal_timeout(dup) if timed else None
        _relative_timer(look, thread, timeout)
        return ("its terminal" if fd <= 2 else "a terminal"), timeout is not None
    if kind == "timerfd":
        return _timer_descriptor(look, process.pid, fd), False
    if kind in ("pipe", "eventfd", "pidfd"):
        return {"pipe": "a pipe", "eventfd": "an event descriptor", "pidfd": "a process descriptor"}[kind], False
    raise _Doubt(f"descriptor {fd} is {link}: not understood")


def _kind(link: str) -> str:
    if link.startswith("socket:"):
        return "socket"
    if link.startswith("pipe:"):
        return "pipe"
    if link.startswith("anon_inode:"):
        return link[len("anon_inode:"):].strip("[]")
    if link.startswith(("/dev/pts/", "/dev/tty", "/dev/console")):
        return "terminal"
    return "other"


def _socket_words(dup: int) -> str:
    """"UDP port 30357", "TCP port 4000" (listening), "a TCP connection from port 4000 to port 51234"."""
    domain, kind = _sockopt(dup, SO_DOMAIN), _sockopt(dup, SO_TYPE)
    if domain == socket.AF_UNIX:
        return "a Unix socket"
    if domain not in (socket.AF_INET, socket.AF_INET6) or kind not in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        return "a socket"
    port = _port(dup)
    if kind == socket.SOCK_DGRAM:
        return f"UDP port {port}" if port else "a UDP socket with no port"
    peer = None if _sockopt(dup, SO_ACCEPTCONN) else _port(dup, peer=True)
    return f"a TCP connection from port {port} to port {peer}" if peer else f"TCP port {port}"


def _terminal_timeout(dup: int) -> float | None:
    """A terminal read's own timer: VTIME tenths of a second when the terminal is not in canonical
    (line) mode; counted as if from the start of the read, which is the longest it can be."""
    attributes = termios.tcgetattr(dup)
    vtime = attributes[6][termios.VTIME]
    vtime = vtime[0] if isinstance(vtime, bytes) else vtime
    return vtime / 10 if not attributes[3] & termios.ICANON and vtime else None


def _signal_descriptor(process: _Process, fd: int, thread: _Thread) -> str:
    """A signal descriptor is ready when a signal of its set is pending for the thread that reads it
    (asked of the kernel by anyone else, it would answer for the asker: so read from /proc)."""
    wanted = _mask(read_proc(f"/proc/{process.pid}/fdinfo/{fd}"), b"sigmask")
    status = read_proc(f"/proc/{process.pid}/task/{thread.tid}/status")
    if wanted & SIGALRM_BIT or wanted & (_mask(status, b"SigPnd") | _mask(status, b"ShdPnd")):
        raise _Doubt("a signal descriptor with a signal pending, or for SIGALRM")
    return "a signal descriptor"


def _timer_descriptor(look: _Look, pid: int, fd: int) -> str:
    """A timer descriptor (timerfd): fdinfo gives its expirations not yet read and the time left."""
    lines = read_proc(f"/proc/{pid}/fdinfo/{fd}").decode().splitlines()
    info = dict(line.split(":", 1) for line in lines if ":" in line)
    seconds, nanos = (int(part) for part in info["it_value"].strip(" ()\t").split(","))
    if int(info["ticks"]) or (seconds or nanos) and seconds + nanos / 1e9 <= look.horizon_s + MARGIN_S:
        raise _Doubt("a timer descriptor that has fired or fires within the horizon")
    return "a timer descriptor"


# -- timers ------------------------------------------------------------------------------------------
def _relative_timer(look: _Look, thread: _Thread, seconds: float | None) -> None:
    """_Doubt when a wait of `seconds` (None: no timer) may end within the horizon: counted from the
    latest moment the wait can have begun, since it may have been waiting for a while already."""
    if seconds is not None and seconds - (look.now - thread.since) <= look.horizon_s + MARGIN_S:
        raise _Doubt("a timer that may end within the horizon")


def _absolute_timer(look: _Look, process: _Process, clock: int, deadline: float | None) -> None:
    """_Doubt when a wait until `deadline` on clock `clock` may end within the horizon."""
    if deadline is None:
        return
    if clock not in CLOCKS:
        raise _Doubt("a deadline on a clock that is not understood")
    if clock in NAMESPACED_CLOCKS and os.readlink(f"/proc/{process.pid}/ns/time") != os.readlink("/proc/self/ns/time"):
        raise _Doubt("a deadline in another time namespace")
    if deadline - time.clock_gettime(CLOCKS[clock]) <= look.horizon_s + MARGIN_S:
        raise _Doubt("a deadline within the horizon")


def _timespec(look: _Look, process: _Process, address: int) -> float | None:
    """A struct timespec of the process's memory in seconds (None: a NULL pointer, no timer)."""
    if not address:
        return None
    seconds, nanos = struct.unpack("qq", look.memory(process.pid, address, 16))
    return seconds + nanos / 1e9


def _timeval(look: _Look, process: _Process, address: int) -> float | None:
    """A struct timeval of the process's memory in seconds (None: a NULL pointer, no timer)."""
    if not address:
        return None
    seconds, micros = struct.unpack("qq", look.memory(process.pid, address, 16))
    return seconds + micros / 1e6


def _fd_set(look: _Look, process: _Process, address: int, count: int) -> set[int]:
    """The descriptors of an fd_set bitmap of `count` bits in the process's memory."""
    if not address or not count:
        return set()
    bits = int.from_bytes(look.memory(process.pid, address, (count + 63) // 64 * 8), "little")
    bits &= (1 << count) - 1
    found = set()
    while bits:
        lowest = bits & -bits
        found.add(lowest.bit_length() - 1)
        bits ^= lowest
    return found


def _int32(value: int) -> int:
    """A register's low 32 bits as a C int (a descriptor, a timeout in milliseconds)."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
