"""Programs started by a small process of the harness's own (the launcher), not by forking the harness.

Forking the harness copies the page tables of a large process with many threads, with the interpreter
lock held (3-5 ms per program, four programs per scenario, measured), and the forking thread then
waits for the child's exec. The launcher is started once per grading run (`session()`), imports the
standard library and the programs' confinement (run/confine.py) only, and forks in a fraction of
that. Its children are still the harness's own: they are made with CLONE_PARENT, so the harness
waits for them, reads their exit status and reaps them exactly as before (pexpect sees a child like
any other), and its thread `tweeter-launcher`, which lives as long as the launcher, is their parent:
a program's `--die-with-parent` (bubblewrap) and the launcher's own death signal fire when the harness
ends, never between scenarios.

A launch is one message each way on a socket pair: the program's words, environment, folder,
terminal size and confinement (pickled: harness to launcher, nothing else writes there) and, with
SCM_RIGHTS, a held program's gate (which the program gets as descriptor GATE_FD); back, the pid and
the terminal's master side, or why the program could not be started (the error its exec or its
confinement raised, as pexpect reports it). Where the launcher cannot be used (a machine whose
clone(2) number is not known here, a kernel that refuses, a launcher that died), programs are started
by forking the harness, as before: only slower. A program started while the launcher is still
starting (some 50-100 ms, at the start of a grading run) waits for it rather than fork.
"""

from __future__ import annotations

import builtins
import contextlib
import ctypes
import fcntl
import importlib
import json
import os
import pickle
import platform
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.shared import Shared

GATE_FD = 3  # where a held program finds its gate (bubblewrap's --block-fd)
CLONE_PARENT = 0x00008000
PR_SET_PDEATHSIG = 1
SYS_CLONE = {"x86_64": 56, "aarch64": 220}  # clone(2); its other arguments are all zero here
MAX_MESSAGE = 1 << 20
START_LIMIT_S = 10.0  # for the launcher to say it is ready
START_WAIT_S = 1.0  # a program waits this long at most for a launcher still starting, then is forked
LAUNCH_LIMIT_S = 30.0  # for one program's exec: a launcher that takes longer is given up
READY = b"ready"
BOOT = ("import json, sys; sys.path[:0] = json.loads(sys.argv[1]); "
        "from harness.run.launcher import serve; serve(int(sys.argv[2]), int(sys.argv[3]))")


@dataclass(frozen=True)
class Request:
    """One program to start on a terminal of its own."""

    argv: list[str]  # argv[0] is the program's path
    env: dict[str, str]
    cwd: str
    rows: int
    cols: int
    echo: bool
    confine: Callable[[], None] | None  # run in the child before exec (run/confine.py): picklable


class LaunchFailed(Exception):
    """The launcher itself could not start the program (not the program's fault): start it by forking."""


