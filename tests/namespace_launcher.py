"""Run a command in a user and mount namespace of its own, the way a container or a locked-down
machine would run the harness (tests only; started as root).

    python3 tests/namespace_launcher.py [--no-user-namespaces] [--bind SOURCE TARGET]... -- COMMAND...

uids and gids 0-65535 are mapped to themselves, so root stays root inside and any ordinary user of
the machine exists there too. With --no-user-namespaces nothing inside may make a user namespace
(`user.max_user_namespaces` is 0 in it), as on a system that disables them. Each --bind mounts
SOURCE at TARGET inside (TARGET is made first). The command's exit status is the launcher's.

The maps are written by the launcher's parent, as root of the machine: a process may write only its
own uid into the map of a namespace it made.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
from pathlib import Path

CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
MAPPED = 65536
_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _inside(options: argparse.Namespace, ready: int, mapped: int) -> None:
    """The child: make the namespaces, wait for its maps, set them up, run the command."""
    _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare")
    os.write(ready, b"u")
    if os.read(mapped, 1) != b"m":
        os._exit(125)
    os.setgid(0)
    os.setuid(0)
    _check(_libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make mounts private")
    for source, target in options.bind:
        Path(target).mkdir(parents=True, exist_ok=True)
        _check(_libc.mount(source.encode(), target.encode(), None, MS_BIND | MS_REC, None), f"bind {target}")
    if options.no_user_namespaces:
        Path("/proc/sys/user/max_user_namespaces").write_text("0")
    os.execvp(options.command[0], options.command)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-user-namespaces", action="store_true")
    parser.add_argument("--bind", nargs=2, action="append", default=[], metavar=("SOURCE", "TARGET"))
    parser.add_argument("command", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    options.command = options.command[1:] if options.command[:1] == ["--"] else options.command
    if not options.command:
        parser.error("no command")
    ready_r, ready_w = os.pipe()
    mapped_r, mapped_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            _inside(options, ready_w, mapped_r)
        except OSError as exc:
            print(f"namespace_launcher: {exc}", file=sys.stderr)
        os._exit(125)
    if os.read(ready_r, 1) == b"u":
        for kind in ("uid", "gid"):
            Path(f"/proc/{pid}/{kind}_map").write_text(f"0 0 {MAPPED}\n")
        os.write(mapped_w, b"m")
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
