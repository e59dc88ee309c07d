"""The Tweeter tracker: the database of users and followers, answering users over UDP.

Run:  python3 tracker.py PORT [--host ADDR] [--tweet-timeout SECONDS]

All decisions are made by `Tracker.handle(datagram, address)`, which returns the datagrams to send and
never touches a socket, so tests can drive it in-process; `serve` is the thin socket loop around it.
Concurrency policy: between a tweet and its end-tweet every command that could change a ring
(register, follow, drop, tweet, exit) is answered "busy"; query handles and end-tweet always are
answered. A tweet that is never ended (its tweeter died) is cleared after a timeout, so the tracker
cannot be blocked for ever.
"""

from __future__ import annotations

import argparse
import bisect
import select
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

try:
    from . import wire
    from .console import Printer
    from .reliable import Outbox, ReplyCache
except ImportError:  # run as a script from inside reference/
    import wire
    from console import Printer
    from reliable import Outbox, ReplyCache

MAX_REQUEST = 4096  # bytes; the longest real request (a 140-character tweet) is far shorter
MAX_USERS = 1024  # so that a full follower list still fits in one datagram
TWEET_TIMEOUT = 5.0  # seconds before an unended tweet is cleared
EXIT_TIMEOUT = 10.0  # seconds before an exit whose exit_complete never came is finished anyway
RETRY_TIMEOUT, RETRY_TRIES = 0.2, 12  # ring_changed notices: 0.2 + 11 x 0.25 = 2.95 s
RETRY_MAX_TIMEOUT = 0.25
CACHE_SIZE = 1024  # replies remembered for repeated requests
TRACE_CHARS = 200
BATCH = 64  # datagrams read per wake-up at most, so timeouts are still checked under load

Outgoing = list[tuple[bytes, wire.Address]]


class Reject(Exception):
    """A request that is answered FAILURE; str(reject) is the reason. Raised before any state change."""


class Busy(Reject):
    """A FAILURE because a tweet is in progress: the user retries these."""


@dataclass
class Member:
    """One registered user."""

    handle: str
    ip: str
    ports: tuple[int, int, int]  # to the tracker, ring-in, ring-out
    followers: list[str] = field(default_factory=list)  # kept sorted: it is the ring order
    version: int = 0  # grows with every change of `followers`, so users can ignore stale notices
    exiting_since: float | None = None

    @property
    def tracker_address(self) -> wire.Address:
        return self.ip, self.ports[0]

    @property
    def ring_in(self) -> wire.Address:
        return self.ip, self.ports[1]


@dataclass
class Tweet:
    handle: str
    started: float


