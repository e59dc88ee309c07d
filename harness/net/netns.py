"""A fresh network namespace per scenario (--isolate-network): loopback only.

Inside it a submission cannot reach anything but its own scenario's processes, and parallel
scenarios cannot collide on ports. The harness needs no network access to its children (it talks to
them through their terminals), so only the children join the namespace, between fork and exec.
"""

from __future__ import annotations

import ctypes
import os
import random
import shutil
import subprocess
from pathlib import Path

from harness.errors import HarnessError

CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")


def check_available() -> None:
    """Fail early, with the reason, when isolation cannot be had here."""
    if os.geteuid() != 0:
        raise HarnessError("--isolate-network needs root (it creates a network namespace per scenario)")
    if shutil.which("ip") is None:
        raise HarnessError("--isolate-network needs the `ip` command (package iproute2)")


class NetworkNamespace:
    """A named namespace with loopback up; removed by `close()`."""

    def __init__(self) -> None:
        self.name = f"tweeter-{os.getpid()}-{random.getrandbits(32):08x}"
        _ip("netns", "add", self.name)
        try:
            _ip("-n", self.name, "link", "set", "lo", "up")
        except HarnessError:
            self.close()
            raise

    @property
    def path(self) -> Path:
        return NETNS_DIR / self.name

    def enter(self) -> None:
        """Move the calling process into the namespace (for preexec, before dropping root)."""
        fd = os.open(self.path, os.O_RDONLY)
        try:
            if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns failed")
        finally:
            os.close(fd)

    def close(self) -> None:
        subprocess.run(["ip", "netns", "delete", self.name], capture_output=True, check=False)


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise HarnessError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")
