"""A virtual campus LAN per scenario: a switch and one host per program, nothing else.

The switch is a Linux bridge in a network namespace of its own (or, for a scenario with network
faults, the bare ports that a switch in user space joins: net/switch.py); each host is a network namespace
with loopback and one interface (`eth0`, a veth whose other end is a port of the switch) and one
IPv4 address in the scenario's subnet. There is no route anywhere else, and nothing of the LAN is in
the harness's own namespace, so parallel scenarios cannot collide on addresses or ports and a
submission cannot reach a real interface.

A program joins its host between fork and exec (`Host.enter`): the host's network namespace, plus a
UTS and a mount namespace of its own, where its host name is set and `/etc/hosts` names every host
of the LAN, so `gethostname()`, `getfqdn()` and binding them work as on a campus machine.

The namespaces are made by iproute2 (`ip netns add`, one batch per LAN), everything in them by
netlink from the harness's own process (net/netlink.py): a LAN of six hosts takes about 15 ms to make
(it took 35-55 ms with one `ip` process per namespace) and under a millisecond to remove.
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import os
import random
import re
import socket
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from harness.errors import HarnessError
from harness.net.netlink import LOOPBACK_INDEX, Route, route_socket

NETNS_DIR = Path("/run/netns")
PREFIX = "tweeter-"  # every namespace the harness makes: tweeter-<harness pid>-<lan id>-<part>
DEFAULT_SUBNET = "10.0.0.0/24"
DOMAIN = "tweeter.lan"
SWITCH = "lan0"
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWNET = 0x00020000, 0x04000000, 0x40000000
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
MNT_DETACH = 2
_libc = ctypes.CDLL(None, use_errno=True)
T = TypeVar("T")


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def mount(source: str | None, target: str, flags: int, fstype: str | None = None, data: str | None = None) -> None:
    """mount(2): OSError naming `target` when the kernel refuses."""
    encoded = [None if value is None else value.encode() for value in (source, target, fstype)]
    _check(_libc.mount(encoded[0], encoded[1], encoded[2], flags, None if data is None else data.encode()),
           f"mount {target}")


def unshare(flags: int) -> None:
    """Give the calling process namespaces of its own (e.g. CLONE_NEWNET: a network with nothing in it)."""
    _check(_libc.unshare(flags), "unshare")


def enter_namespace(path: Path, kind: int = CLONE_NEWNET) -> None:
    """Move the calling thread (or a child before exec) into the namespace at `path`."""
    fd = os.open(path, os.O_RDONLY)
    try:
        _check(_libc.setns(fd, kind), "setns")
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Host:
    """One machine of the LAN: a program runs on it, alone."""

    name: str  # the program's name in the scenario: "tracker" or a user name
    hostname: str
    ip: str
    namespace: str
    hosts_file: str  # /etc/hosts as the host sees it
    resolv_file: str  # /etc/resolv.conf as the host sees it (no name server: no lookups leave the LAN)

    def enter(self) -> None:
        """Join this host (in a child, between fork and exec, still as root)."""
        self.enter_network()
        _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWUTS), "unshare")
        mount(None, "/", MS_REC | MS_PRIVATE)
        for source, target in ((self.hosts_file, "/etc/hosts"), (self.resolv_file, "/etc/resolv.conf")):
            if os.path.exists(target):
                mount(source, target, MS_BIND)
        name = self.hostname.encode()
        _check(_libc.sethostname(name, len(name)), "sethostname")

    def enter_network(self) -> None:
        """Join this host's network only (in a child before exec, as root): a sandbox that builds a
        view of its own (`view()`) gives it the rest, without copying the machine's mounts twice."""
        enter_namespace(NETNS_DIR / self.namespace)

    def view(self) -> list[str]:
        """bubblewrap's arguments that give a program this host's name, /etc/hosts and
        /etc/resolv.conf (what `enter` does by mounts of its own)."""
        files = [arg for source, target in ((self.hosts_file, "/etc/hosts"), (self.resolv_file, "/etc/resolv.conf"))
                 if os.path.exists(target) for arg in ("--ro-bind", source, target)]
        return ["--unshare-uts", "--hostname", self.hostname, *files]


