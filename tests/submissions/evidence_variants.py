"""Submissions that differ from the reference in what their packets show (or hide) of a tweet's path,
built when the tests run.

Each variant is the reference changed in the ways that real submissions for this assignment take
(ASSIGNMENT.md, last section: wire formats, paths, concurrency): a datagram wrapped in base64 or
scrambled so that no text can be read on the wire, a completion code sent home instead of the
tweet, a star or a tracker relay, only the first word relayed, a tweet that reaches nobody, and two
ways of living with two tweets typed at once. Several reuse a variant of variants.py whole (a star,
a tracker relay, TCP) and add their own change to it. They are built like the ones in variants.py
(whose `Variant`, `write` and `build_all` they use): exact text replacements on copies of the
reference's program files, each of which must apply exactly once, and extra files. The code marks
every deliberate deviation with `# VARIANT: ...`. Nothing is committed: tests build the folders into
a temporary directory.

    from tests.submissions.evidence_variants import VARIANTS, build
    folder = build("star_encoded", tmp_path)      # tmp_path/star_encoded/

    python3 tests/submissions/evidence_variants.py /tmp/evidence_variants   # build them all, by hand
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.submissions import variants
from tests.submissions.variants import (FORWARD_DECODED, FORWARD_PLAIN, STAR_RING_LABELS, TCP_TRANSPORT,
                                        SEND_ROUND, TRACKER_RELAYS, USER_ASKS_TWEET, Replacement, Variant)

BUILDER = "tests/submissions/evidence_variants.py"
EXPECTED = "See tests/test_evidence.py for its exact expected scores."


# --- the UDP sockets of both programs, made through a module of the submission's own ------------------
def socket_module(module: str, class_name: str, why: str) -> tuple[Replacement, ...]:
    """The replacements that make tracker.py and user.py create their UDP sockets as
    `module.class_name()` (a socket.socket subclass) instead of socket.socket(AF_INET, SOCK_DGRAM)."""
    return (("tracker.py", "    from reliable import Outbox, ReplyCache\n",
             f"    from reliable import Outbox, ReplyCache\n    from {module} import {class_name}\n"),
            ("tracker.py", "    from .reliable import Outbox, ReplyCache\n",
             f"    from .reliable import Outbox, ReplyCache\n    from .{module} import {class_name}\n"),
            ("tracker.py", "    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n",
             f"    sock = {class_name}()  # VARIANT: {why} ({module}.py)\n"),
            ("user.py", "    from reliable import Outbox, Recent, ReplyCache, first_id\n",
             f"    from reliable import Outbox, Recent, ReplyCache, first_id\n    from {module} import {class_name}\n"),
            ("user.py", "    from .reliable import Outbox, Recent, ReplyCache, first_id\n",
             f"    from .reliable import Outbox, Recent, ReplyCache, first_id\n"
             f"    from .{module} import {class_name}\n"),
            ("user.py", "        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n",
             f"        sock = {class_name}()  # VARIANT: {why} ({module}.py)\n"))


# --- ring_base64 ---------------------------------------------------------------------------------------
B64_SOCKET_PY = '''"""UDP sockets whose datagrams are base64 text: every datagram we send is base64.b64encode(message).

