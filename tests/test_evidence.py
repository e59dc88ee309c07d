"""A tweet's path judged from the packets whatever they carry, and nothing credited without evidence:
the purpose-built submissions of tests/submissions/evidence_variants.py, graded once as a class on the
LAN, each to an exact score that loses exactly the scenarios a TA would take points off."""

from __future__ import annotations

import json

import pytest

from harness.cli import main
from harness.net import mode
from tests.submissions.evidence_variants import VARIANTS, build

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(mode.hosts_unavailable() is not None,
                                 reason=f"hosts mode unavailable here: {mode.hosts_unavailable()}")]

RING_SCENARIOS = {"tweet_ring_order", "demo_two_rings", "ring_update_follow", "ring_update_drop"}
TEXT_SCENARIOS = {"tweet_text_intact", "tweet_140_characters"}
EXPECTED = {  # submission -> (score, the scenarios it loses points in)
    "ring_base64": (100, set()),
    "ring_code_home": (100, set()),
    "concurrent_tweets_ok": (100, set()),
    "star_encoded": (76, RING_SCENARIOS),
    "star_tcp": (76, RING_SCENARIOS),
    "tracker_relays_first_word": (63, RING_SCENARIOS | TEXT_SCENARIOS | {"tweet_one_follower"}),
    "reaches_nobody": (49, RING_SCENARIOS | TEXT_SCENARIOS | {"tweet_one_follower", "concurrent_tweets",
                                                              "drop_success", "exit_cleanup"}),
    "tweets_one_after_another": (96, {"concurrent_tweets"}),
}
PEER_TO_PEER = "forwarded peer to peer round the ring"
RING_ORDER = "followers receive it in alphabetical (ring) order"
CAME_BACK = "it returns to the tweeter and end-tweet succeeds"
INTACT = "the text arrives intact"
OVERLAP = "the tweets were in flight at the same time"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Every purpose-built submission graded once, as a class, on the LAN."""
    folder = tmp_path_factory.mktemp("evidence")
    for name in VARIANTS:
        build(name, folder)
    out = tmp_path_factory.mktemp("evidence-out")
    status = main(["grade", str(folder), "--jobs", "2", "--network", "hosts", "--out", str(out)])
    return status, {name: json.loads((out / name / "report.json").read_text()) for name in VARIANTS}


def scenario(reports: dict, name: str, scenario_id: str) -> dict:
    return next(s for s in reports[name]["scenarios"] if s["id"] == scenario_id)


def checks(reports: dict, name: str, scenario_id: str, check: str) -> list[dict]:
    return [c for c in scenario(reports, name, scenario_id)["checks"] if c["name"] == check]


def test_every_purpose_built_submission_has_an_expected_score():
    assert set(EXPECTED) == set(VARIANTS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_scores_exactly_what_a_ta_would_give(graded, name):
    status, reports = graded
    assert status == 1
    score, lost = EXPECTED[name]
    report = reports[name]
    assert report["network"]["mode"] == "hosts"
    assert {s["id"] for s in report["scenarios"] if s["score"] < s["max_score"]} == lost, \
        {s["id"]: s["summary"] for s in report["scenarios"] if s["status"] != "passed"}
    assert report["score"] == score


def test_a_ring_is_read_through_base64_and_comes_back_with_a_code(graded):
    _, reports = graded
    intact = checks(reports, "ring_base64", "tweet_text_intact", INTACT)[0]
    assert intact["status"] == "passed"
    for check in checks(reports, "ring_base64", "tweet_ring_order", PEER_TO_PEER):
        assert check["evidence"] == "wire" and "readable" not in check["message"]
    home = checks(reports, "ring_code_home", "tweet_one_follower", CAME_BACK)[0]
    assert home["evidence"] == "wire"
    assert "a packet from @bob's host (no readable text) reached @alice's host" in home["message"]


def test_a_star_with_ring_labels_and_scrambled_packets_is_a_star_wherever_the_ring_is_graded(graded):
    _, reports = graded
    p2p = checks(reports, "star_encoded", "tweet_ring_order", PEER_TO_PEER)[0]
    assert p2p["status"] == "failed" and p2p["evidence"] == "wire"
    assert "@carol printed it, but no packet reached @carol's host from @bob's host" in p2p["message"]
    assert "the packets carried no readable text; the ring was followed hop by hop" in p2p["message"]
    for scenario_id in ("ring_update_follow", "ring_update_drop"):  # they grade the order, not the path
        order = checks(reports, "star_encoded", scenario_id, RING_ORDER)[-1]
        assert order["status"] == "failed" and order["message"].startswith("no ring:"), order["message"]
        assert "alphabetical order" not in order["message"]  # a star, not an unsorted ring


def test_a_star_over_tcp_is_named_a_star(graded):
    _, reports = graded
    order = checks(reports, "star_tcp", "ring_update_follow", RING_ORDER)[-1]
    assert order["status"] == "failed" and order["evidence"] == "wire"
    assert order["message"].startswith("a star, not a ring: @alice's host sent the text to @bob, @carol, @dave")


def test_a_tracker_relaying_the_first_word_loses_the_ring_and_the_text_on_the_wire(graded):
    _, reports = graded
    p2p = checks(reports, "tracker_relays_first_word", "tweet_ring_order", PEER_TO_PEER)[0]
    assert p2p["status"] == "failed" and "the tracker sent it to @bob, @carol, @dave, @erin itself" in p2p["message"]
    assert "the packets carried only 'hello', the first word of the text" in p2p["message"]
    intact = checks(reports, "tracker_relays_first_word", "tweet_text_intact", INTACT)[0]
    assert intact["status"] == "failed" and intact["evidence"] == "wire"
    assert "carried only 'Hello,', the first word of the text" in intact["message"]
    assert "encoded" not in json.dumps(reports["tracker_relays_first_word"])


def test_a_tweet_that_reaches_nobody_earns_nothing_for_its_text_or_its_order(graded):
    _, reports = graded
    for scenario_id in TEXT_SCENARIOS:
        intact = checks(reports, "reaches_nobody", scenario_id, INTACT)[0]
        assert intact["status"] == "failed" and "it went only to the tracker" in intact["message"]
    for scenario_id in ("ring_update_follow", "ring_update_drop", "tweet_ring_order"):
        assert checks(reports, "reaches_nobody", scenario_id, RING_ORDER)[-1]["status"] in ("failed", "unverified")
    back = checks(reports, "reaches_nobody", "tweet_one_follower", CAME_BACK)[0]
    assert back["status"] == "failed" and "(though @alice printed that it came back)" in back["message"]


def test_two_tweets_are_told_apart_on_the_wire_and_overlap_only_when_their_packets_do(graded):
    _, reports = graded
    both = scenario(reports, "concurrent_tweets_ok", "concurrent_tweets")
    overlap = next(c for c in both["checks"] if c["name"] == OVERLAP)
    assert overlap["status"] == "passed" and overlap["evidence"] == "wire"
    for check in (c for c in both["checks"] if c["name"] in (PEER_TO_PEER, RING_ORDER)):
        assert check["status"] == "passed" and check["evidence"] == "wire"  # each tweet's own packets
    apart = next(c for c in scenario(reports, "tweets_one_after_another", "concurrent_tweets")["checks"]
                 if c["name"] == OVERLAP)
    assert apart["status"] == "unverified" and apart["evidence"] == "wire"
    assert "one tweet had ended at the tracker before the other's first packet" in apart["message"]
