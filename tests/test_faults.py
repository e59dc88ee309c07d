"""Network faults in hosts mode: a switch in user space drops, copies and holds frames between hosts,
decided by a seed alone, records each frame's fate, and the judge names what was lost for good.

The switch-level tests send real datagrams from one host's socket to another's through the switch;
the grading-level tests grade the reference (which retries) and the example that sends everything once
(student_submissions/no_retries).
"""

from __future__ import annotations

import base64
import contextlib
import json
import select
import socket
import struct
import threading
import time
from collections import Counter
from pathlib import Path

import dpkt
import pytest

from harness.cli import main
from harness.inputs.scenario import Faults
from harness.net import mode
from harness.net.capture import Frame, write_pcapng
from harness.net.lan import make_lan, socket_on
from harness.net.switch import FaultySwitch
from tests.conftest import ROOT, wait_until

needs_root = pytest.mark.skipif(mode.hosts_unavailable() is not None,
                                reason=f"hosts mode unavailable here: {mode.hosts_unavailable()}")
COUNT = 200
PORT = 9000
SMALL_RING = """name: a tweet to one follower
points: 3
users: [alice, bob]
{faults}
steps:
  - register: all
  - follow: {{user: bob, target: alice}}
  - tweet: {{user: alice, deliver_to: [bob]}}
"""


# -- switch level: real sockets in two hosts, the switch between them ----------------------------------
@contextlib.contextmanager
def switched_lan(folder: Path, faults: Faults, seed: int):
    lan = make_lan(["tracker", "alice"], folder, bridge=False)
    switch = FaultySwitch(lan.switch_path, lan.ports, faults, seed)
    try:
        switch.start()
        yield lan, switch
    finally:
        switch.stop()
        lan.close()


def ipv4(frames: list[Frame]) -> list[Frame]:
    return [f for f in frames if f.data[12:14] == b"\x08\x00"]


def index_of(frame: Frame) -> int:
    return int(dpkt.ethernet.Ethernet(frame.data).data.data.data)


def send_through(folder: Path, faults: Faults, seed: int) -> tuple[list[Frame], list[int]]:
    """COUNT datagrams numbered 0.. from alice's host to the tracker's: the switch's frames and the
    numbers the receiver got, in arrival order."""
    with switched_lan(folder, faults, seed) as (lan, switch):
        sender, receiver = socket_on(lan.hosts["alice"]), socket_on(lan.hosts["tracker"])
        with sender, receiver:
            receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            receiver.bind((lan.hosts["tracker"].ip, PORT))
            target = (lan.hosts["tracker"].ip, PORT)
            sender.sendto(b"0", target)  # the first waits for ARP; once it is through, the rest follow it
            assert wait_until(lambda: ipv4(switch.sync()), 5)
            for number in range(1, COUNT):
                sender.sendto(str(number).encode(), target)
            assert wait_until(lambda: len(ipv4(switch.sync())) >= COUNT, 10)
            frames = ipv4(switch.sync())
            expected = sum(1 for f in frames if f.fate != "dropped")
            received: list[int] = []
            deadline = time.monotonic() + 10
            while len(received) < expected and select.select([receiver], [], [], deadline - time.monotonic())[0]:
                received.append(int(receiver.recv(100)))
            assert not select.select([receiver], [], [], 0)[0], "more datagrams arrived than the switch sent"
    # the switch's thread closes its sockets after stop() returns (each close waits out an RCU grace period)
    assert wait_until(lambda: not [t for t in threading.enumerate() if t.name == "tweeter-switch"], 5)
    return frames, received


@needs_root
def test_the_same_seed_drops_the_same_datagrams_and_the_rest_arrive(tmp_path):
    frames, received = send_through(tmp_path, Faults(loss=0.2), seed=7)
    dropped = {index_of(f) for f in frames if f.fate == "dropped"}
    assert 20 <= len(dropped) <= 60, len(dropped)  # about 20 % of 200
    assert sorted(received) == sorted(set(range(COUNT)) - dropped)  # exactly the others, once each
    again, _ = send_through(tmp_path, Faults(loss=0.2), seed=7)
    assert {index_of(f) for f in again if f.fate == "dropped"} == dropped
    other, _ = send_through(tmp_path, Faults(loss=0.2), seed=8)
    assert {index_of(f) for f in other if f.fate == "dropped"} != dropped


@needs_root
def test_duplicates_reach_the_receiver_twice_and_are_recorded_as_copies(tmp_path):
    frames, received = send_through(tmp_path, Faults(duplicate=0.3), seed=3)
    copies = [index_of(f) for f in frames if f.fate == "duplicated"]
    assert 30 <= len(copies) <= 90, len(copies)
    assert {f.fate for f in frames} == {"delivered", "duplicated"}
    assert Counter(received) == Counter(list(range(COUNT)) + copies)


@needs_root
def test_delay_keeps_each_pair_in_order_unless_reordering_is_asked(tmp_path):
    in_order, received = send_through(tmp_path, Faults(delay_ms=(1, 20)), seed=5)
    assert received == list(range(COUNT))
    assert all(f.delay_ms is not None and f.delay_ms >= 1 for f in in_order)
    shuffled, received = send_through(tmp_path, Faults(delay_ms=(1, 20), reorder=True), seed=5)
    assert sorted(received) == list(range(COUNT)) and received != list(range(COUNT))
    assert all(1 <= f.delay_ms <= 20.001 for f in shuffled)


