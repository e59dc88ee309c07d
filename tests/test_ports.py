"""Ports as a group's programs need them (issue 23, pattern 7): the group's range bounds the tracker's
port on a LAN too, a port something on a user's host already holds is replaced before `register`
types it, and a hard-coded TCP port still in TIME_WAIT is named, never taken for a tracker that was
not ready.

The graded tests use purpose-built submissions written here: a tracker that refuses any port outside
its group's range (as a real one did: "PORT OUT OF RANGE"), and a user that, like a real client,
binds ports of the group's range before it is told its own (there, its tracker connection; here, a
whole block of them, so that a collision is certain rather than likely).
"""

from __future__ import annotations

import os
import random
import re
import socket
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.inputs.manifest import Manifest, NetworkPins, TrackerPin
from harness.net import mode
from harness.net.mode import NetworkChoice
from harness.run import ports, register_ports
from harness.run.driver import UserSlot
from harness.run.network import ScenarioNetwork
from harness.run.trace import Trace
from tests.conftest import wait_until

needs_root = pytest.mark.skipif(mode.hosts_unavailable() is not None,
                                reason=f"hosts mode unavailable here: {mode.hosts_unavailable()}")

TRACKER_PY = '''"""A tiny tracker: register and query handles, over UDP or TCP (one connection per message)."""
import socket
import sys

FIRST, LAST = @FIRST@, @LAST@  # the group's range: any other port is refused
TRANSPORT = "@TRANSPORT@"
REUSE = @REUSE@  # TCP: set SO_REUSEADDR before bind


def answer(words, handles):
    if words[:1] == ["register"] and len(words) > 1:
        if words[1] in handles:
            return "FAILURE duplicate handle"
        handles.append(words[1])
        return "SUCCESS"
    if words[:2] == ["query", "handles"]:
        return f"SUCCESS {len(handles)} {' '.join(handles)}"
    return "FAILURE unknown command"


def main():
    port = int(sys.argv[1])
    if not FIRST <= port <= LAST:
        print(f"PORT OUT OF RANGE: {port} is not in {FIRST}-{LAST}", flush=True)
        sys.exit(1)
    handles = []
    kind = socket.SOCK_DGRAM if TRANSPORT == "udp" else socket.SOCK_STREAM
    sock = socket.socket(socket.AF_INET, kind)
    if REUSE:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("", port))
    except OSError as exc:
        print(f"cannot bind port {port}: {exc}", flush=True)
        sys.exit(1)
    print(f"tracker on {TRANSPORT} port {port}", flush=True)
    if TRANSPORT == "udp":
        while True:
            data, peer = sock.recvfrom(4096)
            sock.sendto(answer(data.decode().split(), handles).encode(), peer)
    sock.listen()
    while True:
        conn, _ = sock.accept()
        with conn:  # the tracker closes first: its side of each connection waits in TIME_WAIT
            conn.sendall(answer(conn.recv(4096).decode().split(), handles).encode())


main()
'''

USER_PY = '''"""A tiny user: register (it listens on its ports) and query handles, typed one per line."""
import socket
import sys

TRACKER = (sys.argv[1], int(sys.argv[2]))
HOLD = range(@HOLD_FIRST@, @HOLD_LAST@ + 1)  # ports of the group's range it binds at start-up
TRANSPORT = "@TRANSPORT@"

held = []
for number in HOLD:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(("", number))
        held.append(sock)
    except OSError:
        sock.close()
ring = []


def ask(line):
    if TRANSPORT == "udp":
        sock = held[0] if held else socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(5)
        sock.sendto(line.encode(), TRACKER)
        return sock.recvfrom(4096)[0].decode()
    with socket.create_connection(TRACKER, timeout=5) as conn:
        conn.sendall(line.encode())
        reply = b""
        while chunk := conn.recv(4096):  # to the tracker's end: it closes first
            reply += chunk
        return reply.decode()


def register(words):
    for number in words[3:]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind(("", int(number)))
        except OSError as exc:
            sock.close()
            return f"FAILURE cannot listen on port {number}: {exc}"
        ring.append(sock)
    return ask(" ".join(words))


def main():
    while line := sys.stdin.readline():
        words = line.split()
        if words[:1] == ["register"]:
            print(f"register: {register(words)}", flush=True)
        elif words[:2] == ["query", "handles"]:
            print(f"query handles: {ask('query handles')}", flush=True)


main()
'''

SPEC = """name: {name}
points: 2
users: [{users}]
steps:
  - register: all
  - query: {{user: {first}, handles: [{users}]}}
"""


