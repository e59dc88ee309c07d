"""The delivery of one tweet, split into the properties a TA would look at: delivered once (and,
apart, reached everyone), nobody else, ring order, peer to peer, came back, text intact. So a
submission loses the points of what it broke and nothing else.

On a LAN (hosts mode) the wire decides the tweet's path: who sent it to whom, in what order, whether
it came back and whether it reached anyone else, read as a chain of packets (`wire_evidence`) whatever
they carry; printed forwarder labels can be made up (a star whose followers print ring labels).
Printed lines decide what only they can show: that each follower printed it once, and whole (the
wire shows "whole" too where followers print nothing, and a cut text wherever packets carried one).
On loopback, ring order is decided from the forwarding handles each follower prints (the chain from
the tweeter back round), never from the order in which lines of different processes happened to
reach the harness, which races on a fast ring. Every check says which evidence decided it.

No credit without evidence: a property passes only on something seen that shows it; something seen
that shows the opposite fails it; nothing seen either way leaves it `unverified` (no points), saying
what the program would have to print or send. A property with no subject here (the order of a ring
of one) is not applicable and cannot be graded (the scenario's validation refuses to grade it).
"""

from __future__ import annotations

from harness.inputs.scenario import DELIVERY_PROPERTIES, FOLLOWERS_NEEDED
from harness.judge.checks import CheckResult, failed, passed, skipped, unverified
from harness.judge.wire_evidence import TRACKER, TweetPath, describe_part
from harness.run.records import DeliverySeen, TweetSeen

ARRIVAL_NOISE_S = 0.05  # arrival times closer than this do not order lines of different processes
PRINT_RECEIVED = ("print each tweet a follower receives, with who passed it on (tweets.received), or grade "
                  "on a virtual LAN (--network hosts), where the wire shows it")
CONSOLE_ONLY = ("delivered_once", "reached")  # what only printed lines can show


def judge_delivery(obs: TweetSeen, graded: tuple[str, ...] = DELIVERY_PROPERTIES, path: TweetPath | None = None,
                   wire_note: str = "", prints_received: bool = True) -> list[CheckResult]:
    """All seven properties; those a scenario does not grade are reported but cannot cost it points.

    So that one bug costs one scenario, each scenario grades the properties it is about (a tweet
    truncated to its first word loses the text scenarios, not every ring scenario as well).
    `path`: the tweet's path on the LAN (hosts mode); `wire_note`: why the LAN's packets could not
    decide (they are then left to the console, and the note is added to those checks).
    """
    ring = sorted(obs.followers or [])
    if path is not None:
        results = [_once(obs, ring), _nobody_else_wire(obs, path), _ring_order_wire(obs, path),
                   _peer_to_peer_wire(obs, path), _came_back_wire(obs, path), _intact(obs, path), _reached(obs, ring)]
    else:
        results = [_once(obs, ring), _nobody_else(obs), _ring_order(obs, ring), _peer_to_peer(obs, ring),
                   _came_back(obs, on_lan=bool(wire_note)), _intact(obs, None), _reached(obs, ring)]
        for result in results[1:6]:
            if wire_note and result.status != "skipped":
                result.message += f" ({wire_note})"
    for key, result in zip(DELIVERY_PROPERTIES, results):
        if not prints_received and result.evidence != "wire" and result.status != "skipped" \
                and (key in CONSOLE_ONLY or key in ("intact", "nobody_else") or path is None) and key != "returned":
            result.status, result.cause = "unverified", f"could not see whether {result.name}"
            result.message = ("not seen: the submission prints nothing when a tweet reaches a follower "
                              f"(tweets.received: null); {PRINT_RECEIVED}")
        if result.evidence is None:
            result.evidence = "console"
        if len(ring) < FOLLOWERS_NEEDED.get(key, 0):
            result.status, result.cause = "skipped", ""
            result.message = (f"not applicable: {len(ring)} follower{'s' if len(ring) != 1 else ''}, "
                              f"so {_no_subject(key)}")
        elif key not in graded and result.status != "passed":
            seen = {"failed": "seen", "unverified": "not seen"}.get(result.status, "")
            result.status = "skipped"
            said = result.message if result.message.startswith(f"{seen}: ") else f"{seen}: {result.message}"
            result.message = f"not graded in this scenario ({said})"
    return results