class Tracker:
    """The tracker's state machine."""

    def __init__(self, tweet_timeout: float = TWEET_TIMEOUT, exit_timeout: float = EXIT_TIMEOUT,
                 log: Callable[[str], None] = print) -> None:
        self.tweet_timeout = tweet_timeout
        self.exit_timeout = exit_timeout
        self.log = log
        self.users: dict[str, Member] = {}
        self.tweet: Tweet | None = None
        self.replies = ReplyCache(CACHE_SIZE)
        self.notices = Outbox(RETRY_TIMEOUT, RETRY_TRIES, RETRY_MAX_TIMEOUT)
        self.exiting: set[str] = set()  # handles between exit and exit_complete
        self._handles_json: bytes | None = None  # query handles is the hot path: encode the list once

    # --- the entry points -------------------------------------------------------------------------

    def handle(self, datagram: bytes, address: wire.Address, now: float | None = None) -> Outgoing:
        """Process one received datagram; return the datagrams to send."""
        now = time.monotonic() if now is None else now
        self.trace(f"recv {_show(address)} {datagram[:TRACE_CHARS].decode(errors='replace')}")
        try:
            message = wire.decode(datagram, MAX_REQUEST)
        except wire.WireError as error:
            self.trace(f"dropped: {error}")
            return []
        request_id = message.get("id")
        if not wire.is_id(request_id):
            self.trace("dropped: no valid id to answer to")
            return []
        if message.get("op") == "reply":
            if not self.notices.answer(message):
                self.trace(f"late or unknown reply id={request_id}")
            return []
        if message.get("op") == "query":
            return self._send([(self._query_reply(request_id), address)])
        cached = self.replies.get((address, request_id))
        if cached is not None:
            self.trace(f"repeated request id={request_id}: same answer again")
            return self._send([(cached, address)])
        notices: Outgoing = []
        try:
            fields = self._apply(message, address, now, notices)
            answer = wire.reply(request_id, True, **fields)
        except Reject as reject:
            answer = wire.reply(request_id, False, str(reject), busy=True) if isinstance(reject, Busy) \
                else wire.reply(request_id, False, str(reject))
        self.replies.put((address, request_id), answer)
        return self._send([(answer, address)] + notices)

    def tick(self, now: float | None = None) -> Outgoing:
        """Timeouts: re-send unacknowledged notices, clear a stuck tweet or exit."""
        now = time.monotonic() if now is None else now
        if self.tweet and now - self.tweet.started >= self.tweet_timeout:
            self.log(f"tracker: tweet of {self.tweet.handle} not ended after {self.tweet_timeout:g} s; "
                     "cleared")
            self.tweet = None
        for handle in sorted(self.exiting):
            if now - (self.users[handle].exiting_since or now) >= self.exit_timeout:
                self.log(f"tracker: {handle} never completed its exit; removed")
                self._remove(handle)
        return self._send([(pending.data, pending.address) for pending in self.notices.due(now)])

    def next_deadline(self) -> float | None:
        """The earliest time `tick` has work; the socket loop sleeps until then."""
        deadlines = [self.notices.next_deadline()]
        if self.tweet:
            deadlines.append(self.tweet.started + self.tweet_timeout)
        deadlines += [(self.users[h].exiting_since or 0.0) + self.exit_timeout for h in self.exiting]
        return min((d for d in deadlines if d is not None), default=None)

    def snapshot(self) -> dict[str, Any]:
        """Everything a request can change, as plain data (tests compare it before and after)."""
        return {"users": {h: (m.ip, m.ports, list(m.followers), m.version, m.exiting_since)
                          for h, m in self.users.items()},
                "tweet": None if self.tweet is None else (self.tweet.handle, self.tweet.started)}

    # --- requests ---------------------------------------------------------------------------------

    def _apply(self, message: dict[str, Any], address: wire.Address, now: float,
               notices: Outgoing) -> dict[str, Any]:
        """Check and carry out one request; the fields of a SUCCESS answer, or Reject."""
        operations = {"register": self._register, "follow": self._follow, "drop": self._drop,
                      "tweet": self._tweet, "end_tweet": self._end_tweet, "exit": self._exit,
                      "exit_complete": self._exit_complete}
        operation = operations.get(message.get("op"))  # type: ignore[arg-type]
        if operation is None:
            raise Reject(f"unknown op {wire.show(message.get('op'))}")
        try:
            return operation(message, address, now, notices)
        except wire.WireError as error:
            raise Reject(str(error)) from None

    def _register(self, message: dict[str, Any], address: wire.Address, now: float,
                  notices: Outgoing) -> dict[str, Any]:
        handle = wire.handle_field(message, "handle")
        ip, ports = message.get("ip"), message.get("ports")
        if not wire.is_ipv4(ip):
            raise Reject(f"invalid IPv4 address {wire.show(ip)}")
        if not (isinstance(ports, list) and len(ports) == 3 and all(map(wire.is_port, ports))):
            raise Reject("ports must be three port numbers 1-65535")
        if len(set(ports)) != 3:
            raise Reject("the three ports must differ")
        self._not_busy()
        if handle in self.users:
            raise Reject(f"duplicate handle {handle}")
        if address != (ip, ports[0]):
            raise Reject(f"register must be sent from {ip}:{ports[0]}")
        for other in self.users.values():
            if other.ip == ip and set(other.ports) & set(ports):
                raise Reject(f"ports already registered by {other.handle}")
        if len(self.users) >= MAX_USERS:
            raise Reject(f"tracker full ({MAX_USERS} users)")
        self.users[handle] = Member(handle, ip, (ports[0], ports[1], ports[2]))
        self._handles_json = None
        self.log(f"tracker: registered {handle} at {ip} ports {ports[0]} {ports[1]} {ports[2]}")
        return {}

    def _follow(self, message: dict[str, Any], address: wire.Address, now: float,
                notices: Outgoing) -> dict[str, Any]:
        follower, owner = self._actor_and_target(message, address)
        if follower.handle in owner.followers:
            raise Reject(f"{follower.handle} already follows {owner.handle}")
        bisect.insort(owner.followers, follower.handle)
        notices += self._ring_changed(owner, now)
        return {}

    def _drop(self, message: dict[str, Any], address: wire.Address, now: float,
              notices: Outgoing) -> dict[str, Any]:
        follower, owner = self._actor_and_target(message, address)
        if follower.handle not in owner.followers:
            raise Reject(f"{follower.handle} does not follow {owner.handle}")
        owner.followers.remove(follower.handle)
        notices += self._ring_changed(owner, now)
        return {}

    def _tweet(self, message: dict[str, Any], address: wire.Address, now: float,
               notices: Outgoing) -> dict[str, Any]:
        member = self._actor(message, address)
        wire.text_field(message)
        self._not_busy()
        self.tweet = Tweet(member.handle, now)
        self.log(f"tracker: tweet of {member.handle} in progress")
        return {"followers": self._peers(member), "version": member.version}

    def _end_tweet(self, message: dict[str, Any], address: wire.Address, now: float,
                   notices: Outgoing) -> dict[str, Any]:
        member = self._actor(message, address, exiting_ok=True)
        if self.tweet is None or self.tweet.handle != member.handle:
            raise Reject(f"no tweet of {member.handle} in progress")
        self.tweet = None
        self.log(f"tracker: tweet of {member.handle} ended")
        return {}

    def _exit(self, message: dict[str, Any], address: wire.Address, now: float,
              notices: Outgoing) -> dict[str, Any]:
        member = self._actor(message, address, exiting_ok=True)
        self._not_busy()
        if member.exiting_since is None:
            member.exiting_since = now
            self.exiting.add(member.handle)
            for owner in self.users.values():
                if member.handle in owner.followers:
                    owner.followers.remove(member.handle)
                    notices += self._ring_changed(owner, now)
            self.log(f"tracker: {member.handle} is exiting")
        return {"followers": self._peers(member)}

    def _exit_complete(self, message: dict[str, Any], address: wire.Address, now: float,
                       notices: Outgoing) -> dict[str, Any]:
        member = self._actor(message, address, exiting_ok=True)
        if member.exiting_since is None:
            raise Reject(f"{member.handle} has not sent exit")
        self._remove(member.handle)
        self.log(f"tracker: {member.handle} exited")
        return {}

    # --- helpers ----------------------------------------------------------------------------------

    def _actor(self, message: dict[str, Any], address: wire.Address, exiting_ok: bool = False) -> Member:
        """The registered user that sent `message`; only it may act in its own name."""
        handle = wire.handle_field(message, "handle")
        member = self.users.get(handle)
        if member is None:
            raise Reject(f"unknown handle {handle}")
        if address != member.tracker_address:
            raise Reject(f"not your handle: {handle} is registered at {_show(member.tracker_address)}")
        if member.exiting_since is not None and not exiting_ok:
            raise Reject(f"{handle} is exiting")
        return member

    def _actor_and_target(self, message: dict[str, Any], address: wire.Address) -> tuple[Member, Member]:
        """For follow and drop: the acting user and the user it (un)follows."""
        follower = self._actor(message, address)
        target = wire.handle_field(message, "target")
        self._not_busy()
        owner = self.users.get(target)
        if owner is None:
            raise Reject(f"unknown handle {target}")
        if owner is follower:
            raise Reject("cannot follow yourself")
        if owner.exiting_since is not None:
            raise Reject(f"{target} is exiting")
        return follower, owner

    def _not_busy(self) -> None:
        if self.tweet is not None:
            raise Busy(f"tracker busy: {self.tweet.handle} is tweeting")

    def _peers(self, owner: Member) -> list[list[Any]]:
        """Follower tuples [handle, ip, ring-in port], alphabetical: the ring order."""
        return [[h, self.users[h].ip, self.users[h].ports[1]] for h in owner.followers]

    def _ring_changed(self, owner: Member, now: float) -> Outgoing:
        """Tell `owner` its new follower list (acknowledged, retried; a newer one replaces an older)."""
        owner.version += 1
        message = {"op": "ring_changed", "owner": owner.handle, "version": owner.version,
                   "followers": self._peers(owner)}
        pending = self.notices.add(message, owner.ring_in, None, on_reply=lambda reply: None,
                                   on_give_up=lambda: self.trace(f"{owner.handle} never acknowledged "
                                                                 "ring_changed"),
                                   key=("ring_changed", owner.handle), now=now)
        return [(pending.data, pending.address)]

    def _remove(self, handle: str) -> None:
        """Delete a user and its follower list (it follows no one any more: its exit removed that)."""
        del self.users[handle]
        self.exiting.discard(handle)
        self._handles_json = None

    def _query_reply(self, request_id: int) -> bytes:
        """The answer to query handles. Encoding 1,000 handles to JSON for every query cost more than
        all the rest of the request (measured with reference/bench.py), so the encoded list is kept
        until the set of users changes and only the id is filled in."""
        if self._handles_json is None:
            self._handles_json = wire.encode(sorted(self.users))
        return b'{"op":"reply","id":%d,"ok":true,"handles":%s}' % (request_id, self._handles_json)

    def _send(self, outgoing: Outgoing) -> Outgoing:
        """Trace what is about to be sent (the assignment asks for a trace of every message)."""
        for data, address in outgoing:
            self.trace(f"send {_show(address)} {data[:TRACE_CHARS].decode(errors='replace')}")
        return outgoing

    def trace(self, text: str) -> None:
        self.log(f"[trace] {text}")


