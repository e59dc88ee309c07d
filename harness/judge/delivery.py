"""The delivery of one tweet, split into the six properties a TA would look at: delivered once,
nobody else, ring order, peer to peer, came back, text intact. So a submission loses the points of
what it broke and nothing else.

Where the wire was captured (hosts mode) and a packet carried the tweet's text, the wire decides who
sent it to whom, in what order, whether it came back and whether it reached anyone else: printed
forwarder labels can be made up (a star whose followers print ring labels). Printed lines decide
what only they can show: that each follower printed it once, and whole. On loopback, ring order is
decided from the forwarding handles each follower prints (the chain from the tweeter back round),
never from the order in which lines of different processes happened to reach the harness, which
races on a fast ring. Every check says which evidence decided it.
"""

from __future__ import annotations

from harness.inputs.scenario import DELIVERY_PROPERTIES
from harness.judge.checks import CheckResult, failed, passed, skipped
from harness.judge.wire_evidence import TRACKER, WireView
from harness.run.records import DeliverySeen, TweetSeen

ARRIVAL_NOISE_S = 0.05  # arrival times closer than this do not order lines of different processes


def judge_delivery(obs: TweetSeen, graded: tuple[str, ...] = DELIVERY_PROPERTIES, wire: WireView | None = None,
                   wire_note: str = "", prints_received: bool = True) -> list[CheckResult]:
    """All six properties; those a scenario does not grade are reported but cannot fail it.

    So that one bug costs one scenario, each scenario grades the properties it is about (a tweet
    truncated to its first word loses the text scenarios, not every ring scenario as well).
    `wire`: what the capture shows (hosts mode, when a packet carried the text); `wire_note`: why a
    capture that exists could not decide (it is added to the console checks that fall back).
    """
    ring = sorted(obs.followers or [])
    if wire is not None:
        results = [_once(obs, ring), _nobody_else_wire(obs, wire), _ring_order_wire(obs, wire),
                   _peer_to_peer_wire(wire), _came_back_wire(obs, wire), _intact(obs)]
    else:
        results = [_once(obs, ring), _nobody_else(obs), _ring_order(obs, ring), _peer_to_peer(obs, ring),
                   _came_back(obs), _intact(obs)]
        for result in results[1:5]:
            if wire_note and result.status != "skipped":
                result.message += f" ({wire_note})"
    if not prints_received:
        results = [_unseen(result) if result.evidence != "wire" else result for result in results]
    for key, result in zip(DELIVERY_PROPERTIES, results):
        if result.evidence is None:
            result.evidence = "console"
        if key not in graded and result.status == "failed":
            result.status = "skipped"
            result.message = f"not graded in this scenario, but seen: {result.message}"
    return results


def tweet_json(obs: TweetSeen, wire: WireView | None = None) -> dict:
    """A judged tweet for the reports (the time-space diagram): who printed it, from whom, and when;
    and in hosts mode the packets that carried it."""
    data = {"tweeter": obs.tweeter, "text": obs.text, "ring": sorted(obs.followers or []),
            "returned": obs.returned, "end_tweet": obs.end_tweet,
            "deliveries": [{"receiver": d.receiver, "forwarder": d.forwarder, "text": d.text, "seq": d.seq,
                            "t": d.t} for d in obs.deliveries]}
    if wire is not None:
        data["hops"] = [{"t": h.t, "src": h.src, "dst": h.dst, "seq": h.seq} for h in wire.hops]
    return data


def _unseen(result: CheckResult) -> CheckResult:
    """A property only printed lines could show, from a submission that prints no received tweet."""
    return skipped(result.name, "not judged: the submission prints no line when a tweet reaches a follower "
                   "(tweets.received: null); print the tweet and who passed it on, so that this can be seen")


def _wired(result: CheckResult) -> CheckResult:
    result.evidence = "wire"
    if result.status != "skipped":
        result.message += " (evidence: wire)"
    return result


def _host(name: str) -> str:
    return "the tracker's host" if name == TRACKER else f"{name}'s host"


def _by_receiver(obs: TweetSeen) -> dict[str, list[DeliverySeen]]:
    grouped: dict[str, list[DeliverySeen]] = {}
    for delivery in obs.deliveries:
        grouped.setdefault(delivery.receiver, []).append(delivery)
    return grouped


