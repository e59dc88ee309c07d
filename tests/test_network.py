"""The two networks: on a virtual LAN (hosts mode) every program has a host of its own that nothing
outside the LAN can reach, and every packet is captured; on loopback all share this machine."""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

import dpkt
import pytest

from harness.net import mode
from tests.conftest import ROOT, SUBMISSIONS

PEER_TO_PEER = "forwarded peer to peer round the ring"

needs_root = pytest.mark.skipif(mode.hosts_unavailable() is not None,
                                reason=f"hosts mode unavailable here: {mode.hosts_unavailable()}")

PROBE_SPEC = """name: network probe
points: 1
users: [alice, bob]
steps:
  - expect: {at: tracker, pattern: "^tracker: got hello from .* [(]2 so far[)]$"}
"""


def machine_address() -> str:
    """This machine's address on its real network (not loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # a documentation address: nothing is sent
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"


@pytest.fixture
def probe(tmp_path):
    """The probe submission, pointed at TCP listeners of this test on the machine's own addresses."""
    listener = socket.socket()
    listener.bind(("0.0.0.0", 0))
    listener.listen()
    port = listener.getsockname()[1]
    folder = tmp_path / "net_probe"
    shutil.copytree(SUBMISSIONS / "net_probe", folder)
    (folder / "probe_targets.txt").write_text(f"127.0.0.1:{port}\n{machine_address()}:{port}\n")
    spec = tmp_path / "probe.yaml"
    spec.write_text(PROBE_SPEC)
    yield folder, spec
    listener.close()


def probe_lines(graded, scenario: str = "probe") -> dict[str, list[str]]:
    folder = graded.out / "net_probe" / "transcripts" / scenario
    return {log.stem: [line.split(None, 2)[-1] for line in log.read_text().splitlines() if len(line.split()) > 2]
            for log in folder.glob("*.log")}


@needs_root
def test_each_program_has_a_host_of_its_own_and_nothing_outside_is_reachable(grade, probe):
    folder, spec = probe
    graded = grade(folder, extra=("--specs", str(spec), "--network", "hosts"))
    report = graded.report("net_probe")
    assert report["network"]["mode"] == "hosts"
    record = json.loads((graded.out / "net_probe" / "transcripts" / "probe" / "record.json").read_text())
    hosts = record["network"]["hosts"]
    assert len(set(hosts.values())) == 3 and all(ip.startswith("10.0.0.") for ip in hosts.values())
    lines = probe_lines(graded)
    for user in ("alice", "bob"):
        said = [line for line in lines[user] if line.startswith("probe:")]
        assert f"probe: host {user} fqdn {user}.tweeter.lan resolves {hosts[user]}" in said
        assert "probe: interfaces eth0 lo" in said
        outside = [line for line in said if "reached" in line or "connected" in line]
        assert len(outside) == 2 and not any(line.endswith("connected") for line in outside), outside
    got = [line.rsplit(" (", 1)[0] for line in lines["tracker"] if line.startswith("tracker: got hello")]
    assert sorted(got) == sorted(f"tracker: got hello from {hosts[u]}" for u in ("alice", "bob"))
    # the capture holds those datagrams, from each user's host to the tracker's, once each
    hellos = [w for w in record["wire"] if w["proto"] == "udp" and w["dst"] == "tracker"]
    assert sorted(w["src"] for w in hellos) == ["alice", "bob"]
    with (graded.out / "net_probe" / "transcripts" / "probe" / "capture.pcap").open("rb") as pcap:
        frames = list(dpkt.pcap.Reader(pcap))
    assert len(frames) == len(record["wire"])
    assert sum(b"hello" in bytes(dpkt.ethernet.Ethernet(raw).data.data.data) for _, raw in frames
               if isinstance(dpkt.ethernet.Ethernet(raw).data, dpkt.ip.IP)) == 2