def free_block(size: int) -> int:
    """The first port of `size` consecutive ports below the ephemeral range that nothing holds now."""
    low = ports.ephemeral_range()[0]
    for _ in range(200):
        first = random.randrange(ports.LOWEST, low - size, size)
        if all(ports._bindable(port) for port in range(first, first + size)):
            return first
    raise RuntimeError("no free block of ports")


def submission(into: Path, manifest: str, first: int = 1024, last: int = 65535, transport: str = "udp",
               reuse: bool = False, hold: tuple[int, int] = (1, 0)) -> Path:
    folder = into / "ports_sub"
    folder.mkdir()
    tracker = TRACKER_PY.replace("@FIRST@", str(first)).replace("@LAST@", str(last))
    (folder / "tracker.py").write_text(tracker.replace("@TRANSPORT@", transport).replace("@REUSE@", str(reuse)))
    user = USER_PY.replace("@HOLD_FIRST@", str(hold[0])).replace("@HOLD_LAST@", str(hold[1]))
    (folder / "user.py").write_text(user.replace("@TRANSPORT@", transport))
    (folder / "tweeter.yaml").write_text(manifest)
    return folder


def spec(into: Path, name: str, users: list[str]) -> Path:
    path = into / f"{name}.yaml"
    path.write_text(SPEC.format(name=name, users=", ".join(users), first=users[0]))
    return path


def transcript(graded, scenario: str, proc: str) -> str:
    return (graded.out / "ports_sub" / "transcripts" / scenario / f"{proc}.log").read_text()


def registered(graded, scenario: str, user: str) -> list[int]:
    line = next(line for line in transcript(graded, scenario, user).splitlines() if f"register @{user} " in line)
    return [int(p) for p in line.split(f"register @{user} ", 1)[1].split()[1:]]


REPLACED = re.compile(r"port (\d+) for @(\w+) is already held on (its host|this machine \(loopback\)) "
                      r"\(a UDP socket of its own program\) before `register` types it: @\2 registers port (\d+) "
                      r"instead")


# -- graded: purpose-built submissions ---------------------------------------------------------------------
@needs_root
def test_on_a_lan_the_range_bounds_the_tracker_and_held_ports_are_replaced(grade, tmp_path):
    """16 ports for a tracker and three users of five ports: every port of the range is handed out.
    Each user holds the 11 lowest on its own host before `register`, so it can register only the top 5,
    and at least two of the three must have been handed held ones."""
    first = free_block(16)
    folder = submission(tmp_path, f"ports_per_user: 5\nnetwork: {{ports: [{first}, {first + 15}]}}\n",
                        first, first + 15, hold=(first, first + 10))
    graded = grade(folder, extra=("--specs", str(spec(tmp_path, "three_hosts", ["alice", "bob", "carol"])),
                                  "--network", "hosts"))
    scenario = graded.scenario("ports_sub", "three_hosts")
    assert scenario["status"] == "passed", scenario["message"]
    tracker_port = int(transcript(graded, "three_hosts", "tracker").split("tracker.py ", 1)[1].split()[0])
    assert first <= tracker_port <= first + 15  # the group's range bounds it on a LAN too
    top = set(range(first + 11, first + 16))
    for user in ("alice", "bob", "carol"):
        assert set(registered(graded, "three_hosts", user)) == top, user
    notes = REPLACED.findall(transcript(graded, "three_hosts", "harness"))
    assert len({user for _, user, _, _ in notes}) >= 2, notes
    for old, _, where, new in notes:
        assert where == "its host" and first <= int(old) <= first + 10 and int(new) in top


def test_on_loopback_a_port_the_user_already_holds_is_replaced(grade, tmp_path):
    first = free_block(16)
    folder = submission(tmp_path, f"ports_per_user: 5\nnetwork: {{ports: [{first}, {first + 15}]}}\n",
                        first, first + 15, hold=(first, first + 9))
    graded = grade(folder, extra=("--specs", str(spec(tmp_path, "one_user", ["alice"])), "--network", "loopback"))
    scenario = graded.scenario("ports_sub", "one_user")
    assert scenario["status"] == "passed", scenario["message"]
    got = registered(graded, "one_user", "alice")
    assert len(set(got)) == 5 and all(first + 10 <= port <= first + 15 for port in got)
    for old, _, where, new in REPLACED.findall(transcript(graded, "one_user", "harness")):
        assert where == "this machine (loopback)" and first <= int(old) <= first + 9 and int(new) in got


