"""Submissions that differ from the reference in how they use the network (and one flaky on purpose),
built when the tests run.

Each variant is the reference changed in exactly one way that real submissions for this assignment
take (ASSIGNMENT.md, last section): exact text replacements on copies of the reference's program
files, each of which must apply exactly once (so a change to the reference that moves the code fails
loudly here instead of quietly building the reference under another name), plus extra files: a
`tweeter.yaml` manifest, a helper module. The code marks every deliberate deviation with
`# VARIANT: ...`. Nothing is committed: tests build the folders into a temporary directory.

    from tests.submissions.variants import VARIANTS, build
    folder = build("tracker_relays", tmp_path)      # tmp_path/tracker_relays/

    python3 tests/submissions/variants.py /tmp/variants   # build them all, by hand
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "reference"
PROGRAM_FILES = ("tracker.py", "user.py", "wire.py", "reliable.py", "console.py")

Replacement = tuple[str, str, str]  # (file, old text, new text)


@dataclass(frozen=True)
class Variant:
    """One variant: the replacements that make it, its extra files, and what its README says."""

    name: str
    title: str
    explanation: str  # what it does wrong (or right), in the assignment's terms, as a TA would say it
    expected: str  # how the harness should grade it
    replacements: tuple[Replacement, ...]
    extra_files: dict[str, str] = field(default_factory=dict)
    # the submission it is a copy of, from the repository's root: the reference, or a test submission
    # in another language (every file of that folder is copied)
    source: str = "reference"


# --- star_ring_labels ---------------------------------------------------------------------------------
# The places a follower passes a tweet on (see reference/user.py: the plain-tweet path and the general one).
FORWARD_PLAIN = '''            onward = wire.TWEET_FORMAT % (plain[1], self.me.wire_handle, plain[3], plain[4])
            self._transmit(self.me.ring_out, onward, state.right_address)
'''
FORWARD_DECODED = '''        self._transmit(self.me.ring_out, wire.tweet(tweet.tweeter, self.me.handle, tweet.round, tweet.text),
                       state.right_address)
'''
SEND_TO_FIRST = '''        self._transmit(self.me.ring_out, self.round_data, self.ring[0][1])
        self.round_timers.add(ROUND_TIMEOUT, lambda number=self.round: self._send_round_again(number))
'''
SEND_AGAIN_TO_FIRST = '''            self._transmit(self.me.ring_out, self.round_data, self.ring[0][1])
            self.round_timers.add(ROUND_TIMEOUT, lambda: self._send_round_again(number))
'''
PRINT_RECEIVED = '''            self.say(f'{self.me.handle} received tweet from {tweet.tweeter} via {tweet.sender}: '
'''

STAR_RING_LABELS = Variant(
    "star_ring_labels", "A star whose followers print the labels of a ring",
    "The tweeter sends its tweet straight to every follower instead of only to the first one, and "
    "followers do not pass it on, except the last follower of the ring, which sends it back to the "
    "tweeter, so the tweet does come back and end-tweet works. Each follower prints the usual "
    "received-tweet line, but names as the forwarder its left neighbour from the ring state the "
    "tweeter set up, not whoever sent it the tweet. On the console everything looks exactly like a "
    "correct ring; only the packets show that @carol got the tweet from @alice's host, not from "
    "@bob's: the tweet never travelled peer to peer.",
    "100/100 on loopback (no wire evidence: the console looks like a ring). 76/100 on a LAN of hosts "
    "(--network hosts): `tweet_ring_order` fails 'forwarded peer to peer round the ring' (@carol got "
    "it from @alice's host, not from @bob's), and the ring scenarios that depend on it are blocked.",
    (("user.py", SEND_TO_FIRST,
      '''        for _handle, address in self.ring:  # VARIANT: a star: the tweet goes straight to every follower
            self._transmit(self.me.ring_out, self.round_data, address)
        self.round_timers.add(ROUND_TIMEOUT, lambda number=self.round: self._send_round_again(number))
'''),
     ("user.py", SEND_AGAIN_TO_FIRST,
      '''            for _handle, address in self.ring:  # VARIANT: a star, again
                self._transmit(self.me.ring_out, self.round_data, address)
            self.round_timers.add(ROUND_TIMEOUT, lambda: self._send_round_again(number))
'''),
     ("user.py", FORWARD_PLAIN,
      '''            if state.right == plain[1].decode():  # VARIANT: only the last follower passes it on (back to the tweeter)
                onward = wire.TWEET_FORMAT % (plain[1], self.me.wire_handle, plain[3], plain[4])
                self._transmit(self.me.ring_out, onward, state.right_address)
'''),
     ("user.py", FORWARD_DECODED,
      '''        if state.right == tweet.tweeter:  # VARIANT: only the last follower passes it on (back to the tweeter)
            self._transmit(self.me.ring_out, wire.tweet(tweet.tweeter, self.me.handle, tweet.round, tweet.text),
                           state.right_address)
'''),
     ("user.py", PRINT_RECEIVED,
      '''            left = self.rings[tweet.tweeter].left  # VARIANT: print my left neighbour, whoever sent it
            self.say(f'{self.me.handle} received tweet from {tweet.tweeter} via {left}: '
'''),
     ))


# --- tracker_relays -----------------------------------------------------------------------------------
TRACKER_TWEET = '''        member = self._actor(message, address)
        wire.text_field(message)
        self._not_busy()
        self.tweet = Tweet(member.handle, now)
        self.log(f"tracker: tweet of {member.handle} in progress")
'''
USER_ASKS_TWEET = '''        self._ask({"op": "tweet", "handle": handle, "text": text},
'''
ROUND_STATE = '''        self.round_open = False
        self.round_text = ""
'''
SEND_ROUND = '''        self.round = next(self.rounds)
        self.round_open, self.round_text = True, text
        if not self.ring:
            self._round_returned()
            return
        self.round_data = wire.tweet(self.me.handle, self.me.handle, self.round, text)
        self.round_sent_at = time.monotonic()
        self._transmit(self.me.ring_out, self.round_data, self.ring[0][1])
        self.round_timers.add(ROUND_TIMEOUT, lambda number=self.round: self._send_round_again(number))
'''
RING_IN_PLAIN = '''        elif (state := self.rings.get(plain[1].decode())) is not None:
            onward = wire.TWEET_FORMAT % (plain[1], self.me.wire_handle, plain[3], plain[4])
            self._transmit(self.me.ring_out, onward, state.right_address)
            self._print_once(wire.plain_tweet_fields(plain))
        else:  # mine, back from the ring; or of a ring I am not in
'''
ON_TWEET = '''            if self.round_open and tweet.round == self.round:
                self._round_returned()
            else:
                self.trace(f"round {tweet.round} of my tweets is not the one out: ignored")
            return
        state = self.rings.get(tweet.tweeter)
        if state is None:
            self.trace(f"dropped: a tweet of {tweet.tweeter}, whose ring I am not in")
            return
        self._transmit(self.me.ring_out, wire.tweet(tweet.tweeter, self.me.handle, tweet.round, tweet.text),
                       state.right_address)
        self._print_once(tweet)
'''

TRACKER_RELAYS = Variant(
    "tracker_relays", "The tracker sends every follower its copy itself",
    "When the tracker answers a tweet command SUCCESS it also sends the tweet itself to every "
    "follower, each copy marked as coming from that follower's left neighbour in the alphabetical "
    "ring, and one to the tweeter marked as coming from the last follower. The tweeter never sends "
    "the tweet into the ring; followers print it as usual and do not pass it on; the tweeter takes "
    "the tracker's copy as its tweet come back and sends end-tweet. The console looks like a correct "
    "ring, but the tweet went through the tracker, not from user to user.",
    "100/100 on loopback (no wire evidence: the console looks like a ring). On a LAN of hosts "
    "(--network hosts) the packets show the relay: `tweet_ring_order` fails 'forwarded peer to peer "
    "round the ring' (the tracker sent it to every follower itself) and 'it returns to the tweeter' "
    "(no packet came back from a follower); in a full run `tweet_one_follower` already fails the "
    "latter, so the tweet scenarios after it are blocked (46/100).",
    (("tracker.py", TRACKER_TWEET,
      '''        member = self._actor(message, address)
        text = wire.text_field(message)
        number = wire.int_field(message, "round")  # VARIANT: the user numbers its tweet, the tracker sends it
        self._not_busy()
        self.tweet = Tweet(member.handle, now)
        self.log(f"tracker: tweet of {member.handle} in progress")
        # VARIANT: the tracker sends every follower its copy itself, "from" its left neighbour in the
        # alphabetical ring, and the tweeter one "from" the last follower: its tweet is back.
        for left, handle in zip([member.handle, *member.followers], member.followers):
            notices.append((wire.tweet(member.handle, left, number, text), self.users[handle].ring_in))
        if member.followers:
            notices.append((wire.tweet(member.handle, member.followers[-1], number, text), member.ring_in))
'''),
     ("user.py", ROUND_STATE,
      '''        self.round_open = False
        self.round_back = False  # VARIANT: the tracker's copy came back before its answer was handled
        self.round_text = ""
'''),
     ("user.py", USER_ASKS_TWEET,
      '''        self.round, self.round_back = next(self.rounds), False  # VARIANT: the tracker sends the tweet
        self._ask({"op": "tweet", "handle": handle, "text": text, "round": self.round},
'''),
     ("user.py", SEND_ROUND,
      '''        self.round_open, self.round_text = True, text  # VARIANT: numbered in _tweet, sent by the tracker
        self.round_sent_at = time.monotonic()
        if not self.ring or self.round_back:
            self._round_returned()
            return
'''),
     ("user.py", RING_IN_PLAIN,
      '''        elif plain[1] != self.me.wire_handle:  # VARIANT: a follower prints the tweet, never passes it on
            self._print_once(wire.plain_tweet_fields(plain))
        else:  # mine, back from the tracker
'''),
     ("user.py", ON_TWEET,
      '''            if self.round_open and tweet.round == self.round:
                self._round_returned()
            elif tweet.round == self.round:  # VARIANT: back before the tracker's answer was handled
                self.round_back = True
            else:
                self.trace(f"round {tweet.round} of my tweets is not the one out: ignored")
            return
        self._print_once(tweet)  # VARIANT: a follower prints the tweet, never passes it on
'''),
     ))


# --- hardcoded_tracker --------------------------------------------------------------------------------
TRACKER_MAIN = '''def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Tweeter tracker (UDP).")
    parser.add_argument("port", type=int, help="UDP port to listen on (0: any free port)")
    parser.add_argument("--host", default="0.0.0.0", help="address to bind (default: all interfaces)")
    parser.add_argument("--tweet-timeout", type=float, default=TWEET_TIMEOUT,
                        help="seconds after which an unended tweet is cleared (default 5)")
    args = parser.parse_args(argv)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((args.host, args.port))
    except OSError as error:
        print(f"tracker: cannot bind {args.host}:{args.port}: {error.strerror}", flush=True)
        return 1
'''
USER_MAIN = '''def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or not wire.is_ipv4(args[0]) or not PORT_RE.fullmatch(args[1]) \\
            or not wire.is_port(int(args[1])):
        print("usage: python3 user.py TRACKER_IPv4 TRACKER_PORT", file=sys.stderr, flush=True)
        return 2
    try:
        return User((args[0], int(args[1]))).run()
'''

HARDCODED_TRACKER = Variant(
    "hardcoded_tracker", "The tracker's address and port hard-coded",
    "A correct submission whose tracker address is hard-coded in both programs, as on the campus "
    "machines: the tracker always listens on port 8000 (all interfaces) and takes no command-line "
    "argument; the user always talks to the tracker at 10.120.70.106:8000 and ignores its arguments. "
    "Its tweeter.yaml tells the grader so, and the harness then gives the tracker's host that address.",
    "100/100 on a LAN of hosts (--network hosts). On loopback every scenario is an error: the "
    "submission hard-codes 10.120.70.106, which the machine does not have.",
    (("tracker.py", "Run:  python3 tracker.py PORT [--host ADDR] [--tweet-timeout SECONDS]\n",
      "Run:  python3 tracker.py       (no arguments: it always listens on UDP port 8000)\n"),
     ("tracker.py", "import argparse\n", ""),
     ("tracker.py", TRACKER_MAIN,
      '''TRACKER_PORT = 8000  # VARIANT: the tracker's port is hard-coded; no command-line arguments


def main(argv: list[str] | None = None) -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(("0.0.0.0", TRACKER_PORT))
    except OSError as error:
        print(f"tracker: cannot bind 0.0.0.0:{TRACKER_PORT}: {error.strerror}", flush=True)
        return 1
'''),
     ("tracker.py", "        serve(sock, Tracker(tweet_timeout=args.tweet_timeout, log=output.append), output)\n",
      "        serve(sock, Tracker(log=output.append), output)\n"),
     ("user.py", "Run:  python3 user.py TRACKER_IP TRACKER_PORT\n",
      "Run:  python3 user.py       (no arguments: the tracker is at 10.120.70.106:8000)\n"),
     ("user.py", USER_MAIN,
      '''TRACKER_IP, TRACKER_PORT = "10.120.70.106", 8000  # VARIANT: the tracker's campus address, hard-coded


def main(argv: list[str] | None = None) -> int:
    try:
        return User((TRACKER_IP, TRACKER_PORT)).run()  # VARIANT: the command line is ignored
'''),
     ),
    {"tweeter.yaml": '''# The tracker's address and port are hard-coded in both programs (see tracker.py, user.py).
launch: {tracker: "python3 tracker.py", user: "python3 user.py"}
network: {tracker: {ip: 10.120.70.106, port: 8000}}
'''})


# --- tcp_transport ------------------------------------------------------------------------------------
TCP_SOCKET_PY = '''"""UDP-style messages over TCP: one connection per message (connect, send, close).

