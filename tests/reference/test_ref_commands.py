"""Every console command of reference/user.py, in its SUCCESS and its FAILURE outcomes."""

from __future__ import annotations

import socket


def test_register_and_query(net) -> None:
    net.tracker()
    stranger = net.user("stranger")
    assert stranger.command("query handles") == "query handles: SUCCESS 0"
    net.registered("@carol")
    net.registered("@alice")
    assert stranger.command("query handles") == "query handles: SUCCESS 2 @alice @carol"
    again = net.user("again")
    ports = " ".join(map(str, net.ports(3)))
    assert again.command(f"register @alice 127.0.0.1 {ports}") == "register: FAILURE duplicate handle @alice"
    for bad in ("@abcdefghijklmnop", "@bob1", "bob"):
        assert again.command(f"register {bad} 127.0.0.1 {ports}").startswith("register: FAILURE invalid handle")
    p1, p2, _ = ports.split()
    assert again.command(f"register @bob 127.0.0.1 {p1} {p2} x").startswith("register: FAILURE invalid port x")
    assert again.command(f"register @bob 127.0.0.1 {p1} {p2} 70000").startswith("register: FAILURE invalid port")
    assert again.command(f"register @bob 127.0.0.1 {p1} {p1} {p2}") == \
        "register: FAILURE the three ports must differ"
    assert again.command(f"register @bob 300.1.1.1 {ports}").startswith("register: FAILURE invalid IPv4")
    assert again.command(f"register @bob 127.0.0.1 {p1}").startswith("error: register takes 5 argument(s);")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        busy_port = taken.getsockname()[1]
        assert again.command(f"register @bob 127.0.0.1 {p1} {p2} {busy_port}").startswith(
            f"register: FAILURE cannot bind 127.0.0.1:{busy_port}")
    assert again.command(f"register @bob 127.0.0.1 {ports}") == "register: SUCCESS @bob"
    assert again.command(f"register @dave 127.0.0.1 {' '.join(map(str, net.ports(3)))}") == \
        "register: FAILURE already registered as @bob"
    assert again.command("query handles") == "query handles: SUCCESS 3 @alice @bob @carol"


def test_console_errors_keep_the_user_running(net) -> None:
    net.tracker()
    user = net.user()
    assert user.command("hello").startswith("error: unknown command 'hello'; usage: ")
    assert user.command("query") == "error: did you mean 'query handles'?; usage: query handles"
    assert user.command("tweet @a no quotes") == \
        'error: the tweet text must follow the handle, in double quotes; usage: tweet @handle "text"'
    assert user.command("follow @a") == "error: follow takes 2 argument(s); usage: follow @follower @followed"
    assert user.command("query handles") == "query handles: SUCCESS 0"


def test_follow_and_drop(net) -> None:
    net.tracker()
    alice, bob = net.registered("@alice"), net.registered("@bob")
    assert alice.command("follow @alice @bob") == "follow: SUCCESS @alice follows @bob"
    assert alice.command("follow @alice @bob") == "follow: FAILURE @alice already follows @bob"
    assert alice.command("follow @alice @alice") == "follow: FAILURE cannot follow yourself"
    assert alice.command("follow @alice @zed") == "follow: FAILURE unknown handle @zed"
    assert alice.command("follow @bob @alice").startswith("follow: FAILURE not your handle")
    assert alice.command("follow @alice @bob2").startswith("follow: FAILURE invalid handle @bob2")
    assert bob.command("drop @bob @alice") == "drop: FAILURE @bob does not follow @alice"
    assert alice.command("drop @alice @bob") == "drop: SUCCESS @alice dropped @bob"
    assert alice.command("drop @alice @bob") == "drop: FAILURE @alice does not follow @bob"
    assert bob.command("drop @alice @bob").startswith("drop: FAILURE not your handle")
    stranger = net.user()
    assert stranger.command("follow @carol @alice") == "follow: FAILURE not registered"
    assert stranger.command("drop @carol @alice") == "drop: FAILURE not registered"


def test_tweet_end_tweet_and_their_failures(net) -> None:
    net.tracker()
    alice = net.registered("@alice")
    assert alice.command('tweet @alice "nobody listens"') == "tweet: SUCCESS 0 followers"
    alice.expect(r'^@alice tweet returned: "nobody listens"$')
    assert alice.expect("^end-tweet: ").string == "end-tweet: SUCCESS"
    assert alice.command(f'tweet @alice "{"x" * 141}"') == "tweet: FAILURE tweet too long (141 > 140 characters)"
    assert alice.command('tweet @bob "hi"').startswith("tweet: FAILURE not your handle")
    assert alice.command("end-tweet @alice") == "end-tweet: FAILURE no tweet of @alice in progress"
    assert alice.command("end-tweet @bob").startswith("end-tweet: FAILURE not your handle")
    stranger = net.user()
    assert stranger.command('tweet @carol "hi"') == "tweet: FAILURE not registered"
    assert stranger.command("end-tweet @carol") == "end-tweet: FAILURE not registered"
    assert stranger.command("exit @carol") == "exit: FAILURE not registered"
    assert alice.command(f'tweet @alice "{"y" * 140}"') == "tweet: SUCCESS 0 followers"


def test_exit_tears_down_the_ring_and_leaves(net) -> None:
    net.tracker()
    users = {h: net.registered(h) for h in ("@alice", "@bob", "@carol")}
    assert users["@bob"].command("follow @bob @alice") == "follow: SUCCESS @bob follows @alice"
    assert users["@carol"].command("follow @carol @alice") == "follow: SUCCESS @carol follows @alice"
    assert users["@alice"].command("follow @alice @carol") == "follow: SUCCESS @alice follows @carol"
    assert users["@alice"].command('tweet @alice "ring up"').startswith("tweet: SUCCESS 2")
    assert users["@alice"].expect("^end-tweet: ").string == "end-tweet: SUCCESS"
    assert users["@alice"].command("exit @bob").startswith("exit: FAILURE not your handle")
    assert users["@alice"].command("exit @alice") == "exit: SUCCESS exit-complete"
    assert users["@alice"].wait_exit() == 0
    users["@bob"].expect("^@bob ring of @alice: torn down$")
    users["@carol"].expect("^@carol ring of @alice: torn down$")
    assert users["@bob"].command("query handles") == "query handles: SUCCESS 2 @bob @carol"
    assert users["@carol"].command('tweet @carol "alone"') == "tweet: SUCCESS 0 followers"
    assert users["@bob"].command("follow @bob @alice") == "follow: FAILURE unknown handle @alice"


def test_end_of_input_ends_the_user(net) -> None:
    net.tracker()
    user = net.user()
    assert user.popen.stdin is not None
    user.popen.stdin.close()
    assert user.wait_exit() == 0
