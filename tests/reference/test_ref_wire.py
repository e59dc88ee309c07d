"""The tweet wire format: the plain-form fast path accepts exactly what the general decoder accepts."""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from reference import wire  # noqa: E402

HANDLES = st.from_regex(wire.HANDLE_RE, fullmatch=True)
ROUNDS = st.integers(0, 10**18 - 1)
PLAIN_CHARACTERS = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in '"\\')


@settings(max_examples=500)
@given(datagram=st.from_regex(wire.PLAIN_TWEET, fullmatch=True))
def test_every_plain_tweet_decodes_the_general_way_to_the_same_fields(datagram: bytes) -> None:
    """The fast path checks nothing after the pattern: so nothing it takes may be invalid."""
    plain = wire.PLAIN_TWEET.fullmatch(datagram)
    assert plain is not None
    assert wire.plain_tweet_fields(plain) == wire.tweet_fields(wire.decode(datagram))


@settings(max_examples=500)
@given(tweeter=HANDLES, sender=HANDLES, number=ROUNDS,
       text=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
                    max_size=wire.MAX_TWEET))
def test_a_tweet_round_trips_and_takes_the_plain_path_exactly_when_its_text_is_plain(
        tweeter: str, sender: str, number: int, text: str) -> None:
    datagram = wire.tweet(tweeter, sender, number, text)
    expected = wire.Tweet(tweeter, sender, number, text)
    assert wire.tweet_fields(wire.decode(datagram)) == expected
    plain = wire.PLAIN_TWEET.fullmatch(datagram)
    assert (plain is not None) == all(c in PLAIN_CHARACTERS for c in text)
    if plain is not None:
        assert wire.plain_tweet_fields(plain) == expected


def test_plain_form_limits() -> None:
    longest = wire.tweet("@a", "@b", 1, "x" * wire.MAX_TWEET)
    assert wire.PLAIN_TWEET.fullmatch(longest) is not None
    for outside in (wire.tweet("@a", "@b", 1, "x" * (wire.MAX_TWEET + 1)),  # too long: refused the general way
                    wire.tweet("@a", "@b", 1, 'say "hi"'),  # escapes
                    wire.tweet("@a", "@b", 1, "café"),  # not ASCII
                    longest.replace(b'"round":1', b'"round":01'),  # not JSON
                    longest.replace(b'"from":"@b"', b'"from":"@b1"'),  # not a handle
                    longest.replace(b'"op"', b' "op"')):  # not the exact form
        assert wire.PLAIN_TWEET.fullmatch(outside) is None, outside
