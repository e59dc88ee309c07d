"""Which network a grading run uses: `hosts` (a virtual LAN per scenario) or `loopback`.

`auto` means hosts wherever the harness can build one here: it runs as root, or (started by an
ordinary user) it can become root of a user namespace of its own (net/rootless.py); iproute2 is
installed; and the kernel lets it make a network namespace, a veth pair, a bridge, a packet socket
and a host name of its own. The probe really builds a two-host LAN once per harness process and
removes it, so the reason given for falling back names what is missing. On loopback the programs'
datagrams are still captured wherever a packet socket can watch loopback (CAP_NET_RAW: root, even in
a default container), and the evidence says which of the three applied.
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
from harness.net import rootless

Mode = Literal["auto", "hosts", "loopback"]
WIRE_HINT = ("For the wire, grade as root, or as a user where user namespaces are allowed "
             "(`--network auto` uses them), so that every program gets a host of its own; where neither is "
             "possible, a harness with the capability NET_RAW (root, even in a container) captures loopback.")
MODES = ("auto", "hosts", "loopback")


@dataclass(frozen=True)
class NetworkChoice:
    mode: Literal["hosts", "loopback"]
    reason: str
    rootless: bool = False  # hosts built as root of a user namespace of the harness's own (net/rootless.py)
    without_hosts: str = ""  # on loopback: why not on hosts ("asked for", or what is missing here)
    capture: bool = False  # on loopback: every datagram of the programs captured there (net/capture.py)
    without_capture: str = ""  # on loopback without a capture: what is missing for one

    @property
    def label(self) -> str:
        """"hosts (rootless)", "hosts" or "loopback": the mode as the reports name it."""
        return f"{self.mode} (rootless)" if self.rootless else self.mode

    @property
    def evidence(self) -> tuple[str, str]:
        """(which evidence the verdicts rest on, why): "wire (LAN)" where every packet is captured on a
        LAN, "wire (loopback capture)" where the programs' datagrams are captured on loopback, else
        "console only", with what the wire would take."""
        if self.mode == "hosts":
            how = "a virtual LAN of its own, built without root" if self.rootless else "a virtual LAN of its own"
            return "wire (LAN)", f"every packet between the programs captured on {how}"
        if self.capture:
            return "wire (loopback capture)", (
                "every datagram and TCP segment on the loopback of this machine to or from a program of the "
                f"scenario captured, and named by the program that owns its port (no LAN: {self.without_hosts})")
        return "console only", (f"no packet captured (no LAN: {self.without_hosts}; no loopback capture: "
                                f"{self.without_capture}), so what only the wire shows stays unverified. {WIRE_HINT}")

    def to_json(self) -> dict:
        """The network as report.json records it for a submission."""
        level, why = self.evidence
        return {"mode": self.mode, "label": self.label, "reason": self.reason, "rootless": self.rootless,
                "capture": self.capture_kind, "evidence": level, "evidence_reason": why}

    @property
    def capture_kind(self) -> Literal["lan", "loopback"] | None:
        """Where the programs' packets are captured: on a LAN, on loopback, or nowhere (None)."""
        return "lan" if self.mode == "hosts" else "loopback" if self.capture else None


def choose(requested: str, own_namespace: bool = True) -> NetworkChoice:
    """The network to grade with; asking for hosts where it cannot be had is an error saying why.
    Without root, and with `own_namespace`, the whole process becomes root of a user namespace of its
    own for good (net/rootless.py): only a process that exists to grade may ask for that."""
    if requested not in MODES:
        raise HarnessError(f"--network {requested}: choose one of {', '.join(MODES)}")
    if requested == "loopback":
        return _loopback("asked for (--network loopback)", "--network loopback asked for")
    without_root = None
    if os.geteuid() != 0 and not rootless.entered():
        without_root = _become_root_of_own_namespace() if own_namespace else \
            "virtual LANs need root, or a process of their own (run `tweeter-harness check`)"
    missing = without_root or hosts_unavailable()
    if missing is None:
        why = "asked for (--network hosts)" if requested == "hosts" else "auto: virtual LANs can be built here"
        how = " without root (in a user namespace of the harness's own)" if rootless.entered() else ""
        return NetworkChoice("hosts", f"{why}{how}: every program on a host of its own, every packet captured",
                             rootless.entered())
    if requested == "hosts":
        raise HarnessError(f"--network hosts is not available here: {missing}")
    return _loopback(f"auto: {missing}", missing)


def _loopback(why: str, without_hosts: str) -> NetworkChoice:
    """Loopback, with its datagrams captured wherever a packet socket can watch it."""
    from harness.net.capture import loopback_capture_unavailable
    missing = loopback_capture_unavailable()
    seen = "wire evidence not available" if missing else "every datagram of the programs captured on loopback"
    return NetworkChoice("loopback", f"{why}: every program on this machine's loopback, {seen}",
                         without_hosts=without_hosts, capture=missing is None, without_capture=missing or "")


def _become_root_of_own_namespace() -> str | None:
    """Started without root: become root of a user namespace of the harness's own, where LANs can be
    built (net/rootless.py); else why not."""
    if shutil.which("ip") is None:
        return "virtual LANs need the `ip` command (package iproute2)"
    refused = rootless.unavailable()
    if refused is not None:
        return f"virtual LANs need root or user namespaces: {refused}"
    try:
        rootless.enter()
    except (OSError, RuntimeError) as exc:
        return f"virtual LANs need root or a user namespace, which could not be made ({exc})"
    hosts_unavailable.cache_clear()  # probed again, as root of the new namespace
    return None


CAP_NET_ADMIN = 12


def has_capability(number: int) -> bool:
    """Whether this process has capability `number` in force (its effective set; /proc/self/status)."""
    try:
        status = Path("/proc/self/status").read_text()
        effective = next(line.split()[1] for line in status.splitlines() if line.startswith("CapEff:"))
    except (OSError, StopIteration, IndexError):
        return True  # cannot tell: the probe that builds a LAN decides
    return bool(int(effective, 16) >> number & 1)


@functools.cache
def hosts_unavailable() -> str | None:
    """Why hosts mode cannot run here, or None when it can (probed once per process)."""
    if os.geteuid() != 0:
        return "virtual LANs need root, or user namespaces (`--network auto` makes one)"
    if shutil.which("ip") is None:
        return "virtual LANs need the `ip` command (package iproute2)"
    if not has_capability(CAP_NET_ADMIN):
        return ("virtual LANs need the capability NET_ADMIN, which this process does not have (as root of a "
                "container without it: Docker's default)")
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
