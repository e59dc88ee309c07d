"""Which network a grading run uses: `hosts` (a virtual LAN per scenario) or `loopback`.

`auto` means hosts wherever the harness can build one here: it runs as root, iproute2 is installed,
and the kernel lets it make a network namespace, a veth pair, a bridge, a packet socket and a host
name of its own. The probe really builds a two-host LAN once per harness process and removes it, so
the reason given for falling back names what is missing.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from harness.errors import HarnessError

Mode = Literal["auto", "hosts", "loopback"]
MODES = ("auto", "hosts", "loopback")


@dataclass(frozen=True)
class NetworkChoice:
    mode: Literal["hosts", "loopback"]
    reason: str


def choose(requested: str) -> NetworkChoice:
    """The network to grade with; asking for hosts where it cannot be had is an error saying why."""
    if requested not in MODES:
        raise HarnessError(f"--network {requested}: choose one of {', '.join(MODES)}")
    if requested == "loopback":
        return NetworkChoice("loopback", "asked for (--network loopback): every program on this machine's "
                             "loopback, wire evidence not available")
    missing = hosts_unavailable()
    if missing is None:
        why = "asked for (--network hosts)" if requested == "hosts" else "auto: virtual LANs can be built here"
        return NetworkChoice("hosts", f"{why}: every program on a host of its own, every packet captured")
    if requested == "hosts":
        raise HarnessError(f"--network hosts is not available here: {missing}")
    return NetworkChoice("loopback", f"auto: {missing}; every program on this machine's loopback, "
                         "wire evidence not available")


@functools.cache
def hosts_unavailable() -> str | None:
    """Why hosts mode cannot run here, or None when it can (probed once per process)."""
    if os.geteuid() != 0:
        return "virtual LANs need root (network namespaces)"
    if shutil.which("ip") is None:
        return "virtual LANs need the `ip` command (package iproute2)"
    from harness.net.capture import Capture
    from harness.net.lan import make_lan, remove_stale
    remove_stale()
    with tempfile.TemporaryDirectory(prefix="tweeter-probe-") as folder:
        try:
            lan = make_lan(["tracker", "probe"], Path(folder))
        except (HarnessError, OSError) as exc:
            return f"the kernel refused a virtual LAN ({exc})"
        try:
            capture = Capture(lan.switch_path, lan.ports)
            capture.start()
            capture.stop()
        except OSError as exc:
            lan.close()
            return f"no packet capture on the LAN ({exc})"
        try:  # the steps a program takes to join its host
            subprocess.run(["true"], preexec_fn=lan.hosts["probe"].enter, check=True, capture_output=True)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"a program could not join a host of the LAN (UTS or mount namespace refused: {exc})"
        finally:
            lan.close()
    return None
