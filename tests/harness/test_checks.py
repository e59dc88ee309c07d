"""The delivery properties on hand-built observations: each bug fails its own property only."""

from __future__ import annotations

from harness.judge.delivery import judge_delivery
from harness.run.records import DeliverySeen, ReplySeen, TweetSeen

FOLLOWERS = ["@bob", "@carol", "@dave"]
TEXT = "hello ring"


def observe(hops: list[tuple[str, str, float]], text: str = TEXT, **overrides) -> TweetSeen:
    """hops: (receiver, forwarder, arrival time)."""
    deliveries = [DeliverySeen(receiver=receiver, seq=i, t=t, text=text, tweeter="@alice",
                               forwarder=forwarder, printed_receiver=receiver)
                  for i, (receiver, forwarder, t) in enumerate(hops)]
    fields = dict(user="alice", tweeter="@alice", text=TEXT, followers=FOLLOWERS, deliveries=deliveries,
                  returned=True, end_tweet="success", reads_forwarder=True,
                  reply=ReplySeen(user="alice", command="tweet", what="tweet by @alice", typed_seq=0))
    fields.update(overrides)
    return TweetSeen(**fields)


def statuses(obs: TweetSeen) -> dict[str, str]:
    return {check.name: check.status for check in judge_delivery(obs)}


def failing(obs: TweetSeen) -> set[str]:
    return {name for name, status in statuses(obs).items() if status == "failed"}


RING = [("@bob", "@alice", 1.0), ("@carol", "@bob", 1.1), ("@dave", "@carol", 1.2)]


def test_a_correct_ring_passes_everything():
    assert failing(observe(RING)) == set()


def test_lines_arriving_out_of_order_do_not_matter_when_forwarders_are_printed():
    shuffled = [("@dave", "@carol", 1.0), ("@bob", "@alice", 1.001), ("@carol", "@bob", 1.0005)]
    assert failing(observe(shuffled)) == set()


def test_a_printed_star_fails_the_ring_and_its_order_as_a_star():
    """No ring, so no ring order either: a scenario that grades only the order (a ring updated after a
    follow) must not give its points to a star; the message says it is a star, not that it is unsorted."""
    star = [("@bob", "@alice", 1.0), ("@carol", "@alice", 1.0), ("@dave", "@alice", 1.0)]
    assert failing(observe(star)) == {"forwarded peer to peer round the ring",
                                      "followers receive it in alphabetical (ring) order"}
    order = {c.name: c for c in judge_delivery(observe(star))}["followers receive it in alphabetical (ring) order"]
    assert order.message.startswith("the forwarding handles printed show a star, not a ring")


def test_ring_in_follow_order_fails_order_only():
    wrong = [("@carol", "@alice", 1.0), ("@bob", "@carol", 1.1), ("@dave", "@bob", 1.2)]
    assert failing(observe(wrong)) == {"followers receive it in alphabetical (ring) order"}


def test_missing_and_duplicate_and_extra_deliveries():
    assert failing(observe(RING[:2], returned=False)) == {
        "every follower receives it exactly once", "it reaches every follower",
        "it returns to the tweeter and end-tweet succeeds"}
    # a duplicate is not a missing follower: `reached` lets the ring-update scenarios ignore it
    assert failing(observe([*RING, ("@dave", "@carol", 1.3)])) == {"every follower receives it exactly once"}
    assert failing(observe([*RING, ("@erin", "@dave", 1.3)])) == {"nobody else receives it"}


def test_truncated_text_fails_intact_only():
    assert failing(observe(RING, text="hello")) == {"the text arrives intact"}


def test_failed_end_tweet():
    assert failing(observe(RING, end_tweet="failure")) == {"it returns to the tweeter and end-tweet succeeds"}
    assert failing(observe(RING, end_tweet=None)) == {"it returns to the tweeter and end-tweet succeeds"}


