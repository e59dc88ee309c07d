"""Frames captured on a LAN, decoded into wire events for the record: who sent what to whom, when.

Addresses are named by the host that has them (`tracker`, or a user's name); an address that no host
of the LAN has keeps its number. What a datagram or a TCP segment carried is kept (bounded) so that
the judge can find a tweet's text in it.
"""

from __future__ import annotations

import socket

import dpkt

from harness.net.capture import Frame
from harness.run.records import WireEvent

PAYLOAD_KEPT = 4096  # bytes of each packet's payload kept in the record


def decode(frames: list[Frame], t0: float, addresses: dict[str, str]) -> list[WireEvent]:
    """One event per frame, in capture order; times in seconds since the scenario started."""
    host_of = {ip: name for name, ip in addresses.items()}
    return [_event(seq, frame, t0, host_of) for seq, frame in enumerate(frames)]


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