tracker.py and user.py create their UDP sockets as B64Socket() instead of socket.socket(AF_INET,
SOCK_DGRAM); the rest of the code sends and receives the messages (the JSON of wire.py) as before.
`sendto` sends the base64 of the message; `recvfrom` returns the decoded message. A datagram that is
not valid base64 is returned as an empty message, which wire.decode rejects like any other garbage
(the caller drops it).
"""

import base64
import binascii
import socket

MAX_ENCODED = 65535  # the largest UDP datagram: read everything that came


class B64Socket(socket.socket):
    """A UDP socket (AF_INET, SOCK_DGRAM) that base64-encodes what it sends and decodes what it receives."""

    def __init__(self):
        super().__init__(socket.AF_INET, socket.SOCK_DGRAM)

    def sendto(self, data, address):
        super().sendto(base64.b64encode(data), address)
        return len(data)

    def recvfrom(self, bufsize):
        encoded, address = super().recvfrom(MAX_ENCODED)
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            data = b""  # not base64: garbage, dropped by the caller like any malformed datagram
        return data[:bufsize], address
'''

RING_BASE64 = Variant(
    "ring_base64", "Every datagram base64-encoded",
    "A correct ring whose every datagram, between users and between a user and the tracker, is the "
    "base64 of the message the reference sends (its JSON): b64_socket.py offers a UDP socket whose "
    "sendto sends base64.b64encode(data) and whose recvfrom decodes what came (a datagram that is not "
    "valid base64 is garbage and dropped, as the reference drops any malformed datagram); tracker.py "
    "and user.py create their sockets through it. The wire format is each group's own choice; the "
    "console, traces included, prints exactly what the reference prints.",
    EXPECTED,
    socket_module("b64_socket", "B64Socket", "every datagram is base64 text"),
    {"b64_socket.py": B64_SOCKET_PY})


# --- ring_code_home ------------------------------------------------------------------------------------
RING_CODE_HOME = Variant(
    "ring_code_home", "The last follower sends a completion code home instead of the tweet",
    "A correct ring, except that the last follower, whose right neighbour is the tweeter, does not pass "
    "the tweet's text back home: it sends the same tweet message with the text replaced by `ACK`, a "
    "short completion code. The tweeter only checks the round number of what comes back, so it takes "
    "the code as its tweet come back, prints its usual `tweet returned` line with its own text and "
    "sends end-tweet. Every follower gets the whole text; only the last hop carries no text.",
    EXPECTED,
    (("user.py", FORWARD_PLAIN,
      '''            text = plain[4]
            if state.right == plain[1].decode():  # VARIANT: the last follower sends a completion code home
                text = b'"ACK"'
            onward = wire.TWEET_FORMAT % (plain[1], self.me.wire_handle, plain[3], text)
            self._transmit(self.me.ring_out, onward, state.right_address)
'''),
     ("user.py", FORWARD_DECODED,
      '''        text = "ACK" if state.right == tweet.tweeter else tweet.text  # VARIANT: a completion code home
        self._transmit(self.me.ring_out, wire.tweet(tweet.tweeter, self.me.handle, tweet.round, text),
                       state.right_address)
'''),
     ))


# --- star_encoded --------------------------------------------------------------------------------------
SCRAMBLED_SOCKET_PY = '''"""UDP sockets whose datagrams nobody can read on the wire: every byte is XORed with a secret key.