def _once(obs: TweetSeen, ring: list[str]) -> CheckResult:
    name = "every follower receives it exactly once"
    grouped = _by_receiver(obs)
    missing = [f for f in ring if f not in grouped]
    twice = [f"{f} ({len(grouped[f])} times)" for f in ring if len(grouped.get(f, [])) > 1]
    if not ring:
        return passed(name, "no followers, nobody to deliver to")
    if missing or twice:
        parts = []
        if missing:
            parts.append(f"never printed it: {', '.join(missing)}")
        if twice:
            parts.append(f"printed it more than once: {', '.join(twice)}")
        return failed(name, f"expected each of {', '.join(ring)} to print it once; " + "; ".join(parts))
    return passed(name, f"{', '.join(ring)} each printed it once")


def _nobody_else(obs: TweetSeen) -> CheckResult:
    name = "nobody else receives it"
    extra = sorted({d.receiver for d in obs.deliveries if d.receiver not in (obs.followers or [])})
    if extra:
        return failed(name, f"only followers of {obs.tweeter} may print it, but {', '.join(extra)} did too")
    return passed(name, "no one outside the followers printed it")


def _chain(obs: TweetSeen, ring: list[str]) -> list[str] | None:
    """Follow the forwarding handles from the tweeter; None if they do not form one chain."""
    firsts = {d.receiver: d.forwarder for d in reversed(obs.deliveries) if d.receiver in ring}
    if not firsts or any(forwarder is None for forwarder in firsts.values()):
        return None
    by_forwarder: dict[str, list[str]] = {}
    for receiver, forwarder in firsts.items():
        by_forwarder.setdefault(forwarder or "", []).append(receiver)
    chain, current = [], obs.tweeter
    while len(by_forwarder.get(current, [])) == 1 and len(chain) <= len(firsts):
        current = by_forwarder[current][0]
        chain.append(current)
    return chain if len(chain) == len(firsts) else None


def _peer_to_peer(obs: TweetSeen, ring: list[str]) -> CheckResult:
    name = "forwarded peer to peer round the ring"
    if not obs.reads_forwarder:
        return skipped(name, "not judged: the submission does not print the forwarding handle")
    received = [d for d in obs.deliveries if d.receiver in ring]
    if len(ring) <= 1 or not received:
        return skipped(name, "not judged: fewer than two followers received it")
    if _chain(obs, ring) is None:
        sources = ", ".join(f"{d.receiver} from {d.forwarder or '?'}" for d in received)
        return failed(name, "each follower must get the tweet from its left neighbour in the ring "
                      f"(the tweeter sends only to the first follower); seen: {sources}")
    return passed(name, "each follower got it from the previous one (evidence: forwarding handles)")


def _ring_order(obs: TweetSeen, ring: list[str]) -> CheckResult:
    name = "followers receive it in alphabetical (ring) order"
    present = [f for f in ring if any(d.receiver == f for d in obs.deliveries)]
    if len(present) <= 1:
        return skipped(name, "not judged: fewer than two followers received it")
    if obs.reads_forwarder:
        chain = _chain(obs, ring)
        if chain is None:
            return skipped(name, "not judged: the forwarding handles do not form one chain "
                           "(see 'forwarded peer to peer')")
        expected = [f for f in ring if f in chain]
        if chain != expected:
            return failed(name, f"expected the ring {_ring_text(obs.tweeter, expected)}; the forwarding "
                          f"handles printed show {_ring_text(obs.tweeter, chain)}")
        return passed(name, f"{_ring_text(obs.tweeter, chain)} (evidence: forwarding handles)")
    return _order_by_arrival(obs, name, present)


def _order_by_arrival(obs: TweetSeen, name: str, present: list[str]) -> CheckResult:
    """Without forwarding handles, only gaps far above scheduling noise can show an order."""
    first_seen = {}
    for delivery in obs.deliveries:
        first_seen.setdefault(delivery.receiver, delivery.t)
    for earlier, later in zip(present, present[1:]):
        if first_seen[later] < first_seen[earlier] - ARRIVAL_NOISE_S:
            gap_ms = (first_seen[earlier] - first_seen[later]) * 1000
            return failed(name, f"{later} printed it {gap_ms:.0f} ms before {earlier}, but {earlier} "
                          "comes first in the ring (evidence: arrival times)")
    return passed(name, f"{' -> '.join(present)} (evidence: arrival times; gaps under "
                  f"{ARRIVAL_NOISE_S * 1000:.0f} ms are not judged)")