def _no_subject(key: str) -> str:
    return {"ring_order": "no ring order to see", "peer_to_peer": "no ring to travel"}.get(
        key, "nobody to deliver to")


def tweet_json(obs: TweetSeen, path: TweetPath | None = None) -> dict:
    """A judged tweet for the reports (the time-space diagram): who printed it, from whom, and when;
    and in hosts mode the packets of its path."""
    data = {"tweeter": obs.tweeter, "text": obs.text, "ring": sorted(obs.followers or []),
            "returned": obs.returned, "end_tweet": obs.end_tweet,
            "deliveries": [{"receiver": d.receiver, "forwarder": d.forwarder, "text": d.text, "seq": d.seq,
                            "t": d.t} for d in obs.deliveries]}
    if path is not None:
        data["hops"] = path.to_json()
    return data


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
        return skipped(name, "not applicable: no followers")
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
    if not ring:
        return skipped(name, "not applicable: no followers")
    return passed(name, f"{', '.join(ring)} printed it")


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
    got = f"only {', '.join(sorted(received))}" if received else "none"
    return unverified(name, f"not seen: {got} of {', '.join(ring)} received it, so its way round the ring "
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
            received = [d for d in obs.deliveries if d.receiver in ring]
            direct = sorted({d.receiver for d in received if d.forwarder == obs.tweeter})
            if len(direct) > 1:
                return failed(name, f"the forwarding handles printed show a star, not a ring: {', '.join(direct)} "
                              f"got it from {obs.tweeter}; there is no ring order",
                              f"a star, not a ring: {obs.tweeter} sent the tweet to several followers itself")
            sources = ", ".join(f"{d.receiver} from {d.forwarder or '?'}" for d in received)
            return failed(name, f"the forwarding handles printed do not form one ring to order: {sources}",
                          "the tweet did not travel one ring")
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


def _came_back(obs: TweetSeen, on_lan: bool = False) -> CheckResult:
    """From the printed lines: the tweeter's "came back" line, or end-tweet sent by the user itself
    (it does so once the tweet is back); end-tweet typed by the harness shows nothing of the ring."""
    name = "it returns to the tweeter and end-tweet succeeds"
    if obs.returned is False:
        return failed(name, f"{obs.tweeter} never printed that the tweet came back round the ring",
                      f"{obs.tweeter}'s tweet never came back round the ring")
    typed = obs.end_tweet_typed_seq is not None
    if obs.returned is None and (typed or obs.end_tweet != "success"):
        how = ("the harness typed end-tweet itself, which shows nothing of the ring" if typed else
               f"no end-tweet from {obs.tweeter} was answered")
        lan = "" if on_lan else ", or grade on a virtual LAN (--network hosts)"
        return unverified(name, f"not seen: {obs.tweeter} prints nothing when its tweet comes back and {how}; "
                          f"print a line when the tweet comes back (tweets.returned){lan}",
                          f"could not see whether {obs.tweeter}'s tweet came back")
    if obs.end_tweet != "success":
        seen = "no answer" if obs.end_tweet is None else "FAILURE"
        return failed(name, f"expected end-tweet for {obs.tweeter} to succeed; seen: {seen}",
                      f"end-tweet by {obs.tweeter} " + ("got no answer" if obs.end_tweet is None else "answered FAILURE"))
    how = "came back" if obs.returned else f"{obs.tweeter} sent end-tweet itself once it came back"
    return passed(name, f"{how} and end-tweet answered SUCCESS")


def _intact(obs: TweetSeen, path: TweetPath | None) -> CheckResult:
    """Printed copies equal to the text typed; on the LAN, the text each follower's host was sent:
    a cut text there fails it, the whole text there shows it where followers print nothing."""
    name = "the text arrives intact"
    wrong = [d for d in obs.deliveries if d.text != obs.text]
    cut = _cut_on_wire(obs, path)
    if cut is not None:
        return _wired(failed(name, f"sent {obs.text!r} ({len(obs.text)} characters); the packets to "
                             f"{', '.join(cut[1])} carried only {describe_part(obs.text, cut[0])}",
                             f"the tweet's text was cut on the way: only {describe_part(obs.text, cut[0])}"))
    if wrong:
        sample = wrong[0]
        return failed(name, f"sent {obs.text!r} ({len(obs.text)} characters); {sample.receiver} printed "
                      f"{sample.text!r} ({len(sample.text or '')} characters)",
                      f"{sample.receiver} printed the tweet's text changed: {(sample.text or '')[:40]!r} for "
                      f"{obs.text[:40]!r}")
    if obs.deliveries:
        return passed(name, f"all {len(obs.deliveries)} copies match the {len(obs.text)} characters sent")
    whole = [f for f in obs.followers or [] if path is not None and path.most_carried(f) == len(obs.text)]
    if whole:
        return _wired(passed(name, f"nobody printed it, but the packets to {', '.join(sorted(whole))} carried all "
                             f"{len(obs.text)} characters"))
    if path is not None and not path.readable and path.to_tracker:
        return _wired(failed(name, "no follower printed it, and no packet carried the text to a follower: it "
                             "went only to the tracker", "the tweet's text reached no follower"))
    how = ("the packets carried no readable text" if path is not None
           else "on loopback the harness sees no packet (grade on a virtual LAN, --network hosts)")
    return unverified(name, f"not seen: nobody printed it and {how}; print each tweet a follower receives "
                      "(tweets.received)", "could not see whether the text arrives intact")


def _cut_on_wire(obs: TweetSeen, path: TweetPath | None) -> tuple[int, list[str]] | None:
    """(characters, followers) where the packets of the tweet carried only the start of its text
    to followers and never the whole of it to any of them."""
    if path is None or not path.readable:
        return None
    carried = {f: path.most_carried(f) for f in obs.followers or []}
    if any(length == len(obs.text) for length in carried.values()):
        return None
    cut = {f: length for f, length in carried.items() if 0 < length < len(obs.text)}
    return (max(cut.values()), sorted(cut)) if cut else None


def _ring_text(tweeter: str, order: list[str]) -> str:
    return " -> ".join([tweeter, *order, tweeter])


# -- from the wire (a LAN, or loopback captured) ----------------------------------------------------
def _wired(result: CheckResult) -> CheckResult:
    result.evidence = "wire"
    if result.status != "skipped":
        result.message += " (evidence: wire)"
    return result


def _host(name: str, path: TweetPath) -> str:
    """Where a packet came from or went to: "@bob's host" on a LAN, "@bob's program" on loopback."""
    if name == TRACKER:
        return "the tracker's host" if path.place == "host" else "the tracker"
    return f"{name}'s {path.place}"


def _who(name: str) -> str:
    return "the tracker" if name == TRACKER else name


def _hosts(names: list[str], path: TweetPath) -> str:
    return ", ".join(_host(n, path) for n in names) or f"no {path.place}"


def wire_basis(obs: TweetSeen, path: TweetPath) -> str:
    """What the packets showed of the tweet's text, for the messages of the path checks."""
    if path.readable:
        most = max((h.length for h in path.hops if h.dst not in (TRACKER, obs.tweeter)), default=0)
        if most < len(obs.text):
            return f"the packets carried only {describe_part(obs.text, most)}; the ring was followed by it"
        return ""
    if path.to_tracker:
        return ("the text went only to the tracker; no packet to a user carried it, so the ring was followed "
                "hop by hop")
    return "the packets carried no readable text; the ring was followed hop by hop"


def _noted(result: CheckResult, obs: TweetSeen, path: TweetPath) -> CheckResult:
    basis = wire_basis(obs, path)
    if basis and result.status != "skipped":
        result.message += f"; {basis}"
    return _wired(result)


def _printed(obs: TweetSeen, follower: str) -> bool:
    return any(d.receiver == follower for d in obs.deliveries)


def _wrong_path(obs: TweetSeen, path: TweetPath) -> tuple[list[str], list[str]]:
    """(problems, causes) that show the tweet did not go round one chain of its followers: a relay
    by the tracker, a star from the tweeter, a follower that got it from the wrong host, a hop missing."""
    problems, causes = [], []
    relays = path.relays()
    if relays:
        problems.append(f"the tracker sent it to {', '.join(sorted({h.dst for h in relays}))} itself: a tweet "
                        "travels from user to user, not through the tracker")
        causes.append("the tracker sent the tweet to the followers itself")
    star = path.star_sends()
    if star:
        problems.append(f"{path.tweeter} sent it straight to {', '.join(sorted({h.dst for h in star}))} as well "
                        "as to the first follower: a star, not a ring")
        causes.append(f"a star, not a ring: {path.tweeter} sent the tweet straight to several followers")
    chain = path.chain()
    if chain is not None and set(chain) == set(path.ring):
        return problems, causes
    reached_by_chain = chain or []
    for follower in path.ring:
        if follower in reached_by_chain:
            continue
        left = path.left_of(follower)
        senders = [s for s in path.senders(follower) if s != left]
        if path.readable and senders:
            problems.append(f"{follower} got it from {_hosts(senders, path)}, not from {_host(left, path)}")
            causes.append(f"{follower} got the tweet from {', '.join(map(_who, senders))}: not a ring")
        elif not path.readable and _printed(obs, follower) and left != path.tweeter \
                and left not in path.senders(follower):
            problems.append(f"{follower} printed it, but no packet reached {_host(follower, path)} from "
                            f"{_host(left, path)}, its left neighbour (only from "
                            f"{_hosts(path.senders(follower), path)})")
            causes.append(f"{follower} got the tweet without a packet from {left}: not a ring")
        elif left in path.ring and (left in reached_by_chain or _printed(obs, left)):
            problems.append(f"{left} did not pass it on: no packet of the tweet went from {_host(left, path)} to "
                            f"{_host(follower, path)}")
            causes.append(f"{left} did not pass the tweet on to {follower}")
    if not problems:  # no follower seen to get it wrongly: the first hop of the ring that never happened
        if not path.readable and path.to_tracker or not path.followers_reached():
            problems.append("the tweet reached no follower: no packet to a follower carried its text" if path.to_tracker
                            else f"no packet of the tweet left {_host(path.tweeter, path)} for a follower")
            causes.append("the tweet reached no follower")
        else:
            follower = next(f for f in path.ring if f not in reached_by_chain)
            problems.append(f"no packet of the tweet went from {_host(path.left_of(follower), path)} to "
                            f"{_host(follower, path)}")
            causes.append(f"{_who(path.left_of(follower))} did not pass the tweet on to {follower}")
    return problems, causes


def _peer_to_peer_wire(obs: TweetSeen, path: TweetPath) -> CheckResult:
    name = "forwarded peer to peer round the ring"
    problems, causes = _wrong_path(obs, path)
    if problems:
        return _noted(failed(name, "each follower must get the tweet from its left neighbour in the ring (the "
                             "tweeter sends only to the first follower); " + "; ".join(problems), causes[0]), obs, path)
    hops = len([h for h in path.hops if h.dst not in (TRACKER,)])
    return _noted(passed(name, f"each follower got it from the previous one, {path.place} to {path.place} "
                         f"({hops} packets)"), obs, path)


def _ring_order_wire(obs: TweetSeen, path: TweetPath) -> CheckResult:
    name = "followers receive it in alphabetical (ring) order"
    chain = path.chain()
    if chain is not None and len(chain) >= 2:
        expected = [f for f in path.ring if f in chain]
        if chain != expected:
            return _noted(failed(name, f"expected the ring {_ring_text(obs.tweeter, expected)}; the packets went "
                                 f"{_ring_text(obs.tweeter, chain)}",
                                 f"the tweet went {_ring_text(obs.tweeter, chain)}, not in alphabetical order"), obs, path)
        if len(chain) == len(path.ring) and not path.relays() and not path.star_sends():
            return _noted(passed(name, _ring_text(obs.tweeter, chain)), obs, path)
    relays, star = path.relays(), path.star_sends()
    if relays:
        return _noted(failed(name, "the tracker sent it to every follower itself, so it went round no ring and has "
                             "no ring order", "no ring: the tracker sent the tweet to the followers itself"), obs, path)
    if star:
        targets = sorted({h.dst for h in path.hops if h.src == path.tweeter and h.dst in path.ring and h.carried})
        return _noted(failed(name, f"a star, not a ring: {_host(obs.tweeter, path)} sent the text to "
                             f"{', '.join(targets)} itself, so there is no ring order to see",
                             f"a star, not a ring: {obs.tweeter} sent the tweet to every follower itself"), obs, path)
    printed = [f for f in path.ring if _printed(obs, f)]
    if not path.readable and chain is None and len(printed) > 1 and not _passed_on(path):
        contacts = sorted({s for f in printed for s in path.contacts.get(f, [])})
        return _noted(failed(name, f"no ring: {', '.join(printed)} printed it, yet no follower's {path.place} sent "
                             f"anything to another follower's (they had packets only from "
                             f"{_hosts(contacts, path)}), so there is no ring order to see",
                             "no ring: the followers got the tweet without a hop between them"), obs, path)
    if chain is None and _passed_on(path):
        return _noted(failed(name, "the packets do not travel one chain of the followers: " +
                             "; ".join(_wrong_path(obs, path)[0]), "the tweet did not travel one ring"), obs, path)
    went = chain or (path.followers_reached() if path.readable else [])
    got = f"only {', '.join(went)}" if went else "none"
    return _noted(unverified(name, f"not seen: of {', '.join(path.ring)}, {got} got the tweet from the {path.place} "
                             "before it, so the order of the ring cannot be seen", f"could not see whether {name}: the "
                             "tweet did not go round"), obs, path)


def _passed_on(path: TweetPath) -> bool:
    """Whether any follower passed something on to another follower."""
    return any(h.src in path.ring and h.dst in path.ring for h in path.hops)


def _came_back_wire(obs: TweetSeen, path: TweetPath) -> CheckResult:
    name = "it returns to the tweeter and end-tweet succeeds"
    if path.ring:
        chain = path.chain()
        last = chain[-1] if chain else None
        back = path.came_back_from(last)
        if back is None:
            claim = f" (though {obs.tweeter} printed that it came back)" if obs.returned else ""
            where = f"{last}, the last follower the tweet reached" if last else "any follower the tweet reached"
            return _noted(failed(name, f"no packet went back to {_host(obs.tweeter, path)} from {where}{claim}",
                                 f"{obs.tweeter}'s tweet never came back round the ring"), obs, path)
        what = "the text" if back.carried == "whole" else "part of the text" if back.carried else "no readable text"
        how = f"a packet from {_host(back.src, path)} ({what}) reached {_host(obs.tweeter, path)}"
    else:
        return _came_back(obs)  # no followers: nothing to come back, end-tweet's answer decides
    if obs.end_tweet != "success":
        seen = "no answer" if obs.end_tweet is None else "FAILURE"
        return _wired(failed(name, f"{how}, but end-tweet for {obs.tweeter} did not succeed; seen: {seen}",
                             f"end-tweet by {obs.tweeter} " + ("got no answer" if obs.end_tweet is None
                                                               else "answered FAILURE")))
    return _wired(passed(name, f"{how} and end-tweet answered SUCCESS"))


def _nobody_else_wire(obs: TweetSeen, path: TweetPath) -> CheckResult:
    name = "nobody else receives it"
    outsiders = path.outsiders()
    if outsiders:
        sent = ", ".join(f"{h.dst} (from {_host(h.src, path)})" for h in outsiders)
        return _noted(failed(name, f"only followers of {obs.tweeter} may receive it, but it was sent to {sent}",
                             f"{outsiders[0].dst} got {obs.tweeter}'s tweet without following {obs.tweeter}"), obs, path)
    if not path.readable:  # the tweeter's other messages (a teardown) cannot be told from the tweet
        result = _nobody_else(obs)
        if result.status == "passed":
            result.message += ("; on the wire no follower sent anything to anyone else (the packets carried no "
                               "readable text, so the printed lines decided)")
        return result
    return _wired(passed(name, "no packet carried it to anyone outside the ring"))
