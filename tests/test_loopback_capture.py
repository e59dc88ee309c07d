"""The wire on loopback: where no LAN can be built but a packet socket can watch loopback, each
scenario's datagrams are captured there and named by the program that owns their port, so a star
whose followers print the labels of a ring is a star on loopback too. Scenarios graded at the same
time share loopback: each keeps only its own programs' packets.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import dpkt
import pytest

from harness.net.capture import loopback_capture_unavailable, transport_ports
from harness.run import ports
from harness.run.port_owners import PortOwners, local_ports
from tests.conftest import ROOT, wait_until
from harness.net.mode import hosts_unavailable
from tests.submissions.variants import HOPS_FROM_FRESH_SOCKETS, STAR_RING_LABELS, write

pytestmark = pytest.mark.skipif(loopback_capture_unavailable() is not None,
                                reason=f"no loopback capture here: {loopback_capture_unavailable()}")
SCENARIOS = ("tweet_ring_order", "tweet_one_follower")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The lying star, a ring that sends each hop from a fresh socket and the reference, graded
    together on loopback, two scenarios at a time."""
    from harness.cli import main
    folder = tmp_path_factory.mktemp("class")
    write(STAR_RING_LABELS, folder)
    write(HOPS_FROM_FRESH_SOCKETS, folder)
    (folder / "reference").symlink_to(ROOT / "reference")
    out = folder.parent / "out"
    specs = [arg for name in SCENARIOS for arg in ("--specs", str(ROOT / "specs" / f"{name}.yaml"))]
    assert main(["grade", str(folder), *specs, "--out", str(out), "--network", "loopback", "--jobs", "2",
                 "--quiet"]) == 1  # the star loses points
    return out


def report(out: Path, name: str) -> dict:
    return json.loads((out / name / "report.json").read_text())


def scenario(out: Path, name: str, scenario_id: str) -> dict:
    return next(s for s in report(out, name)["scenarios"] if s["id"] == scenario_id)


def test_a_star_is_a_star_on_a_loopback_capture(graded):
    star, reference = report(graded, STAR_RING_LABELS.name), report(graded, "reference")
    for network in (star["network"], reference["network"]):
        assert network["mode"] == "loopback" and network["capture"] == "loopback"
        assert network["evidence"] == "wire (loopback capture)"
    ring = scenario(graded, STAR_RING_LABELS.name, "tweet_ring_order")
    assert ring["status"] == "failed" and ring["score"] == 0, ring["summary"]
    peer = next(c for c in ring["checks"] if c["name"] == "forwarded peer to peer round the ring")
    assert peer["evidence"] == "wire" and "@carol got it from @alice's program, not from @bob's program" \
        in peer["message"], peer["message"]
    assert reference["score"] == reference["max_score"], \
        [s["summary"] for s in reference["scenarios"] if s["status"] != "passed"]
    passed = next(c for c in scenario(graded, "reference", "tweet_ring_order")["checks"]
                  if c["name"] == "forwarded peer to peer round the ring")
    assert passed["evidence"] == "wire" and "program to program" in passed["message"]


def test_hops_from_sockets_closed_at_once_are_left_to_the_console_not_failed(graded):
    """Packets from a port no program held once they were captured cannot say who sent them: the
    printed lines decide the ring, the checks say why, and the correct ring keeps its points."""
    fresh = report(graded, HOPS_FROM_FRESH_SOCKETS.name)
    assert fresh["score"] == fresh["max_score"], [s["summary"] for s in fresh["scenarios"] if s["status"] != "passed"]
    peer = next(c for c in scenario(graded, HOPS_FROM_FRESH_SOCKETS.name, "tweet_ring_order")["checks"]
                if c["name"] == "forwarded peer to peer round the ring")
    assert peer["evidence"] == "console" and "who sent what cannot be told from the packets" in peer["message"]


@pytest.mark.skipif(hosts_unavailable() is not None, reason=f"no LAN here: {hosts_unavailable()}")
def test_on_a_lan_the_same_hops_are_named_by_their_hosts(grade, tmp_path):
    graded = grade(write(HOPS_FROM_FRESH_SOCKETS, tmp_path), specs=["tweet_ring_order"], extra=("--network", "hosts"))
    ring = graded.scenario(HOPS_FROM_FRESH_SOCKETS.name, "tweet_ring_order")
    peer = next(c for c in ring["checks"] if c["name"] == "forwarded peer to peer round the ring")
    assert ring["status"] == "passed" and peer["evidence"] == "wire", peer["message"]