def test_without_forwarders_order_is_judged_by_clear_gaps_only():
    def no_forwarder(hops):
        obs = observe(hops, reads_forwarder=False)
        for d in obs.deliveries:
            d.forwarder = None
        return obs

    noisy = [("@carol", "", 1.000), ("@bob", "", 1.010), ("@dave", "", 1.02)]
    assert failing(no_forwarder(noisy)) == set()
    slow_wrong = [("@carol", "", 1.0), ("@bob", "", 2.0), ("@dave", "", 3.0)]
    assert failing(no_forwarder(slow_wrong)) == {"followers receive it in alphabetical (ring) order"}
    slow_right = [("@bob", "", 1.0), ("@carol", "", 2.0), ("@dave", "", 3.0)]
    assert statuses(no_forwarder(slow_right))["followers receive it in alphabetical (ring) order"] == "passed"
    # too close to order, and nothing printed that would show a ring: not seen, so not credited
    assert statuses(no_forwarder(noisy))["followers receive it in alphabetical (ring) order"] == "unverified"
    assert statuses(no_forwarder(noisy))["forwarded peer to peer round the ring"] == "unverified"


def test_a_return_nothing_shows_is_not_credited():
    """No 'came back' line, and the harness typed end-tweet itself: its SUCCESS shows no ring."""
    by_harness = observe(RING, returned=None, end_tweet_typed_seq=7)
    assert statuses(by_harness)["it returns to the tweeter and end-tweet succeeds"] == "unverified"
    by_itself = observe(RING, returned=None)  # the user sent end-tweet itself once the tweet was back
    assert statuses(by_itself)["it returns to the tweeter and end-tweet succeeds"] == "passed"


def test_followers_that_print_nothing_leave_the_printed_properties_unseen():
    results = {c.name: c for c in judge_delivery(observe([]), prints_received=False)}
    assert results["every follower receives it exactly once"].status == "unverified"
    assert "tweets.received: null" in results["every follower receives it exactly once"].message
    assert results["it returns to the tweeter and end-tweet succeeds"].status == "passed"  # its own line shows it


def test_what_a_scenario_does_not_grade_cannot_cost_it_points():
    results = {c.name: c for c in judge_delivery(observe(RING[:2], returned=False), graded=("ring_order",))}
    assert results["every follower receives it exactly once"].status == "skipped"
    assert results["every follower receives it exactly once"].message.startswith("not graded in this scenario (seen:")


def test_each_failure_has_its_cause_in_one_line():
    twice = {c.name: c for c in judge_delivery(observe([*RING, ("@dave", "@carol", 1.3)]))}
    assert twice["every follower receives it exactly once"].cause == "@dave printed the tweet twice"
    star = [("@bob", "@alice", 1.0), ("@carol", "@alice", 1.0), ("@dave", "@alice", 1.0)]
    p2p = {c.name: c for c in judge_delivery(observe(star))}["forwarded peer to peer round the ring"]
    assert p2p.cause == "@carol got the tweet straight from @alice: not a ring"


def test_tweets_at_once_must_be_seen_in_flight_together():
    from harness.inputs.scenario import load_scenario
    from harness.judge.steps import StepJudge
    from harness.run.records import ScenarioRecord, StepRecord
    from tests.conftest import SPECS

    scenario = load_scenario(SPECS / "concurrent_tweets.yaml")
    first = observe([("@carol", "@alice", 1.0), ("@dave", "@carol", 1.1)], followers=["@carol", "@dave"])
    second = observe([], user="bob", tweeter="@bob", followers=["@carol", "@dave"], returned=None, end_tweet=None,
                     reply=ReplySeen(user="bob", command="tweet", what="tweet by @bob", typed_seq=5, outcome="failure"))
    first.reply.outcome, first.back_seq = "success", 9
    step = StepRecord(number=6, kind="tweets_at_once", tweets=[first, second], attempts=2)
    record = ScenarioRecord(scenario_id="concurrent_tweets", file="", handles={"alice": "@alice", "bob": "@bob"},
                            steps=[step])
    overlap = {c.name: c for c in StepJudge(scenario, record).checks(step)}["the tweets were in flight at the same time"]
    assert overlap.status == "passed"  # @bob typed (seq 5) before @alice's came back (seq 9): refused, as allowed
    first.back_seq = 3  # @alice's came back before @bob's was typed, on both tries: nothing was concurrent
    overlap = {c.name: c for c in StepJudge(scenario, record).checks(step)}["the tweets were in flight at the same time"]
    assert overlap.status == "unverified" and "(played twice)" in overlap.message
