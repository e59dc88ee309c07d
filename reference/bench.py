"""Benchmark of the reference beside bare-Python floors measured in the same run (not a test).

    python -m reference.bench

(a) Ring round trip: the time from the tweeter sending its tweet to f1 until it is back, as the tweeter
    itself measures it (its `[trace] ring round trip ... ms` line), median of ROUNDS tweets, for rings
    of 1, 10, 50 and 200 followers; the floor is the same number of bare Python forwarder processes
    passing one datagram round (recvfrom, sendto, nothing else). The two take turns, one round each,
    so that both see the same machine: a shared host's speed drifts over seconds by more than the
    difference being measured. Both start each round from idle processes, PAUSE after the previous
    one: waking a sleeping process costs far more than the Python work of a hop, so a floor measured
    back to back (hot CPUs) would be unfairly fast. Target: reference/floor <= 2.
(b) Tracker throughput for `query handles` with 1,000 registered users, from 8 client processes that
    each send a query and wait for its answer; the floor is a bare Python UDP echo server fed the same
    queries by the same clients. Target: reference/floor >= 0.5.
"""

from __future__ import annotations

import json
import multiprocessing
import queue
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZES = (1, 10, 50, 200)
ROUNDS = 21  # per size, for each of the reference and the floor
PAUSE = 0.01  # seconds of idleness before each measured round, in both runs
USERS_FOR_QUERY = 1000
CLIENTS = 8
SECONDS = 3.0
FORWARDER = """
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
onward = None
while True:
    data, sender = sock.recvfrom(65535)
    if data.startswith(b"NEXT "):
        onward = ("127.0.0.1", int(data[5:]))
        sock.sendto(b"OK", sender)
    else:
        sock.sendto(data, onward)
"""
ECHO = """
import socket
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
while True:
    data, address = sock.recvfrom(65535)
    sock.sendto(data, address)
"""