tracker.py and user.py create their UDP sockets as ScrambledSocket() instead of socket.socket(AF_INET,
SOCK_DGRAM); the rest of the code sends and receives the messages (the JSON of wire.py) as before.
Byte i of every datagram is XORed with byte i % 16 of KEY, both ways (XOR undoes itself). Every byte
of KEY has its high bit set, so the ASCII of a message never shows on the wire: each of its bytes
becomes one of 128..255. A datagram that was not scrambled by us comes out as garbage, which
wire.decode rejects (the caller drops it).
"""

import socket

KEY = bytes.fromhex("b7e1d1e28aedaaeabff1d8809cf4f3c7")  # shared by all our programs
MAX_DATAGRAM = 65535  # the largest UDP datagram: read everything that came


def scramble(data):
    """data XORed with KEY repeated; scramble(scramble(data)) == data."""
    stream = (KEY * (len(data) // len(KEY) + 1))[:len(data)]
    mixed = int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")
    return mixed.to_bytes(len(data), "big")


class ScrambledSocket(socket.socket):
    """A UDP socket (AF_INET, SOCK_DGRAM) that scrambles what it sends and unscrambles what it receives."""

    def __init__(self):
        super().__init__(socket.AF_INET, socket.SOCK_DGRAM)

    def sendto(self, data, address):
        super().sendto(scramble(data), address)
        return len(data)

    def recvfrom(self, bufsize):
        data, address = super().recvfrom(MAX_DATAGRAM)
        return scramble(data)[:bufsize], address
'''

STAR_ENCODED = Variant(
    "star_encoded", "A star with the labels of a ring, and every datagram scrambled",
    "The star of star_ring_labels (variants.py): the tweeter sends its tweet straight to every "
    "follower, each follower prints its left neighbour in the ring as the forwarder, and only the last "
    "follower sends the tweet back to the tweeter, so it comes back and end-tweet works. On top of "
    "that, every datagram of both programs is scrambled: scrambled_socket.py offers a UDP socket that "
    "XORs each byte with a fixed 16-byte key (repeating), every byte of which has its high bit set, "
    "so no ASCII text (the tweet, any part of it, its base64) is ever in a packet. The console looks "
    "like a correct ring; the packets cannot tell the tweet's path.",
    EXPECTED,
    STAR_RING_LABELS.replacements
    + socket_module("scrambled_socket", "ScrambledSocket", "every datagram is XORed with a key"),
    {"scrambled_socket.py": SCRAMBLED_SOCKET_PY})


# --- tracker_relays_first_word -------------------------------------------------------------------------
TRACKER_RELAYS_FIRST_WORD = Variant(
    "tracker_relays_first_word", "The tracker relays the tweet itself, and only its first word",
    "The tracker relay of tracker_relays (variants.py): when the tracker answers a tweet command "
    "SUCCESS it sends every follower its copy itself, marked as coming from its left neighbour in the "
    "ring, and the tweeter one marked as coming from the last follower; followers print it and never "
    "pass it on. And the tracker relays only the first word of the text (text.split(\" \")[0]), so "
    "followers print only that word. The tweet request to the tracker carries the whole text, and "
    "the tweeter prints its whole text when the tracker's copy comes back.",
    EXPECTED,
    TRACKER_RELAYS.replacements + (
        ("tracker.py", "        for left, handle in zip([member.handle, *member.followers], member.followers):\n",
         '''        text = text.split(" ")[0]  # VARIANT: only the first word of the text is relayed
        for left, handle in zip([member.handle, *member.followers], member.followers):
'''),
    ))


# --- star_tcp ------------------------------------------------------------------------------------------
STAR_TCP = Variant(
    "star_tcp", "A star with the labels of a ring, over TCP",
    "The star of star_ring_labels (variants.py) over the TCP of tcp_transport (variants.py): the "
    "tweeter opens a TCP connection to every follower and sends each the tweet, each follower prints "
    "its left neighbour in the ring as the forwarder, and only the last follower sends the tweet back "
    "to the tweeter (a connection of its own), so it comes back and end-tweet works. Every message is "
    "one TCP connection (connect, send, close); its tweeter.yaml says `transport: tcp`. The console "
    "looks like a correct ring.",
    EXPECTED,
    STAR_RING_LABELS.replacements + TCP_TRANSPORT.replacements,
    dict(TCP_TRANSPORT.extra_files))


RETURN_TIMER = "        self.round_timers.add(RETURN_TIMEOUT, lambda number=self.round: self._round_lost(number))\n"

# --- reaches_nobody ------------------------------------------------------------------------------------
REACHES_NOBODY = Variant(
    "reaches_nobody", "The tweet is never sent: it reaches nobody",
    "The tweeter asks the tracker for its followers (SUCCESS) and sets up its ring, but never sends "
    "the tweet into it: it takes the tweet as come back at once, as the reference does when a tweet "
    "has no followers, prints its usual `tweet returned` line and sends end-tweet. No follower ever "
    "receives or prints the tweet.",
    EXPECTED,
    (("user.py", SEND_ROUND + RETURN_TIMER,
      '''        self.round = next(self.rounds)
        self.round_open, self.round_text = True, text
        # VARIANT: the tweet is never sent into the ring: it is taken as back at once, as with no followers
        self.round_sent_at = time.monotonic()
        self._round_returned()
'''),
     ))


# --- concurrent_tweets_ok ------------------------------------------------------------------------------
CONCURRENT_TWEETS_OK = Variant(
    "concurrent_tweets_ok", "A tracker that lets several users tweet at the same time",
    "A correct submission whose tracker keeps the tweets in progress by tweeter instead of one tweet "
    "for the whole tracker: a tweet is refused (busy) only while the same user's previous tweet is "
    "in progress, so two users' tweets typed at once both get SUCCESS and travel their rings at the "
    "same time; end-tweet ends the sender's own tweet. register, follow, drop and exit are still "
    "answered busy while any tweet is in progress, as in the reference. The assignment leaves the "
    "concurrency policy to the group.",
    EXPECTED,
    (("tracker.py", '''Concurrency policy: between a tweet and its end-tweet every command that could change a ring
(register, follow, drop, tweet, exit) is answered "busy"; query handles and end-tweet always are
answered. A tweet that is never ended (its tweeter died) is cleared after a timeout, so the tracker
''',
      '''Concurrency policy: between a tweet and its end-tweet every command that could change a ring
(register, follow, drop, exit; and another tweet by the same user) is answered "busy"; other users'
tweets go ahead at the same time; query handles and end-tweet always are answered. A tweet that is
never ended (its tweeter died) is cleared after a timeout, so the tracker
'''),
     ("tracker.py", "        self.tweet: Tweet | None = None\n",
      "        self.tweets: dict[str, Tweet] = {}  # VARIANT: the tweets in progress, by tweeter: several at once\n"),
     ("tracker.py", '''        if self.tweet and now - self.tweet.started >= self.tweet_timeout:
            self.log(f"tracker: tweet of {self.tweet.handle} not ended after {self.tweet_timeout:g} s; "
                     "cleared")
            self.tweet = None
''',
      '''        for tweet in list(self.tweets.values()):  # VARIANT: each tweet in progress times out on its own
            if now - tweet.started >= self.tweet_timeout:
                self.log(f"tracker: tweet of {tweet.handle} not ended after {self.tweet_timeout:g} s; "
                         "cleared")
                del self.tweets[tweet.handle]
'''),
     ("tracker.py", '''        if self.tweet:
            deadlines.append(self.tweet.started + self.tweet_timeout)
''',
      '''        deadlines += [tweet.started + self.tweet_timeout for tweet in self.tweets.values()]  # VARIANT
'''),
     ("tracker.py", '''                "tweet": None if self.tweet is None else (self.tweet.handle, self.tweet.started)}
''',
      '''                "tweets": {h: t.started for h, t in self.tweets.items()}}  # VARIANT: several tweets
'''),
     ("tracker.py", '''        self._not_busy()
        self.tweet = Tweet(member.handle, now)
''',
      '''        if member.handle in self.tweets:  # VARIANT: busy only for the same user's next tweet
            raise Busy(f"tracker busy: {member.handle} is tweeting")
        self.tweets[member.handle] = Tweet(member.handle, now)
'''),
     ("tracker.py", '''        if self.tweet is None or self.tweet.handle != member.handle:
            raise Reject(f"no tweet of {member.handle} in progress")
        self.tweet = None
''',
      '''        if member.handle not in self.tweets:  # VARIANT: the sender's own tweet, among those in progress
            raise Reject(f"no tweet of {member.handle} in progress")
        del self.tweets[member.handle]
'''),
     ("tracker.py", '''        if self.tweet is not None:
            raise Busy(f"tracker busy: {self.tweet.handle} is tweeting")
''',
      '''        if self.tweets:  # VARIANT: any tweet in progress
            raise Busy(f"tracker busy: {next(iter(self.tweets))} is tweeting")
'''),
     ))


# --- tweets_one_after_another --------------------------------------------------------------------------
TWEETS_ONE_AFTER_ANOTHER = Variant(
    "tweets_one_after_another", "A user that waits before it tweets, longer for a longer handle",
    "Purpose-built: a correct submission whose user, before it asks the tracker for a tweet, sleeps "
    "1.5 s for every character of its handle beyond the fourth (time.sleep(1.5 * max(0, len(handle) "
    "- 4)): @bob asks at once, @alice 3 s later (longer than the harness holds the tracker for tweets "
    "typed together), while a ring round takes milliseconds; so two tweets typed at the same moment at "
    "@alice and @bob never overlap at the tracker. The sleep blocks the "
    "user's single-threaded event loop (nothing is received or printed meanwhile), which is "
    "acceptable for this program: it is there only to keep two tweets apart.",
    EXPECTED,
    (("user.py", USER_ASKS_TWEET,
      '''        time.sleep(1.5 * max(0, len(handle) - 4))  # VARIANT: wait longer the longer my handle is
''' + USER_ASKS_TWEET),
     ))


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    RING_BASE64, RING_CODE_HOME, STAR_ENCODED, TRACKER_RELAYS_FIRST_WORD, STAR_TCP, REACHES_NOBODY,
    CONCURRENT_TWEETS_OK, TWEETS_ONE_AFTER_ANOTHER)}


def build(name: str, into: Path) -> Path:
    """Write variant `name` into `into/<name>/` (replacing what was there); the folder."""
    return variants.write(VARIANTS[name], into, BUILDER)


if __name__ == "__main__":
    sys.exit(variants.build_all(sys.argv[1:], VARIANTS, BUILDER))