def test_on_loopback_the_same_probe_shares_this_machine(grade, probe):
    folder, spec = probe
    graded = grade(folder, extra=("--specs", str(spec), "--network", "loopback"))
    assert graded.report("net_probe")["network"]["mode"] == "loopback"
    alice = probe_lines(graded)["alice"]
    assert any(line.startswith("probe: 127.0.0.1 connected") for line in alice), alice
    if graded.report("net_probe")["network"]["capture"] == "loopback":  # each hello, to the tracker's port
        record = json.loads((graded.out / "net_probe" / "transcripts" / "probe" / "record.json").read_text())
        hellos = [w for w in record["wire"] if w["proto"] == "udp" and w["dst"] == "tracker"]
        # each sent from a socket closed at once: named only if the capture read it before it was gone
        assert len(hellos) == 2 and {w["src"] for w in hellos} <= {"alice", "bob", "127.0.0.1"}


@needs_root
def test_reference_scores_full_marks_on_loopback_too(grade):
    graded = grade(ROOT / "reference", extra=("--jobs", "2", "--network", "loopback"))
    report = graded.report("reference")
    assert {s["id"]: s["message"] for s in report["scenarios"] if s["status"] != "passed"} == {}
    assert report["score"] == 100 and report["network"]["mode"] == "loopback"
    ring = graded.scenario("reference", "tweet_ring_order")
    delivery = {c["name"]: c["evidence"] for c in ring["checks"] if "evidence" in c}
    assert len(delivery) == 7 and delivery[PEER_TO_PEER] == ("wire" if report["network"]["capture"] else "console")


def test_a_pinned_address_this_machine_lacks_is_a_clear_error_on_loopback(grade, tmp_path):
    submission = tmp_path / "pinned"
    shutil.copytree(ROOT / "reference", submission, ignore=shutil.ignore_patterns("__pycache__"))
    (submission / "tweeter.yaml").write_text("network: {tracker: {ip: 10.120.70.106}}\n")
    graded = grade(submission, specs=["register_new", "query_none"], extra=("--network", "loopback"))
    for scenario in graded.report("pinned")["scenarios"]:
        assert scenario["status"] == "error"
        assert "hard-codes the tracker's address 10.120.70.106" in scenario["message"]
        assert "--network hosts" in scenario["message"]
    assert graded.status == 2  # it could not be graded at all here


def test_namespaces_of_the_lan_are_gone_after_each_run():
    """Every test is also checked by the conftest guard; here, a LAN built and closed directly."""
    from harness.net.lan import NETNS_DIR, make_lan
    if mode.hosts_unavailable() is not None:
        pytest.skip(mode.hosts_unavailable())
    folder = Path(os.environ.get("TMPDIR", "/tmp"))
    lan = make_lan(["tracker", "alice"], folder)
    made = [lan.switch, *(h.namespace for h in lan.hosts.values())]
    assert all((NETNS_DIR / name).exists() for name in made)
    lan.close()
    assert not any((NETNS_DIR / name).exists() for name in made)


def _links(namespace: str) -> dict[str, dict]:
    """What iproute2 itself reads back of a namespace's interfaces (its JSON), by name."""
    import subprocess
    shown = subprocess.run(["ip", "-n", namespace, "-j", "-d", "addr"], capture_output=True, text=True, check=True)
    return {link["ifname"]: link for link in json.loads(shown.stdout)}


