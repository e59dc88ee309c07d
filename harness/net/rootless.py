"""Root of a user namespace of its own: the virtual LANs of hosts mode for a harness started without root.

A student runs `tweeter-harness check` as themselves, and a CI runner often grades as an ordinary
user. Network namespaces, veth pairs, bridges and packet sockets need CAP_NET_ADMIN and CAP_NET_RAW,
but only in the user namespace that owns the network: where the kernel lets ordinary users make user
namespaces (most Linux desktops and CI runners), the harness makes one for itself, becomes its root
(its own uid and gid mapped to 0, nothing else), and builds the same LANs there as real root does.

`enter` makes, for the whole harness process, a user namespace, a mount namespace and a network
namespace of its own:
- the network namespace, because iproute2 returns to the caller's network after making each named
  namespace, which it may only do in a network its user namespace owns; it holds only loopback,
  brought up, so nothing the harness runs can reach a real interface;
- the mount namespace, because named network namespaces live under /run/netns: a tmpfs is mounted
  there (over /run, with everything of /run bound back, where /run/netns does not exist yet), so the
  namespaces are the harness's alone and vanish with it.

It must run while the process has one thread (the kernel refuses a user namespace to a threaded
process), before grading starts. What it cannot give: other uids (only the user's own is mapped, so
programs run as the user, not as a separate one) and a pids cgroup (the user cannot write the
machine's); bubblewrap still confines files, in a user namespace of its own inside this one.
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

from harness.net.lan import CLONE_NEWNET, CLONE_NEWNS, MS_BIND, MS_PRIVATE, MS_REC, NETNS_DIR, mount, unshare

CLONE_NEWUSER = 0x10000000
SYSCTLS = (  # (file, value that forbids, why in words)
    ("/proc/sys/user/max_user_namespaces", "0",
     "user namespaces disabled by the system (user.max_user_namespaces = 0)"),
    ("/proc/sys/kernel/unprivileged_userns_clone", "0",
     "user namespaces disabled for ordinary users (kernel.unprivileged_userns_clone = 0)"),
    ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1",
     "user namespaces restricted by AppArmor (kernel.apparmor_restrict_unprivileged_userns = 1)"),
)
_entered: list[int] = []  # once entered: the uid of the user who started the harness


def entered() -> bool:
    """Whether this process made its own user namespace (it is root there, not on the machine)."""
    return bool(_entered)


def machine_uid() -> int:
    """The uid this process has on the machine: the user who started the harness, when it became
    root of a namespace of its own."""
    return _entered[0] if _entered else os.geteuid()


def maps_uid(uid: int) -> bool:
    """Whether `uid` exists in this process's user namespace: a user it can switch to (as root)."""
    try:
        lines = Path("/proc/self/uid_map").read_text().splitlines()
    except OSError:
        return False
    for line in lines:
        inside, _, count = (int(word) for word in line.split())
        if inside <= uid < inside + count:
            return True
    return False


def unavailable() -> str | None:
    """Why this process cannot become root of a user namespace of its own, or None when it can
    (tried in a child, which changes nothing here)."""
    for path, forbidding, why in SYSCTLS:
        try:
            if Path(path).read_text().strip() == forbidding:
                return why
        except OSError:
            continue
    pid = os.fork()
    if pid == 0:  # the child: try, and say how it went in the exit status
        code = 0
        try:
            _become_root()
        except OSError as exc:
            code = min(exc.errno or 1, 125)
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return None if code == 0 else f"the kernel refused a user namespace ({os.strerror(code)})"


def enter() -> None:
    """Become root of a user, mount and network namespace of this process's own (see the module's
    docstring); OSError when the kernel refuses, RuntimeError when threads already run."""
    if threading.active_count() > 1 or len(os.listdir("/proc/self/task")) > 1:
        raise RuntimeError("a user namespace can only be made before the harness starts threads")
    uid = os.getuid()
    _become_root()
    mount(None, "/", MS_REC | MS_PRIVATE)
    _writable_netns_dir()
    subprocess.run(["ip", "link", "set", "lo", "up"], capture_output=True, check=False)
    _entered.append(uid)


def _become_root() -> None:
    uid, gid = os.getuid(), os.getgid()
    unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET)
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
    Path("/proc/self/gid_map").write_text(f"0 {gid} 1")


def _writable_netns_dir() -> None:
    """A tmpfs of its own at /run/netns; where that folder does not exist (nobody made a named network
    namespace on this machine yet), a tmpfs over /run with every entry of the old one bound back."""
    if NETNS_DIR.is_dir():
        _mount_tmpfs(NETNS_DIR)
        return
    run = NETNS_DIR.parent
    old = os.open(run, os.O_PATH | os.O_DIRECTORY)
    try:
        entries = list(os.scandir(f"/proc/self/fd/{old}"))
        _mount_tmpfs(run)
        for entry in entries:
            _bind_back(entry, run / entry.name)
    finally:
        os.close(old)
    NETNS_DIR.mkdir(mode=0o755)


def _bind_back(entry: os.DirEntry, target: Path) -> None:
    """Entry `entry` of the covered /run, at `target` in the new one: a link as it was, anything else
    bound from the old place (a folder with everything mounted under it)."""
    if entry.is_symlink():
        os.symlink(os.readlink(entry.path), target)
        return
    if entry.is_dir(follow_symlinks=False):
        target.mkdir()
    else:
        target.touch()
    mount(entry.path, str(target), MS_BIND | MS_REC)


def _mount_tmpfs(where: Path) -> None:
    mount("tmpfs", str(where), 0, "tmpfs", "mode=755")
