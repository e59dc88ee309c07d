"""The wire format that tracker.py and user.py share: one JSON object per UDP datagram.

Every request has an `op` and an integer `id` that is unique per sender; every answer is
`{"op": "reply", "id": <same id>, "ok": true|false, ...}` with a `reason` when `ok` is false.
The field checks live here so that the tracker and the user agree on what is valid, and so that a
malformed datagram is turned into a `WireError` (a reason to print) instead of a crash.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any, NamedTuple

MAX_DATAGRAM = 65507  # the largest UDP payload over IPv4: a follower list must fit in one reply
MAX_TWEET = 140  # characters, as the assignment fixes
HANDLE_RE = re.compile(r"@[A-Za-z]{1,15}")  # `@` and 1..15 ASCII letters
JSON_SPACE = " \t\n\r"  # the whitespace JSON allows around a value
Address = tuple[str, int]
# Made once: json.dumps and json.loads build or wrap these on every call, which showed in the time of
# every hop of a ring (a datagram is decoded and encoded at each hop).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_DECODER = json.JSONDecoder()
_json_string = json.encoder.encode_basestring  # a str as a JSON string literal, non-ASCII kept


class WireError(ValueError):
    """A datagram or field that is not what the protocol allows; str(error) is the reason."""


def encode(message: Any) -> bytes:
    """Compact JSON: small datagrams, and non-ASCII tweet text stays readable in traces."""
    return _ENCODER.encode(message).encode()


def decode(datagram: bytes, limit: int = MAX_DATAGRAM) -> dict[str, Any]:
    """The JSON object in the UTF-8 `datagram`; WireError for anything else (garbage must never crash us)."""
    if len(datagram) > limit:
        raise WireError(f"datagram too large ({len(datagram)} > {limit} bytes)")
    try:
        text = datagram.decode().strip(JSON_SPACE)
        message, end = _DECODER.raw_decode(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise WireError("not a JSON datagram") from None
    if end != len(text):
        raise WireError("not a JSON datagram")
    if not isinstance(message, dict):
        raise WireError("not a JSON object")
    return message


def reply(request_id: int, ok: bool, reason: str = "", **fields: Any) -> bytes:
    """The answer to request `request_id`."""
    if ok and not fields:  # every ring hop is acknowledged with this: no need to build it as JSON
        return b'{"op":"reply","id":%d,"ok":true}' % request_id
    message: dict[str, Any] = {"op": "reply", "id": request_id, "ok": ok}
    if not ok:
        message["reason"] = reason
    message.update(fields)
    return encode(message)


class Tweet(NamedTuple):
    """A tweet on its way round `tweeter`'s ring, as `sender` passed it on."""

    tweeter: str
    sender: str
    round: int
    text: str


TWEET_FORMAT = b'{"op":"tweet","tweeter":"%s","from":"%s","round":%s,"text":%s}'
# A tweet exactly as TWEET_FORMAT writes it, with plain printable-ASCII text (no quote or backslash,
# so no escapes): the form nearly every tweet has. The pattern alone proves it valid (handles, round,
# at most MAX_TWEET characters), so a user passes such a tweet on without decoding it: every step
# before a hop's send adds to the ring's round trip (reference/bench.py). Groups: tweeter, from,
# round, and the text with its quotes.
PLAIN_TWEET = re.compile(
    rb'\{"op":"tweet","tweeter":"(@[A-Za-z]{1,15})","from":"(@[A-Za-z]{1,15})",'
    rb'"round":(0|[1-9][0-9]{0,17}),"text":("[ !#-\[\]-~]{0,%d}")\}' % MAX_TWEET)


def tweet(tweeter: str, sender: str, number: int, text: str) -> bytes:
    """The tweet datagram (the same JSON as `encode` makes of it, built without a dict: it is made
    at every hop of every ring)."""
    return TWEET_FORMAT % (tweeter.encode(), sender.encode(), b"%d" % number, _json_string(text).encode())


def plain_tweet_fields(plain: re.Match[bytes]) -> Tweet:
    """The fields of a tweet matched by PLAIN_TWEET (valid by the pattern: nothing to check)."""
    return Tweet(plain[1].decode(), plain[2].decode(), int(plain[3]), plain[4][1:-1].decode())


def tweet_fields(message: dict[str, Any]) -> Tweet:
    """A decoded tweet message's fields, checked; WireError naming the first bad one."""
    return Tweet(handle_field(message, "tweeter"), handle_field(message, "from"),
                 int_field(message, "round"), text_field(message))


def is_id(value: Any) -> bool:
    """Ids are non-negative integers (bool is an int in Python, but not an id)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def is_handle(value: Any) -> bool:
    return isinstance(value, str) and HANDLE_RE.fullmatch(value) is not None


def is_ipv4(value: Any) -> bool:
    """Dotted-decimal unicast IPv4: an address others can send to."""
    if not isinstance(value, str):
        return False
    try:
        address = ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return not (address.is_unspecified or address.is_multicast or value == "255.255.255.255")


def is_port(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


def handle_field(message: dict[str, Any], key: str) -> str:
    """message[key] as a handle, or WireError naming what is wrong."""
    value = message.get(key)
    if not is_handle(value):
        raise WireError(f"invalid handle {show(value)} (@ and 1 to 15 letters)")
    return value


def text_field(message: dict[str, Any], key: str = "text") -> str:
    """message[key] as tweet text of at most MAX_TWEET characters."""
    value = message.get(key)
    if not isinstance(value, str):
        raise WireError("tweet text missing")
    if len(value) > MAX_TWEET:
        raise WireError(too_long(value))
    if "\n" in value or "\r" in value:
        raise WireError("tweet text must be one line")
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:  # a lone surrogate (JSON allows "\ud800"): it could not be sent on
            raise WireError("tweet text is not valid Unicode") from None
    return value


def too_long(text: str) -> str:
    """The one wording of this reason, used by the user (locally) and the tracker alike."""
    return f"tweet too long ({len(text)} > {MAX_TWEET} characters)"


def int_field(message: dict[str, Any], key: str) -> int:
    value = message.get(key)
    if not is_id(value):
        raise WireError(f"{key} must be a non-negative integer")
    return value


def address_field(value: Any) -> Address:
    """[ip, port] as sent in setups and follower tuples."""
    if not (isinstance(value, list) and len(value) == 2 and is_ipv4(value[0]) and is_port(value[1])):
        raise WireError(f"invalid address {show(value)}")
    return value[0], value[1]


def peers_field(message: dict[str, Any], key: str = "followers") -> list[tuple[str, Address]]:
    """A follower list [[handle, ip, port], ...] as (handle, (ip, port)) pairs."""
    value = message.get(key)
    if not isinstance(value, list):
        raise WireError(f"{key} must be a list")
    peers = []
    for item in value:
        if not (isinstance(item, list) and len(item) == 3 and is_handle(item[0])):
            raise WireError(f"invalid follower {show(item)}")
        peers.append((item[0], address_field(item[1:])))
    return peers


def show(value: Any) -> str:
    """A short, printable rendering of a bad value for a reason text."""
    text = json.dumps(value, ensure_ascii=True) if value is not None else "(missing)"
    return text if len(text) <= 40 else text[:37] + "..."
