"""The few route-netlink requests a virtual LAN is built with, sent from the harness's own process.

iproute2 (`ip`) configures one network namespace per process: a LAN of six hosts took eight `ip`
processes to build, each a few milliseconds of start-up (loading its libraries, linking) for a
handful of messages. The kernel takes the same messages from any netlink socket: one opened in a
namespace stays in it, whichever thread then uses it. So the harness opens one socket per namespace
(a short-lived thread joins the namespace to make it) and sends the messages itself: veth pairs
made directly in their hosts and the switch, the bridge and its ports, each host's address, and
every interface up without an IPv6 link-local address (no neighbour-discovery chatter on the wire).
Making the named namespaces stays with `ip netns add` (one batch per LAN), which also prepares
/run/netns the way other tools expect.

Every request asks for the kernel's acknowledgement; a refusal is an OSError naming the request and
the kernel's reason.
"""

from __future__ import annotations

import os
import socket
import struct

NETLINK_ROUTE = 0
RTM_NEWLINK, RTM_GETLINK, RTM_NEWADDR = 16, 18, 20
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
NLMSG_ERROR = 2
IFLA_IFNAME, IFLA_MASTER, IFLA_LINKINFO, IFLA_AF_SPEC, IFLA_NET_NS_FD = 3, 10, 18, 26, 28
IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER = 1, 2, 1
IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE = 8, 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
IFF_UP, IFF_PROMISC = 0x1, 0x100
LOOPBACK_INDEX = 1  # loopback is the first interface of every network namespace
ANSWER_LIMIT_S = 10.0
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port
_IFINFO = struct.Struct("=BxHiII")  # ifinfomsg: family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")  # ifaddrmsg: family, prefix length, flags, scope, index


def _attr(kind: int, payload: bytes) -> bytes:
    """One netlink attribute, padded to four bytes."""
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _name(kind: int, text: str) -> bytes:
    return _attr(kind, text.encode() + b"\0")


def _link(index: int = 0, flags: int = 0, change: int = 0) -> bytes:
    return _IFINFO.pack(socket.AF_UNSPEC, 0, index, flags, change)


class Route:
    """Requests over one route-netlink socket (`route_socket`, made in the namespace to change)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._sequence = 0

    def __enter__(self) -> "Route":
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def add_veth(self, name: str, namespace_fd: int, peer: str, peer_namespace_fd: int) -> None:
        """A veth pair: `name` made in the namespace open at `namespace_fd`, `peer` in the other."""
        peer_info = _link() + _name(IFLA_IFNAME, peer) + _attr(IFLA_NET_NS_FD, struct.pack("=I", peer_namespace_fd))
        kind = _name(IFLA_INFO_KIND, "veth") + _attr(IFLA_INFO_DATA, _attr(VETH_INFO_PEER, peer_info))
        self._ask(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, _link() + _name(IFLA_IFNAME, name)
                  + _attr(IFLA_NET_NS_FD, struct.pack("=I", namespace_fd)) + _attr(IFLA_LINKINFO, kind),
                  f"make the veth pair {name}/{peer}")

    def add_bridge(self, name: str) -> None:
        self._ask(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL,
                  _link() + _name(IFLA_IFNAME, name) + _attr(IFLA_LINKINFO, _name(IFLA_INFO_KIND, "bridge")),
                  f"make the bridge {name}")

    def set_link(self, name: str, up: bool = False, promiscuous: bool = False, master: int | None = None,
                 no_ipv6_address: bool = False) -> None:
        """Change the interface `name`: no IPv6 address of its own (set before it is up), a switch's
        port (`master`: the bridge's index), promiscuous, up."""
        flags = (IFF_UP if up else 0) | (IFF_PROMISC if promiscuous else 0)
        attrs = _name(IFLA_IFNAME, name)
        if master is not None:
            attrs += _attr(IFLA_MASTER, struct.pack("=I", master))
        if no_ipv6_address:
            mode = _attr(IFLA_INET6_ADDR_GEN_MODE, struct.pack("=B", IN6_ADDR_GEN_MODE_NONE))
            attrs += _attr(IFLA_AF_SPEC, _attr(socket.AF_INET6, mode))
        self._ask(RTM_NEWLINK, 0, _link(flags=flags, change=flags) + attrs, f"set up the interface {name}")

    def set_up(self, index: int) -> None:
        self._ask(RTM_NEWLINK, 0, _link(index, IFF_UP, IFF_UP), f"bring up interface {index}")

    def add_ipv4(self, index: int, address: str, prefix_length: int) -> None:
        packed = socket.inet_aton(address)
        self._ask(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL,
                  _IFADDR.pack(socket.AF_INET, prefix_length, 0, 0, index)
                  + _attr(IFA_LOCAL, packed) + _attr(IFA_ADDRESS, packed), f"give interface {index} {address}")

    def index_of(self, name: str) -> int:
        """The index of the interface `name` in this socket's namespace."""
        reply = self._ask(RTM_GETLINK, 0, _link() + _name(IFLA_IFNAME, name), f"find the interface {name}")
        return _IFINFO.unpack_from(reply, _HEADER.size)[2]

    def _ask(self, kind: int, flags: int, body: bytes, what: str) -> bytes:
        """Send one request and return the kernel's answer (a reply, else its acknowledgement)."""
        self._sequence += 1
        self.sock.send(_HEADER.pack(_HEADER.size + len(body), kind, NLM_F_REQUEST | NLM_F_ACK | flags,
                                    self._sequence, 0) + body)
        answer = None
        while True:
            data = self.sock.recv(65536)
            for message in _messages(data):
                _, message_kind, _, sequence, _ = _HEADER.unpack_from(message)
                if sequence != self._sequence:
                    continue
                if message_kind != NLMSG_ERROR:
                    answer = message
                    continue
                error = -struct.unpack_from("=i", message, _HEADER.size)[0]
                if error:
                    raise OSError(error, f"could not {what}: {os.strerror(error)}")
                return answer if answer is not None else message


def _messages(data: bytes) -> list[bytes]:
    """The netlink messages of one datagram."""
    found, offset = [], 0
    while offset + _HEADER.size <= len(data):
        length = _HEADER.unpack_from(data, offset)[0]
        if length < _HEADER.size:
            break
        found.append(data[offset:offset + length])
        offset += (length + 3) & ~3
    return found


def route_socket() -> socket.socket:
    """A route-netlink socket in the calling thread's network namespace."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    sock.bind((0, 0))
    sock.settimeout(ANSWER_LIMIT_S)  # the kernel answers at once: a silence is an error, never a hang
    return sock