tracker.py and user.py were written around UDP sockets: bind, sendto, recvfrom, select. TcpSocket
offers those calls over TCP so that the rest of the code did not change. It is a listening socket;
`sendto` opens a connection to the receiver's listening socket, sends one frame and closes it;
`recvfrom` accepts one connection and reads its frame. A frame is

    2 bytes   the sender's own listening port (big-endian), so that the receiver can answer it
    4 bytes   the length of the message (big-endian)
    n bytes   the message itself, unchanged (the JSON of wire.py)

`recvfrom` returns (message, (sender's IP, sender's listening port)), an address `sendto` can answer.
"""

import socket
import struct

HEADER = struct.Struct("!HI")
MAX_MESSAGE = 1 << 20  # a frame announcing more is not read
CONNECT_TIMEOUT = 2.0  # seconds to reach the receiver and hand it the frame
READ_TIMEOUT = 2.0  # seconds an accepted connection may take to deliver its whole frame
BACKLOG = 128


class TcpSocket:
    """A listening TCP socket used like a UDP socket."""

    def __init__(self):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # a restarted program can listen again on its port at once (old connections in TIME_WAIT)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)

    def bind(self, address):
        self.listener.bind(address)
        self.listener.listen(BACKLOG)

    def fileno(self):  # for select
        return self.listener.fileno()

    def setblocking(self, flag):
        self.listener.setblocking(flag)

    def getsockname(self):
        return self.listener.getsockname()

    def close(self):
        self.listener.close()

    def sendto(self, data, address):
        """Send one message to the listening socket at `address` (OSError if it cannot be reached)."""
        ip, port = self.listener.getsockname()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as connection:
            connection.settimeout(CONNECT_TIMEOUT)
            if ip != "0.0.0.0":
                connection.bind((ip, 0))  # leave from the address we listen on, like a bound UDP socket
            connection.connect(address)
            connection.sendall(HEADER.pack(port, len(data)) + data)
        return len(data)

    def recvfrom(self, bufsize):
        """One message, and the address to answer it at (BlockingIOError if none is waiting)."""
        connection, (ip, _port) = self.listener.accept()
        with connection:
            connection.settimeout(READ_TIMEOUT)
            reply_port, length = HEADER.unpack(read_exactly(connection, HEADER.size))
            if length > MAX_MESSAGE:
                raise OSError(f"message too long ({length} bytes)")
            data = read_exactly(connection, length)
        return data[:bufsize], (ip, reply_port)


def read_exactly(connection, count):
    data = b""
    while len(data) < count:
        chunk = connection.recv(count - len(data))
        if not chunk:
            raise OSError("connection closed in the middle of a message")
        data += chunk
    return data
'''

TCP_TRANSPORT = Variant(
    "tcp_transport", "TCP instead of UDP, one connection per message",
    "A correct submission that uses TCP instead of UDP: every message, to or from the tracker and "
    "round the ring, is one TCP connection (connect, send, close), carrying the same JSON a UDP "
    "datagram would, after a small header (the sender's listening port and the length). "
    "tcp_socket.py offers the UDP calls the programs use over TCP; its tweeter.yaml says "
    "`transport: tcp`. The assignment asks for UDP, but everything the grader can see works.",
    "100/100 on a LAN of hosts (--network hosts) and on loopback.",
    (("tracker.py", "    from reliable import Outbox, ReplyCache\n",
      "    from reliable import Outbox, ReplyCache\n    from tcp_socket import TcpSocket\n"),
     ("tracker.py", "    from .reliable import Outbox, ReplyCache\n",
      "    from .reliable import Outbox, ReplyCache\n    from .tcp_socket import TcpSocket\n"),
     ("tracker.py", "    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n",
      "    sock = TcpSocket()  # VARIANT: TCP, one connection per message (tcp_socket.py)\n"),
     ("user.py", "    from reliable import Outbox, Recent, ReplyCache, first_id\n",
      "    from reliable import Outbox, Recent, ReplyCache, first_id\n    from tcp_socket import TcpSocket\n"),
     ("user.py", "    from .reliable import Outbox, Recent, ReplyCache, first_id\n",
      "    from .reliable import Outbox, Recent, ReplyCache, first_id\n    from .tcp_socket import TcpSocket\n"),
     ("user.py", "        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n",
      "        sock = TcpSocket()  # VARIANT: TCP, one connection per message (tcp_socket.py)\n"),
     ),
    {"tcp_socket.py": TCP_SOCKET_PY,
     "tweeter.yaml": '''# The reference's console; messages go over TCP, one connection per message (tcp_socket.py).
transport: tcp
'''})


# --- binds_hostname -----------------------------------------------------------------------------------
TRACKER_BIND = '''    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((args.host, args.port))
    except OSError as error:
        print(f"tracker: cannot bind {args.host}:{args.port}: {error.strerror}", flush=True)
'''

BINDS_HOSTNAME = Variant(
    "binds_hostname", "Sockets bound to the host's own address",
    "A correct submission whose tracker binds the address its host name resolves to, "
    "gethostbyname(getfqdn()), and the given port instead of all interfaces (and prints that "
    "address), and whose users bind all their sockets on gethostbyname(gethostname()) instead of "
    "all interfaces or the address typed at register. On a campus machine, where every program runs "
    "on a host whose name resolves to its own address, this works.",
    "100/100 on a LAN of hosts (--network hosts), where every program has a host of its own. On "
    "loopback it works only on a machine whose name resolves to 127.0.0.1.",
    (("tracker.py", '''    parser.add_argument("--host", default="0.0.0.0", help="address to bind (default: all interfaces)")
''', ""),
     ("tracker.py", "Run:  python3 tracker.py PORT [--host ADDR] [--tweet-timeout SECONDS]\n",
      "Run:  python3 tracker.py PORT [--tweet-timeout SECONDS]\n"),
     ("tracker.py", TRACKER_BIND,
      '''    host = socket.gethostbyname(socket.getfqdn())  # VARIANT: this machine's own address, not all interfaces
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((host, args.port))
    except OSError as error:
        print(f"tracker: cannot bind {host}:{args.port}: {error.strerror}", flush=True)
'''),
     ("user.py", "            sock.bind(address)\n",
      "            sock.bind((socket.gethostbyname(socket.gethostname()), address[1]))  # VARIANT: my host's address\n"),
     ))


# --- flaky_register -----------------------------------------------------------------------------------
REGISTER_CHECKS = '''        self._not_busy()
        if handle in self.users:
'''
LISTENING = '''    output.append(f"tracker: listening on {host}:{port}")
'''

FLAKY_REGISTER = Variant(
    "flaky_register", "A tracker that refuses every register on half of its runs",
    "Purpose-built for the flaky-verdict tests (--repeat): when it starts, the tracker tosses a coin "
    "(a random byte from the operating system) and prints `tracker: coin heads` or `tracker: coin "
    "tails`. On tails it answers every register FAILURE, so nothing that needs a registered user "
    "works in that run; on heads it is the reference. Whether a run passes is decided in the run "
    "and shown in its own transcript, as with a real race.",
    "Each run of `register_new` passes on heads and fails on tails; repeated, the scenario is flaky "
    "when both came up, and scored by --flaky.",
    (("tracker.py", "import argparse\n", "import argparse\nimport os  # VARIANT: for the coin\n"),
     ("tracker.py", REGISTER_CHECKS,
      '''        self._not_busy()
        if COIN == "tails":  # VARIANT: the coin decides, once per run
            raise Reject("the coin fell tails: no register in this run")
        if handle in self.users:
'''),
     ("tracker.py", LISTENING,
      LISTENING + '''    output.append(f"tracker: coin {COIN}")  # VARIANT: the run's coin, in its transcript
'''),
     ("tracker.py", "\n\ndef main(argv: list[str] | None = None) -> int:\n",
      '''\n\nCOIN = "tails" if os.urandom(1)[0] & 1 else "heads"  # VARIANT: tossed once per run


def main(argv: list[str] | None = None) -> int:
'''),
     ))


# --- hops_from_fresh_sockets ---------------------------------------------------------------------------
FRESH_SOCKET_HOP = '''            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as fresh:  # VARIANT: a socket per hop
                fresh.sendto({data}, {address})
'''

HOPS_FROM_FRESH_SOCKETS = Variant(
    "hops_from_fresh_sockets", "A correct ring whose followers send each hop from a socket of its own",
    "A follower passes each tweet on (and the last one sends it home) from a new UDP socket that it "
    "closes as soon as the datagram is sent, as many students write it. The ring, its order and its "
    "text are right; only the port each hop leaves from is one no program holds a moment later.",
    "Full marks everywhere. On a LAN the hosts' addresses name the senders. On a loopback capture the "
    "ports of those hops belong to no program once the capture reads them, so the packets cannot say "
    "who sent them: the printed lines decide the ring, and the checks say why.",
    (("user.py", "            self._transmit(self.me.ring_out, onward, state.right_address)\n",
      FRESH_SOCKET_HOP.format(data="onward", address="state.right_address")),
     ("user.py", "        self._transmit(self.me.ring_out, wire.tweet(tweet.tweeter, self.me.handle, tweet.round, "
                 "tweet.text),\n                       state.right_address)\n",
      "        if True:  # VARIANT: as above\n" + FRESH_SOCKET_HOP.format(
          data="wire.tweet(tweet.tweeter, self.me.handle, tweet.round, tweet.text)", address="state.right_address")),
     ))


VARIANTS: dict[str, Variant] = {v.name: v for v in (STAR_RING_LABELS, TRACKER_RELAYS, HARDCODED_TRACKER,
                                                     TCP_TRANSPORT, BINDS_HOSTNAME, FLAKY_REGISTER,
                                                     HOPS_FROM_FRESH_SOCKETS)}


def files(variant: Variant, builder: str = "tests/submissions/variants.py") -> dict[str, str]:
    """The variant's files as text (README included, naming the `builder` module), from its source."""
    texts = source_files(variant.source)
    for file, old, new in variant.replacements:
        count = texts[file].count(old)
        if count != 1:
            raise AssertionError(f"{variant.name}: the text to replace occurs {count} times in "
                                 f"{variant.source}/{file}, not once:\n{old}")
        texts[file] = texts[file].replace(old, new)
    texts.update(variant.extra_files)
    texts["README.md"] = readme(variant, builder)
    return texts


