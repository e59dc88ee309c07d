"""Run a command in namespaces of its own, the way a container or a locked-down machine would run
the harness (tests only; started as root).

    python3 tests/namespace_launcher.py [--no-user-namespaces] [--net] [--chroot ROOT]
        [--docker-capabilities] [--bind SOURCE TARGET]... [--ro-bind SOURCE TARGET]... -- COMMAND...

Always a user and a mount namespace: uids and gids 0-65535 are mapped to themselves, so root stays
root inside and any ordinary user of the machine exists there too.
- --no-user-namespaces: nothing inside may make a user namespace (`user.max_user_namespaces` is 0
  in it), as on a system that disables them, or in Docker, whose seccomp profile refuses them.
- --net: a network namespace of its own where only `lo` is up (a container without a network).
- --chroot ROOT: a container's root file system, as Docker sets it up: a pid namespace of its own
  (the command is its process 1: when it ends, all left in it is killed), a new /proc with /proc/sys
  read-only, a /dev of its own (a tmpfs with the machine's null, zero, full, random, urandom and
  tty, a devpts instance of its own, /dev/shm), and the command runs chrooted in ROOT, in /.
- --docker-capabilities: only Docker's default capabilities (bounding, permitted, effective and
  inheritable sets), so e.g. no NET_ADMIN and no SYS_ADMIN: root of a container, not of the machine.
- --bind / --ro-bind SOURCE TARGET: mount SOURCE (a folder or a file) at TARGET, inside ROOT with
  --chroot; read-only with --ro-bind. TARGET is made first (an empty folder or file).
The command's exit status is the launcher's. If the launcher is killed, so is everything it ran.

The maps are written by the launcher's parent, as root of the machine: a process may write only its
own uid into the map of a namespace it made.
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import os
import signal
import socket
import struct
import sys
from pathlib import Path

CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWPID = 0x10000000, 0x00020000, 0x40000000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC, MS_PRIVATE, MS_RELATIME = 1024, 2048, 4096, 16384, 1 << 18, 1 << 21
ST_RELATIME = 4096
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 1, 24, 47, 4
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 1
MAPPED = 65536
# Docker's default capability set (moby's oci/caps/defaults.go), by number
DOCKER_CAPABILITIES = {"CHOWN": 0, "DAC_OVERRIDE": 1, "FOWNER": 3, "FSETID": 4, "KILL": 5, "SETGID": 6,
                       "SETUID": 7, "SETPCAP": 8, "NET_BIND_SERVICE": 10, "NET_RAW": 13, "SYS_CHROOT": 18,
                       "MKNOD": 27, "AUDIT_WRITE": 29, "SETFCAP": 31}
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_LINKS = {"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
             "stderr": "/proc/self/fd/2", "core": "/proc/kcore"}
_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: Path | str, kind: str | None, flags: int, data: str | None = None) -> None:
    encode = lambda text: text.encode() if text is not None else None  # noqa: E731
    _check(_libc.mount(encode(source), encode(str(target)), encode(kind), flags, encode(data)), f"mount {target}")


def _bind(source: str, target: Path, read_only: bool) -> None:
    """SOURCE at TARGET (made first, as a folder or a file like SOURCE)."""
    if Path(source).is_dir():
        target.mkdir(parents=True, exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch(exist_ok=True)
    _mount(source, target, None, MS_BIND | MS_REC)
    if read_only:
        _read_only(target)


def _read_only(target: Path) -> None:
    """Remount the bind mount at TARGET read-only. In a user namespace the flags the mount came with
    (nosuid, nodev, noexec, its atime) are locked: the remount must repeat them or it is refused."""
    now = os.statvfs(target).f_flag
    kept = now & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME)
    _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | kept | (MS_RELATIME if now & ST_RELATIME else 0))


def _container_mounts(root: Path) -> None:
    """/proc and /dev in ROOT as Docker mounts them (process 1 of the new pid namespace calls this)."""
    _mount("proc", root / "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _mount(str(root / "proc/sys"), root / "proc/sys", None, MS_BIND)
    _read_only(root / "proc/sys")
    dev = root / "dev"
    _mount("tmpfs", dev, "tmpfs", MS_NOSUID, "mode=755,size=65536k")
    for name in DEVICES:  # a new tmpfs in a user namespace cannot hold device nodes: bind the machine's
        _bind(f"/dev/{name}", dev / name, read_only=False)
    (dev / "pts").mkdir()
    _mount("devpts", dev / "pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5")
    (dev / "shm").mkdir()
    _mount("shm", dev / "shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k")
    for name, points_to in DEV_LINKS.items():
        (dev / name).symlink_to(points_to)


def _loopback_up() -> None:
    """Bring `lo` up in the new network namespace (it starts down, and holds nothing else)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack_from("H", fcntl.ioctl(sock, SIOCGIFFLAGS, request), 16)[0]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


def _keep_only_docker_capabilities() -> None:
    """Cut every capability set to Docker's default: the bounding set, so that executing a program
    as root gains no more, and the effective, permitted, inheritable and ambient ones."""
    keep = set(DOCKER_CAPABILITIES.values())
    for cap in range(int(Path("/proc/sys/kernel/cap_last_cap").read_text()) + 1):
        if cap not in keep:
            _check(_libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), f"drop capability {cap}")
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    sets = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable for caps 0-31, then for 32-63
    _check(_libc.capget(header, sets), "capget")
    mask = sum(1 << cap for cap in keep)
    for i in range(6):
        sets[i] &= (mask >> (32 * (i // 3))) & 0xFFFFFFFF
    _check(_libc.capset(header, sets), "capset")
    _check(_libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities")


def _die_with_parent() -> None:
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "die with parent")


def _inside(options: argparse.Namespace, ready: int, mapped: int) -> None:
    """The child: make the namespaces, wait for its maps, set them up, run the command."""
    _die_with_parent()
    flags = CLONE_NEWUSER | CLONE_NEWNS | (CLONE_NEWNET if options.net else 0) | (CLONE_NEWPID if options.chroot else 0)
    _check(_libc.unshare(flags), "unshare")
    os.write(ready, b"u")
    if os.read(mapped, 1) != b"m":
        os._exit(125)
    os.setgid(0)
    os.setuid(0)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    if options.chroot:  # the first child is process 1 of the new pid namespace: it runs the command
        pid = os.fork()
        if pid:
            _, status = os.waitpid(pid, 0)
            os._exit(os.waitstatus_to_exitcode(status))
        _die_with_parent()
        _container_mounts(options.chroot)
    inside = options.chroot or Path("/")
    for source, target in options.bind:
        _bind(source, inside / target.lstrip("/"), read_only=False)
    for source, target in options.ro_bind:
        _bind(source, inside / target.lstrip("/"), read_only=True)
    if options.no_user_namespaces:
        Path("/proc/sys/user/max_user_namespaces").write_text("0")
    if options.net:
        _loopback_up()
    if options.chroot:
        os.chroot(options.chroot)
        os.chdir("/")
    if options.docker_capabilities:
        _keep_only_docker_capabilities()
    os.execvp(options.command[0], options.command)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-user-namespaces", action="store_true")
    parser.add_argument("--net", action="store_true", help="a network namespace of its own, only lo up")
    parser.add_argument("--chroot", type=Path, metavar="ROOT", help="run in ROOT as in a container")
    parser.add_argument("--docker-capabilities", action="store_true", help="only Docker's default capabilities")
    parser.add_argument("--bind", nargs=2, action="append", default=[], metavar=("SOURCE", "TARGET"))
    parser.add_argument("--ro-bind", nargs=2, action="append", default=[], metavar=("SOURCE", "TARGET"))
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
