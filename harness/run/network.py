"""One scenario's network: the addresses and ports its programs get, and where each one runs.

Loopback: every program on this machine's loopback; ports reserved so that parallel scenarios do not
collide, a hard-coded port held by one scenario at a time, a hard-coded address usable only if it is
one of this machine's; where a packet socket can watch loopback, the datagrams and segments that the
scenario's programs send and receive there are captured, each named by the program that owns its
port (run/port_owners.py). Hosts: a virtual LAN of its own (net/lan.py) with the tracker and each user
on a host of its own, and every frame on it captured (net/capture.py) into the record; with network
faults, the LAN has no bridge and a switch in user space forwards, spoils and captures its frames
(net/switch.py). In a grading run the LAN was built while the scenario before ran, and is removed
after this one ends, off its critical path (net/lan_pool.py). In both, the group's range of ports
(network.ports) bounds the tracker's port as well as the users' (a tracker may refuse any other),
unless the manifest pins the tracker's port.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from pathlib import Path
from typing import Callable

from harness.inputs.manifest import NetworkPins
from harness.inputs.scenario import Faults
from harness.net.capture import Capture, Frame, LoopbackCapture
from harness.net import lan_pool
from harness.net.lan import Host, LanShape, VirtualLan
from harness.net.mode import NetworkChoice
from harness.net.switch import FaultySwitch
from harness.run import packets, ports
from harness.run.port_owners import PortOwners
from harness.run.driver import TRACKER, SetupError
from harness.run.records import ScenarioRecord, WireEvent

LOOPBACK_IP = "127.0.0.1"


def is_local_address(ip: str) -> bool:
    """Whether this machine has `ip` (a program could bind it here)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((ip, 0))
        except OSError:
            return False
    return True


def pinned_address_problem(choice: NetworkChoice, pins: NetworkPins) -> str | None:
    """Why a tracker address the submission hard-codes cannot be given out on this network, or None."""
    pinned = pins.tracker.ip
    if pinned is None:
        return None
    if choice.mode == "hosts" and ipaddress.IPv4Address(pinned).is_loopback:
        return (f"the submission hard-codes the tracker's address {pinned}, a loopback address: on a LAN no "
                "other host can reach it; grade it with --network loopback")
    if choice.mode == "loopback" and not is_local_address(pinned):
        return (f"the submission hard-codes the tracker's address {pinned}, which this machine does not "
                "have; grade it as root (--network hosts) so that the harness can give the tracker that "
                "address on a virtual LAN")
    return None


