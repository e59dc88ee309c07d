"""Tweets travelling real rings of reference users: order, forwarders, ring updates, concurrency, loss."""

from __future__ import annotations

import itertools
import json
import re
import socket
from typing import Any

from tests.reference.conftest import WAIT, Proc, free_ports


def test_ring_of_five_delivers_in_alphabetical_order(net) -> None:
    net.tracker()
    handles = ["@alice", "@erin", "@bob", "@zoe", "@dave", "@carl", "@mallory"]
    users = {h: net.registered(h) for h in handles}
    net.follow_all(users, "@alice", ["@zoe", "@bob", "@erin", "@dave", "@carl"])
    text = "Hello, ring! Spaces, punctuation: all kept."
    net.tweet_round(users, "@alice", text, ["@bob", "@carl", "@dave", "@erin", "@zoe"])
    users["@carl"].wait_for("^@carl ring of @alice: left @bob right @dave$")
    users["@zoe"].wait_for("^@zoe ring of @alice: left @erin right @alice$")
    net.tweet_round(users, "@alice", "second round", ["@bob", "@carl", "@dave", "@erin", "@zoe"])


def test_ring_is_updated_after_follow_and_drop(net) -> None:
    net.tracker()
    users = {h: net.registered(h) for h in ("@alice", "@bob", "@carol", "@dave")}
    net.follow_all(users, "@alice", ["@bob", "@dave"])
    net.tweet_round(users, "@alice", "first", ["@bob", "@dave"])
    users["@bob"].wait_for("^@bob ring of @alice: left @alice right @dave$")

    net.follow_all(users, "@alice", ["@carol"])
    users["@carol"].wait_for("^@carol ring of @alice: left @bob right @dave$")
    users["@bob"].wait_for("^@bob ring of @alice: left @alice right @carol$")
    users["@dave"].wait_for("^@dave ring of @alice: left @carol right @alice$")
    net.tweet_round(users, "@alice", "with carol", ["@bob", "@carol", "@dave"])

    assert users["@bob"].command("drop @bob @alice") == "drop: SUCCESS @bob dropped @alice"
    users["@bob"].wait_for("^@bob ring of @alice: torn down$")
    users["@carol"].wait_for("^@carol ring of @alice: left @alice right @dave$")
    net.tweet_round(users, "@alice", "without bob", ["@carol", "@dave"])


def test_exit_of_a_follower_updates_the_ring(net) -> None:
    net.tracker()
    users = {h: net.registered(h) for h in ("@alice", "@bob", "@carol")}
    net.follow_all(users, "@alice", ["@bob", "@carol"])
    net.tweet_round(users, "@alice", "both", ["@bob", "@carol"])
    assert users["@bob"].command("exit @bob") == "exit: SUCCESS exit-complete"
    users["@carol"].wait_for("^@carol ring of @alice: left @alice right @alice$")
    net.tweet_round(users, "@alice", "only carol", ["@carol"])


def test_demo_two_intersecting_rings_tweeting_at_once(net) -> None:
    """The assignment's demo: two rings of three that share followers; both tweets are typed at
    once (when they overlap, one is answered busy and retried) and both are delivered."""
    net.tracker()
    users = {h: net.registered(h) for h in ("@amy", "@ben", "@cat", "@dan", "@eve", "@fay")}
    net.follow_all(users, "@amy", ["@dan", "@ben", "@cat"])
    net.follow_all(users, "@fay", ["@cat", "@eve", "@dan"])
    users["@amy"].send('tweet @amy "from amy"')
    users["@fay"].send('tweet @fay "from fay"')
    assert users["@amy"].expect("^tweet: ").string == "tweet: SUCCESS 3 followers @ben @cat @dan"
    assert users["@fay"].expect("^tweet: ").string == "tweet: SUCCESS 3 followers @cat @dan @eve"
    net.check_round(users, "@amy", "from amy", ["@ben", "@cat", "@dan"])
    net.check_round(users, "@fay", "from fay", ["@cat", "@dan", "@eve"])


def test_a_repeated_tweet_is_passed_on_each_time_and_printed_once(net) -> None:
    """A copy of a round is its tweeter sending it again after a loss further on: it must go round
    again, but nobody prints it twice. Both forms of a tweet (plain and general) count as copies."""
    net.tracker()
    users = {h: net.registered(h) for h in ("@alice", "@bob")}
    net.follow_all(users, "@alice", ["@bob"])
    net.tweet_round(users, "@alice", "set up", ["@bob"])
    ring_in = setup_port(users["@alice"], "@bob")
    tweet = {"op": "tweet", "tweeter": "@alice", "from": "@alice", "round": 99, "text": "twice"}
    copies = [json.dumps(tweet).encode(), json.dumps(tweet, separators=(",", ":")).encode()]
    assert copies[1] == b'{"op":"tweet","tweeter":"@alice","from":"@alice","round":99,"text":"twice"}'
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as fake:
        for copy in copies:
            fake.sendto(copy, ("127.0.0.1", ring_in))
    users["@bob"].wait_for("round 99 of @alice again: passed on, not printed again")
    assert len(users["@bob"].matching('received tweet from @alice via @alice: "twice"')) == 1
    for _copy in copies:  # both came back round to @alice
        users["@alice"].expect(r'^\[trace\] recv \S+ \{"op":"tweet","tweeter":"@alice","from":"@bob","round":99,')
        users["@alice"].expect(r"round 99 of my tweets is not the one out: ignored")


