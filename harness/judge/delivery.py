"""The delivery of one tweet, split into the properties a TA would look at: delivered once (and,
apart, reached everyone), nobody else, ring order, peer to peer, came back, text intact. So a
submission loses the points of what it broke and nothing else.

Where the wire was captured (hosts mode) and a packet carried the tweet's text, the wire decides who
sent it to whom, in what order, whether it came back and whether it reached anyone else: printed
forwarder labels can be made up (a star whose followers print ring labels). Printed lines decide
what only they can show: that each follower printed it once, and whole. On loopback, ring order is
decided from the forwarding handles each follower prints (the chain from the tweeter back round),
never from the order in which lines of different processes happened to reach the harness, which
races on a fast ring. Every check says which evidence decided it.

Nothing is credited that was not seen: a property no evidence shows (a follower that prints nothing,
a tweeter that prints nothing when its tweet comes back and lets the harness type end-tweet, lines too
close together to order) is `unverified`, earns nothing, and says what to print to make it visible.
"""

from __future__ import annotations

from harness.inputs.scenario import DELIVERY_PROPERTIES
from harness.judge.checks import CheckResult, failed, passed, skipped, unverified
from harness.judge.wire_evidence import TRACKER, WireView
from harness.run.records import DeliverySeen, TweetSeen

ARRIVAL_NOISE_S = 0.05  # arrival times closer than this do not order lines of different processes
PRINT_RECEIVED = ("print each tweet a follower receives, with who passed it on (tweets.received), or grade "
                  "on a virtual LAN (--network hosts), where the wire shows it")
CONSOLE_ONLY = ("delivered_once", "intact", "reached")  # what only printed lines can show


def judge_delivery(obs: TweetSeen, graded: tuple[str, ...] = DELIVERY_PROPERTIES, wire: WireView | None = None,
                   wire_note: str = "", prints_received: bool = True) -> list[CheckResult]:
    """All six properties; those a scenario does not grade are reported but cannot cost it points.

    So that one bug costs one scenario, each scenario grades the properties it is about (a tweet
    truncated to its first word loses the text scenarios, not every ring scenario as well).
    `wire`: what the capture shows (hosts mode, when a packet carried the text); `wire_note`: why a
    capture that exists could not decide (it is added to the console checks that fall back).
    """
    ring = sorted(obs.followers or [])
    if wire is not None:
        results = [_once(obs, ring), _nobody_else_wire(obs, wire), _ring_order_wire(obs, wire),
                   _peer_to_peer_wire(wire), _came_back_wire(obs, wire), _intact(obs), _reached(obs, ring)]
    else:
        results = [_once(obs, ring), _nobody_else(obs), _ring_order(obs, ring), _peer_to_peer(obs, ring),
                   _came_back(obs), _intact(obs), _reached(obs, ring)]
        for result in results[1:5]:
            if wire_note and result.status != "skipped":
                result.message += f" ({wire_note})"
    for key, result in zip(DELIVERY_PROPERTIES, results):
        if not prints_received and result.evidence != "wire" and result.status != "skipped" \
                and (key in CONSOLE_ONLY or wire is None) and key != "returned":
            result.status, result.cause = "unverified", f"could not see whether {result.name}"
            result.message = ("not seen: the submission prints nothing when a tweet reaches a follower "
                              f"(tweets.received: null); {PRINT_RECEIVED}")
        if result.evidence is None:
            result.evidence = "console"
        if key not in graded and result.status in ("failed", "unverified"):
            seen = "seen" if result.status == "failed" else "not seen"
            result.status = "skipped"
            result.message = f"not graded in this scenario ({seen}: {result.message})"
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


def _times(count: int) -> str:
    return {2: "twice", 3: "three times"}.get(count, f"{count} times")