class ScenarioNetwork:
    """Addresses, ports and hosts of one scenario; `close()` releases or removes all of it."""

    def __init__(self, choice: NetworkChoice, pins: NetworkPins, users: list[str], ports_per_user: int,
                 folder: Path, abort: threading.Event, faults: Faults | None = None, seed: int = 0) -> None:
        """`faults` (hosts mode only): applied by a switch in user space, drawn from `seed`."""
        self.choice = choice
        self.faults = faults
        self.seed = seed
        self.lan: VirtualLan | None = None
        self.capture: Capture | None = None
        self.owners: PortOwners | None = None  # on loopback with a capture: which program has which port
        self._decoder: packets.Decoder | None = None  # the capture decoded so far, while the scenario runs
        self._stack = contextlib.ExitStack()
        self.reserved: list[int] = []
        pinned_ip, pinned_port = pins.tracker.ip, pins.tracker.port
        problem = pinned_address_problem(choice, pins)
        if problem:
            raise SetupError(problem)
        group_range = [pins.ports] if pins.ports else None  # the tracker's port too, unless pinned
        count = ports_per_user * len(users)
        wanted = count + (0 if pinned_port else 1)
        pinned = {pinned_port} if pinned_port else set()
        try:
            if choice.mode == "hosts":
                self._hosts(pinned_ip, folder, users)
                drawn = ports.allocate(wanted, group_range, shared=False, exclude=pinned)
            else:
                self._loopback(pinned_ip, users)
                if pinned_port:
                    self._stack.enter_context(ports.pinned(pinned_port, abort))
                drawn = self.reserved = ports.allocate(wanted, group_range, exclude=pinned)
            tracker_port = pinned_port or drawn[-1]
            user_ports = drawn[:count]
        except BaseException:
            self.close()
            raise
        self.tracker_port = tracker_port
        self.user_ports = {name: user_ports[i * ports_per_user:(i + 1) * ports_per_user]
                           for i, name in enumerate(users)}
        if choice.mode == "loopback" and choice.capture:
            self._capture_loopback()

    def _capture_loopback(self) -> None:
        """Watch loopback for what the scenario's programs send and receive; `watch` names them."""
        assigned = {port: name for name, held in self.user_ports.items() for port in held}
        self.owners = PortOwners({**assigned, self.tracker_port: TRACKER})
        self.capture = LoopbackCapture(self.owners.concerns)
        try:
            self.capture.start()
        except OSError as exc:
            self.close()
            raise SetupError(f"could not capture loopback: {exc}") from None

    def watch(self, programs: Callable[[], dict[str, int]]) -> None:
        """`programs()`: the pid of each program started so far, by name (tracker, user names)."""
        if self.owners is not None:
            self.owners.programs = programs

    @property
    def captured(self) -> bool:
        """Whether the programs' packets are captured (on the LAN, or on loopback)."""
        return self.capture is not None

    def _hosts(self, pinned_ip: str | None, folder: Path, users: list[str]) -> None:
        names = [TRACKER, *users]
        self.lan = lan_pool.take(LanShape.of(names, {TRACKER: pinned_ip} if pinned_ip else None,
                                             bridge=self.faults is None), names, folder)
        self.ip = self.lan.address_of()
        self.capture = Capture(self.lan.switch_path, self.lan.ports) if self.faults is None else \
            FaultySwitch(self.lan.switch_path, self.lan.ports, self.faults, self.seed)
        self.capture.start()

    def _loopback(self, pinned_ip: str | None, users: list[str]) -> None:
        self.ip = {TRACKER: pinned_ip or LOOPBACK_IP, **{name: LOOPBACK_IP for name in users}}

    def describe(self, record: ScenarioRecord) -> None:
        """Put the network in the record as soon as it exists: the judge's view during the run
        (whether the script can go on) must use the same evidence as the final verdict."""
        record.network.mode = self.choice.mode
        record.network.reason = self.choice.reason
        record.network.hosts = dict(self.ip)
        record.network.capture = self.choice.capture_kind if self.capture is not None else None

    def enter(self, name: str) -> Host | None:
        """The host program `name` joins (None on loopback)."""
        return self.lan.hosts[name] if self.lan is not None else None

    def description(self) -> str:
        if self.lan is None:
            captured = ", its programs' datagrams captured" if self.capture is not None else ""
            return f"loopback: shared with this machine{captured}"
        faults = f", faults: {self.faults.describe(self.seed)}" if self.faults is not None else ""
        return (f"hosts: a virtual LAN of its own ({self.lan.subnet}), one host per program, "
                f"no route out, every frame captured{faults}")

    def wire_so_far(self, t0: float) -> list[WireEvent]:
        """Every frame captured until now, decoded (empty without a capture)."""
        if self.capture is None:
            return []
        return self._decoded(self.capture.sync(), t0)

    def _decoded(self, frames: list[Frame], t0: float) -> list[WireEvent]:
        """Frames as wire events, each decoded once: on a LAN each end named by its host's address, on
        loopback by the program that owns its port."""
        if self._decoder is None or self._decoder.t0 != t0:
            owners = self.owners.known if self.owners is not None else None
            self._decoder = packets.Decoder(t0, self.lan.address_of()) if self.lan is not None else \
                packets.Decoder(t0, {}, owners)
        return self._decoder.events(frames)

    def close(self, record: ScenarioRecord | None = None, t0: float = 0.0) -> None:
        """Stop the capture (into `record`), remove the LAN, release the ports. Call once every
        program is gone."""
        try:
            if self.capture is not None:
                frames = self.capture.stop()
                if record is not None:
                    record.frames = frames
                    record.wire = self._decoded(frames, t0)
                    record.network.capture_dropped = self.capture.dropped
        finally:
            if self.lan is not None:
                lan_pool.give_back(self.lan)  # removed behind the scenario in a grading run
            ports.release(self.reserved)
            self._stack.close()
