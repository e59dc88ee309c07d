"""Submissions that stop for good, and ones that are merely slow, built when the tests run: the
harness must decide the first at once, from the kernel's facts (every program blocked, no timer,
nothing queued), and never cut the second short.

Built like the variants of variants.py (whose `Variant` and `write` they use): exact text replacements
on copies of the reference's program files (or of tests/submissions/cpp_makefile's, for a compiled
program), each of which must apply exactly once, plus extra files. The code marks every deliberate
deviation with `# VARIANT: ...` (`// VARIANT: ...` in C++).

    from tests.submissions.stuck_variants import build
    folder = build("tracker_ignores_tweet", tmp_path)

    python3 tests/submissions/stuck_variants.py /tmp/stuck_variants   # build them all, by hand
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.submissions import variants
from tests.submissions.variants import FORWARD_DECODED, FORWARD_PLAIN, Variant

HERE = "tests/submissions/stuck_variants.py"
QUERY_BRANCH = '''        if message.get("op") == "query":
            return self._send([(self._query_reply(request_id), address)])
'''
USER_TWEET = '''        self._ask({"op": "tweet", "handle": handle, "text": text},
                  lambda reply: self._tweet_answered(reply, text))
'''
TRACKER_BIND = '''    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((args.host, args.port))
'''
USER_IMPORTS = "import socket\nimport sys\n"
# The tracker drops the first copy of every tweet request (it is lost), and answers the next copy.
TRACKER_LOSES_FIRST_TWEET = ("tracker.py", QUERY_BRANCH, QUERY_BRANCH + '''        first = (address, request_id)  # VARIANT: the first copy of every tweet request is lost
        if message.get("op") == "tweet" and first not in self.__dict__.setdefault("seen_once", set()):
            self.seen_once.add(first)
            return []
''')

TRACKER_DROPS_TWEET = ("tracker.py", QUERY_BRANCH, QUERY_BRANCH + '''        if message.get("op") == "tweet":  # VARIANT: a tweet request is never answered
            return []
''')

# --- tracker_ignores_tweet -----------------------------------------------------------------------------
TRACKER_IGNORES_TWEET = Variant(
    "tracker_ignores_tweet", "The tracker never answers `tweet`; the user then blocks for good",
    "The tracker drops every tweet request without an answer (tweet was never implemented), and the "
    "user, having sent it, waits for the answer in a blocking `recvfrom` with no timeout. From then "
    "on nothing can happen: both programs wait for a datagram nobody will send.",
    "Every scenario that tweets fails at its first tweet with 'nothing could happen any more', naming "
    "what each program waits on, as soon as that is so, not after the step limit.",
    (TRACKER_DROPS_TWEET,
     ("user.py", USER_TWEET, USER_TWEET + '''        # VARIANT: then wait for the answer in a blocking recvfrom with no timeout (it never comes)
        self.output.flush()
        self.me.to_tracker.setblocking(True)
        self.me.to_tracker.recvfrom(65536)
''')))

# --- blocks_from_the_start ------------------------------------------------------------------------------
BLOCKS_FROM_THE_START = Variant(
    "blocks_from_the_start", "The tracker waits for the keyboard before it binds its port",
    "The tracker reads a line from its terminal before it opens its socket (a leftover `input()`), "
    "so it never binds its port and nothing can ever happen.",
    "Every scenario is `error` at once: the tracker did not bind its port, and nothing could happen "
    "any more (the tracker waits in `read` on its terminal).",
    (("tracker.py", TRACKER_BIND, '''    input()  # VARIANT: a leftover prompt nobody answers: the socket is never opened
''' + TRACKER_BIND),))

# --- tweet_answered_on_retry ----------------------------------------------------------------------------
USER_TIMEOUTS = '''TRACKER_TIMEOUT, TRACKER_TRIES = 0.25, 16  # 0.25 + 15 x 0.5 = 7.75 s, then "no answer from tracker"
TRACKER_MAX_TIMEOUT = 0.5
'''
TWEET_ANSWERED_ON_RETRY = Variant(
    "tweet_answered_on_retry", "The first tweet request is lost; the user asks again 3 s later",
    "A correct but slow submission: the tracker ignores the first copy of every tweet request, and "
    "the user waits 3 s for an answer before it sends the request again, which the tracker answers. "
    "For those 3 s both programs wait, but the user's wait has a timer: something will happen.",
    "100/100: it is slow, never stuck, and nothing may cut it short.",
    (TRACKER_LOSES_FIRST_TWEET,
     ("user.py", USER_TIMEOUTS, '''TRACKER_TIMEOUT, TRACKER_TRIES = 3.0, 3  # VARIANT: 3 s before asking the tracker again
TRACKER_MAX_TIMEOUT = 3.0
''')))

# --- cpp_recvfrom_for_ever ------------------------------------------------------------------------------
CPP = "tests/submissions/cpp_makefile"
CPP_TRACKER_QUERY = '''        if (op == "query") {  // changes nothing: no need to remember the answer
            send_datagram(fd_, prefix + query(), from);
            return;
        }
'''
CPP_USER_INCLUDES = "#include <poll.h>\n#include <signal.h>\n"
CPP_USER_TWEET_ASKED = '''            after_all("setup", [this, text] { send_round(text); });
        });
'''
CPP_RECVFROM_FOR_EVER = Variant(
    "cpp_recvfrom_for_ever", "C++: the tracker never answers `tweet`; the user then blocks in `recvfrom`",
    "tests/submissions/cpp_makefile with tweet left unimplemented in the tracker (a tweet request is "
    "dropped without an answer), and a user that, having sent it, waits for the answer in a plain "
    "blocking `recvfrom` of the C socket API with no timeout. From then on nothing can happen: both "
    "compiled programs wait for a datagram nobody will send.",
    "Every scenario that tweets fails at its first tweet with 'nothing could happen any more' (the "
    "tracker waits in `poll`, the user in `recvfrom`), as soon as that is so, not after the step limit.",
    (("tracker.cpp", CPP_TRACKER_QUERY, CPP_TRACKER_QUERY + '''        if (op == "tweet") return;  // VARIANT: a tweet request is never answered
'''),
     ("user.cpp", CPP_USER_INCLUDES, '''#include <fcntl.h>  // VARIANT: for the blocking recvfrom below
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>  // VARIANT: for the blocking recvfrom below
'''),
     ("user.cpp", CPP_USER_TWEET_ASKED, CPP_USER_TWEET_ASKED + '''        // VARIANT: then wait for the answer in a plain blocking recvfrom with no timeout (it never comes)
        fcntl(sockets_[0], F_SETFL, fcntl(sockets_[0], F_GETFL) & ~O_NONBLOCK);
        static char answer[MAX_DATAGRAM];
        ssize_t got = recvfrom(sockets_[0], answer, sizeof answer, 0, nullptr, nullptr);
        (void)got;
'''),
     ),
    source=CPP)

# --- input_beside_receive_thread ------------------------------------------------------------------------
INPUT_BESIDE_RECEIVE_THREAD = Variant(
    "input_beside_receive_thread", "The user waits in `input()` while a thread waits in `recvfrom`",
    "The console of many real clients: the main thread reads the keyboard with `input()` while a "
    "receive thread waits for datagrams in a blocking `recvfrom` with no timeout. Here the tracker "
    "never answers `tweet` (it drops the request), so after sending it the user's receive thread "
    "waits for an answer that never comes and its main thread for a line nobody types.",
    "Every scenario that tweets fails at its first tweet with 'nothing could happen any more', "
    "naming both of the user's waits (`read` on its terminal and `recvfrom` on its UDP port), at once.",
    (TRACKER_DROPS_TWEET,
     ("user.py", USER_IMPORTS, USER_IMPORTS + "import threading  # VARIANT: a receive thread\n"),
     ("user.py", USER_TWEET, USER_TWEET + '''        # VARIANT: a receive thread waits for the answer in a blocking recvfrom with no timeout, and the
        # main thread goes back to reading the keyboard with input()
        self.output.flush()
        self.me.to_tracker.setblocking(True)
        threading.Thread(target=self.me.to_tracker.recvfrom, args=(65536,), daemon=True).start()
        while True:
            input()
''')))

# --- polls_every_second ---------------------------------------------------------------------------------
USER_SELECT = '''                readable, _, _ = select.select(self.watch_list, [], [], self._sleep_time())
'''
USER_ASK_SENDS = '''        def send() -> None:
            self._request(sock, self.tracker, dict(message), answered, lambda: on_answer(None))

        send()
'''
USER_TIMERS = "        self.timers = Timers()\n"
POLLS_EVERY_SECOND = Variant(
    "polls_every_second", "The user sends its requests only on a 1-second tick",
    "A correct but slow console: the user's loop wakes at least once a second (select with a timeout "
    "of at most 1 s) and sends the requests typed since the last tick only then, so every command "
    "waits up to a second before its request leaves. Until the tick every program is blocked, but "
    "the user's select has a timer: something will happen.",
    "100/100: it is slow, never stuck, and nothing may cut it short.",
    (("user.py", "TRACE_CHARS = 200\n", "TRACE_CHARS = 200\nTICK = 1.0  # VARIANT: seconds between two ticks\n"),
     ("user.py", USER_TIMERS, USER_TIMERS + '''        self.queued: list[Callable[[], None]] = []  # VARIANT: requests waiting for the next tick
        self.next_tick = time.monotonic() + TICK
'''),
     ("user.py", USER_SELECT, '''                # VARIANT: wake at least once a second; requests to the tracker leave on the tick only
                sleep, other = max(0.0, self.next_tick - time.monotonic()), self._sleep_time()
                readable, _, _ = select.select(self.watch_list, [], [], sleep if other is None else min(sleep, other))
                if time.monotonic() >= self.next_tick:
                    self.next_tick = time.monotonic() + TICK
                    queued, self.queued = self.queued, []
                    for send in queued:
                        send()
'''),
     ("user.py", USER_ASK_SENDS, '''        def send() -> None:
            self._request(sock, self.tracker, dict(message), answered, lambda: on_answer(None))

        self.queued.append(send)  # VARIANT: sent on the next tick
''')))

# --- rcvtimeo_retry -------------------------------------------------------------------------------------
RCVTIMEO_RETRY = Variant(
    "rcvtimeo_retry", "The first tweet request is lost; a socket timeout of 3 s, then one retry",
    "A correct but slow submission: the tracker ignores the first copy of every tweet request. The "
    "user waits for the answer in a blocking `recvfrom` on a socket given a receive timeout of 3 s "
    "with setsockopt(SO_RCVTIMEO) (the C way; Python's settimeout would poll instead), and when it "
    "ends with no answer sends the request once more, which the tracker answers. For those 3 s every "
    "program is blocked, but the kernel holds a timer on the user's socket: something will happen.",
    "100/100: it is slow, never stuck, and nothing may cut it short.",
    (TRACKER_LOSES_FIRST_TWEET,
     ("user.py", USER_IMPORTS, USER_IMPORTS + "import struct  # VARIANT: for SO_RCVTIMEO\n"),
     ("user.py", USER_TWEET, '''        # VARIANT: a blocking exchange with the tracker: a receive timeout of 3 s set with setsockopt
        # (SO_RCVTIMEO) on the blocking socket, and the same request (same id) sent once more after it
        sock = self.me.to_tracker
        request = {"op": "tweet", "handle": handle, "text": text, "id": first_id()}
        sock.setblocking(True)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 3, 0))
        reply = None
        for _ in range(2):
            self._transmit(sock, wire.encode(request), self.tracker)
            self.output.flush()
            try:
                while reply is None:
                    data, address = sock.recvfrom(wire.MAX_DATAGRAM + 1)
                    self._trace_recv(data, address)
                    answer = wire.decode(data)
                    reply = answer if answer.get("id") == request["id"] else None
                break
            except BlockingIOError:  # SO_RCVTIMEO ran out
                self.trace("no answer within 3 s")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, 0))
        sock.setblocking(False)
        self._tweet_answered(reply, text)
'''),
     ))

# --- sleeps_per_hop -------------------------------------------------------------------------------------
# (FORWARD_PLAIN and FORWARD_DECODED, from variants.py, are the two places a follower passes a tweet on)
USER_ROUND_TIMEOUT = "ROUND_TIMEOUT = 0.25  #"
USER_RETURN_TIMEOUT = "RETURN_TIMEOUT = 4.0  #"
TRACKER_TWEET_TIMEOUT = "TWEET_TIMEOUT = 5.0  #"
SLEEPS_PER_HOP = Variant(
    "sleeps_per_hop", "Every follower sleeps 1 s before it passes a tweet on",
    "A correct but slow ring: each follower calls time.sleep(1) before it forwards a tweet to its "
    "right neighbour, so a tweet takes a second per hop. Neither the tweeter nor the tracker has a "
    "timer of its own meanwhile (the tweeter never sends a round again, the tracker never clears an "
    "unended tweet within a minute): while a follower sleeps, its sleep is the only timer, and every "
    "other program is blocked.",
    "100/100: it is slow, never stuck, and nothing may cut it short.",
    (("user.py", FORWARD_PLAIN, '''            time.sleep(1)  # VARIANT: a second per hop
''' + FORWARD_PLAIN),
     ("user.py", FORWARD_DECODED, '''        time.sleep(1)  # VARIANT: a second per hop
''' + FORWARD_DECODED),
     ("user.py", USER_ROUND_TIMEOUT, "ROUND_TIMEOUT = 60.0  # VARIANT: was 0.25, no timer within a step;"),
     ("user.py", USER_RETURN_TIMEOUT, "RETURN_TIMEOUT = 60.0  # VARIANT: was 4, no timer within a step;"),
     ("tracker.py", TRACKER_TWEET_TIMEOUT, "TWEET_TIMEOUT = 60.0  # VARIANT: was 5, no timer within a step;"),
     ))

# --- tracker_dies_on_tweet ------------------------------------------------------------------------------
TRACKER_DIES_ON_TWEET = Variant(
    "tracker_dies_on_tweet", "The tracker crashes on the first `tweet` request",
    "The tracker's handling of `tweet` reads a field that no request has and the exception is not "
    "caught: the tracker's program ends with a traceback (status 1) when the first tweet request "
    "arrives, and every command after it goes unanswered.",
    "Every scenario that tweets fails at its first tweet, and says that the tracker's program exited "
    "with status 1 after the tweet request came.",
    (("tracker.py", QUERY_BRANCH, QUERY_BRANCH + '''        if message.get("op") == "tweet":  # VARIANT: a field no request has: KeyError, not caught
            message["followers"]
'''),))

VARIANTS: dict[str, Variant] = {v.name: v for v in (
    TRACKER_IGNORES_TWEET, BLOCKS_FROM_THE_START, TWEET_ANSWERED_ON_RETRY, CPP_RECVFROM_FOR_EVER,
    INPUT_BESIDE_RECEIVE_THREAD, POLLS_EVERY_SECOND, RCVTIMEO_RETRY, SLEEPS_PER_HOP, TRACKER_DIES_ON_TWEET)}


def build(name: str, into: Path) -> Path:
    """Write variant `name` into `into/<name>/` (replacing what was there); the folder."""
    return variants.write(VARIANTS[name], into, HERE)


if __name__ == "__main__":
    sys.exit(variants.build_all(sys.argv[1:], VARIANTS, HERE))