def _show(address: wire.Address) -> str:
    return f"{address[0]}:{address[1]}"


def serve(sock: socket.socket, tracker: Tracker, output: Printer) -> None:
    """The socket loop: sleep in select until datagrams arrive or a timeout is due.

    `tracker` prints into `output`, which is written out before each sleep (see Printer).
    """
    sock.setblocking(False)
    while True:
        output.flush()  # everything printed is out before we sleep
        deadline = tracker.next_deadline()
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        readable, _, _ = select.select([sock], [], [], timeout)
        outgoing: Outgoing = []
        for _ in range(BATCH if readable else 0):  # take what is queued, not just one datagram
            try:
                datagram, address = sock.recvfrom(wire.MAX_DATAGRAM + 1)
            except BlockingIOError:
                break
            except OSError as error:  # e.g. an ICMP error reported late; nothing to answer
                tracker.trace(f"receive failed: {error}")
                continue
            outgoing += tracker.handle(datagram, address)
        outgoing += tracker.tick()
        for data, address in outgoing:
            try:
                sock.sendto(data, address)
            except OSError as error:
                tracker.trace(f"send to {_show(address)} failed: {error}")


def main(argv: list[str] | None = None) -> int:
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
    host, port = sock.getsockname()
    output = Printer()
    output.append(f"tracker: listening on {host}:{port}")
    try:
        serve(sock, Tracker(tweet_timeout=args.tweet_timeout, log=output.append), output)
    except KeyboardInterrupt:
        return 0
    finally:
        output.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
