"""Checks: properties decided over the trace, each reported on its own.

The delivery check of one tweet is split into the six properties a TA would look at (delivered once,
nobody else, ring order, peer to peer, came back, text intact), so a submission loses the points of
what it broke and nothing else. Ring order is decided from the forwarding handles each follower
prints (the chain from the tweeter back round), never from the order in which lines of different
processes happened to reach the harness, which races on a fast ring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from harness.dialect import Received
from harness.trace import Event

CheckStatus = Literal["passed", "failed", "skipped"]
ARRIVAL_NOISE_S = 0.05  # arrival times closer than this do not order lines of different processes


@dataclass
class CheckResult:
    """One judged property: what was expected, what was seen, and the evidence used."""

    name: str
    status: CheckStatus
    message: str = ""
    step: int | None = None

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def to_json(self) -> dict:
        return {"name": self.name, "status": self.status, "message": self.message, "step": self.step}


def passed(name: str, message: str = "") -> CheckResult:
    return CheckResult(name, "passed", message)


def failed(name: str, message: str) -> CheckResult:
    return CheckResult(name, "failed", message)


def skipped(name: str, message: str) -> CheckResult:
    return CheckResult(name, "skipped", message)


@dataclass
class Delivery:
    """One follower's received-tweet line, attributed to a tweet."""

    receiver: str
    event: Event
    received: Received


@dataclass
class TweetObservation:
    """Everything the trace says about one tweet, gathered by the runner."""

    tweeter: str
    text: str
    followers: list[str]
    deliveries: list[Delivery] = field(default_factory=list)
    returned: bool | None = None  # None: the dialect prints no "returned" line
    end_tweet: str | None = None  # 'success', 'failure', or None (no answer)
    reads_forwarder: bool = True

    def to_json(self, t0: float) -> dict:
        """For reports (the time-space diagram): who printed it, from whom, and when."""
        return {"tweeter": self.tweeter, "text": self.text, "ring": sorted(self.followers),
                "returned": self.returned, "end_tweet": self.end_tweet,
                "deliveries": [{"receiver": d.receiver, "forwarder": d.received.forwarder,
                                "text": d.received.text, "seq": d.event.seq,
                                "t": round(d.event.t - t0, 6)} for d in self.deliveries]}


DELIVERY_PROPERTIES = ("delivered_once", "nobody_else", "ring_order", "peer_to_peer", "returned", "intact")


def judge_delivery(obs: TweetObservation, graded: tuple[str, ...] = DELIVERY_PROPERTIES) -> list[CheckResult]:
    """All six properties; those a scenario does not grade are reported but cannot fail it.

    So that one bug costs one scenario, each scenario grades the properties it is about (a tweet
    truncated to its first word loses the text scenarios, not every ring scenario as well).
    """
    ring = sorted(obs.followers)
    results = [_once(obs, ring), _nobody_else(obs), _ring_order(obs, ring), _peer_to_peer(obs, ring),
               _came_back(obs), _intact(obs)]
    for key, result in zip(DELIVERY_PROPERTIES, results):
        if key not in graded and result.status == "failed":
            result.status = "skipped"
            result.message = f"not graded in this scenario, but seen: {result.message}"
    return results


def _by_receiver(obs: TweetObservation) -> dict[str, list[Delivery]]:
    grouped: dict[str, list[Delivery]] = {}
    for delivery in obs.deliveries:
        grouped.setdefault(delivery.receiver, []).append(delivery)
    return grouped


def _once(obs: TweetObservation, ring: list[str]) -> CheckResult:
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


def _nobody_else(obs: TweetObservation) -> CheckResult:
    name = "nobody else receives it"
    extra = sorted({d.receiver for d in obs.deliveries if d.receiver not in obs.followers})
    if extra:
        return failed(name, f"only followers of {obs.tweeter} may print it, but {', '.join(extra)} did too")
    return passed(name, "no one outside the followers printed it")


def _chain(obs: TweetObservation, ring: list[str]) -> list[str] | None:
    """Follow the forwarding handles from the tweeter; None if they do not form one chain."""
    firsts = {d.receiver: d.received.forwarder for d in reversed(obs.deliveries) if d.receiver in ring}
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


def _peer_to_peer(obs: TweetObservation, ring: list[str]) -> CheckResult:
    name = "forwarded peer to peer round the ring"
    if not obs.reads_forwarder:
        return skipped(name, "not judged: the submission does not print the forwarding handle")
    received = [d for d in obs.deliveries if d.receiver in ring]
    if len(ring) <= 1 or not received:
        return skipped(name, "not judged: fewer than two followers received it")
    if _chain(obs, ring) is None:
        sources = ", ".join(f"{d.receiver} from {d.received.forwarder or '?'}" for d in received)
        return failed(name, "each follower must get the tweet from its left neighbour in the ring "
                      f"(the tweeter sends only to the first follower); seen: {sources}")
    return passed(name, "each follower got it from the previous one (evidence: forwarding handles)")


def _ring_order(obs: TweetObservation, ring: list[str]) -> CheckResult:
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


def _order_by_arrival(obs: TweetObservation, name: str, present: list[str]) -> CheckResult:
    """Without forwarding handles, only gaps far above scheduling noise can show an order."""
    first_seen = {}
    for delivery in obs.deliveries:
        first_seen.setdefault(delivery.receiver, delivery.event.t)
    for earlier, later in zip(present, present[1:]):
        if first_seen[later] < first_seen[earlier] - ARRIVAL_NOISE_S:
            gap_ms = (first_seen[earlier] - first_seen[later]) * 1000
            return failed(name, f"{later} printed it {gap_ms:.0f} ms before {earlier}, but {earlier} "
                          "comes first in the ring (evidence: arrival times)")
    return passed(name, f"{' -> '.join(present)} (evidence: arrival times; gaps under "
                  f"{ARRIVAL_NOISE_S * 1000:.0f} ms are not judged)")


def _came_back(obs: TweetObservation) -> CheckResult:
    name = "it returns to the tweeter and end-tweet succeeds"
    if obs.returned is False:
        return failed(name, f"{obs.tweeter} never printed that the tweet came back round the ring")
    if obs.end_tweet != "success":
        seen = "no answer" if obs.end_tweet is None else "FAILURE"
        return failed(name, f"expected end-tweet for {obs.tweeter} to succeed; seen: {seen}")
    return passed(name, "came back and end-tweet answered SUCCESS")


def _intact(obs: TweetObservation) -> CheckResult:
    name = "the text arrives intact"
    wrong = [d for d in obs.deliveries if d.received.text != obs.text]
    if not obs.deliveries:
        return skipped(name, "not judged: nobody printed it")
    if wrong:
        sample = wrong[0]
        return failed(name, f"sent {obs.text!r} ({len(obs.text)} characters); {sample.receiver} printed "
                      f"{sample.received.text!r} ({len(sample.received.text or '')} characters)")
    return passed(name, f"all {len(obs.deliveries)} copies match the {len(obs.text)} characters sent")


def _ring_text(tweeter: str, order: list[str]) -> str:
    return " -> ".join([tweeter, *order, tweeter])
