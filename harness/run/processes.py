"""Submission processes under pexpect: launch, type, read into the trace, and kill everything.

One reader thread per scenario multiplexes every child's pty with select, so a process that floods,
prints binary or never prints cannot stall the others. Each child starts in its own session (pty
fork calls setsid); at the end the whole process group is killed, and any process that still carries
this run's marker in its environment (a daemon that double-forked away) is killed too.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import select
import shlex
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pexpect
import ptyprocess

from harness.inputs.dialect import Typed
from harness.net.lan import Host
from harness.run import launcher, ports
from harness.run.records import HARNESS_STOP
from harness.run.sandbox import Sandbox
from harness.run.trace import Trace

MARKER_VAR = "TWEETER_HARNESS_RUN"
Enter = Host | Callable[[], None] | None  # a LAN host to join, or what a program does before exec
READ_CHUNK = 65536
UNREAD_CHUNKS_MOST = 4  # a program printing without end cannot keep a line from being typed
PARTIAL_LINE_IDLE_S = 0.15  # a prompt without newline counts as a line after this much silence
_LIBC_HOLDING_LOCK = ctypes.PyDLL(None)  # calls through PyDLL keep the interpreter lock
_LIBC_HOLDING_LOCK.write.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t)
_LIBC_HOLDING_LOCK.write.restype = ctypes.c_ssize_t


@dataclass
class OutputBudget:
    """Bounds what is kept of one process's output; the rest is counted, not stored."""

    max_bytes: int
    kept: int = 0
    dropped: int = 0

    def admit(self, size: int) -> bool:
        if self.kept + size > self.max_bytes:
            self.dropped += size
            return False
        self.kept += size
        return True


@dataclass
class Child:
    """One running submission process and what has been read from it."""

    name: str
    argv: list[str]
    spawn: pexpect.spawn
    budget: OutputBudget = field(default_factory=OutputBudget)
    partial: bytes = b""
    last_read: float = field(default_factory=time.monotonic)
    output_closed: bool = False
    exited: bool = False
    exit_status: int | None = None
    start_seq: int = -1
    dropped_noted: bool = False
    last_typed: float = 0.0  # monotonic time of the last line typed (for pacing)
    pidfd: int | None = None  # readable once the process has ended: its exit is seen at once
    gate: int | None = None  # while a held program waits to start: the pipe that lets it (processes.let_start)

    @property
    def pid(self) -> int:
        return self.spawn.pid


CONTROL = {code: f"\\x{code:02x}" for code in [*range(0x00, 0x09), *range(0x0b, 0x20), 0x7f]}
CONTROL[0x0d] = None  # a pty ends lines with \r\n


def sanitize(raw: bytes) -> str:
    """Decode untrusted output: bad bytes become U+FFFD and control characters (terminal escape
    sequences included) become visible \\xNN text, so nothing a program prints can drive the
    terminal or break a report."""
    return raw.decode("utf-8", errors="replace").translate(CONTROL)