def test_a_tweet_lost_on_the_way_is_sent_round_again_and_printed_once(net) -> None:
    """@zed, a peer made here from a bare socket, drops the first copy of every round it gets."""
    net.tracker()
    users = {h: net.registered(h) for h in ("@alice", "@bob")}
    with LossyPeer(net.tracker_port, "@zed") as zed:
        net.follow_all(users, "@alice", ["@bob"])
        zed.request({"op": "follow", "handle": "@zed", "target": "@alice"})
        users["@alice"].send('tweet @alice "lost once"')
        assert users["@alice"].expect("^tweet: ").string == "tweet: SUCCESS 2 followers @bob @zed"
        first, again = zed.serve_ring(copies=2)
        assert first == again and first["from"] == "@bob" and first["text"] == "lost once"
        users["@alice"].expect(r'^@alice tweet returned: "lost once"$')
        assert users["@alice"].expect(r"^end-tweet: ").string == "end-tweet: SUCCESS"
    assert len(users["@alice"].matching(r"my tweet is not back after .* s: sending it round again")) == 1
    assert len(users["@bob"].matching('^@bob received tweet from @alice via @alice: "lost once"$')) == 1
    users["@bob"].wait_for("again: passed on, not printed again")


def test_a_setup_naming_the_user_as_its_own_follower_is_refused(net) -> None:
    """Else the user would pass its own returning tweets on instead of ending the round."""
    net.tracker()
    users = {h: net.registered(h) for h in ("@alice", "@bob")}
    net.follow_all(users, "@alice", ["@bob"])
    net.follow_all(users, "@bob", ["@alice"])
    net.tweet_round(users, "@alice", "set up", ["@bob"])
    ring_in = setup_port(users["@alice"], "@bob")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as fake:
        fake.settimeout(WAIT)
        setup = {"op": "setup", "id": 1, "tweeter": "@bob", "left": "@alice", "right": "@alice",
                 "right_address": ["127.0.0.1", 9]}
        fake.sendto(json.dumps(setup).encode(), ("127.0.0.1", ring_in))
        assert json.loads(fake.recv(65536)) == {
            "op": "reply", "id": 1, "ok": False,
            "reason": "I am the tweeter of my own ring, not a follower in it"}
    net.tweet_round(users, "@bob", "mine", ["@alice"])


def test_a_tweeter_that_dies_mid_tweet_does_not_block_the_tracker(net) -> None:
    tracker = net.tracker("--tweet-timeout", "0.5")
    users = {h: net.registered(h) for h in ("@alice", "@bob")}
    net.follow_all(users, "@alice", ["@bob"])
    users["@bob"].kill()  # alice's tweet now cannot come back
    users["@alice"].send('tweet @alice "into the void"')
    users["@alice"].expect("^tweet: SUCCESS 1 followers @bob$")
    users["@alice"].kill()  # and alice never ends it
    tracker.expect(r"^tracker: tweet of @alice not ended after 0\.5 s; cleared$")
    carol = net.registered("@carol")
    assert carol.command("query handles") == "query handles: SUCCESS 3 @alice @bob @carol"


def setup_port(tweeter: Proc, follower: str) -> int:
    """The ring-in port of `tweeter`'s only follower, from the setup it sent (its trace line)."""
    sent = "\n".join(tweeter.matching(r'^\[trace\] send \S+ \{"op":"setup"'))
    return int(re.search(r"send 127\.0\.0\.1:(\d+) ", sent).group(1))


class LossyPeer:
    """A follower made from bare sockets: it registers and follows like a user, acknowledges setups,
    and drops the first copy of a tweet that reaches it, passing later copies on."""

    def __init__(self, tracker_port: int, handle: str) -> None:
        self.tracker, self.handle, self.ids = ("127.0.0.1", tracker_port), handle, itertools.count(1)
        self.sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(3)]
        for sock, port in zip(self.sockets, free_ports(3)):
            sock.bind(("127.0.0.1", port))
            sock.settimeout(WAIT)
        self.to_tracker, self.ring_in, _ring_out = self.sockets
        self.request({"op": "register", "handle": handle, "ip": "127.0.0.1",
                      "ports": [sock.getsockname()[1] for sock in self.sockets]})

    def request(self, message: dict[str, Any]) -> None:
        """Ask the tracker, and assert it said yes."""
        message["id"] = next(self.ids)
        self.to_tracker.sendto(json.dumps(message).encode(), self.tracker)
        while (reply := json.loads(self.to_tracker.recv(65536))).get("id") != message["id"]:
            pass
        assert reply["ok"] is True, reply

    def serve_ring(self, copies: int) -> list[dict[str, Any]]:
        """Acknowledge setups until `copies` tweets came; pass on all but the first; the tweets."""
        tweets: list[dict[str, Any]] = []
        right: tuple[str, int] | None = None
        while len(tweets) < copies:
            data, address = self.ring_in.recvfrom(65536)
            message = json.loads(data)
            if message["op"] == "setup":
                right = tuple(message["right_address"])
                self.ring_in.sendto(json.dumps({"op": "reply", "id": message["id"], "ok": True}).encode(), address)
            elif message["op"] == "tweet":
                tweets.append(message)
                if len(tweets) > 1:
                    assert right is not None, "a tweet before the setup"
                    self.ring_in.sendto(json.dumps({**message, "from": self.handle}).encode(), right)
        return tweets

    def __enter__(self) -> LossyPeer:
        return self

    def __exit__(self, *_exc: object) -> None:
        for sock in self.sockets:
            sock.close()