@pytest.mark.parametrize("reuse", [False, True], ids=["plain_bind", "so_reuseaddr"])
def test_a_hard_coded_tcp_port_in_time_wait_is_named(grade, tmp_path, reuse):
    """Two scenarios in turn on loopback: the tracker of the first closes its connections first, so
    they stay in TIME_WAIT on its hard-coded port; the second tracker can bind it again only with
    SO_REUSEADDR, and without it the failure says why."""
    port = free_block(1)
    folder = submission(tmp_path, f"transport: tcp\nports_per_user: 1\nnetwork: {{tracker: {{port: {port}}}}}\n",
                        transport="tcp", reuse=reuse)
    specs = [spec(tmp_path, name, ["alice"]) for name in ("first_turn", "second_turn")]
    graded = grade(folder, extra=(*(arg for path in specs for arg in ("--specs", str(path))),
                                  "--network", "loopback", "--jobs", "1"))
    statuses = {s["id"]: s for s in graded.report("ports_sub")["scenarios"]}
    assert sorted(statuses) == ["first_turn", "second_turn"]
    passed = [s for s in statuses.values() if s["status"] == "passed"]
    if reuse:
        assert len(passed) == 2, [s["message"] for s in statuses.values()]
        return
    assert len(passed) == 1, [s["message"] for s in statuses.values()]
    failed = next(s for s in statuses.values() if s["status"] != "passed")
    assert failed["status"] == "error"
    message = failed["message"]
    assert f"port {port} is still in TIME_WAIT from the previous scenario" in message, message
    assert "SO_REUSEADDR" in message and "--network hosts" in message
    assert "did not bind" not in message and "did not say it is ready" not in message


# -- the network's ports -----------------------------------------------------------------------------------
def network(tmp_path: Path, choice: str, pins: NetworkPins, users: int = 2) -> ScenarioNetwork:
    return ScenarioNetwork(NetworkChoice(choice, "test"), pins, [f"u{i}" for i in range(users)], 3, tmp_path,
                           threading.Event())


@needs_root
def test_on_a_lan_the_tracker_port_comes_from_the_range_unless_pinned(tmp_path):
    first = 40000
    for pins, expect in ((NetworkPins(ports=(first, first + 15)), None),
                         (NetworkPins(ports=(first, first + 15), tracker=TrackerPin(port=first + 3)), first + 3),
                         (NetworkPins(ports=(first, first + 15), tracker=TrackerPin(port=8000)), 8000)):
        for _ in range(5):  # random draws: a tracker outside the range would show at once
            net = network(tmp_path, "hosts", pins, users=4)
            try:
                drawn = [port for user in net.user_ports.values() for port in user]
                assert net.tracker_port == expect if expect else first <= net.tracker_port <= first + 15, \
                    net.tracker_port
                assert all(first <= port <= first + 15 for port in drawn)
                assert len(set(drawn + [net.tracker_port])) == len(drawn) + 1  # a pinned port is no user's
            finally:
                net.close()


def test_on_loopback_a_pinned_tracker_port_in_the_range_is_no_users(tmp_path):
    first = free_block(16)
    pins = NetworkPins(ports=(first, first + 15), tracker=TrackerPin(port=first))
    for _ in range(5):
        net = network(tmp_path, "loopback", pins, users=5)  # 15 of the 16: only the pinned one is left
        try:
            assert net.tracker_port == first
            assert sorted(p for user in net.user_ports.values() for p in user) == list(range(first + 1, first + 16))
        finally:
            net.close()


# -- the port functions ----------------------------------------------------------------------------------
def test_allocate_leaves_out_the_excluded_ports():
    got = ports.allocate(5, [(40000, 40015)], shared=False, exclude=set(range(40000, 40011)))
    assert sorted(got) == list(range(40011, 40016))
    with pytest.raises(RuntimeError):
        ports.allocate(6, [(40000, 40015)], shared=False, exclude=set(range(40000, 40011)))


def test_a_stand_in_on_loopback_is_reserved_and_released_with_the_port_it_replaced():
    first = free_block(16)
    old = ports.allocate(1, [(first, first + 15)])[0]
    try:
        new = ports.stand_in(old, [(first, first + 15)], {old}, shared=True)
        assert new is not None and new != old and first <= new <= first + 15
        assert new in ports._in_use
    finally:
        ports.release([old])
    assert old not in ports._in_use and new not in ports._in_use


def test_a_stand_in_is_none_when_the_range_has_no_free_port():
    assert ports.stand_in(40000, [(40000, 40015)], set(range(40000, 40016)), shared=False) is None


def test_holders_say_what_holds_each_port():
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket.socket()
    try:
        udp.bind(("127.0.0.1", 0))
        tcp.bind(("127.0.0.1", 0))
        tcp.listen()
        u, t = udp.getsockname()[1], tcp.getsockname()[1]
        free = next(p for p in range(20000, 30000) if p not in ports.bound_ports())
        found = ports.holders(os.getpid(), {u, t, free})
        assert [what for what, _ in found[u]] == ["a UDP socket"]
        assert [what for what, _ in found[t]] == ["a listening TCP socket"]
        assert free not in found and all(inode for entries in found.values() for _, inode in entries)
    finally:
        udp.close()
        tcp.close()