@needs_root
def test_every_fate_is_a_comment_in_the_pcapng(tmp_path):
    frames, _ = send_through(tmp_path, Faults(loss=0.2, duplicate=0.2, delay_ms=(2, 4)), seed=11)
    path = tmp_path / "capture.pcapng"
    write_pcapng(frames, path, seed=11)
    comments = pcapng_comments(path)
    assert len(comments) == len(frames)
    for frame, (data, comment) in zip(frames, comments):
        assert data == frame.data
        expected = {"dropped": "dropped by the harness (loss, seed 11)",
                    "duplicated": "duplicate copy made by the harness (duplicate, seed 11), delayed",
                    "delivered": "delayed"}[frame.fate]
        assert comment.startswith(expected), (frame.fate, comment)
    assert {f.fate for f in frames} == {"delivered", "dropped", "duplicated"}


def pcapng_comments(path: Path) -> list[tuple[bytes, str]]:
    """(packet bytes, its comment) of every enhanced packet block, read block by block."""
    data, blocks, at = path.read_bytes(), [], 0
    while at < len(data):
        kind, length = struct.unpack_from("<II", data, at)
        if kind == dpkt.pcapng.PCAPNG_BT_EPB:
            block = dpkt.pcapng.EnhancedPacketBlockLE(data[at:at + length])
            texts = [o.text for o in block.opts if o.code == dpkt.pcapng.PCAPNG_OPT_COMMENT]
            blocks.append((block.pkt_data, texts[0] if texts else ""))
        at += length
    return blocks


# -- grading level ----------------------------------------------------------------------------------
def spec(tmp_path: Path, faults: str = "") -> Path:
    path = tmp_path / ("lossy.yaml" if faults else "plain.yaml")
    path.write_text(SMALL_RING.format(faults=faults))
    return path


def lost_for_good(record: dict) -> list[dict]:
    """Dropped datagrams whose payload never crossed again from the same host to the same host."""
    wire = record["wire"]
    return [w for i, w in enumerate(wire) if w["fate"] == "dropped" and w["payload"] and not any(
        later["payload"] == w["payload"] and (later["src"], later["dst"]) == (w["src"], w["dst"])
        for later in wire[i + 1:])]


@needs_root
def test_the_reference_retries_through_loss_and_a_submission_without_retries_is_told_what_was_lost(grade, tmp_path):
    lossy = spec(tmp_path, "faults: {loss: 0.2, duplicate: 0.2, seed: 7}")
    graded = grade(ROOT / "reference", extra=("--specs", str(lossy), "--network", "hosts"))
    scenario = graded.scenario("reference", "lossy")
    folder = graded.out / "reference" / "transcripts" / "lossy"
    record = json.loads((folder / "record.json").read_text())
    assert scenario["status"] == "passed", scenario["message"]
    assert scenario["faults"] == {"loss": 0.2, "duplicate": 0.2} and scenario["seed"] == 7 and record["seed"] == 7
    fates = Counter(w["fate"] for w in record["wire"])
    assert fates["dropped"] and fates["duplicated"] and not lost_for_good(record)
    assert (folder / "capture.pcapng").exists() and not (folder / "capture.pcap").exists()

    graded = grade(ROOT / "student_submissions" / "no_retries", extra=("--specs", str(spec(tmp_path)), "--network", "hosts",
                                   "--faults", "loss=0.2,seed=7"))
    scenario = graded.scenario("no_retries", "plain")
    record = json.loads((graded.out / "no_retries" / "transcripts" / "plain" / "record.json").read_text())
    assert scenario["status"] != "passed" and scenario["faults"] == {"loss": 0.2}
    lost = lost_for_good(record)
    assert lost, "seed 7 drops a datagram of this traffic that the variant never sends again"
    first = lost[0]
    sender = "the tracker" if first["src"] == "tracker" else f"@{first['src']}"
    receiver = "the tracker" if first["dst"] == "tracker" else f"@{first['dst']}"
    op = json.loads(base64.b64decode(first["payload"]))["op"]
    named = f"the {op} from {sender} to {receiver} at {first['t']:.3f} s was dropped (loss, seed 7) and never sent again"
    assert named in scenario["summary"] and named in scenario["message"]
    html = (graded.out / "no_retries" / "report.html").read_text()
    assert "faults: 20 % loss, seed 7" in html and 'class="cut"' in html


def test_faults_on_loopback_are_refused_with_the_reason_not_graded_without_them(grade, tmp_path):
    graded = grade(ROOT / "reference", extra=("--specs", str(spec(tmp_path, "faults: {loss: 0.2, seed: 7}")),
                                              "--network", "loopback"))
    scenario = graded.scenario("reference", "lossy")
    assert scenario["status"] == "error" and scenario["score"] == 0
    assert "network faults (20 % loss, seed 7)" in scenario["summary"] and "--network hosts" in scenario["summary"]
    assert not (graded.out / "reference" / "transcripts" / "lossy" / "tracker.log").exists()  # nothing started


@pytest.mark.parametrize("value, message", [
    ("loss=1.5", "loss=1.5: should be at most 1, not 1.5"),
    ("delay=50-5", "delay=50-5: should be [lo, hi] with 0 <= lo <= hi"),
    ("lost=0.2", "'lost' is not a fault: use loss, duplicate, delay, reorder and seed"),
    ("seed=x", "seed=x: should be a whole number"),
])
def test_a_bad_faults_option_is_refused_in_one_line(capsys, value, message):
    with pytest.raises(SystemExit) as exit_status:
        main(["check", str(ROOT / "reference"), "--faults", value])
    errors = capsys.readouterr().err.strip().splitlines()
    assert exit_status.value.code == 2
    assert len(errors) == 1 and f"argument --faults: {message}" in errors[0], errors