def terminal_has_output(fd: int) -> bool:
    """Whether the harness's end `fd` of a program's terminal has bytes to read, or the program's end
    closed. Asked with `poll`, not FIONREAD: what a program writes waits in the terminal's buffer until
    a kernel worker moves it to where FIONREAD counts it (on a loaded machine, long after the program
    went back to sleep); a poll of this end moves it at once."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    try:
        return bool(poller.poll(0))
    except OSError:
        return True


def _read_now(fd: int) -> bytes | None:
    """What the harness's end `fd` of a program's terminal holds now, at most READ_CHUNK bytes: b""
    once the program's end closed; None when nothing is there (another reader took it, or `fd` is
    non-blocking for a moment while lines are typed together). Only one thread reads at a time (the
    caller holds the lock), so after the poll the read cannot block."""
    if not terminal_has_output(fd):
        return None
    try:
        return os.read(fd, READ_CHUNK)
    except BlockingIOError:
        return None
    except OSError:
        return b""


class ProcessSet:
    """Every process of one scenario, the thread that reads them, and their cleanup."""

    def __init__(self, trace: Trace, workdir: Path, sandbox: Sandbox, pace_s: float = 0.0,
                 stop: threading.Event | None = None) -> None:
        self.trace = trace
        self.workdir = workdir
        self.sandbox = sandbox
        for private in (".home", ".tmp"):
            (workdir / private).mkdir(exist_ok=True)
        sandbox.adopt()
        self.marker = f"{os.getpid()}-{uuid.uuid4().hex}"  # which harness process, which scenario
        self.children: dict[str, Child] = {}
        self._lock = threading.Lock()
        self._partial_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self.pace_s = pace_s  # least time between two lines typed at one program
        self._abort = stop or threading.Event()
        self._stopping = False
        self._reader = threading.Thread(target=self._read_loop, name="tweeter-reader", daemon=True)
        self._reader.start()

    # -- launching ---------------------------------------------------------------------------
    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {
            "PATH": self.sandbox.search_path(os.environ.get("PATH", "/usr/bin:/bin")),
            "HOME": str(self.workdir / ".home"),
            "TMPDIR": str(self.workdir / ".tmp"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "TERM": "dumb",
            MARKER_VAR: self.marker,
        }
        env.update({k: v for k, v in (extra or {}).items() if k not in env})
        return env

    def launch(self, name: str, command: str, enter: Enter = None,
               env_extra: dict[str, str] | None = None, held: bool = False) -> Child:
        """Start `command` (shell-like words, no shell) in the working copy as process `name`;
        `enter`: its host on a virtual LAN, which it joins, or what runs in the child before exec; `env_extra`
        adds the manifest's environment variables. `held` (only where `sandbox.can_hold`): the
        sandbox is built now, the program itself starts at `let_start(name)`."""
        argv = shlex.split(command)
        if not argv:
            raise ValueError(f"empty launch command for {name}")
        env = self.environment(env_extra)
        program = self._program(argv[0], env["PATH"])
        gate_read, gate_write = os.pipe() if held else (None, None)
        try:
            spawn = self._spawn([program, *argv[1:]], env, enter, gate_read)
        except BaseException:
            _close(gate_write)
            raise
        finally:
            _close(gate_read)
        # pexpect's defaults pause before each send and after close; the harness waits on events.
        spawn.delaybeforesend = None
        for holder in (spawn, spawn.ptyproc):
            holder.delayafterclose = 0
            holder.delayafterterminate = 0
        child = Child(name=name, argv=argv, spawn=spawn, gate=gate_write,
                      budget=OutputBudget(max_bytes=self.sandbox.limits.output_kb * 1024), pidfd=_pidfd(spawn.pid))
        child.start_seq = self.trace.add(name, "start", shlex.join([program, *argv[1:]])).seq
        with self._lock:
            self.children[name] = child
        os.write(self._wake_w, b"x")
        return child

    def _spawn(self, argv: list[str], env: dict[str, str], enter: Enter, gate: int | None) -> pexpect.spawn:
        """`argv` started in the sandbox on a terminal of its own: through the grading run's launcher
        (run/launcher.py) where there is one, else (or where it cannot) by forking the harness. A LAN
        host is joined by its network alone where bubblewrap builds the program's view (the host's
        name and files are then part of that view), else wholly before exec."""
        options = {"cwd": str(self.workdir), "env": env, "echo": False, "timeout": None, "dimensions": (50, 250)}
        view: list[str] = []
        if isinstance(enter, Host):
            enter, view = (enter.enter_network, enter.view()) if self.sandbox.isolate_files else (enter.enter, [])
        via = launcher.current()
        if via is not None:
            command = self.sandbox.command(argv, None if gate is None else launcher.GATE_FD, view)
            try:
                return _Spawn(command[0], command[1:], preexec_fn=self.sandbox.preexec(enter), via=via, gate=gate,
                              **options)
            except launcher.LaunchFailed:
                pass  # started by forking, below
        command = self.sandbox.command(argv, gate, view)
        return _Spawn(command[0], command[1:], preexec_fn=self.sandbox.preexec(enter, gate), gate=gate, **options)

    def let_start(self, name: str) -> None:
        """Let a program launched `held` start (once; a program that was not held has started)."""
        child = self.children[name]
        gate, child.gate = child.gate, None
        if gate is not None:
            try:
                os.write(gate, b"x")
            except OSError:  # its sandbox has already ended: the reader records how
                pass
            _close(gate)

    def holds(self, name: str, sockets: frozenset[int]) -> bool:
        """Whether program `name` itself (not a process it started) has one of `sockets` open."""
        pid = self.sandbox.program_pid(self.children[name].pid)
        return pid is not None and bool(sockets & ports.open_sockets(pid))

    def _program(self, word: str, search_path: str) -> str:
        """The program a launch command's first word names: a path (with a `/`) in the working copy,
        else a command on PATH; a program of the submission is never looked up on PATH."""
        if "/" in word:
            program = self.sandbox.executable(str(self.workdir / word), search_path)
            if program is None:
                raise ValueError(f"{word}: no such program in the submission's folder (or it is not "
                                 "executable): did the build make it?")
            return program
        program = self.sandbox.executable(word, search_path)
        if program is None:
            hint = (f"; {word} is in the submission's folder: write ./{word} (a program of the submission is "
                    "never looked up on PATH)") if (self.workdir / word).exists() else ""
            raise ValueError(f"{word}: no such program that the sandboxed user may run (searched {search_path}){hint}")
        return program

    def send_line(self, name: str, line: str | Typed) -> int:
        """Type one line at a process (a plain line is followed by Enter); returns the seq of the
        typing event (see `send_lines_together`)."""
        typed_line = line if isinstance(line, Typed) else Typed(line, line.encode("utf-8", "replace") + b"\r")
        return self.send_lines_together([(name, typed_line)])[0]

    def send_lines_together(self, lines: list[tuple[str, Typed]]) -> list[int]:
        """Type one line at each of several processes at the same moment; the seqs of the typing events.
        Every typing event is recorded before anything is sent, so that every reply comes after it in
        the trace (a fast reply must not be missed); then the lines are written back to back with the
        interpreter lock held, so that no other thread (another scenario, a reader recording a reply)
        runs between the writes and a ring that goes round in well under a millisecond cannot come back
        in between. With pacing, waits first until `pace_s` has passed since the last line typed at
        each of them."""
        children = [self.children[name] for name, _ in lines]
        if self.pace_s and children:
            due = max(child.last_typed for child in children) + self.pace_s
            self._abort.wait(max(0.0, due - time.monotonic()))
        seqs = []
        with self._partial_lock:  # a terminal that echoed would end the prompt's line here
            for child, (name, line) in zip(children, lines):
                self._take_unread(child)
                if child.partial:
                    raw, child.partial = child.partial, b""
                    self._emit(child, raw)
                seqs.append(self.trace.add(name, "in", line.visible).seq)
        now = time.monotonic()
        writes = []
        for child, (name, line) in zip(children, lines):
            child.last_typed = now
            if child.exited:
                self.trace.add(name, "note", "not typed: the program has ended")
            else:
                writes.append((child, line.data))
        for index, rest in _write_adjacent([(child.spawn.child_fd, data) for child, data in writes]):
            self._send_rest(writes[index][0], rest)
        return seqs

    def _send_rest(self, child: Child, data: bytes) -> None:
        try:
            child.spawn.send(data)
        except OSError as exc:
            self.trace.add(child.name, "note", f"not typed: {exc.strerror}")

    def pending(self, name: str) -> str:
        """What `name` has printed since its last complete line (a prompt without newline).

        Read without `_partial_lock`: waiters call this inside the trace's condition, while the
        reader thread holds `_partial_lock` when it adds lines to the trace, so taking it here
        would invert the two locks' order and deadlock. Reading one bytes attribute is atomic."""
        child = self.children.get(name)
        partial = child.partial if child is not None else b""
        return sanitize(partial) if partial else ""

    def unread(self) -> bool:
        """Whether something a program printed, or its end, is still on its way to the trace: bytes
        waiting in its terminal for the reader thread, or an output closed whose exit is not noted
        yet. The kernel's facts about the programs (quiescence) do not show what the harness has
        still to read."""
        with self._lock:
            children = list(self.children.values())
        for child in children:
            if child.output_closed:
                if not child.exited:
                    return True
                continue
            if terminal_has_output(child.spawn.child_fd):
                return True
        return False

    def partial_sizes(self) -> tuple[int, ...]:
        """How much of each program's current line (a prompt without newline) has been read."""
        return tuple(len(child.partial) for child in list(self.children.values()))

    # -- reading -----------------------------------------------------------------------------
    def _read_loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                children = list(self.children.values())
            open_children = {c.spawn.child_fd: c for c in children if not c.output_closed}
            ending = {c.pidfd: c for c in children if c.output_closed and not c.exited and c.pidfd is not None}
            try:
                ready, _, _ = select.select([self._wake_r, *open_children, *ending], [], [], PARTIAL_LINE_IDLE_S / 3)
            except (OSError, ValueError):
                continue
            if self._wake_r in ready:
                os.read(self._wake_r, 4096)
            for fd in ready:
                if fd in open_children:
                    self._read_child(open_children[fd])
                elif fd in ending:
                    self._check_exit(ending[fd])
            self._flush_idle_partials()
            for child in children:
                if child.output_closed and not child.exited:
                    self._check_exit(child)

    def _read_child(self, child: Child) -> None:
        with self._partial_lock:  # every read is made holding it: a line typed takes what is unread first
            data = _read_now(child.spawn.child_fd)
            if data:
                self._take(child, data)
        if data == b"":
            self._close_output(child)
        elif data and child.partial:
            self.trace.notify()  # waiters may be looking for a prompt without newline

    def _take_unread(self, child: Child) -> None:
        """What `child` printed before a line is typed at it and the reader thread has not read yet:
        taken now (holding `_partial_lock`), so that the line it was printing is not cut where the
        reader had got to. An end of its output is left to the reader thread."""
        for _ in range(UNREAD_CHUNKS_MOST):
            if child.output_closed or not (data := _read_now(child.spawn.child_fd)):
                return
            self._take(child, data)

    def _take(self, child: Child, data: bytes) -> None:
        """Bytes read from `child`'s terminal: its complete lines into the trace, the rest kept as its
        current line (holding `_partial_lock`)."""
        child.last_read = time.monotonic()
        *complete, child.partial = (child.partial + data).split(b"\n")
        if len(child.partial) > READ_CHUNK:  # an endless line: cut it into pieces
            complete.append(child.partial)
            child.partial = b""
        for raw in complete:
            self._emit(child, raw)

    def _emit(self, child: Child, raw: bytes) -> None:
        if child.budget.admit(len(raw) + 1):
            self.trace.add(child.name, "out", sanitize(raw))

    def _flush_idle_partials(self) -> None:
        now = time.monotonic()
        with self._partial_lock:
            for child in list(self.children.values()):
                if child.partial and now - child.last_read >= PARTIAL_LINE_IDLE_S:
                    raw, child.partial = child.partial, b""
                    self._emit(child, raw)

    def _close_output(self, child: Child) -> None:
        """The pty reached end of file: the process exited, or closed its output and runs on."""
        with self._partial_lock:
            if child.partial:
                raw, child.partial = child.partial, b""
                self._emit(child, raw)
        child.output_closed = True
        self._note_dropped(child)
        self._check_exit(child)

    def _note_dropped(self, child: Child) -> None:
        if child.budget.dropped and not child.dropped_noted:
            child.dropped_noted = True
            self.trace.add(child.name, "note", f"output over {child.budget.max_bytes // 1024} KiB: "
                           f"{child.budget.dropped} more bytes counted, not kept")

    def _check_exit(self, child: Child) -> None:
        """Record the exit once the process is gone (non-blocking wait)."""
        try:
            alive = child.spawn.isalive()
        except (OSError, pexpect.ExceptionPexpect):
            alive = False
        if alive:
            return
        child.exited = True
        if child.spawn.signalstatus == signal.SIGKILL and self._stopping:
            child.exit_status = -signal.SIGKILL
            text = HARNESS_STOP
        elif child.spawn.signalstatus is not None:
            child.exit_status = -child.spawn.signalstatus
            text = f"killed by signal {child.spawn.signalstatus} ({signal.strsignal(child.spawn.signalstatus)})"
        else:
            child.exit_status = child.spawn.exitstatus
            text = f"exited with status {child.exit_status}"
        self.trace.add(child.name, "exit", text)

    def hold(self, name: str, held: bool) -> None:
        """Stop (`held`) or continue every process of `name`'s process group: what it is sent meanwhile
        waits in its sockets, as it would on a busy machine."""
        child = self.children.get(name)
        if child is not None and not child.exited:
            try:
                os.killpg(child.pid, signal.SIGSTOP if held else signal.SIGCONT)
            except (ProcessLookupError, PermissionError):
                pass

    # -- cleanup -----------------------------------------------------------------------------
    def kill_all(self) -> None:
        """Kill every process this set started, its process group, and any marked stray."""
        with self._lock:
            children = list(self.children.values())
        self._stopping = True
        for child in children:
            self._note_dropped(child)
            for sig in (signal.SIGCONT, signal.SIGKILL):
                try:
                    os.killpg(child.pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
        # the programs' own exits first (seen at once): what is left then is only what hid
        self.trace.wait_for(lambda: True if all(c.exited for c in children) else None,
                            timeout=5, poll=0.05)
        if not self.sandbox.lists_every_process:  # else the scan of every environment finds nothing more
            kill_marked(self.marker)
        self.sandbox.kill_all()
        self._stop.set()
        os.write(self._wake_w, b"x")
        self._reader.join(timeout=5)
        for child in children:
            if not child.exited:
                self._check_exit(child)
            try:
                child.spawn.close(force=False)
            except (OSError, pexpect.ExceptionPexpect):
                pass
            if child.pidfd is not None:
                os.close(child.pidfd)
            _close(child.gate)
        os.close(self._wake_r)
        os.close(self._wake_w)


def _write_adjacent(writes: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """Write each (fd, data) without releasing the interpreter lock between the writes (libc's
    write through ctypes.PyDLL keeps it), each fd non-blocking for that moment so that a program
    that does not read cannot stall the harness. Returns (index, data not yet written) for the
    caller to finish the ordinary way."""
    flags = [fcntl.fcntl(fd, fcntl.F_GETFL) for fd, _ in writes]
    for (fd, _), flag in zip(writes, flags):
        fcntl.fcntl(fd, fcntl.F_SETFL, flag | os.O_NONBLOCK)
    try:
        written = [_LIBC_HOLDING_LOCK.write(fd, data, len(data)) for fd, data in writes]
    finally:
        for (fd, _), flag in zip(writes, flags):
            fcntl.fcntl(fd, fcntl.F_SETFL, flag)
    return [(index, data[max(count, 0):]) for index, ((_, data), count) in enumerate(zip(writes, written))
            if count < len(data)]


class _Spawn(pexpect.spawn):
    """pexpect's spawn, started through the launcher `via` (run/launcher.py) or by forking the
    harness; either way the program gets `gate` (a held program's, else None) open: through the
    launcher as launcher.GATE_FD, by fork under its own number (pexpect itself closes every
    descriptor but the terminal's)."""

    def __init__(self, *args: object, via: launcher.Launcher | None = None, gate: int | None = None,
                 **kwargs: object) -> None:
        self._via = via
        self._gate = gate
        super().__init__(*args, **kwargs)

    def _spawnpty(self, args: list[str], **kwargs: object) -> ptyprocess.PtyProcess:
        if self._via is None:
            return ptyprocess.PtyProcess.spawn(args, pass_fds=() if self._gate is None else (self._gate,), **kwargs)
        rows, cols = kwargs["dimensions"]  # type: ignore[misc]
        env, cwd = dict(kwargs["env"]), str(kwargs["cwd"])  # type: ignore[call-overload]
        request = launcher.Request(list(args), env, cwd, rows, cols, bool(kwargs["echo"]),
                                   kwargs["preexec_fn"])  # type: ignore[arg-type]
        pid, fd = self._via.launch(request, self._gate)
        process = ptyprocess.PtyProcess(pid, fd)
        process.argv, process.env, process.launch_dir = args, env, cwd
        return process


def _close(fd: int | None) -> None:
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when process `pid` ends (None where the kernel has none:
    then the reader looks again at every turn of its loop)."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def marked_pids(marker: str) -> list[int]:
    """PIDs of processes whose environment carries this run's marker."""
    needle = f"{MARKER_VAR}={marker}".encode()
    found = []
    own = str(os.getpid())
    for name in os.listdir("/proc"):
        if not name.isdigit() or name == own:
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as environ:
                if needle in environ.read().split(b"\0"):
                    found.append(int(name))
        except OSError:
            continue
    return found


def kill_marked(marker: str) -> None:
    """Kill strays that left the process group but kept the environment (double-forked daemons)."""
    for _ in range(5):
        pids = marked_pids(marker)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
