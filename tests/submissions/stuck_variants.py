"""Submissions that stop for good, and ones that are merely slow, built when the tests run: the
harness must decide the first at once, from the kernel's facts (every program blocked, no timer,
nothing queued), and never cut the second short.

Built like the variants of variants.py (whose `Variant` and `write` they use): exact text replacements
on copies of the reference's program files, each of which must apply exactly once, plus extra files.
The code marks every deliberate deviation with `# VARIANT: ...`.

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
from tests.submissions.variants import Variant

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

# --- tracker_ignores_tweet -----------------------------------------------------------------------------
TRACKER_IGNORES_TWEET = Variant(
    "tracker_ignores_tweet", "The tracker never answers `tweet`; the user then blocks for good",
    "The tracker drops every tweet request without an answer (tweet was never implemented), and the "
    "user, having sent it, waits for the answer in a blocking `recvfrom` with no timeout. From then "
    "on nothing can happen: both programs wait for a datagram nobody will send.",
    "Every scenario that tweets fails at its first tweet with 'nothing could happen any more', naming "
    "what each program waits on, as soon as that is so, not after the step limit.",
    (("tracker.py", QUERY_BRANCH, QUERY_BRANCH + '''        if message.get("op") == "tweet":  # VARIANT: a tweet request is never answered
            return []
'''),
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
    (("tracker.py", QUERY_BRANCH, QUERY_BRANCH + '''        first = (address, request_id)  # VARIANT: the first copy of every tweet request is lost
        if message.get("op") == "tweet" and first not in self.__dict__.setdefault("seen_once", set()):
            self.seen_once.add(first)
            return []
'''),
     ("user.py", USER_TIMEOUTS, '''TRACKER_TIMEOUT, TRACKER_TRIES = 3.0, 3  # VARIANT: 3 s before asking the tracker again
TRACKER_MAX_TIMEOUT = 3.0
''')))

VARIANTS: dict[str, Variant] = {v.name: v for v in (TRACKER_IGNORES_TWEET, BLOCKS_FROM_THE_START,
                                                    TWEET_ANSWERED_ON_RETRY)}


def build(name: str, into: Path) -> Path:
    """Write variant `name` into `into/<name>/` (replacing what was there); the folder."""
    return variants.write(VARIANTS[name], into, HERE)


if __name__ == "__main__":
    sys.exit(variants.build_all(sys.argv[1:], VARIANTS, HERE))
