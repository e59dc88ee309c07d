"""Frames captured on a LAN or on loopback, decoded into wire events for the record: who sent what
to whom, when.

On a LAN each end is named by the host that has its address (`tracker`, or a user's name); an address
that no host of the LAN has keeps its number. On loopback every program has the same address, so
each end is named by the program that owns its port (run/port_owners.py), else keeps its address.
What a datagram or a TCP segment carried is kept (bounded) so that the judge can find a tweet's text
in it.
"""

from __future__ import annotations

import socket

import dpkt

from harness.net.capture import Frame
from harness.run.records import WireEvent

PAYLOAD_KEPT = 4096  # bytes of each packet's payload kept in the record


class Decoder:
    """The frames of one capture decoded as they come: the judge asks for the wire after every step
    and while waits settle, so each frame is decoded once, not at every look. On loopback an end
    whose port had no known owner yet is named again at each look (its owner may be found later)."""

    def __init__(self, t0: float, addresses: dict[str, str], port_owner: dict[int, str] | None = None) -> None:
        self.t0 = t0
        self.host_of = {ip: name for name, ip in addresses.items()}
        self.port_owner = port_owner
        self._events: list[WireEvent] = []
        self._unnamed: list[WireEvent] = []  # events with an end still named by its address

    def events(self, frames: list[Frame]) -> list[WireEvent]:
        """Every frame of `frames` (the capture so far, which only grows) as an event."""
        for seq in range(len(self._events), len(frames)):
            event = _event(seq, frames[seq], self.t0, self.host_of)
            self._events.append(event)
            if self.port_owner is not None and (event.sport is not None or event.dport is not None):
                self._unnamed.append(event)
        if self._unnamed:
            self._unnamed = [event for event in self._unnamed if not self._named(event)]
        return list(self._events)

    def _named(self, event: WireEvent) -> bool:
        """Name `event`'s ends by the programs that own their ports; whether both are named now."""
        owners = self.port_owner or {}
        if event.src == event.src_ip and event.sport in owners:
            event.src = owners[event.sport]
        if event.dst == event.dst_ip and event.dport in owners:
            event.dst = owners[event.dport]
        return event.src != event.src_ip and event.dst != event.dst_ip


def _event(seq: int, frame: Frame, t0: float, host_of: dict[str, str]) -> WireEvent:
    event = WireEvent(seq=seq, t=round(frame.t - t0, 6), length=len(frame.data), proto="other", fate=frame.fate,
                      delay_ms=frame.delay_ms)
    try:
        ethernet = dpkt.ethernet.Ethernet(frame.data)
    except (dpkt.UnpackError, ValueError):
        return event
    packet = ethernet.data
    if isinstance(packet, dpkt.arp.ARP):
        event.proto = "arp"
        event.src_ip, event.dst_ip = socket.inet_ntoa(packet.spa), socket.inet_ntoa(packet.tpa)
    elif isinstance(packet, dpkt.ip.IP):
        event.proto = "ip"
        event.src_ip, event.dst_ip = socket.inet_ntoa(packet.src), socket.inet_ntoa(packet.dst)
        segment = packet.data
        if isinstance(segment, (dpkt.udp.UDP, dpkt.tcp.TCP)):
            event.proto = "udp" if isinstance(segment, dpkt.udp.UDP) else "tcp"
            event.sport, event.dport = segment.sport, segment.dport
            event.payload = bytes(segment.data)[:PAYLOAD_KEPT]
            if isinstance(segment, dpkt.tcp.TCP):
                event.tcp_flags = _flags(segment.flags)
        elif isinstance(segment, dpkt.icmp.ICMP):
            event.proto = "icmp"
    event.src = host_of.get(event.src_ip or "", event.src_ip)
    event.dst = host_of.get(event.dst_ip or "", event.dst_ip)
    return event


def _flags(flags: int) -> str:
    names = ((dpkt.tcp.TH_SYN, "S"), (dpkt.tcp.TH_FIN, "F"), (dpkt.tcp.TH_RST, "R"), (dpkt.tcp.TH_PUSH, "P"),
             (dpkt.tcp.TH_ACK, "A"))
    return "".join(letter for bit, letter in names if flags & bit)
