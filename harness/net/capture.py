"""Capture every frame that crosses a LAN's switch, or a scenario's datagrams on loopback, with one clock.

One thread per scenario joins the switch's namespace (network namespaces are per thread), opens a
packet socket there, and keeps each frame as it enters the switch from a host (the copies the switch
sends out on the other ports, and the bridge device's own view, are the same frames and are left
out). Times are the kernel's receive timestamps, moved onto the harness's monotonic clock, so
packets and printed lines share one time line. What is kept is bounded like program output: past
the limit, frames are counted, not stored.

Where no LAN can be built (a grading container without NET_ADMIN), a packet socket can often still
watch loopback: `LoopbackCapture` keeps each frame once (as it arrives, not also as it leaves) when
a program of its scenario sent or received it, which the caller decides by port (run/port_owners.py).
"""

from __future__ import annotations

import ctypes
import os
import select
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import dpkt

from harness.net.lan import enter_namespace

ETH_P_ALL = 0x0003
SO_TIMESTAMPNS = 35
SO_RCVBUFFORCE = 33
SOL_PACKET, PACKET_STATISTICS = 263, 6
PACKET_OUTGOING = 4
LOOPBACK = "lo"
IPPROTO_TCP, IPPROTO_UDP = 6, 17
RECEIVE_BUFFER = 16 * 1024 * 1024  # a burst of frames waits here while the capture thread is busy
SNAPLEN = 65535
DEFAULT_LIMIT_BYTES = 8 * 1024 * 1024
Fate = Literal["delivered", "dropped", "duplicated"]  # duplicated: the extra copy a switch made


@dataclass(frozen=True)
class Frame:
    """One Ethernet frame as it entered the switch: when (monotonic and wall clock), where, what."""

    t: float  # the harness's monotonic clock
    wall: float  # seconds since the epoch, for the pcap file
    port: str
    data: bytes
    fate: Fate = "delivered"  # what a switch with faults did with it (net/switch.py)
    delay_ms: float | None = None  # how long that switch held it before sending it on


