"""Judging from the wire: purpose-built submissions (tests/submissions/variants.py) that only a
capture of the LAN can tell apart from a correct ring, and correct ones that only a LAN can run."""

from __future__ import annotations

import json

import pytest

from harness.net import mode
from tests.submissions.variants import build

pytestmark = pytest.mark.skipif(mode.hosts_unavailable() is not None,
                                reason=f"hosts mode unavailable here: {mode.hosts_unavailable()}")

PEER_TO_PEER = "forwarded peer to peer round the ring"
RING_ORDER = "followers receive it in alphabetical (ring) order"


def check(scenario: dict, name: str) -> dict:
    return next(c for c in scenario["checks"] if c["name"] == name)


def test_a_star_with_ring_labels_fools_the_console_but_not_the_wire(grade, grade_console_only, tmp_path):
    folder = build("star_ring_labels", tmp_path)
    console = grade_console_only(folder, specs=["tweet_ring_order"])
    looks_right = console.scenario("star_ring_labels", "tweet_ring_order")
    assert looks_right["status"] == "passed"  # the documented limit of console evidence
    assert check(looks_right, PEER_TO_PEER)["evidence"] == "console"
    on_lan = grade(folder, specs=["tweet_ring_order"], extra=("--network", "hosts"))
    caught = on_lan.scenario("star_ring_labels", "tweet_ring_order")
    assert caught["status"] == "failed"
    p2p = check(caught, PEER_TO_PEER)
    assert p2p["status"] == "failed" and p2p["evidence"] == "wire"
    for follower, left in (("@carol", "@bob"), ("@dave", "@carol"), ("@erin", "@dave")):
        assert f"{follower} got it from @alice's host, not from {left}'s host" in p2p["message"]
    assert "@bob got it" not in p2p["message"]  # @alice is @bob's left neighbour: that copy was right
    order = check(caught, RING_ORDER)  # no ring, so no order: said as a star, never as an unsorted ring
    assert order["status"] == "failed" and order["message"].startswith("a star, not a ring")


def test_a_tracker_that_relays_the_tweet_is_caught(grade, tmp_path):
    graded = grade(build("tracker_relays", tmp_path), specs=["tweet_ring_order"], extra=("--network", "hosts"))
    scenario = graded.scenario("tracker_relays", "tweet_ring_order")
    p2p = check(scenario, PEER_TO_PEER)
    assert p2p["status"] == "failed" and p2p["evidence"] == "wire"
    assert "the tracker sent it to @bob, @carol, @dave, @erin itself" in p2p["message"]
    assert check(scenario, "every follower receives it exactly once")["status"] == "passed"  # console is fine


def test_hard_coded_tracker_address_and_port_get_full_marks_on_a_lan(grade, tmp_path):
    folder = build("hardcoded_tracker", tmp_path)
    graded = grade(folder, extra=("--network", "hosts", "--jobs", "2"))
    report = graded.report("hardcoded_tracker")
    assert {s["id"]: s["message"] for s in report["scenarios"] if s["status"] != "passed"} == {}
    assert report["score"] == 100 and graded.status == 0
    tracker_log = (graded.out / "hardcoded_tracker" / "transcripts" / "register_new" / "alice.log").read_text()
    assert "10.120.70.106:8000" in tracker_log  # the address it hard-codes is the tracker's on the LAN
    on_loopback = grade(folder, specs=["register_new", "tweet_ring_order"], extra=("--network", "loopback"))
    assert on_loopback.status == 2
    for scenario in on_loopback.report("hardcoded_tracker")["scenarios"]:
        assert scenario["status"] == "error"
        assert "hard-codes the tracker's address 10.120.70.106" in scenario["message"]


def test_a_tcp_submission_is_judged_from_its_segments(grade, tmp_path):
    graded = grade(build("tcp_transport", tmp_path), specs=["register_new", "tweet_ring_order", "demo_two_rings"],
                   extra=("--network", "hosts"))
    assert graded.status == 0, graded.output
    ring = graded.scenario("tcp_transport", "tweet_ring_order")
    for name in (PEER_TO_PEER, RING_ORDER, "it returns to the tweeter and end-tweet succeeds"):
        assert check(ring, name)["evidence"] == "wire", check(ring, name)
    record = json.loads((graded.out / "tcp_transport" / "transcripts" / "tweet_ring_order" / "record.json").read_text())
    assert {w["proto"] for w in record["wire"]} <= {"tcp", "arp"}


def test_a_submission_binding_its_host_name_runs_on_a_lan(grade, tmp_path):
    graded = grade(build("binds_hostname", tmp_path), specs=["register_new", "follow_success", "tweet_ring_order"],
                   extra=("--network", "hosts"))
    assert graded.status == 0, graded.output
    tracker_log = (graded.out / "binds_hostname" / "transcripts" / "register_new" / "tracker.log").read_text()
    assert "listening on 10.0.0.1:" in tracker_log  # gethostbyname(getfqdn()) is the tracker's own address
