"""Free port allocation, so scenarios (and several harness runs) can run side by side.

A port is handed out only if it can be bound for UDP and TCP on all interfaces right now and this
process has not handed it out already; ports are returned when the scenario ends.
"""

from __future__ import annotations

import random
import socket
import threading

PORT_RANGE = (20000, 59999)
_lock = threading.Lock()
_in_use: set[int] = set()


def _bindable(port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind(("0.0.0.0", port))
            except OSError:
                return False
    return True


def allocate(count: int, rng: random.Random | None = None) -> list[int]:
    """`count` distinct free ports, reserved until `release`."""
    rng = rng or random.Random()
    chosen: list[int] = []
    with _lock:
        for _ in range(count * 200):
            if len(chosen) == count:
                break
            port = rng.randint(*PORT_RANGE)
            if port in _in_use or port in chosen or not _bindable(port):
                continue
            chosen.append(port)
        if len(chosen) < count:
            raise RuntimeError(f"could not find {count} free ports")
        _in_use.update(chosen)
    return chosen


def release(ports: list[int]) -> None:
    with _lock:
        _in_use.difference_update(ports)


def _proc_net_ports(path: str) -> set[int]:
    ports: set[int] = set()
    try:
        with open(path, encoding="ascii") as table:
            next(table, None)
            for row in table:
                fields = row.split()
                if len(fields) > 1:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    except OSError:
        pass
    return ports


def bound_ports(pid: int | str = "self") -> set[int]:
    """Ports with a local socket bound (UDP, and TCP for submissions that use it) in the network
    namespace of process `pid`: with --isolate-network that is not the harness's own."""
    found: set[int] = set()
    for table in ("udp", "udp6", "tcp", "tcp6"):
        found |= _proc_net_ports(f"/proc/{pid}/net/{table}")
    return found