@needs_root
@pytest.mark.parametrize("bridge", [True, False])
def test_a_lan_is_wired_as_the_harness_says(tmp_path, bridge):
    """What netlink built, read back by `ip`: each host has loopback up and one interface with its
    IPv4 address and no IPv6 address (no neighbour-discovery chatter); the switch's ports are up,
    without addresses, in its bridge, or promiscuous for a switch in user space; a datagram sent
    from one host reaches the other."""
    from harness.net.lan import SWITCH, make_lan, socket_on
    lan = make_lan(["tracker", "alice", "bob"], tmp_path, pinned={"tracker": "192.168.7.20"}, bridge=bridge)
    try:
        for name, host in lan.hosts.items():
            links = _links(host.namespace)
            assert set(links) == {"lo", "eth0"}, name
            assert "UP" in links["lo"]["flags"]
            eth0 = links["eth0"]
            assert "UP" in eth0["flags"]
            assert [(a["family"], a["local"], a["prefixlen"]) for a in eth0["addr_info"]] == [("inet", host.ip, 24)]
            assert eth0["linkinfo"]["info_kind"] == "veth"
        assert lan.hosts["tracker"].ip == "192.168.7.20" and lan.hosts["alice"].ip == "192.168.7.1"
        switch = _links(lan.switch)
        ports = {name: link for name, link in switch.items() if name.startswith("p")}
        assert len(ports) == 3
        for link in ports.values():
            assert "UP" in link["flags"] and link["addr_info"] == []
            assert (link.get("master") == SWITCH) is bridge
            assert ("PROMISC" in link["flags"]) is not bridge
        assert (SWITCH in switch) is bridge
        if bridge:
            assert switch[SWITCH]["addr_info"] == [] and "UP" in switch[SWITCH]["flags"]
            sender, receiver = socket_on(lan.hosts["alice"]), socket_on(lan.hosts["bob"])
            with sender, receiver:
                receiver.bind((lan.hosts["bob"].ip, 40000))
                receiver.settimeout(5)
                sender.sendto(b"hello", (lan.hosts["bob"].ip, 40000))
                assert receiver.recvfrom(100) == (b"hello", (lan.hosts["alice"].ip, sender.getsockname()[1]))
    finally:
        lan.close()


@needs_root
def test_a_request_netlink_refuses_names_what_and_why(tmp_path):
    """The kernel's refusal is an error naming the request and the reason, not a silent half-built LAN."""
    from harness.net.lan import NETNS_DIR, made_in, make_lan
    from harness.net.netlink import Route, route_socket
    lan = make_lan(["tracker"], tmp_path)
    try:
        with Route(made_in(NETNS_DIR / lan.hosts["tracker"].namespace, route_socket)) as route:
            route.add_bridge("twice")
            with pytest.raises(OSError, match="^.*could not make the bridge twice: File exists"):
                route.add_bridge("twice")
            with pytest.raises(OSError, match="could not find the interface nowhere: No such device"):
                route.index_of("nowhere")
    finally:
        lan.close()


def test_a_capture_keeps_what_its_limit_allows_and_counts_the_rest(tmp_path):
    """A flood on the LAN: frames past the limit are counted, not stored."""
    import subprocess
    from harness.net.capture import Capture
    from harness.net.lan import make_lan
    if mode.hosts_unavailable() is not None:
        pytest.skip(mode.hosts_unavailable())
    lan = make_lan(["tracker", "alice"], tmp_path)
    capture = Capture(lan.switch_path, lan.ports, limit_bytes=20_000)
    try:
        capture.start()
        flood = ("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                 f"for _ in range(200):\n    s.sendto(b'x' * 1000, ('{lan.hosts['tracker'].ip}', 9))\n")
        subprocess.run(["python3", "-c", flood], preexec_fn=lan.hosts["alice"].enter, check=True, timeout=30)
        frames = capture.sync()
    finally:
        capture.stop()
        lan.close()
    assert sum(len(f.data) for f in frames) <= 20_000
    udp = [f for f in frames if len(f.data) > 1000]
    assert len(udp) + capture.dropped >= 200 and capture.dropped > 150


def test_a_hard_coded_port_and_port_range_on_loopback(grade, tmp_path):
    """Scenarios needing the same hard-coded tracker port take turns; users' ports come from the range."""
    submission = tmp_path / "pinned_port"
    shutil.copytree(ROOT / "reference", submission, ignore=shutil.ignore_patterns("__pycache__"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (submission / "tweeter.yaml").write_text(f"network: {{tracker: {{port: {port}}}, ports: [23000, 23099]}}\n")
    graded = grade(submission, specs=["register_new", "register_duplicate", "follow_success", "query_none"],
                   extra=("--network", "loopback", "--jobs", "2"))
    assert graded.status == 0, graded.output
    log = (graded.out / "pinned_port" / "transcripts" / "register_new" / "alice.log").read_text()
    assert f"user.py 127.0.0.1 {port}" in log
    registered = [int(p) for p in log.split("> register @alice 127.0.0.1 ", 1)[1].split("\n", 1)[0].split()]
    assert len(registered) == 3 and all(23000 <= p <= 23099 for p in registered)