class Program:
    """A child process writing its output to a file, read back only when the bench waits for a line.

    A file rather than a pipe: a reader thread per pipe would wake the bench for every line printed,
    and that CPU would be charged to the reference on a 2-core machine; the floors print nothing.
    """

    def __init__(self, args: list[str], path: Path) -> None:
        self.path = path
        with self.path.open("wb") as output:
            self.popen = subprocess.Popen([sys.executable, *args], cwd=HERE, stdin=subprocess.PIPE,
                                          stdout=output, stderr=subprocess.DEVNULL, start_new_session=True)
        self.reader = self.path.open("rb")
        self.partial = b""

    def send(self, line: str) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(line.encode() + b"\n")
        self.popen.stdin.flush()

    def expect(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """The next line matching `pattern` (polling the file: this is a benchmark, not a test)."""
        regex, deadline = re.compile(pattern), time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = self.reader.readline()
            if not chunk.endswith(b"\n"):
                self.partial += chunk
                time.sleep(0.001)
                continue
            line, self.partial = (self.partial + chunk).decode(errors="replace").rstrip("\n"), b""
            match = regex.search(line)
            if match:
                return match
        raise RuntimeError(f"no line matching {pattern!r} in {self.path}")

    def stop(self) -> None:
        self.popen.kill()
        self.popen.wait()
        self.reader.close()


class Programs(list[Program]):
    """Every program the bench started, each writing to its own file in one temporary folder."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    def start(self, args: list[str]) -> Program:
        program = Program(args, self.folder / f"{len(self)}.out")
        self.append(program)
        return program

    def stop(self) -> None:
        for program in self:
            program.stop()
        self.clear()


def free_ports(count: int, handed_out: set[int] = set()) -> list[int]:
    """`count` distinct free ports, never the same twice in one run."""
    ports = _bound_ports(count)
    while handed_out & set(ports):
        ports = _bound_ports(count)
    handed_out.update(ports)
    return ports


def _bound_ports(count: int) -> list[int]:
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def start_tracker(programs: Programs) -> int:
    """A tracker on a free port, its output discarded (written, but nobody pays to read it)."""
    port = free_ports(1)[0]
    programs.start(["tracker.py", str(port), "--host", "127.0.0.1"])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(0.05)
        for attempt in range(200):
            probe.sendto(b'{"op":"query","id":%d}' % attempt, ("127.0.0.1", port))
            try:
                probe.recv(65535)
                return port
            except socket.timeout:
                continue
    raise RuntimeError("the tracker did not answer")


def handle(number: int) -> str:
    """A distinct all-letter handle for user `number` (aa, ab, ...)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    return "@u" + letters[number // 676 % 26] + letters[number // 26 % 26] + letters[number % 26]


class ReferenceRing:
    """A tracker and max(SIZES) + 1 registered reference users; user 0 tweets, the others follow it."""

    def __init__(self, programs: Programs) -> None:
        port = start_tracker(programs)
        self.users = [programs.start(["user.py", "127.0.0.1", str(port)]) for _ in range(max(SIZES) + 1)]
        for number, user in enumerate(self.users):
            user.send(f"register {handle(number)} 127.0.0.1 {' '.join(map(str, free_ports(3)))}")
        for user in self.users:
            user.expect(r"^register: SUCCESS")
        self.size = 0

    def grow_to(self, size: int) -> None:
        """Let users 1..size follow the tweeter."""
        newcomers = range(self.size + 1, size + 1)
        for number in newcomers:
            self.users[number].send(f"follow {handle(number)} {handle(0)}")
        for number in newcomers:
            self.users[number].expect(r"^follow: SUCCESS")
        self.size = size

    def round_trip(self, number: int) -> float:
        """One tweet round the ring, in ms, as the tweeter measured it."""
        tweeter = self.users[0]
        tweeter.send(f'tweet {handle(0)} "benchmark tweet number {number} round the ring"')
        milliseconds = float(tweeter.expect(r"ring round trip ([\d.]+) ms").group(1))
        tweeter.expect(r"^end-tweet: SUCCESS")
        return milliseconds


class FloorRing:
    """max(SIZES) bare forwarder processes, chained by `chain` and closed by an origin socket."""

    def __init__(self, programs: Programs) -> None:
        forwarders = [programs.start(["-c", FORWARDER]) for _ in range(max(SIZES))]
        self.ports = [int(f.expect(r"^(\d+)$").group(1)) for f in forwarders]
        self.origin = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.origin.bind(("127.0.0.1", 0))
        self.origin.settimeout(5)
        self.first = 0
        self.payload = json.dumps({"op": "tweet", "tweeter": "@uaaa", "from": "@uaaa", "round": 1,
                                   "text": "benchmark tweet number 1 round the ring"}).encode()

    def chain(self, size: int) -> None:
        """The first `size` forwarders in a line, the last back to the origin (each says OK)."""
        chain = self.ports[:size] + [self.origin.getsockname()[1]]
        for here, onward in zip(chain, chain[1:]):
            self.origin.sendto(b"NEXT %d" % onward, ("127.0.0.1", here))
        for _ in range(size):
            assert self.origin.recv(16) == b"OK"
        self.first = chain[0]

    def round_trip(self) -> float:
        """One datagram round the chain, in ms."""
        started = time.perf_counter()
        self.origin.sendto(self.payload, ("127.0.0.1", self.first))
        self.origin.recvfrom(65535)
        return 1000 * (time.perf_counter() - started)

    def close(self) -> None:
        self.origin.close()


def ring_round_trips(programs: Programs) -> tuple[dict[int, float], dict[int, float]]:
    """Median round trips in ms per size: the reference's and the floor's, measured by turns."""
    reference_ring, floor_ring = ReferenceRing(programs), FloorRing(programs)
    reference, floor = {}, {}
    try:
        for size in SIZES:
            reference_ring.grow_to(size)
            floor_ring.chain(size)
            reference_times, floor_times = [], []
            for number in range(ROUNDS):
                time.sleep(PAUSE)
                reference_times.append(reference_ring.round_trip(number))
                time.sleep(PAUSE)
                floor_times.append(floor_ring.round_trip())
            reference[size], floor[size] = statistics.median(reference_times), statistics.median(floor_times)
    finally:
        floor_ring.close()
    return reference, floor


def query_client(port: int, seconds: float, results: "multiprocessing.Queue[int]") -> None:
    """Send `query handles` and wait for each answer, as fast as possible, for `seconds`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(1.0)
    answered, request_id, deadline = 0, 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        request_id += 1
        sock.sendto(b'{"op":"query","id":%d}' % request_id, ("127.0.0.1", port))
        try:
            sock.recvfrom(65535)
            answered += 1
        except socket.timeout:
            pass
    results.put(answered)


def throughput(port: int) -> float:
    """Answers per second from CLIENTS concurrent query clients."""
    results: multiprocessing.Queue[int] = multiprocessing.Queue()
    clients = [multiprocessing.Process(target=query_client, args=(port, SECONDS, results))
               for _ in range(CLIENTS)]
    for client in clients:
        client.start()
    total = sum(results.get() for _ in clients)
    for client in clients:
        client.join()
    return total / SECONDS


def register_many(port: int, count: int) -> None:
    """Register `count` users straight over UDP (each from its own p1 socket, as the tracker asks)."""
    for number in range(count):
        p1 = free_ports(1)[0]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", p1))
            sock.settimeout(2)
            message = {"op": "register", "id": number, "handle": handle(number), "ip": "127.0.0.1",
                       "ports": [p1, 10000 + 2 * number, 10001 + 2 * number]}  # below the ephemeral range
            sock.sendto(json.dumps(message).encode(), ("127.0.0.1", port))
            assert json.loads(sock.recv(65535))["ok"], f"register {handle(number)} failed"


def query_benchmark(programs: Programs) -> tuple[float, float]:
    port = start_tracker(programs)
    register_many(port, USERS_FOR_QUERY)
    reference = throughput(port)
    echo = programs.start(["-c", ECHO])
    floor = throughput(int(echo.expect(r"^(\d+)$").group(1)))
    return reference, floor


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        return run(Programs(Path(folder)))


def run(programs: Programs) -> int:
    try:
        started = time.monotonic()
        print("(a) ring round trip, tweeter's send to f1 until back; median ms", flush=True)
        reference, floor = ring_round_trips(programs)
        for size in SIZES:
            ratio = reference[size] / floor[size]
            print(f"  {size:4d} followers: reference {reference[size]:8.3f} ms  floor {floor[size]:8.3f} ms  "
                  f"ratio {ratio:5.2f}  {'ok' if ratio <= 2 else 'over target 2'}", flush=True)
        programs.stop()
        print(f"(b) query handles with {USERS_FOR_QUERY} users, {CLIENTS} clients, {SECONDS:g} s each",
              flush=True)
        answered, echoed = query_benchmark(programs)
        ratio = answered / echoed
        print(f"  reference {answered:9.0f} answers/s  echo floor {echoed:9.0f} answers/s  ratio {ratio:5.2f}  "
              f"{'ok' if ratio >= 0.5 else 'under target 0.5'}", flush=True)
        print(f"total {time.monotonic() - started:.1f} s", flush=True)
    finally:
        programs.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
