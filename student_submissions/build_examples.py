"""Build the example submissions with classic bugs from the reference, one bug each.

Each example is the reference with a few exact text replacements (every replacement must apply
exactly once, so a change to the reference that moves the code fails loudly here instead of quietly
building a correct "buggy" example). The folders are committed so that a fresh checkout can grade
them; `tests/test_examples.py` checks that they are what this script builds.

    python3 student_submissions/build_examples.py          # rebuild every example folder
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REFERENCE = HERE.parent / "reference"
PROGRAM_FILES = ("tracker.py", "user.py", "wire.py", "reliable.py", "console.py")

FORWARD_PLAIN = '''            self._transmit(self.me.ring_out, onward, state.right_address)'''
FORWARD_DECODED = '''        self._transmit(self.me.ring_out, wire.tweet(tweet.tweeter, self.me.handle, tweet.round, tweet.text),
                       state.right_address)'''
SEND_TO_FIRST = '''        self._transmit(self.me.ring_out, self.round_data, self.ring[0][1])
        self.round_timers.add(ROUND_TIMEOUT, lambda number=self.round: self._send_round_again(number))'''


def at_both_forwards(bug_line: str, keep: bool = False) -> tuple[tuple[str, str, str], ...]:
    """Replacements putting `bug_line` (instead of the send, or before it if `keep`) at both places
    a follower passes a tweet on: the plain-tweet path and the general one (see user.py)."""
    return tuple(("user.py", forward, f"{indent}{bug_line}" + (f"\n{forward}" if keep else ""))
                 for forward, indent in ((FORWARD_PLAIN, " " * 12), (FORWARD_DECODED, " " * 8)))


@dataclass(frozen=True)
class Bug:
    """One example: which replacements make it, and what its README says."""

    name: str
    title: str
    explanation: str
    replacements: tuple[tuple[str, str, str], ...]  # (file, old, new)


BUGS = (
    Bug("star_not_ring", "A star instead of a ring",
        "The tweeter sends its tweet straight to every follower, and followers do not pass it on. "
        "Every follower still gets it once, but each one names the tweeter as the forwarder, so the "
        "harness sees that the tweet never travelled peer to peer.",
        (("user.py", SEND_TO_FIRST,
          '''        for _handle, address in self.ring:  # BUG: a star, every follower straight from me
            self._transmit(self.me.ring_out, self.round_data, address)
        self._round_returned()'''),
         *at_both_forwards("pass  # BUG: followers do not pass the tweet on"))),
    Bug("ring_in_follow_order", "The ring in follow order instead of alphabetical order",
        "The tracker keeps each follower list in the order the follows arrived instead of sorted, so "
        "the ring runs in follow order. With followers who followed alphabetically nothing shows; with "
        "any other order the tweet visits them in the wrong order.",
        (("tracker.py", "bisect.insort(owner.followers, follower.handle)",
          "owner.followers.append(follower.handle)  # BUG: follow order, not alphabetical"),)),
    Bug("first_word_only", "Only the first word of a tweet is sent",
        "The user sends only the first word of the tweet text (a classic parsing slip), so followers "
        "print a truncated tweet.",
        (("user.py", "    def _tweet(self, handle: str, text: str) -> None:\n",
          "    def _tweet(self, handle: str, text: str) -> None:\n"
          "        text = text.split(\" \")[0]  # BUG: only the first word\n"),)),
    Bug("no_length_check", "No length check on tweets",
        "Neither the user nor the tracker checks the 140-character limit, so a 141-character tweet is "
        "accepted and delivered instead of refused.",
        (("user.py", "        if len(text) > wire.MAX_TWEET:\n", "        if False:  # BUG: no length check\n"),
         ("wire.py", "    if len(value) > MAX_TWEET:\n", "    if False:  # BUG: no length check\n"))),
    Bug("follower_does_not_forward", "A follower that does not forward",
        "Followers print the tweet but never pass it on to their right neighbour: only the first "
        "follower gets it, and it never comes back to the tweeter.",
        at_both_forwards("pass  # BUG: the tweet is not passed on")),
    Bug("duplicate_handles", "Duplicate handles accepted",
        "The tracker does not check whether a handle is already registered, so a second user can take "
        "over an existing handle.",
        (("tracker.py", '''        if handle in self.users:
            raise Reject(f"duplicate handle {handle}")
''', "        # BUG: no check for a duplicate handle\n"),)),
    Bug("exit_leaves_follower", "Exit leaves the user as a follower",
        "On exit the tracker deletes the user but does not remove it from the follower lists of the "
        "users it followed, so their next tweets still try to go through it.",
        (("tracker.py", '''            for owner in self.users.values():
                if member.handle in owner.followers:
                    owner.followers.remove(member.handle)
                    notices += self._ring_changed(owner, now)
''', "            pass  # BUG: stays a follower of everyone it followed\n"),)),
    Bug("tracker_crashes_on_duplicate_follow", "The tracker crashes on a duplicate follow",
        "A second identical follow raises an exception the tracker does not catch, so the tracker "
        "dies and every later command goes unanswered.",
        (("tracker.py", 'raise Reject(f"{follower.handle} already follows {owner.handle}")',
          "raise KeyError(follower.handle)  # BUG: crashes the tracker"),)),
    Bug("slow_but_correct", "Slow but correct: one second per hop",
        "Each follower waits one second before passing the tweet on (its timeouts are raised to "
        "match). It is slow, but everything it does is right: it must score full marks, because the "
        "harness waits for events, not for fixed times.",
        (*at_both_forwards("time.sleep(1)  # deliberately slow, but correct", keep=True),
         ("user.py", "ROUND_TIMEOUT = 0.25", "ROUND_TIMEOUT = 20.0"),
         ("user.py", "RETURN_TIMEOUT = 4.0", "RETURN_TIMEOUT = 30.0"),
         ("tracker.py", "TWEET_TIMEOUT = 5.0", "TWEET_TIMEOUT = 30.0"))),
    Bug("no_retries", "Every datagram sent once: no retries",
        "Each request (to the tracker, a setup or teardown to a peer, a notice from the tracker) and each "
        "tweet round is sent once, and a missing answer is given up after two seconds. On a network that "
        "loses nothing it is correct and scores full marks on the public scenarios; under loss (the opt-in "
        "robustness scenarios, specs/robustness/) a lost datagram is never sent again.",
        (("user.py", "TRACKER_TIMEOUT, TRACKER_TRIES = 0.25, 16",
          "TRACKER_TIMEOUT, TRACKER_TRIES = 2.0, 1  # NO RETRIES: each request sent once"),
         ("user.py", "RING_TIMEOUT, RING_TRIES = 0.2, 12",
          "RING_TIMEOUT, RING_TRIES = 2.0, 1  # NO RETRIES: each setup or teardown sent once"),
         ("tracker.py", "RETRY_TIMEOUT, RETRY_TRIES = 0.2, 12",
          "RETRY_TIMEOUT, RETRY_TRIES = 2.0, 1  # NO RETRIES: each notice sent once"),
         ("user.py", "    def _send_round_again(self, number: int) -> None:\n",
          "    def _send_round_again(self, number: int) -> None:\n"
          "        return  # NO RETRIES: a tweet round is sent once\n"))),
)


def build(bug: Bug) -> dict[str, str]:
    """The example's files as text (README included), built from the reference."""
    files = {name: (REFERENCE / name).read_text(encoding="utf-8") for name in PROGRAM_FILES}
    for file, old, new in bug.replacements:
        count = files[file].count(old)
        if count != 1:
            raise SystemExit(f"{bug.name}: the text to replace occurs {count} times in reference/{file}:\n{old}")
        files[file] = files[file].replace(old, new)
    files["README.md"] = readme(bug)
    return files