def _once(obs: TweetSeen, ring: list[str]) -> CheckResult:
    name = "every follower receives it exactly once"
    grouped = _by_receiver(obs)
    missing = [f for f in ring if f not in grouped]
    twice = [f for f in ring if len(grouped.get(f, [])) > 1]
    if not ring:
        return passed(name, "no followers, nobody to deliver to")
    if missing or twice:
        parts, causes = [], []
        if missing:
            parts.append(f"never printed it: {', '.join(missing)}")
            causes.append(f"{', '.join(missing)} never printed the tweet")
        if twice:
            parts.append("printed it more than once: " + ", ".join(f"{f} ({len(grouped[f])} times)" for f in twice))
            causes.append(", ".join(f"{f} printed the tweet {_times(len(grouped[f]))}" for f in twice))
        return failed(name, f"expected each of {', '.join(ring)} to print it once; " + "; ".join(parts),
                      "; ".join(causes))
    return passed(name, f"{', '.join(ring)} each printed it once")


def _reached(obs: TweetSeen, ring: list[str]) -> CheckResult:
    """Every follower printed it, however often (duplicates are delivered_once's business)."""
    name = "it reaches every follower"
    missing = [f for f in ring if f not in _by_receiver(obs)]
    if missing:
        return failed(name, f"expected each of {', '.join(ring)} to print it; never printed it: {', '.join(missing)}",
                      f"{', '.join(missing)} never got the tweet")
    return passed(name, f"{', '.join(ring) or 'no follower'} printed it" if ring else "no followers")


def _nobody_else(obs: TweetSeen) -> CheckResult:
    name = "nobody else receives it"
    extra = sorted({d.receiver for d in obs.deliveries if d.receiver not in (obs.followers or [])})
    if extra:
        return failed(name, f"only followers of {obs.tweeter} may print it, but {', '.join(extra)} did too",
                      f"{', '.join(extra)} got {obs.tweeter}'s tweet without following {obs.tweeter}")
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
    received = [d for d in obs.deliveries if d.receiver in ring]
    if len(ring) <= 1:
        return skipped(name, "not judged: fewer than two followers, no ring to travel")
    if len({d.receiver for d in received}) <= 1:
        return _too_few(name, ring, {d.receiver for d in received})
    if not obs.reads_forwarder:
        return unverified(name, "not seen: the submission does not print who passed the tweet on, so a ring "
                          "cannot be told from a star; print the forwarding handle (a `forwarder` group in "
                          "tweets.received), or grade on a virtual LAN (--network hosts)")
    if _chain(obs, ring) is None:
        sources = ", ".join(f"{d.receiver} from {d.forwarder or '?'}" for d in received)
        wrong = next((d for d in received if d.forwarder == obs.tweeter and d.receiver != ring[0]), None)
        cause = (f"{wrong.receiver} got the tweet straight from {obs.tweeter}: not a ring" if wrong
                 else "the tweet did not travel one chain round the ring")
        return failed(name, "each follower must get the tweet from its left neighbour in the ring "
                      f"(the tweeter sends only to the first follower); seen: {sources}", cause)
    return passed(name, "each follower got it from the previous one (evidence: forwarding handles)")


def _too_few(name: str, ring: list[str], received: set[str]) -> CheckResult:
    """A ring of several followers that the tweet did not travel: nothing to see of its way round
    (that it did not reach them is the other checks' business)."""
    got = ", ".join(sorted(received)) or "no follower"
    return unverified(name, f"not seen: only {got} of {', '.join(ring)} received it, so its way round the ring "
                      "cannot be seen", f"could not see whether {name}: the tweet did not go round")


def _ring_order(obs: TweetSeen, ring: list[str]) -> CheckResult:
    name = "followers receive it in alphabetical (ring) order"
    present = [f for f in ring if any(d.receiver == f for d in obs.deliveries)]
    if len(ring) <= 1:
        return skipped(name, "not judged: fewer than two followers, no order to see")
    if len(present) <= 1:
        return _too_few(name, ring, set(present))
    if obs.reads_forwarder:
        chain = _chain(obs, ring)
        if chain is None:
            return skipped(name, "not judged: the forwarding handles do not form one chain "
                           "(see 'forwarded peer to peer')")
        expected = [f for f in ring if f in chain]
        if chain != expected:
            return failed(name, f"expected the ring {_ring_text(obs.tweeter, expected)}; the forwarding "
                          f"handles printed show {_ring_text(obs.tweeter, chain)}",
                          f"the tweet went {_ring_text(obs.tweeter, chain)}, not in alphabetical order")
        return passed(name, f"{_ring_text(obs.tweeter, chain)} (evidence: forwarding handles)")
    return _order_by_arrival(obs, name, present)


