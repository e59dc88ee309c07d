"""Confinement of submission processes: resource limits, a user of their own, a pids cgroup.

Root ignores RLIMIT_NPROC, so when the harness runs as root (CI, Gradescope) each scenario's
processes run as a fresh unprivileged uid of their own: then the process limit binds, they cannot
signal the harness or another scenario, and every process they leave behind can be found by uid and
killed, even one that double-forked, called setsid and cleared its environment. Where a pids cgroup
can be made, it bounds the number of processes as well. `protections()` says what was in force.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import random
import re
import select
import signal
import stat
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from harness.net.rootless import machine_uid, maps_uid
from harness.run import filesystem
from harness.run.confine import Confinement


UID_RANGE = (61000, 61999)
PR_SET_CHILD_SUBREAPER = 36
_LIBC = ctypes.CDLL(None, use_errno=True)
KILLED_END_S = 2.0  # how long processes sent SIGKILL are awaited before they are looked for again
CGROUP_PIDS = Path("/sys/fs/cgroup/pids")
SYSTEM_PATH = ("/usr/local/bin", "/usr/bin", "/bin")
_uid_lock = threading.Lock()
_uids_in_use: set[int] = set()
_uids_given: set[int] = set()  # every uid handed out by this process (see _allocate_uid)
_stale_lock = threading.Lock()
_stale_removed: list[bool] = []  # once per harness process


@dataclass(frozen=True)
class Limits:
    """Per-process resource limits (documented defaults; overridable per run and per manifest)."""

    cpu_seconds: int = 120
    memory_mb: int = 2048
    processes: int = 64
    file_size_mb: int = 64
    open_files: int = 256
    output_kb: int = 2048

    def merged(self, overrides: dict[str, int | None]) -> "Limits":
        return Limits(**{**asdict(self), **{k: v for k, v in overrides.items() if v is not None}})


def processes_of(uid: int) -> list[int]:
    """PIDs of live processes owned by `uid` (plain os calls: this scan runs several times per
    scenario over every process of the machine)."""
    found = []
    with os.scandir("/proc") as entries:
        for entry in entries:
            if entry.name.isdigit():
                try:
                    if entry.stat(follow_symlinks=False).st_uid == uid:
                        found.append(int(entry.name))
                except OSError:
                    continue
    return found


def _reachable_by_others(path: str) -> bool:
    """Whether any user can reach `path` (every folder on the way, links resolved, is o+x)."""
    real = Path(os.path.realpath(path))
    try:
        return all(part.stat().st_mode & stat.S_IXOTH for part in [real, *real.parents])
    except OSError:
        return False


def _runnable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


# What the system's folders let others do does not change while grading, and every program of every
# scenario is looked up the same way: worked out once per PATH and command (each costs a few ms of
# path resolution, on the way of every launch).
@functools.lru_cache(maxsize=64)
def _reachable_path(inherited: str) -> str:
    """The folders of PATH `inherited` that any user can reach, then the system's own."""
    kept = [d for d in inherited.split(os.pathsep) if d and _reachable_by_others(d)]
    return os.pathsep.join(dict.fromkeys([*kept, *SYSTEM_PATH]))


@functools.lru_cache(maxsize=256)
def _found_on_path(command: str, search_path: str, separate_user: bool) -> str | None:
    """The first `command` on `search_path` that can be run (by any user, with `separate_user`)."""
    for folder in filter(None, search_path.split(os.pathsep)):
        candidate = os.path.join(folder, command)
        if _runnable(candidate) and (not separate_user or _reachable_by_others(candidate)):
            return candidate
    return None


