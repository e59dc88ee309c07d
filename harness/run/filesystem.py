"""What a submission's programs may see of the file system: their own working copy, and the system.

With bubblewrap (a well-kept sandbox tool: `bwrap`), every program runs in a mount namespace of its
own where the system folders (/usr, /bin, /lib..., /etc, /sys) are read-only and the only writable,
and the only other, folder is its working copy; /tmp is empty and private, /proc and /dev are its own.
The specs, the harness, the reference, the output folder, /autograder, other submissions and other
scenarios' copies are simply not there, whatever their permissions. bubblewrap runs as the sandbox's
user (a user namespace of its own), after the harness has dropped root, so it gains no privilege.

Where bubblewrap cannot run (not installed, no user namespaces), the fallback is permissions alone:
working copies that only their scenario's user can enter, and a uid of its own per scenario; files
that are readable by everyone stay readable. The report says which (`sandbox.filesystem`).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

from harness.net.rootless import maps_uid
from harness.run.ports import read_proc

SYSTEM_READ_ONLY = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/sys")
# bubblewrap keeps a monitor process in the terminal's process group, and a key typed at the terminal
# (Ctrl+C) signals the whole group: the monitor would die and take the program with it. For programs
# that are sent such keys, this helper makes the program the terminal's foreground group on its own.
FOREGROUND = ("import os, signal, sys; os.setpgid(0, 0); signal.signal(signal.SIGTTOU, signal.SIG_IGN); "
              "os.tcsetpgrp(0, os.getpgrp()); signal.signal(signal.SIGTTOU, signal.SIG_DFL); "
              "os.execv(sys.argv[1], sys.argv[1:])")
HELPER_PYTHON = "/usr/bin/python3"
NOBODY = 65534
PROCESSES_PER_PROGRAM = 2  # bubblewrap's own: its monitor, and the first process of the PID namespace
BUBBLEWRAP = "bubblewrap: the system read-only, only the working copy writable, nothing else visible"
PERMISSIONS = "permissions only: working copies private to their scenario's user; world-readable files are visible"


@functools.cache
def bubblewrap_unavailable() -> str | None:
    """Why programs cannot be run under bubblewrap here (None: they can); probed once, as an
    unprivileged user when the harness is root (which is how it runs them)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed"
    drop = None
    if os.geteuid() == 0 and maps_uid(NOBODY):
        def drop() -> None:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
    try:
        done = subprocess.run([bwrap, *_view(Path("/"), None), "true"], preexec_fn=drop, capture_output=True,
                              timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bubblewrap does not run: {exc}"
    if done.returncode != 0:
        return f"bubblewrap does not run here: {done.stderr.decode(errors='replace').strip()[-200:]}"
    return None


def _view(workdir: Path, program: str | None) -> list[str]:
    """bwrap's arguments for a program of the working copy `workdir`."""
    args = ["--unshare-user", "--unshare-pid", "--unshare-ipc", "--die-with-parent", *_system_view()]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for extra in _program_folders(program):  # after the empty /tmp, which would hide one under /tmp
        args += ["--ro-bind", extra, extra]
    if str(workdir) != "/":
        args += ["--bind", str(workdir), str(workdir), "--chdir", str(workdir)]
    return args


@functools.lru_cache(maxsize=1)
def _system_view() -> tuple[str, ...]:
    """The system's folders, read-only (looked up once per process: every program's view has them)."""
    return tuple(arg for folder in SYSTEM_READ_ONLY if os.path.isdir(folder) for arg in ("--ro-bind", folder, folder))


@functools.lru_cache(maxsize=64)
def _program_folders(program: str | None) -> tuple[str, ...]:
    """A program (an interpreter) outside the system folders: the folder of every link on the way to
    it (a virtual environment's `python` -> `python3` -> an installation), and the installation it
    finally is (e.g. /opt/jdk-17, /root/.pyenv), read-only; nothing more of where they live."""
    if not program:
        return ()
    folders = [str(link.parent) for link in _links_to(Path(program))]
    real = Path(os.path.realpath(program))
    if len(real.parts) > 3:
        folders.append(str(Path(*real.parts[:3])))
    wanted = [Path(folder) for folder in dict.fromkeys(folders)
              if not any(Path(folder).is_relative_to(system) for system in SYSTEM_READ_ONLY)]
    return tuple(str(folder) for folder in wanted  # a folder inside another one already comes with it
                 if not any(folder != other and folder.is_relative_to(other) for other in wanted))


def _links_to(path: Path, most: int = 16) -> list[Path]:
    """`path` and every symbolic link it leads through, in order (at most `most`: a loop ends)."""
    chain = [path]
    while path.is_symlink() and len(chain) <= most:
        path = path.parent / os.readlink(path)
        chain.append(path)
    return chain


@functools.lru_cache(maxsize=1)
def _bwrap() -> str:
    return shutil.which("bwrap") or "bwrap"


def wrap(argv: list[str], workdir: Path, terminal_signals: bool = False, gate: int | None = None,
         host: list[str] | None = None) -> list[str]:
    """The command that runs `argv` (a program and its arguments) seeing only the system and `workdir`;
    `terminal_signals`: the program is sent keys that signal (Ctrl+C), so it gets the terminal's
    foreground to itself; `gate`: a descriptor bubblewrap reads one byte from, its view built, before
    it runs the program (so a program can be made ready to start and started later at once); `host`:
    more of bubblewrap's arguments, a LAN host's name and files (lan.Host.view)."""
    bwrap = _bwrap()
    program = argv[0] if not argv[0].startswith(str(workdir)) else None
    helper = [HELPER_PYTHON, "-c", FOREGROUND] if terminal_signals and os.path.exists(HELPER_PYTHON) else []
    held = ["--block-fd", str(gate)] if gate is not None else []
    return [bwrap, *_view(workdir, program), *(host or []), *held, "--", *helper, *argv]


def program_pid(launched: int) -> int | None:
    """The program that bubblewrap, started as process `launched`, runs: the first process down its
    chain of children that is not bubblewrap itself (None if it cannot be read, or has not started)."""
    pid = launched
    for _ in range(4):  # the monitor, the first process of the PID namespace, the program
        try:
            if os.path.basename(os.readlink(f"/proc/{pid}/exe")) != "bwrap":
                return pid
            first = read_proc(f"/proc/{pid}/task/{pid}/children").split()[:1]
        except OSError:
            return None
        if not first:
            return None
        pid = int(first[0])
    return None