def _came_back(obs: TweetSeen) -> CheckResult:
    name = "it returns to the tweeter and end-tweet succeeds"
    if obs.returned is False:
        return failed(name, f"{obs.tweeter} never printed that the tweet came back round the ring")
    if obs.end_tweet != "success":
        seen = "no answer" if obs.end_tweet is None else "FAILURE"
        return failed(name, f"expected end-tweet for {obs.tweeter} to succeed; seen: {seen}")
    return passed(name, "came back and end-tweet answered SUCCESS")


def _intact(obs: TweetSeen) -> CheckResult:
    name = "the text arrives intact"
    wrong = [d for d in obs.deliveries if d.text != obs.text]
    if not obs.deliveries:
        return skipped(name, "not judged: nobody printed it")
    if wrong:
        sample = wrong[0]
        return failed(name, f"sent {obs.text!r} ({len(obs.text)} characters); {sample.receiver} printed "
                      f"{sample.text!r} ({len(sample.text or '')} characters)")
    return passed(name, f"all {len(obs.deliveries)} copies match the {len(obs.text)} characters sent")


def _ring_text(tweeter: str, order: list[str]) -> str:
    return " -> ".join([tweeter, *order, tweeter])


# -- from the wire (hosts mode) --------------------------------------------------------------------
def _peer_to_peer_wire(wire: WireView) -> CheckResult:
    name = "forwarded peer to peer round the ring"
    received = [f for f in wire.ring if f in wire.first_from]
    if len(wire.ring) <= 1 or not received:
        return skipped(name, "not judged: fewer than two followers received it")
    problems = []
    relays = wire.relays()
    if relays:
        problems.append(f"the tracker sent it to {', '.join(sorted({h.dst for h in relays}))} itself: a tweet "
                        "travels from user to user, not through the tracker")
    chain = wire.chain()
    if chain is None:
        wrong = [f"{f} got it from {_host(wire.first_from[f])}, not from {_host(wire.left_of(f))}"
                 for f in received if wire.first_from[f] != wire.left_of(f)]
        problems.append("each follower must get the tweet from its left neighbour in the ring (the tweeter "
                        "sends only to the first follower); " + "; ".join(wrong or ["the packets form no chain"]))
    else:
        extra = wire.extra_sends_by_tweeter(chain)
        if extra:
            problems.append(f"{wire.tweeter} also sent it straight to {', '.join(sorted({h.dst for h in extra}))}")
    if problems:
        return _wired(failed(name, "; ".join(problems)))
    return _wired(passed(name, f"each follower got it from the previous one, host to host ({len(wire.hops)} "
                         "packets carried the text)"))


def _ring_order_wire(obs: TweetSeen, wire: WireView) -> CheckResult:
    name = "followers receive it in alphabetical (ring) order"
    received = [f for f in wire.ring if f in wire.first_from]
    if len(received) <= 1:
        return skipped(name, "not judged: fewer than two followers received it")
    chain = wire.chain()
    if chain is None or wire.relays():
        return _wired(skipped(name, "not judged: the packets do not travel one chain (see 'forwarded peer to peer')"))
    expected = [f for f in wire.ring if f in chain]
    if chain != expected:
        return _wired(failed(name, f"expected the ring {_ring_text(obs.tweeter, expected)}; the packets went "
                             f"{_ring_text(obs.tweeter, chain)}"))
    return _wired(passed(name, _ring_text(obs.tweeter, chain)))


def _came_back_wire(obs: TweetSeen, wire: WireView) -> CheckResult:
    name = "it returns to the tweeter and end-tweet succeeds"
    if wire.ring:
        chain = wire.chain()
        last = chain[-1] if chain else None
        back = wire.came_back_from(last)
        if back is None:
            claim = f" (though {obs.tweeter} printed that it came back)" if obs.returned else ""
            where = f" from {last}, the last follower it reached" if last else ""
            return _wired(failed(name, f"no packet carried the tweet back to {_host(obs.tweeter)}{where}{claim}"))
    if obs.end_tweet != "success":
        seen = "no answer" if obs.end_tweet is None else "FAILURE"
        return _wired(failed(name, f"came back, but end-tweet for {obs.tweeter} did not succeed; seen: {seen}"))
    return _wired(passed(name, "came back and end-tweet answered SUCCESS"))


def _nobody_else_wire(obs: TweetSeen, wire: WireView) -> CheckResult:
    name = "nobody else receives it"
    outsiders = wire.outsiders()
    if outsiders:
        sent = ", ".join(f"{h.dst} (from {_host(h.src)})" for h in outsiders)
        return _wired(failed(name, f"only followers of {obs.tweeter} may receive it, but it was sent to {sent}"))
    return _wired(passed(name, "no packet carried it to anyone outside the ring"))
