"""Tweets travelling real rings of reference users: order, forwarders, ring updates, concurrency, loss."""

from __future__ import annotations

import json
import re
import socket


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


def test_a_repeated_tweet_datagram_is_printed_once(net) -> None:
    net.tracker()
    users = {h: net.registered(h) for h in ("@alice", "@bob")}
    net.follow_all(users, "@alice", ["@bob"])
    net.tweet_round(users, "@alice", "set up", ["@bob"])
    ring_in = int(re.search(r"send 127\.0\.0\.1:(\d+) \{\"op\":\"setup\"",
                            "\n".join(users["@alice"].lines)).group(1))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as fake:
        fake.bind(("127.0.0.1", 0))
        fake.settimeout(5)
        tweet = {"op": "tweet", "id": 7, "tweeter": "@alice", "from": "@alice", "round": 99, "text": "twice"}
        for _ in range(2):
            fake.sendto(json.dumps(tweet).encode(), ("127.0.0.1", ring_in))
            assert json.loads(fake.recv(65536)) == {"op": "reply", "id": 7, "ok": True}
    users["@bob"].expect("repeated request: acknowledged again")
    assert len(users["@bob"].matching('received tweet from @alice via @alice: "twice"')) == 1


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