class Sandbox:
    """The confinement of one scenario's processes."""

    def __init__(self, limits: Limits, workdir: Path, drop_privileges: bool = True,
                 network: str = "shared with the host (loopback)", isolate_files: bool = True,
                 terminal_signals: bool = False, programs: int = 1) -> None:
        become_subreaper()
        self.limits = limits
        self.workdir = workdir
        self.network = network  # what the processes' network is, for the report
        self.isolate_files = isolate_files and filesystem.bubblewrap_unavailable() is None
        self.terminal_signals = terminal_signals  # keys typed at the programs may signal them (Ctrl+C)
        self.uid = _allocate_uid() if drop_privileges and can_switch_users() else None
        # the sandbox's own processes (bubblewrap keeps two per program) do not count against the
        # submission's limit: it gets `limits.processes` of its own
        allowance = limits.processes + (filesystem.PROCESSES_PER_PROGRAM * programs if self.isolate_files else 0)
        self.cgroup = _make_cgroup(allowance) if os.geteuid() == 0 else None
        self._nproc = allowance if self.uid is not None else len(processes_of(os.geteuid())) + allowance
        self._programs: dict[int, int] = {}  # launched pid -> the program's own, once found

    def adopt(self) -> None:
        """Hand the working copy to the sandbox user, for it alone (call once the copy is complete)."""
        if self.uid is not None:
            os.chmod(self.workdir.parent, 0o711)
            chown_tree(self.workdir, self.uid)
        os.chmod(self.workdir, 0o700)

    def command(self, argv: list[str], gate: int | None = None, host: list[str] | None = None) -> list[str]:
        """The command that runs `argv` inside the sandbox's view of the file system; with `gate` (only
        where `can_hold`), the program starts once a byte can be read from that descriptor; `host`:
        a LAN host's part of the view (lan.Host.view; only where `isolate_files`)."""
        if not self.isolate_files:
            return argv
        return filesystem.wrap(argv, self.workdir, self.terminal_signals, gate, host)

    def program_pid(self, launched: int) -> int | None:
        """The process of the program itself, of a command started as process `launched`."""
        if not self.isolate_files:
            return launched
        if launched not in self._programs:  # found once, it stays: its pid does not change
            found = filesystem.program_pid(launched)
            if found is None:
                return None
            self._programs[launched] = found
        return self._programs[launched]

    @property
    def can_hold(self) -> bool:
        """Whether a program can be launched now and let start later (bubblewrap's `--block-fd`)."""
        return self.isolate_files

    def search_path(self, inherited: str) -> str:
        """PATH for the children: a separate user cannot enter e.g. /root, so keep what it can reach."""
        return inherited if self.uid is None else _reachable_path(inherited)

    def executable(self, command: str, search_path: str) -> str | None:
        """The program `command` names, as the sandbox user would find it (None: it cannot run it).

        Found as root, `python3` may be a virtual environment's link into root's home, which the
        sandbox user may not enter; such candidates are passed over for the next one on PATH.
        """
        if "/" not in command:
            return _found_on_path(command, search_path, self.uid is not None)
        own = Path(os.path.realpath(command)).is_relative_to(os.path.realpath(self.workdir))  # its user owns it
        usable = _runnable(command) and (self.uid is None or own or _reachable_by_others(command))
        return command if usable else None

    @property
    def lists_every_process(self) -> bool:
        """Whether `kill_all` finds every process of the scenario however it hid: a pids cgroup lists
        them all, and none can leave it (its files are root's)."""
        return self.cgroup is not None

    def preexec(self, enter: Callable[[], None] | None = None, keep_fd: int | None = None) -> Confinement:
        """What runs in the child between fork and exec: join the cgroup and (`enter`) its host on the
        virtual LAN, set limits, drop root; `keep_fd` stays open across exec (a held program's gate)."""
        limits = self.limits
        return Confinement(self.cgroup, enter, limits.cpu_seconds, limits.memory_mb * 1024 * 1024,
                           limits.file_size_mb * 1024 * 1024, limits.open_files, self.uid, self._nproc, keep_fd)

    def protections(self) -> dict:
        """What was in force, for the report: graders must know what their sandbox did."""
        return {
            "separate_user": self.uid is not None,
            "uid": self.uid if self.uid is not None else machine_uid(),
            "process_limit_binds": self.uid is not None or machine_uid() != 0,
            "pids_cgroup": self.cgroup is not None,
            "filesystem": filesystem.BUBBLEWRAP if self.isolate_files else
            f"{filesystem.PERMISSIONS} ({filesystem.bubblewrap_unavailable() or 'turned off'})",
            "network": self.network,
            "limits": asdict(self.limits),
        }

    def kill_all(self) -> None:
        """Kill every process of this scenario that is still around, however it hid.

        What is found is killed pid by pid and awaited (their ends are events, seen at once). What is
        still running when found again (a fork bomb outrunning the killing one pid at a time) is
        killed as the sandbox user with kill(-1), which reaches all its processes at once; it costs a
        fork of the harness, so it is kept for that case.
        """
        for attempt in range(10):
            pids = set(self._cgroup_pids()) | set(processes_of(self.uid) if self.uid is not None else [])
            if not pids:
                return
            if self.uid is not None and attempt > 0 and still_running(pids, 0):
                _kill_everything_of(self.uid)
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            still_running(pids, KILLED_END_S)
            _reap(pids)

    def close(self) -> None:
        self.kill_all()
        if self.cgroup is not None:
            try:
                self.cgroup.rmdir()
            except OSError:
                pass
        if self.uid is not None:
            with _uid_lock:
                _uids_in_use.discard(self.uid)

    def _cgroup_pids(self) -> list[int]:
        if self.cgroup is None:
            return []
        try:
            return [int(p) for p in (self.cgroup / "cgroup.procs").read_text().split()]
        except OSError:
            return []