class Capture:
    """The frames of one LAN, from `start()` to `stop()`."""

    header_bytes = 0  # bytes the kernel puts before each frame read (a switch asks for a virtio header)
    # the protocol the socket is made with: every frame of the namespace, from the start (a capture that
    # binds to one interface makes it with none, see LoopbackCapture)
    protocol_at_open = socket.htons(ETH_P_ALL)

    def __init__(self, switch_namespace: Path | None, ports: list[str], limit_bytes: int = DEFAULT_LIMIT_BYTES) -> None:
        """`switch_namespace`: the namespace to capture in (None: the harness's own)."""
        self.namespace = switch_namespace
        self.ports = set(ports)
        self.limit = limit_bytes
        self.frames: list[Frame] = []
        self.kept_bytes = 0
        self.over_limit = 0  # frames past the limit, counted only
        self.kernel_drops = 0  # frames the kernel could not queue for the capture (a flood)
        self._wake_r, self._wake_w = os.pipe()
        self._ready = threading.Event()
        self._synced = threading.Event()
        self._stopped = threading.Event()  # the frames are final (the socket may still be closing)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="tweeter-capture", daemon=True)

    def start(self, timeout: float = 5.0) -> None:
        """Begin capturing; returns once the socket is open (raises if it could not be)."""
        self._thread.start()
        if not self._ready.wait(timeout):
            raise OSError("the capture did not start")
        if self._error is not None:
            raise OSError(f"could not capture on the LAN: {self._error}")

    def sync(self, timeout: float = 2.0) -> list[Frame]:
        """The frames so far, in time order, after reading every frame already queued."""
        if self._thread.is_alive():
            self._synced.clear()
            os.write(self._wake_w, b"s")
            self._synced.wait(timeout)
        return sorted(list(self.frames), key=lambda frame: frame.t)

    def stop(self) -> list[Frame]:
        """Stop, after reading every frame already queued; the frames in time order. The capture's
        thread closes its socket after that, on its own: closing a packet socket waits out an RCU
        grace period (some 10 ms), which no scenario needs to wait for."""
        if self._thread.is_alive():
            os.write(self._wake_w, b"x")
            self._stopped.wait(timeout=10)
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        return sorted(self.frames, key=lambda frame: frame.t)

    def _run(self) -> None:
        try:
            if self.namespace is not None:
                enter_namespace(self.namespace)
            sock = self._open()
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            return
        offset = time.time() - time.monotonic()  # wall clock minus monotonic, measured once
        self._ready.set()
        try:
            self._loop(sock, offset)
        finally:
            self._stopped.set()
            self._close(sock)

    def _open(self) -> socket.socket:
        """The socket that reads every frame of the switch's namespace (in the capture's thread)."""
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, self.protocol_at_open)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        sock.setblocking(False)
        _attach_filter(sock, ARRIVING)
        return sock

    def _close(self, sock: socket.socket) -> None:
        sock.close()

    def _loop(self, sock: socket.socket, offset: float) -> None:
        while True:
            ready, _, _ = select.select([sock, self._wake_r], [], [], self._idle_timeout())
            if sock in ready:
                self._drain(sock, offset)
            self._on_tick()
            if self._wake_r in ready:
                commands = os.read(self._wake_r, 64)
                self._drain(sock, offset)
                self._count_kernel_drops(sock)
                if b"x" in commands:
                    return
                self._synced.set()

    def _idle_timeout(self) -> float | None:
        """How long the thread may wait for a frame (None: until one comes); a switch has timers."""
        return None

    def _on_tick(self) -> None:
        """Called after every wake-up (a switch sends the frames whose delay is over)."""

    @property
    def dropped(self) -> int:
        """Frames that crossed the switch but are not kept: past the limit, or lost by the kernel."""
        return self.over_limit + self.kernel_drops

    def _count_kernel_drops(self, sock: socket.socket) -> None:
        try:  # reading the statistics resets them, so they add up
            _, drops = struct.unpack("II", sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
            self.kernel_drops += drops
        except OSError:
            pass

    def _drain(self, sock: socket.socket, offset: float) -> None:
        while True:
            try:
                data, ancillary, _, address = sock.recvmsg(SNAPLEN + self.header_bytes, 64)
            except (BlockingIOError, InterruptedError):
                return
            port, packet_type = address[0], address[2]
            if port not in self.ports or packet_type == PACKET_OUTGOING:
                continue
            wall = _timestamp(ancillary) or time.time()
            self._on_frame(port, wall, wall - offset, data)

    def _on_frame(self, port: str, wall: float, t: float, data: bytes) -> None:
        """One frame entered the switch from `port`: keep it."""
        self._keep(Frame(t, wall, port, data))

    def _keep(self, frame: Frame) -> None:
        """Store a frame while the limit allows, else count it."""
        if self.kept_bytes + len(frame.data) > self.limit:
            self.over_limit += 1
            return
        self.kept_bytes += len(frame.data)
        self.frames.append(frame)


class LoopbackCapture(Capture):
    """The frames on this machine's loopback that `concerns(source port, destination port)` keeps:
    each datagram or TCP segment once, as it arrived."""

    # Made with no protocol, the socket receives nothing until `bind` gives it loopback and every
    # protocol. Made with one, the kernel would first hook it to every interface, and binding would
    # unhook it and wait for every CPU to let go of it (an RCU grace period, 5-15 ms here) on each
    # scenario's way to its start.
    protocol_at_open = 0

    def __init__(self, concerns: Callable[[int, int], bool], limit_bytes: int = DEFAULT_LIMIT_BYTES) -> None:
        super().__init__(None, [LOOPBACK], limit_bytes)
        self.concerns = concerns

    def _open(self) -> socket.socket:
        sock = super()._open()
        _attach_filter(sock, ARRIVING_IPV4_UDP_TCP)
        sock.bind((LOOPBACK, ETH_P_ALL))
        return sock

    def _on_frame(self, port: str, wall: float, t: float, data: bytes) -> None:
        ends = transport_ports(data)
        if ends is not None and self.concerns(*ends):
            self._keep(Frame(t, wall, port, data))


# A classic BPF program for a switch's socket: a frame the switch sends on is dropped by the kernel (each
# frame would otherwise be read twice, entering the switch and leaving it, and `_drain` would drop the
# second). (code, jump if true, if false, k)
ARRIVING = (
    (0x20, 0, 0, 0xFFFFF004),  # 0: A = the frame's packet type (an ancillary load)
    (0x15, 1, 0, PACKET_OUTGOING),  # 1: leaving the switch: drop (3)
    (0x06, 0, 0, 0x40000),  # 2: keep the whole frame
    (0x06, 0, 0, 0),  # 3: drop
)
# A classic BPF program for the loopback socket: the kernel passes on only arriving IPv4 UDP and TCP
# frames, so the copy of every frame leaving loopback, and whatever else crosses it, never wakes the
# capture thread (what it passes is still checked by `_on_frame`). (code, jump if true, if false, k)
ARRIVING_IPV4_UDP_TCP = (
    (0x20, 0, 0, 0xFFFFF004),  # 0: A = the frame's packet type (an ancillary load)
    (0x15, 6, 0, PACKET_OUTGOING),  # 1: leaving loopback: drop (8)
    (0x28, 0, 0, 12),  # 2: A = the Ethernet type
    (0x15, 0, 4, 0x0800),  # 3: not IPv4: drop (8)
    (0x30, 0, 0, 23),  # 4: A = the IP protocol
    (0x15, 1, 0, IPPROTO_TCP),  # 5: TCP: keep (7)
    (0x15, 0, 1, IPPROTO_UDP),  # 6: UDP: keep (7), else drop (8)
    (0x06, 0, 0, 0x40000),  # 7: keep the whole frame
    (0x06, 0, 0, 0),  # 8: drop
)
SO_ATTACH_FILTER = 26


def _attach_filter(sock: socket.socket, program: tuple[tuple[int, int, int, int], ...]) -> None:
    """Attach a classic BPF `program` to `sock` (no privilege beyond the socket's own is needed)."""
    code = b"".join(struct.pack("HBBI", *instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(code)
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER,
                    struct.pack("HL", len(program), ctypes.addressof(buffer)))


def transport_ports(frame: bytes) -> tuple[int, int] | None:
    """(source, destination) port of a UDP datagram or TCP segment in an IPv4 Ethernet frame, read
    from the headers alone (every frame on loopback passes here); None for anything else."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] not in (IPPROTO_TCP, IPPROTO_UDP):
        return None
    start = 14 + (frame[14] & 0x0F) * 4
    if len(frame) < start + 4 or int.from_bytes(frame[20:22], "big") & 0x1FFF:
        return None  # a fragment past the first carries no ports
    return int.from_bytes(frame[start:start + 2], "big"), int.from_bytes(frame[start + 2:start + 4], "big")


def loopback_capture_unavailable() -> str | None:
    """Why loopback cannot be captured here (None: it can): a packet socket needs CAP_NET_RAW."""
    try:
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0) as sock:  # as LoopbackCapture makes it
            sock.bind((LOOPBACK, ETH_P_ALL))
    except OSError as exc:
        return f"no packet socket on loopback ({exc.strerror or exc}; it needs CAP_NET_RAW)"
    return None


def _timestamp(ancillary: list[tuple[int, int, bytes]]) -> float | None:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            seconds, nanoseconds = struct.unpack("qq", data[:16])
            return seconds + nanoseconds / 1e9
    return None


def write_pcap(frames: list[Frame], path: Path) -> None:
    """The frames as a pcap file (Ethernet, nanosecond timestamps) for Wireshark or tcpdump."""
    with path.open("wb") as out:
        writer = dpkt.pcap.Writer(out, snaplen=SNAPLEN, linktype=dpkt.pcap.DLT_EN10MB, nano=True)
        for frame in frames:
            writer.writepkt(frame.data, ts=frame.wall)


def fate_comment(frame: Frame, seed: int | None) -> str | None:
    """What the harness did to a frame, in a packet comment's words (None: passed as it came)."""
    seeded = f", seed {seed}" if seed is not None else ""
    if frame.fate == "dropped":
        return f"dropped by the harness (loss{seeded})"
    delayed = f"delayed {frame.delay_ms:g} ms" if frame.delay_ms else None
    if frame.fate == "duplicated":
        return f"duplicate copy made by the harness (duplicate{seeded})" + (f", {delayed}" if delayed else "")
    return f"{delayed} by the harness{seeded and f' ({seeded[2:]})'}" if delayed else None


_LITTLE = sys.byteorder == "little"  # dpkt's pcapng writer takes blocks in the machine's byte order
_PACKET_BLOCK = dpkt.pcapng.EnhancedPacketBlockLE if _LITTLE else dpkt.pcapng.EnhancedPacketBlock
_OPTION = dpkt.pcapng.PcapngOptionLE if _LITTLE else dpkt.pcapng.PcapngOption


def write_pcapng(frames: list[Frame], path: Path, seed: int | None) -> None:
    """The frames of a LAN with faults as a pcapng file: each packet the harness dropped, copied or held
    carries a comment that says so (Wireshark shows it under "Packet comments")."""
    with path.open("wb") as out:
        writer = dpkt.pcapng.Writer(out, snaplen=SNAPLEN, linktype=dpkt.pcap.DLT_EN10MB)
        for frame in frames:
            block = _PACKET_BLOCK(pkt_data=frame.data)
            comment = fate_comment(frame, seed)
            if comment:
                block.opts = [_OPTION(code=dpkt.pcapng.PCAPNG_OPT_COMMENT, text=comment),
                              _OPTION(code=dpkt.pcapng.PCAPNG_OPT_ENDOFOPT)]
            writer.writepkt(block, ts=frame.wall)