class Launcher:
    """The launcher process, and the harness thread that is its parent and its programs' parent."""

    def __init__(self) -> None:
        """Start the launcher; it is used once it has said it is ready (`ready`), in the background:
        programs started meanwhile are forked."""
        self.broken: str | None = None
        self.process: subprocess.Popen | None = None
        self.ready = threading.Event()
        self.settled = threading.Event()  # ready, or broken before it could be
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._thread = threading.Thread(target=self._parent, args=(theirs,), name="tweeter-launcher", daemon=True)
        self._thread.start()

    def _parent(self, theirs: socket.socket) -> None:
        """The launcher's parent, alive until the launcher has ended and the session is over."""
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", BOOT, json.dumps(_import_path()), str(theirs.fileno()),
                 str(os.getpid())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            self.broken = f"the launcher could not start: {exc}"
        finally:
            theirs.close()
        if self.process is not None:
            self._await_ready()
        self.settled.set()
        if self.process is not None:
            self.process.wait()
        self._done.wait()  # its programs' parent, this thread, must outlive every one of them

    def _await_ready(self) -> None:
        try:
            self._sock.settimeout(START_LIMIT_S)
            said = self._sock.recv(len(READY))
            self._sock.settimeout(LAUNCH_LIMIT_S)
        except OSError as exc:
            said = str(exc).encode()
        if said == READY:
            self.ready.set()
        else:
            self.broken = f"the launcher did not start ({said.decode(errors='replace') or 'it ended'})"
            self.process.kill()  # type: ignore[union-attr]

    def launch(self, request: Request, gate: int | None) -> tuple[int, int]:
        """Start `request`'s program; its pid and its terminal's master side. Raises what its exec or
        its confinement raised, or LaunchFailed when the launcher could not do it."""
        try:
            message = pickle.dumps(request)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise LaunchFailed(f"cannot hand the launcher this program: {exc}") from None
        with self._lock:
            if self.broken:
                raise LaunchFailed(self.broken)
            try:
                socket.send_fds(self._sock, [message], [gate] if gate is not None else [])
                answer, fds, _, _ = socket.recv_fds(self._sock, MAX_MESSAGE, 1)
            except OSError as exc:
                self.broken = f"the launcher stopped answering ({exc})"
                raise LaunchFailed(self.broken) from None
            if not answer:
                self.broken = "the launcher ended"
                raise LaunchFailed(self.broken)
        reply = pickle.loads(answer)
        if reply[0] == "started":
            return reply[1], fds[0]
        for fd in fds:
            os.close(fd)
        if reply[0] == "refused":
            _, report, pid = reply
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)  # it ended once it had said why: the harness is its parent
            raise _refusal(report)
        raise LaunchFailed(reply[1])

    def close(self) -> None:
        """End the launcher (it ends when its socket closes) and its parent thread."""
        self._sock.close()
        self._done.set()
        if self.process is not None:
            try:
                self.process.wait(timeout=START_LIMIT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._thread.join(timeout=START_LIMIT_S)


def _refusal(report: bytes) -> Exception:
    """The exception a program's start raised in the child, as pexpect would raise it."""
    name, number, text = report.decode("utf-8", "replace").split(":", 2)
    kind = getattr(builtins, name, Exception)
    if not (isinstance(kind, type) and issubclass(kind, Exception)):
        kind = Exception
    exception = kind(text)
    if kind is OSError:
        exception.errno = int(number or 0)
    return exception


# -- the grading run's launcher ------------------------------------------------------------------
_launcher: Shared[Launcher] = Shared(lambda: Launcher() if unavailable() is None else None)


def unavailable() -> str | None:
    """Why programs cannot be started through a launcher on this machine (None: they can)."""
    if platform.machine() not in SYS_CLONE:
        return f"clone(2) is not known here for {platform.machine()}"
    return None


@contextlib.contextmanager
def session() -> Iterator[None]:
    """A launcher for the programs started inside (sessions nest; the last one out ends it). Until it
    is ready, and where none can be started, programs are started by forking the harness."""
    with _launcher.use():
        yield


def current() -> Launcher | None:
    """The launcher of the session in progress, once ready (None: none, or it broke). One still
    starting is waited for (at most START_WAIT_S): forking the harness for the first scenarios'
    programs costs more than the rest of its start."""
    launcher = _launcher.current
    if launcher is None:
        return None
    launcher.settled.wait(START_WAIT_S)
    return launcher if launcher.ready.is_set() and not launcher.broken else None


def _import_path() -> list[str]:
    """Where the launcher finds the harness and the standard library: this process's path, and the
    folder the harness package is in (it starts without `site`, which an editable install of the
    harness needs to be found otherwise)."""
    return [str(Path(__file__).resolve().parents[2]), *sys.path]


# -- the launcher process ------------------------------------------------------------------------
_libc = ctypes.CDLL(None, use_errno=True)


def serve(fd: int, parent: int) -> None:
    """The launcher's main loop: one program per message on socket `fd`, until it closes; `parent`:
    the harness's pid (the launcher ends with it)."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        return  # the harness ended before the death signal was set
    importlib.import_module("harness.run.confine")  # every confinement needs it: loaded once, before any fork

    sock = socket.socket(fileno=fd)
    sock.send(READY)
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 1)
        except OSError:
            return
        if not message:
            return
        reply, master = _start(message, fds[0] if fds else None)
        try:
            socket.send_fds(sock, [pickle.dumps(reply)], [master] if master is not None else [])
        except OSError:
            return
        finally:
            for opened in [*fds, *([master] if master is not None else [])]:
                os.close(opened)


def _start(message: bytes, gate: int | None) -> tuple[tuple, int | None]:
    """Start one program: ("started", pid) and its terminal's master side, ("refused", report, pid),
    or ("broken", why)."""
    try:
        request: Request = pickle.loads(message)
        master, slave = os.openpty()
    except Exception as exc:  # noqa: BLE001 - the harness falls back, told why
        return ("broken", f"the launcher could not prepare a terminal: {type(exc).__name__}: {exc}"), None
    try:
        _set_terminal(slave, request)
        report_read, report_write = os.pipe()
    except OSError as exc:
        os.close(master)
        os.close(slave)
        return ("broken", f"the launcher could not prepare a terminal: {exc}"), None
    try:
        pid = _clone_parent()
    except OSError as exc:
        for fd in (master, slave, report_read, report_write):
            os.close(fd)
        return ("broken", f"the launcher could not fork: {exc}"), None
    if pid == 0:
        _become(request, slave, gate, report_write)
    os.close(slave)
    os.close(report_write)
    report = _read_all(report_read)
    if report:
        os.close(master)
        return ("refused", report, pid), None
    return ("started", pid), master


def _set_terminal(slave: int, request: Request) -> None:
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", request.rows, request.cols, 0, 0))
    if not request.echo:
        attributes = termios.tcgetattr(slave)
        attributes[3] &= ~termios.ECHO
        termios.tcsetattr(slave, termios.TCSANOW, attributes)


def _clone_parent() -> int:
    """fork(2), but the child's parent is this process's parent (the harness)."""
    pid = _libc.syscall(ctypes.c_long(SYS_CLONE[platform.machine()]), ctypes.c_ulong(CLONE_PARENT | signal.SIGCHLD),
                        ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
    if pid < 0:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number))
    return pid


def _become(request: Request, slave: int, gate: int | None, report: int) -> None:
    """In the child: the terminal as its controlling terminal and standard streams, the gate at
    GATE_FD, nothing else open, its folder and confinement, then exec. Never returns."""
    try:
        os.setsid()
        slave, report = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (slave, report))
        gate = fcntl.fcntl(gate, fcntl.F_DUPFD_CLOEXEC, 10) if gate is not None else None
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for standard in (0, 1, 2):
            os.dup2(slave, standard)
        if gate is not None:
            os.dup2(gate, GATE_FD)
        os.closerange(GATE_FD + 1 if gate is not None else 3, report)
        os.closerange(report + 1, 1 << 20)
        os.chdir(request.cwd)
        if request.confine is not None:
            request.confine()
    except BaseException as exc:  # noqa: BLE001 - whatever it was, the harness is told
        _tell(report, type(exc).__name__, exc)
    try:
        os.execve(request.argv[0], request.argv, request.env)
    except OSError as exc:  # told as pexpect tells a failed exec: an OSError
        _tell(report, "OSError", exc)
    os._exit(127)


def _tell(report: int, kind: str, exc: BaseException) -> None:
    """Say why the child could not start (`kind`: its exception's name), and end it."""
    number = exc.errno if isinstance(exc, OSError) and exc.errno else 0
    with contextlib.suppress(OSError):
        os.write(report, f"{kind}:{number}:{exc}".encode("utf-8", "replace"))
    os._exit(127)


def _read_all(fd: int) -> bytes:
    """Everything until end of file (the child's exec closes its end): why it failed, or nothing."""
    chunks = []
    try:
        while chunk := os.read(fd, 4096):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)