def test_each_scenario_keeps_only_its_own_programs_packets(graded):
    """Two scenarios ran at once on the same loopback: every packet a record kept was sent or received
    by one of its own programs, named by its port, and the pcap file holds the same packets."""
    for name in (STAR_RING_LABELS.name, HOPS_FROM_FRESH_SOCKETS.name, "reference"):
        for scenario_id in SCENARIOS:
            folder = graded / name / "transcripts" / scenario_id
            record = json.loads((folder / "record.json").read_text())
            programs = {"tracker", *record["handles"]}
            wire = [w for w in record["wire"] if w["proto"] in ("udp", "tcp")]
            assert wire and len(wire) == len(record["wire"])
            assert all(w["src"] in programs or w["dst"] in programs for w in wire)
            assert any(w["src"] in programs and w["dst"] in programs and w["src"] != "tracker" for w in wire)
            with (folder / "capture.pcap").open("rb") as capture:
                frames = list(dpkt.pcap.Reader(capture))
            assert len(frames) == len(wire)
            if name != HOPS_FROM_FRESH_SOCKETS.name:  # every port held by its program when captured
                assert "127.0.0.1" not in {w["src"] for w in wire} | {w["dst"] for w in wire}


def test_the_report_draws_the_loopback_capture(graded):
    page = (graded / STAR_RING_LABELS.name / "report.html").read_text()
    assert "a hop from the wrong host" in page  # the wire diagram's legend: drawn from the capture


def _frame(protocol: int, ports: bytes, fragment: int = 0, ether_type: bytes = b"\x08\x00") -> bytes:
    ip = bytes([0x45, 0, 0, 28, 0, 0]) + fragment.to_bytes(2, "big") + bytes([64, protocol, 0, 0]) + bytes(8)
    return bytes(12) + ether_type + ip + ports + bytes(4)


def test_only_the_ports_of_ipv4_udp_and_tcp_are_read():
    ports = (40001).to_bytes(2, "big") + (30002).to_bytes(2, "big")
    assert transport_ports(_frame(17, ports)) == (40001, 30002)
    assert transport_ports(_frame(6, ports)) == (40001, 30002)
    assert transport_ports(_frame(1, ports)) is None  # ICMP
    assert transport_ports(_frame(17, ports, fragment=0x0010)) is None  # a later fragment: no ports in it
    assert transport_ports(_frame(17, ports, ether_type=b"\x86\xdd")) is None  # IPv6
    assert transport_ports(_frame(17, ports)[:30]) is None  # cut short


PROGRAM = ("import socket, sys\n"
           "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
           "sys.stdin.readline()\n"
           "s.bind(('127.0.0.1', 0))\n"
           "print(s.getsockname()[1], flush=True)\n"
           "sys.stdin.readline()\n")


def test_ports_the_harness_reserved_are_named_without_a_look_up():
    """A stand-in for one of the scenario's ports belongs to the same program; a port another scenario
    reserved belongs to none of this one's, and no process is read to say so."""
    ours, theirs = ports.allocate(2)
    try:
        new = ports.stand_in(ours, None, {ours, theirs}, shared=True)
        assert ports.reserved_as(new) == ours and ports.reserved_as(theirs) == theirs
        owners = PortOwners({ours: "alice"})
        owners.programs = lambda: pytest.fail("a reserved port was looked up")
        assert owners.owner(new) == "alice" and owners.owner(theirs) is None
    finally:
        ports.release([ours, theirs])
    assert ports.reserved_as(new) is None


def test_a_port_a_program_binds_later_is_named_once_it_holds_it():
    """A port no program held when it was first asked about is asked about again later: the program
    that binds it then owns it."""
    program = subprocess.Popen([sys.executable, "-c", PROGRAM], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    try:
        owners = PortOwners({})
        owners.programs = lambda: {"alice": program.pid}
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            foreign = probe.getsockname()[1]
            assert owners.owner(foreign) is None and not owners.concerns(foreign, foreign)
        program.stdin.write("bind\n")
        program.stdin.flush()
        port = int(program.stdout.readline())
        assert wait_until(lambda: owners.owner(port) == "alice", 5)
        assert owners.concerns(foreign, port)
    finally:
        program.kill()
        program.wait()


SYSTEM_PYTHON = Path("/usr/bin/python3")  # one every user may run (the tests' own may be under /root)


@pytest.mark.skipif(os.geteuid() != 0 or not SYSTEM_PYTHON.is_file(),
                    reason="needs root and /usr/bin/python3 to run a program as another user")
def test_without_cap_sys_ptrace_a_program_of_another_user_is_read_as_that_user():
    """As in a default container: root without CAP_SYS_PTRACE may not duplicate the descriptors of a
    program running as a uid of its own, and reads them as that uid instead."""
    uid = 62999  # outside the sandbox's own range
    program = subprocess.Popen([str(SYSTEM_PYTHON), "-c", PROGRAM], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True, user=uid, group=uid, cwd="/")
    try:
        program.stdin.write("bind\n")
        program.stdin.flush()
        port = int(program.stdout.readline())
        look = ("import sys; from harness.run import ports; from harness.run.port_owners import local_ports; "
                f"print(ports.program_sockets({program.pid}, None), sorted(local_ports({program.pid})))")
        done = subprocess.run(["setpriv", "--bounding-set", "-sys_ptrace", "--inh-caps", "-sys_ptrace", "--",
                               sys.executable, "-c", look], capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert done.stdout.split(None, 1) == ["None", f"[{port}]\n"], done.stderr
        assert local_ports(program.pid) == {port}  # with the capability, through its descriptors
    finally:
        program.kill()
        program.wait()