def source_files(source: str) -> dict[str, str]:
    """The program files of a variant's source as text: the reference's programs, or every file of
    another submission's folder (it holds only its sources, a Makefile and its manifest)."""
    if source == "reference":
        return {name: (REFERENCE / name).read_text(encoding="utf-8") for name in PROGRAM_FILES}
    folder = ROOT / source
    return {path.relative_to(folder).as_posix(): path.read_text(encoding="utf-8")
            for path in sorted(folder.rglob("*")) if path.is_file()}


def readme(variant: Variant, builder: str) -> str:
    return (f"# Test submission: {variant.title}\n\n{variant.explanation}\n\n"
            f"Expected: {variant.expected}\n\n"
            f"Built from `{variant.source}/` by `{builder}` when the tests run; every "
            f"deliberate difference is marked `{'# ' if variant.source == 'reference' else '// '}VARIANT:` "
            "in the code.\n")


def build(name: str, into: Path) -> Path:
    """Write variant `name` into `into/<name>/` (replacing what was there); the folder."""
    return write(VARIANTS[name], into)


def write(variant: Variant, into: Path, builder: str = "tests/submissions/variants.py") -> Path:
    """Write `variant` into `into/<its name>/` (replacing what was there); the folder."""
    texts = files(variant, builder)
    target = Path(into) / variant.name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for file, text in texts.items():
        (target / file).parent.mkdir(parents=True, exist_ok=True)
        (target / file).write_text(text, encoding="utf-8")
    return target


def build_all(argv: list[str], variants: dict[str, Variant], builder: str) -> int:
    """The builders' command line: write every variant of `variants` into the folder named by `argv`."""
    if len(argv) != 1:
        print(f"usage: python3 {builder} FOLDER", file=sys.stderr)
        return 2
    for variant in variants.values():
        print(f"built {write(variant, Path(argv[0]), builder)}")
    return 0


if __name__ == "__main__":
    sys.exit(build_all(sys.argv[1:], VARIANTS, "tests/submissions/variants.py"))