def become_subreaper() -> None:
    """Orphans of the processes this harness starts (a sandbox's inner processes, once its monitor is
    killed) become this process's children, so that it reaps them itself instead of leaving zombies
    for whatever init the machine has."""
    try:
        _LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except AttributeError:
        pass


def still_running(pids: set[int], timeout: float) -> set[int]:
    """Those of `pids` that have not ended within `timeout` seconds (a process that ended and awaits
    its reaping has ended); where the kernel gives no pidfd, every one of them, as far as is known."""
    ends: dict[int, int] = {}
    try:
        for pid in pids:
            try:
                ends[os.pidfd_open(pid)] = pid
            except ProcessLookupError:
                continue
        running = set(ends.values())
        poller = select.poll()
        for fd in ends:
            poller.register(fd, select.POLLIN)
        deadline = time.monotonic() + timeout
        while running:
            ready = poller.poll(max(0.0, deadline - time.monotonic()) * 1000)
            if not ready:
                break
            for fd, _ in ready:
                running.discard(ends[fd])
                poller.unregister(fd)
        return running
    except (AttributeError, OSError):  # no pidfd here
        return set(pids)
    finally:
        for fd in ends:
            os.close(fd)


def _reap(pids: set[int]) -> None:
    """Collect the exit of those of `pids` that came to this process as orphans and have ended. A
    session leader is a program the harness started under a pty: its owner collects its exit (and
    its status is what the transcript reports), so it is left alone."""
    for pid in pids:
        try:
            if os.getsid(pid) == pid:
                continue
            os.waitpid(pid, os.WNOHANG)
        except (ChildProcessError, ProcessLookupError, PermissionError):
            pass


def can_switch_users() -> bool:
    """Whether the harness may run programs as users of their own: root, with the sandbox's uids in its
    user namespace (not so as root of a namespace of its own that maps only the user who started it)."""
    return os.geteuid() == 0 and all(maps_uid(uid) for uid in UID_RANGE)


def _allocate_uid() -> int:
    """A uid no process is using, reserved for one scenario; not one an earlier scenario of this
    process had, until half the range has been given (a scenario's user is its own: nothing another
    one left, and each run's uid tells its scenario)."""
    with _uid_lock:
        if len(_uids_given) >= (UID_RANGE[1] - UID_RANGE[0] + 1) // 2:
            _uids_given.intersection_update(_uids_in_use)
        for _ in range(200):
            uid = random.randint(*UID_RANGE)
            if uid not in _uids_in_use and uid not in _uids_given and not processes_of(uid):
                _uids_in_use.add(uid)
                _uids_given.add(uid)
                return uid
    raise RuntimeError("no free uid for the sandbox")


def _make_cgroup(max_pids: int) -> Path | None:
    if not (CGROUP_PIDS / "cgroup.procs").exists():
        return None
    with _stale_lock:
        if not _stale_removed:
            remove_stale_cgroups()
            _stale_removed.append(True)
    path = CGROUP_PIDS / f"tweeter-{os.getpid()}-{random.getrandbits(40):x}"
    try:
        path.mkdir()
        (path / "pids.max").write_text(str(max_pids))
    except OSError:
        return None
    return path


def remove_stale_cgroups() -> None:
    """Cgroups left by harness runs that were killed before they could clean up (their pid is gone):
    whatever still runs in one is killed, then the cgroup is removed."""
    for entry in CGROUP_PIDS.glob("tweeter-*"):
        match = re.match(r"^tweeter-(\d+)-", entry.name)
        if not match or Path(f"/proc/{match.group(1)}").exists():
            continue
        try:
            pids = {int(pid) for pid in (entry / "cgroup.procs").read_text().split()}
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            still_running(pids, KILLED_END_S)
            entry.rmdir()
        except OSError:
            pass  # still emptying: the next run removes it


def chown_tree(root: Path, uid: int) -> None:
    os.chown(root, uid, uid)
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            try:
                os.lchown(os.path.join(folder, name), uid, uid)
            except OSError:
                pass


def _kill_everything_of(uid: int) -> None:
    """Fork, become `uid`, and SIGKILL every process that uid owns (kill -1 spares only the caller)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