def time_wait_on(port: int) -> None:
    """Leave one TCP connection in TIME_WAIT on local `port`: its listening side closes first."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        with socket.create_connection(("127.0.0.1", port)) as client:
            conn, _ = listener.accept()
            conn.close()  # the side on `port` closes first: it keeps the connection in TIME_WAIT
            assert client.recv(1) == b""


def test_time_wait_is_counted_and_never_taken_for_a_bound_port():
    port = free_block(1)
    time_wait_on(port)
    assert wait_until(lambda: ports.time_wait(port) >= 1, 5)
    assert not ports.BindWatch(os.getpid(), port, tcp_every=1).bound()  # no process holds it
    message = ports.time_wait_problem(port, 1, "the tracker exited at start-up (exit status 1)")
    assert message.startswith(f"port {port} is still in TIME_WAIT from the previous scenario (1 TCP connection ")
    assert "(the tracker exited at start-up (exit status 1))" in message


# -- right before register -------------------------------------------------------------------------------
def fake_driver(manifest: Manifest, slot: UserSlot, typed: list[str] = ()) -> SimpleNamespace:
    """What check_before_register reads of a driver: the user's slot, its program (this process), the
    trace and the manifest."""
    trace = Trace()
    for line in typed:
        trace.add(slot.name, "in", line)
    program = SimpleNamespace(pid=os.getpid(), exited=False)
    procs = SimpleNamespace(children={slot.name: program}, holds=lambda name, inodes: bool(inodes),
                            sandbox=SimpleNamespace(program_pid=lambda pid: pid))
    return SimpleNamespace(users={slot.name: slot}, procs=procs, trace=trace, wait=lambda probe, *_, **__: probe(),
                           dialect=SimpleNamespace(manifest=manifest))


def test_a_held_port_not_yet_told_is_replaced_with_a_note():
    first = free_block(16)
    held = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    held.bind(("", first))
    slot = UserSlot("alice", "@alice", "127.0.0.1", [first, first + 1])
    reserved = [first, first + 1]  # as if this scenario had drawn them on loopback
    try:
        driver = fake_driver(Manifest.model_validate({"network": {"ports": [first, first + 15]}}), slot)
        register_ports.check_before_register(driver, "alice")  # type: ignore[arg-type]
        new = slot.ports[0]
        assert new != first and first + 2 <= new <= first + 15 and slot.ports[1] == first + 1
        assert [e.text for e in driver.trace.lines("harness", ("note",))] == [
            f"port {first} for @alice is already held on this machine (loopback) (a UDP socket of its own "
            f"program) before `register` types it: @alice registers port {new} instead"]
        register_ports.check_before_register(driver, "alice")  # type: ignore[arg-type]
        assert len(driver.trace.lines("harness", ("note",))) == 1  # nothing more held: nothing more said
    finally:
        held.close()
        ports.release(reserved)
    assert new not in ports._in_use


def test_a_port_the_program_was_told_stays_even_if_held():
    first = free_block(16)
    held = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    held.bind(("", first))
    try:
        at_launch = Manifest.model_validate({"launch": {"user": "python3 user.py {tracker_ip} {tracker_port} {port1}"}})
        for manifest, typed in ((at_launch, []), (Manifest(), [f"register @alice 127.0.0.1 {first} {first + 1}"])):
            slot = UserSlot("alice", "@alice", "127.0.0.1", [first, first + 1])
            driver = fake_driver(manifest, slot, typed)
            assert first in register_ports.told_ports(driver, "alice")  # type: ignore[arg-type]
            register_ports.check_before_register(driver, "alice")  # type: ignore[arg-type]
            assert slot.ports == [first, first + 1] and not driver.trace.lines("harness", ("note",))
    finally:
        held.close()


def test_told_ports_reads_placeholders_and_whole_numbers_only():
    slot = UserSlot("alice", "@alice", "127.0.0.1", [4000, 4001, 4002])
    env = Manifest.model_validate({"env": {"MY_PORT": "{port2}"}})
    assert register_ports.told_ports(fake_driver(env, slot), "alice") == {4001}  # type: ignore[arg-type]
    typed = ["follow @alice @bob 40001 14002"]  # 4000 and 4002 only inside other numbers
    assert register_ports.told_ports(fake_driver(Manifest(), slot, typed), "alice") == set()  # type: ignore[arg-type]
    assert register_ports.told_ports(fake_driver(Manifest.model_validate({"launch": {"user": "u {ports}"}}), slot),
                            "alice") == {4000, 4001, 4002}  # type: ignore[arg-type]