def made_in(namespace: Path, make: Callable[[], T]) -> T:
    """What `make` returns when run in the network namespace at `namespace`, from the harness's own
    process: a thread joins the namespace to run it, and a socket made there stays there whichever
    thread then uses it."""
    made: list[T] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            enter_namespace(namespace)
            made.append(make())
        except BaseException as exc:  # raised in the caller's thread
            failed.append(exc)

    thread = threading.Thread(target=run, name="tweeter-namespace")
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
    return made[0]


def socket_on(host: Host, kind: int = socket.SOCK_DGRAM) -> socket.socket:
    """A socket on `host`'s network, made from the harness's own process (benchmarks, tests)."""
    return made_in(NETNS_DIR / host.namespace, lambda: socket.socket(socket.AF_INET, kind))


@contextlib.contextmanager
def _opened(namespace: Path) -> Iterator[int]:
    """A descriptor of the namespace at `namespace` (a veth end is made in it by descriptor)."""
    fd = os.open(namespace, os.O_RDONLY)
    try:
        yield fd
    finally:
        os.close(fd)


def _ip(commands: list[str]) -> None:
    """Run a batch of `ip` commands; a failure is a HarnessError."""
    argv = ["ip", "-batch", "-"]
    result = subprocess.run(argv, input="\n".join(commands) + "\n", capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise HarnessError(f"could not build the virtual LAN (`{' '.join(argv)}`): "
                           f"{result.stderr.strip().splitlines()[-1] if result.stderr.strip() else result.returncode}")


def plan_addresses(names: list[str], pinned: dict[str, str]) -> tuple[ipaddress.IPv4Network, dict[str, str]]:
    """The subnet and every host's address: pinned ones as asked (the subnet is the /24 around the
    first), the others numbered from .1 up, skipping the pinned."""
    first = next(iter(pinned.values()), None)
    subnet = ipaddress.ip_network(f"{first}/24", strict=False) if first else ipaddress.ip_network(DEFAULT_SUBNET)
    taken = set(pinned.values())
    free = (str(a) for a in subnet.hosts() if str(a) not in taken)
    return subnet, {name: pinned.get(name) or next(free) for name in names}


@dataclass(frozen=True)
class LanShape:
    """What a LAN is built from, its programs' names aside: the hosts' addresses (the tracker's first)
    and whether the kernel bridges the frames. Two LANs of one shape are interchangeable until their
    hosts are named (net/lan_pool.py builds them ahead)."""

    subnet: ipaddress.IPv4Network
    addresses: tuple[str, ...]
    bridge: bool = True

    @classmethod
    def of(cls, names: list[str], pinned: dict[str, str] | None = None, bridge: bool = True) -> "LanShape":
        subnet, addresses = plan_addresses(names, pinned or {})
        return cls(subnet, tuple(addresses[name] for name in names), bridge)


class VirtualLan:
    """One scenario's LAN; `close()` removes every namespace and link of it. Built unnamed from its
    shape; `named` gives its hosts their programs' names (their host names and /etc/hosts)."""

    def __init__(self, shape: LanShape) -> None:
        """`shape.bridge`: the kernel switches the frames (else the ports are left apart, in
        promiscuous mode, for a switch in user space: net/switch.py)."""
        self.shape = shape
        self.bridge = shape.bridge
        self.subnet = shape.subnet
        self.id = f"{PREFIX}{os.getpid()}-{random.getrandbits(32):08x}"
        self.switch = f"{self.id}-sw"
        self.namespaces = [f"{self.id}-h{index}" for index in range(len(shape.addresses))]
        self.ports = [f"p{index}" for index in range(len(shape.addresses))]
        self.hosts: dict[str, Host] = {}
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def named(self, names: list[str], folder: Path) -> "VirtualLan":
        """Give host i to program `names[i]` ("tracker" first): its host name, and an /etc/hosts in
        `folder` naming every host."""
        addresses = dict(zip(names, self.shape.addresses, strict=True))
        hosts_file, resolv_file = folder / "hosts", folder / "resolv.conf"
        hosts_file.write_text(_hosts_text(addresses))
        resolv_file.write_text("# no name server on this LAN\n")
        for path in (hosts_file, resolv_file):
            path.chmod(0o644)
        self.hosts = {name: Host(name, _hostname(name), addresses[name], namespace, str(hosts_file), str(resolv_file))
                      for name, namespace in zip(names, self.namespaces)}
        return self

    def _build(self) -> None:
        """The namespaces by `ip netns` (one batch), everything in them by netlink from here."""
        _ip([f"netns add {ns}" for ns in [self.switch, *self.namespaces]])
        try:
            self._connect()
        except OSError as exc:
            raise HarnessError(f"could not build the virtual LAN: {exc.strerror or exc}") from None

    def _connect(self) -> None:
        """The hosts' cables to the switch (veth pairs), the switch, and every host's address."""
        with contextlib.ExitStack() as stack:
            switch = stack.enter_context(Route(made_in(self.switch_path, route_socket)))
            switch_fd = stack.enter_context(_opened(self.switch_path))
            for namespace, port in zip(self.namespaces, self.ports):
                with _opened(NETNS_DIR / namespace) as host_fd:
                    switch.add_veth(port, switch_fd, "eth0", host_fd)
            bridge = None
            if self.bridge:
                switch.add_bridge(SWITCH)
                switch.set_link(SWITCH, no_ipv6_address=True)
                switch.set_link(SWITCH, up=True)
                bridge = switch.index_of(SWITCH)
            for port in self.ports:
                switch.set_link(port, no_ipv6_address=True)
                switch.set_link(port, up=True, promiscuous=not self.bridge, master=bridge)
            for namespace, ip in zip(self.namespaces, self.shape.addresses):
                with Route(made_in(NETNS_DIR / namespace, route_socket)) as host:
                    # no IPv6 link-local address: no neighbour-discovery chatter on the wire
                    host.set_link("eth0", no_ipv6_address=True)
                    host.add_ipv4(host.index_of("eth0"), ip, self.subnet.prefixlen)
                    host.set_link("eth0", up=True)
                    host.set_up(LOOPBACK_INDEX)

    @property
    def switch_path(self) -> Path:
        return NETNS_DIR / self.switch

    def address_of(self) -> dict[str, str]:
        """Host name in the scenario -> IPv4 address."""
        return {name: host.ip for name, host in self.hosts.items()}

    def close(self) -> None:
        remove_namespaces([self.switch, *self.namespaces])


def make_lan(names: list[str], folder: Path, pinned: dict[str, str] | None = None, bridge: bool = True) -> VirtualLan:
    """A LAN with a host per program of `names` ("tracker" first), built now; `pinned`: addresses a
    submission hard-codes, by program."""
    return VirtualLan(LanShape.of(names, pinned, bridge)).named(names, folder)


def _hostname(name: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", name.lower())[:63] or "host"


def _hosts_text(addresses: dict[str, str]) -> str:
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    lines += [f"{ip}\t{_hostname(name)}.{DOMAIN} {_hostname(name)}" for name, ip in addresses.items()]
    return "\n".join(lines) + "\n"


def remove_namespaces(names: list[str]) -> None:
    """Delete these namespaces (and with them every link inside); ones already gone are ignored. As
    `ip netns del` does it: the name's mount is detached and its file removed; the kernel removes
    the network once nothing else holds it."""
    for name in names:
        path = NETNS_DIR / name
        _libc.umount2(str(path).encode(), MNT_DETACH)
        with contextlib.suppress(OSError):
            path.unlink()


def remove_stale() -> None:
    """Namespaces left by harness runs that died without cleaning up (their pid is gone)."""
    if not NETNS_DIR.is_dir():
        return
    stale = []
    for entry in NETNS_DIR.iterdir():
        match = re.match(rf"^{re.escape(PREFIX)}(\d+)-", entry.name)
        if match and not Path(f"/proc/{match.group(1)}").exists():
            stale.append(entry.name)
    remove_namespaces(stale)