def _order_by_arrival(obs: TweetSeen, name: str, present: list[str]) -> CheckResult:
    """Without forwarding handles, only gaps far above scheduling noise can show an order."""
    first_seen: dict[str, float] = {}
    for delivery in obs.deliveries:
        first_seen.setdefault(delivery.receiver, delivery.t)
    for earlier, later in zip(present, present[1:]):
        if first_seen[later] < first_seen[earlier] - ARRIVAL_NOISE_S:
            gap_ms = (first_seen[earlier] - first_seen[later]) * 1000
            return failed(name, f"{later} printed it {gap_ms:.0f} ms before {earlier}, but {earlier} "
                          "comes first in the ring (evidence: arrival times)",
                          f"{later} got the tweet before {earlier}: not in alphabetical order")
    close = [(a, b) for a, b in zip(present, present[1:]) if abs(first_seen[b] - first_seen[a]) < ARRIVAL_NOISE_S]
    if close:
        a, b = close[0]
        return unverified(name, f"not seen: {a} and {b} printed it within {ARRIVAL_NOISE_S * 1000:.0f} ms of each "
                          "other, too close for their order to show, and no forwarding handle is printed; print "
                          "who passed the tweet on (tweets.received), or grade on a virtual LAN (--network hosts)")
    return passed(name, f"{' -> '.join(present)} (evidence: arrival times, every gap over "
                  f"{ARRIVAL_NOISE_S * 1000:.0f} ms)")


def _came_back(obs: TweetSeen) -> CheckResult:
    name = "it returns to the tweeter and end-tweet succeeds"
    if obs.returned is False:
        return failed(name, f"{obs.tweeter} never printed that the tweet came back round the ring",
                      f"{obs.tweeter}'s tweet never came back round the ring")
    sent_itself = obs.end_tweet_typed_seq is None and obs.end_tweet == "success"
    if obs.returned is None and not sent_itself:
        return unverified(name, f"not seen: {obs.tweeter} prints nothing when its tweet comes back and the "
                          "harness typed end-tweet itself, which shows nothing of the ring; print a line when the "
                          "tweet comes back (tweets.returned), or grade on a virtual LAN (--network hosts)",
                          f"could not see whether {obs.tweeter}'s tweet came back")
    if obs.end_tweet != "success":
        seen = "no answer" if obs.end_tweet is None else "FAILURE"
        return failed(name, f"expected end-tweet for {obs.tweeter} to succeed; seen: {seen}",
                      f"end-tweet by {obs.tweeter} " + ("got no answer" if obs.end_tweet is None else "answered FAILURE"))
    how = "came back" if obs.returned else f"{obs.tweeter} sent end-tweet itself once it came back"
    return passed(name, f"{how} and end-tweet answered SUCCESS")


def _intact(obs: TweetSeen) -> CheckResult:
    name = "the text arrives intact"
    wrong = [d for d in obs.deliveries if d.text != obs.text]
    if not obs.deliveries:
        return skipped(name, "not judged: nobody printed it")
    if wrong:
        sample = wrong[0]
        return failed(name, f"sent {obs.text!r} ({len(obs.text)} characters); {sample.receiver} printed "
                      f"{sample.text!r} ({len(sample.text or '')} characters)",
                      f"{sample.receiver} printed the tweet's text changed: {(sample.text or '')[:40]!r} for "
                      f"{obs.text[:40]!r}")
    return passed(name, f"all {len(obs.deliveries)} copies match the {len(obs.text)} characters sent")


def _ring_text(tweeter: str, order: list[str]) -> str:
    return " -> ".join([tweeter, *order, tweeter])