def readme(bug: Bug) -> str:
    """What the bug is, and the score and lost scenarios promised in expected_scores.json."""
    expected = json.loads((HERE / "expected_scores.json").read_text(encoding="utf-8"))[bug.name]
    text = (f"# Example submission: {bug.title}\n\n{bug.explanation}\n\n"
            f"Expected score on the public specs: **{expected['score']}/100**.\n\n" + _lost_text(expected["lost"]))
    hosts = expected.get("hosts")
    if hosts:
        text += (f"Graded on a virtual LAN (`--network hosts`, where every packet is seen) it scores "
                 f"**{hosts['score']}/100**: {hosts['why']}.\n\n" + _lost_text(hosts["lost"]))
    ta = expected["ta"]
    text += (f"A careful TA reading the code would take off {ta['min']} to {ta['max']} points: {ta['why']}.\n\n"
             if ta["max"] else f"A careful TA reading the code would take off nothing: {ta['why']}.\n\n")
    return text + "Built from `reference/` by `../build_examples.py`; do not edit it by hand.\n"


def _lost_text(lost: dict) -> str:
    items = "".join(f"- `{scenario}` ({outcome['status']}"
                    + (f": {'; '.join(outcome['checks'])}" if outcome.get("checks") else "") + ")\n"
                    for scenario, outcome in lost.items())
    return f"Scenarios it does not pass:\n\n{items}\n" if items else "It passes every scenario.\n\n"


def write(bug: Bug) -> None:
    target = HERE / bug.name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir()
    for name, text in build(bug).items():
        (target / name).write_text(text, encoding="utf-8")


def main() -> int:
    for bug in BUGS:
        write(bug)
        print(f"built {bug.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
