"""A switch in user space for a LAN with network faults: it forwards every frame itself, so it can
drop, copy and hold them, and it is the capture too (each frame's fate is recorded).

Why in user space: this kernel has no `netem` queueing discipline, so delaying and reordering cannot
be left to the kernel; a thread that forwards the frames can do all four faults with one mechanism,
and sees every frame at the one place where its fate is decided. The LAN is built without its bridge
(`make_lan(..., bridge=False)`): the switch's ports stay apart, and this thread reads all of them with one
packet socket (as the capture does) and sends on each through a packet socket bound to it. It learns
which port has which MAC address, as a bridge does, and floods broadcasts and unknown addresses.

Faults apply to IPv4 frames (UDP, TCP, anything over IPv4) between hosts; ARP and every other frame
passes at once, untouched, so that hosts still find each other. A decision never depends on timing
or on the bytes a frame carries (the reference's request ids come from the clock): it is drawn from
a generator seeded with (seed, source address, destination address, n), n counting the IPv4 frames
from that source to that destination so far. The same seed and the same traffic per pair of hosts
give the same faults.

Delays wait on a heap of timers, which the thread's `select` timeout serves: no sleeping. Without
`reorder` the frames of one pair of hosts leave in the order they came (a frame waits for the one
before it); with it they may overtake each other. A duplicate is sent after the original, after a
delay of its own when frames are held.

Packet sockets read frames as the kernel holds them: with a checksum still to compute and, for TCP,
several segments in one (offloads of the hosts' interfaces). The switch reads and sends them with
their virtio header (PACKET_VNET_HDR), so the kernel finishes them on the way out as a bridge would.
"""

from __future__ import annotations

import heapq
import itertools
import random
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from harness.inputs.scenario import Faults
from harness.net.capture import DEFAULT_LIMIT_BYTES, SOL_PACKET, Capture, Frame

PACKET_VNET_HDR = 15  # SOL_PACKET option: frames carry a virtio_net_hdr (checksum and segmentation state)
VNET_HEADER = 10
ETHERTYPE_IPV4 = b"\x08\x00"


@dataclass(frozen=True)
class Decision:
    """What happens to one IPv4 frame: dropped, or sent once or twice after these delays (ms)."""

    dropped: bool
    delays_ms: tuple[float, ...]  # one per copy sent: the original, then its duplicate if any


def decide(faults: Faults, seed: int, src: str, dst: str, n: int) -> Decision:
    """The fate of the `n`th IPv4 frame from `src` to `dst` (addresses), from the seed alone.

    Every draw is made whatever the outcome, so one frame's fate does not shift the next one's."""
    draw = random.Random(f"{seed}|{src}|{dst}|{n}")
    dropped = draw.random() < faults.loss
    copies = 2 if draw.random() < faults.duplicate else 1
    span = faults.delay_range()
    delays = [draw.uniform(*span) if span else 0.0 for _ in range(2)]
    return Decision(dropped, tuple(delays[:copies]))


class FaultySwitch(Capture):
    """Forwards the frames of one LAN between its ports, applying `faults`; keeps every frame with
    its fate. Same interface as the capture: `start()`, `sync()`, `stop()`, `dropped`."""

    header_bytes = VNET_HEADER

    def __init__(self, switch_namespace: Path, ports: list[str], faults: Faults, seed: int,
                 limit_bytes: int = DEFAULT_LIMIT_BYTES) -> None:
        super().__init__(switch_namespace, ports, limit_bytes)
        self.faults = faults
        self.seed = seed
        self._senders: dict[str, socket.socket] = {}
        self._port_of_mac: dict[bytes, str] = {}
        self._counts: dict[tuple[str, str], int] = {}
        self._last_due: dict[tuple[str, str], float] = {}  # without reorder: a pair's frames keep their order
        self._timers: list[tuple[float, int, str, bytes]] = []  # (due, order, in-port, header + frame)
        self._order = itertools.count()
        self._thread.name = "tweeter-switch"

    def _open(self) -> socket.socket:
        sock = super()._open()
        sock.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
        for port in sorted(self.ports):
            sender = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # 0: it reads nothing
            sender.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
            sender.bind((port, 0))
            self._senders[port] = sender
        return sock

    def _close(self, sock: socket.socket) -> None:
        for sender in self._senders.values():
            sender.close()
        super()._close(sock)

    def _idle_timeout(self) -> float | None:
        return max(0.0, self._timers[0][0] - time.monotonic()) if self._timers else None

    def _on_tick(self) -> None:
        self._send_due(time.monotonic())

    def _send_due(self, now: float) -> None:
        """Send every held frame whose time has come, in the order of their times."""
        while self._timers and self._timers[0][0] <= now:
            _, _, port, packet = heapq.heappop(self._timers)
            self._forward(port, packet)

    def _on_frame(self, port: str, wall: float, t: float, data: bytes) -> None:
        frame = data[VNET_HEADER:]
        self._port_of_mac[frame[6:12]] = port
        pair = _ipv4_pair(frame)
        if pair is None:
            self._forward(port, data)
            self._keep(Frame(t, wall, port, frame))
            return
        n = self._counts.get(pair, 0)
        self._counts[pair] = n + 1
        decision = decide(self.faults, self.seed, pair[0], pair[1], n)
        if decision.dropped:
            self._keep(Frame(t, wall, port, frame, fate="dropped"))
            return
        now = time.monotonic()
        self._send_due(now)  # what is still held is due later: a frame that must follow it waits too
        for copy, delay in enumerate(decision.delays_ms):
            held = self._schedule(pair, port, data, now, delay)
            self._keep(Frame(t, wall, port, frame, fate="duplicated" if copy else "delivered",
                             delay_ms=held if self.faults.delay_range() else None))

    def _schedule(self, pair: tuple[str, str], port: str, packet: bytes, now: float, delay_ms: float) -> float:
        """Send `packet` now or put it on the timers; how long it is held, in milliseconds."""
        due = now + delay_ms / 1000
        if not self.faults.reorder:
            due = max(due, self._last_due.get(pair, 0.0))
            self._last_due[pair] = due
        if due <= now:
            self._forward(port, packet)
        else:
            heapq.heappush(self._timers, (due, next(self._order), port, packet))
        return round((due - now) * 1000, 3)

    def _forward(self, in_port: str, packet: bytes) -> None:
        """Out of the port that has the destination's MAC address, or every other port."""
        destination = packet[VNET_HEADER:VNET_HEADER + 6]
        known = self._port_of_mac.get(destination) if not destination[0] & 1 else None
        for port in [known] if known else [p for p in self._senders if p != in_port]:
            if port == in_port:
                continue
            try:
                self._senders[port].send(packet)
            except OSError:  # the host is gone (its namespace removed at the end): nothing to deliver to
                pass


def _ipv4_pair(frame: bytes) -> tuple[str, str] | None:
    """(source, destination) addresses of an IPv4 frame; None for ARP and everything else."""
    if len(frame) < 34 or frame[12:14] != ETHERTYPE_IPV4:
        return None
    return socket.inet_ntoa(frame[26:30]), socket.inet_ntoa(frame[30:34])