# -- from the wire (hosts mode) --------------------------------------------------------------------
def _peer_to_peer_wire(wire: WireView) -> CheckResult:
    name = "forwarded peer to peer round the ring"
    received = [f for f in wire.ring if f in wire.first_from]
    if len(wire.ring) <= 1:
        return skipped(name, "not judged: fewer than two followers, no ring to travel")
    if len(received) <= 1 and not wire.relays():
        return _wired(_too_few(name, wire.ring, set(received)))
    problems, causes = [], []
    relays = wire.relays()
    if relays:
        problems.append(f"the tracker sent it to {', '.join(sorted({h.dst for h in relays}))} itself: a tweet "
                        "travels from user to user, not through the tracker")
        causes.append("the tracker sent the tweet to the followers itself")
    chain = wire.chain()
    if chain is None:
        wrong = [f"{f} got it from {_host(wire.first_from[f])}, not from {_host(wire.left_of(f))}"
                 for f in received if wire.first_from[f] != wire.left_of(f)]
        problems.append("each follower must get the tweet from its left neighbour in the ring (the tweeter "
                        "sends only to the first follower); " + "; ".join(wrong or ["the packets form no chain"]))
        if not relays:
            causes.append(wrong[0] + ": not a ring" if wrong else "the tweet did not travel one chain")
    else:
        extra = wire.extra_sends_by_tweeter(chain)
        if extra:
            problems.append(f"{wire.tweeter} also sent it straight to {', '.join(sorted({h.dst for h in extra}))}")
            causes.append(f"{wire.tweeter} also sent the tweet straight to later followers")
    if problems:
        return _wired(failed(name, "; ".join(problems), "; ".join(causes)))
    return _wired(passed(name, f"each follower got it from the previous one, host to host ({len(wire.hops)} "
                         "packets carried the text)"))


def _ring_order_wire(obs: TweetSeen, wire: WireView) -> CheckResult:
    name = "followers receive it in alphabetical (ring) order"
    received = [f for f in wire.ring if f in wire.first_from]
    if len(wire.ring) <= 1:
        return skipped(name, "not judged: fewer than two followers, no order to see")
    if len(received) <= 1:
        return _wired(_too_few(name, wire.ring, set(received)))
    chain = wire.chain()
    if chain is None or wire.relays():
        return _wired(skipped(name, "not judged: the packets do not travel one chain (see 'forwarded peer to peer')"))
    expected = [f for f in wire.ring if f in chain]
    if chain != expected:
        return _wired(failed(name, f"expected the ring {_ring_text(obs.tweeter, expected)}; the packets went "
                             f"{_ring_text(obs.tweeter, chain)}",
                             f"the tweet went {_ring_text(obs.tweeter, chain)}, not in alphabetical order"))
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
            return _wired(failed(name, f"no packet carried the tweet back to {_host(obs.tweeter)}{where}{claim}",
                                 f"{obs.tweeter}'s tweet never came back round the ring"))
    if obs.end_tweet != "success":
        seen = "no answer" if obs.end_tweet is None else "FAILURE"
        return _wired(failed(name, f"came back, but end-tweet for {obs.tweeter} did not succeed; seen: {seen}",
                             f"end-tweet by {obs.tweeter} " + ("got no answer" if obs.end_tweet is None
                                                               else "answered FAILURE")))
    return _wired(passed(name, "came back and end-tweet answered SUCCESS"))


def _nobody_else_wire(obs: TweetSeen, wire: WireView) -> CheckResult:
    name = "nobody else receives it"
    outsiders = wire.outsiders()
    if outsiders:
        sent = ", ".join(f"{h.dst} (from {_host(h.src)})" for h in outsiders)
        return _wired(failed(name, f"only followers of {obs.tweeter} may receive it, but it was sent to {sent}",
                             f"{outsiders[0].dst} got {obs.tweeter}'s tweet without following {obs.tweeter}"))
    return _wired(passed(name, "no packet carried it to anyone outside the ring"))
