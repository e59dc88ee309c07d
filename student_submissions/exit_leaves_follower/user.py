"""A Tweeter user: reads commands on stdin, asks the tracker, and passes tweets round logical rings.

Run:  python3 user.py TRACKER_IP TRACKER_PORT

One event loop (select) watches stdin, the UDP sockets and the timers, so the user keeps forwarding
other users' tweets while it waits for the tracker. Commands run one at a time, in the order typed;
lines typed meanwhile wait in a queue. After `register` the user owns three sockets on its IPv4:
  p1  talks to the tracker;
  p2  ring-in: receives setup, tweet, teardown (from peers) and ring_changed (from the tracker);
  p3  ring-out: sends setup, tweet and teardown to peers, and receives the acks of setups and
      teardowns (tweets are acknowledged end to end: by coming back round the ring).
Before `register` it talks to the tracker from an ephemeral socket (query handles works unregistered).
"""

from __future__ import annotations

import functools
import heapq
import itertools
import os
import re
import select
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

try:
    from . import wire
    from .console import Command, Printer, UsageError, parse
    from .reliable import Outbox, Recent, ReplyCache, first_id
except ImportError:  # run as a script from inside reference/
    import wire
    from console import Command, Printer, UsageError, parse
    from reliable import Outbox, Recent, ReplyCache, first_id

TRACKER_TIMEOUT, TRACKER_TRIES = 0.25, 16  # 0.25 + 15 x 0.5 = 7.75 s, then "no answer from tracker"
TRACKER_MAX_TIMEOUT = 0.5
RING_TIMEOUT, RING_TRIES = 0.2, 12  # setup, teardown: 0.2 + 11 x 0.25 = 2.95 s, then the peer is gone
RING_MAX_TIMEOUT = 0.25
ROUND_TIMEOUT = 0.25  # seconds before a tweet not yet back is sent round again, and again after each such pause
BUSY_PATIENCE = 10.0  # seconds a command answered "busy" keeps being retried
BUSY_FIRST_PAUSE, BUSY_MAX_PAUSE = 0.05, 0.8
RETURN_TIMEOUT = 4.0  # seconds a tweet may take round the ring before the tweeter ends it anyway
SEEN_SIZE = 1024  # ring requests, and tweet rounds, remembered for de-duplication
MAX_LINE = 4096  # a longer "line" without newline is cut here rather than buffered for ever
TRACE_CHARS = 200
PORT_RE = re.compile(r"[0-9]{1,5}")

Peer = tuple[str, wire.Address]  # (handle, ring-in address)
Holding = tuple[wire.Address, str, str, wire.Address]  # a follower's (address, left, right, right's address)


@dataclass
class Registration:
    handle: str
    ip: str
    to_tracker: socket.socket  # p1
    ring_in: socket.socket  # p2
    ring_out: socket.socket  # p3
    wire_handle: bytes = field(init=False)  # the handle as it goes into a datagram

    def __post_init__(self) -> None:
        self.wire_handle = self.handle.encode()

    @property
    def ring_in_address(self) -> wire.Address:
        return self.ring_in.getsockname()


@dataclass
class RingState:
    """What this user, as a follower, knows of one tweeter's ring."""

    left: str
    right: str
    right_address: wire.Address


class Timers:
    """Callbacks to run later (busy back-off, a tweet that never returns)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()

    def add(self, delay: float, callback: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (time.monotonic() + delay, next(self._order), callback))

    def next_deadline(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def due(self, now: float) -> list[Callable[[], None]]:
        ready = []
        while self._heap and self._heap[0][0] <= now:
            ready.append(heapq.heappop(self._heap)[2])
        return ready

    def clear(self) -> None:
        self._heap.clear()


class User:
    """One user's state and event loop."""

    def __init__(self, tracker: wire.Address) -> None:
        self.tracker = tracker
        self.watched: dict[Any, Callable[[], None]] = {}  # stdin's fd and the sockets, with their handlers
        self.watch_list: list[Any] = []  # the keys of `watched`, made once per change, not per wake-up
        self.outbox = Outbox(TRACKER_TIMEOUT, TRACKER_TRIES, TRACKER_MAX_TIMEOUT)
        self.seen = ReplyCache(SEEN_SIZE)
        self.rounds_printed = Recent(SEEN_SIZE)  # (tweeter, round) of the tweets I printed as a follower
        self.timers = Timers()
        self.round_timers = Timers()  # my tweet's: sending it round again, ending it; cleared once it is over
        self.exit_status: int | None = None
        # the console
        self.output = Printer()
        self.lines: deque[str] = deque()
        self.stdin_buffer = b""
        self.stdin_open = True
        self.active = False  # a command is running
        # talking to the tracker
        self.me: Registration | None = None
        self.ephemeral = self._open(("0.0.0.0", 0))
        # my own ring, as the tweeter
        self.ring: list[Peer] = []  # my followers in ring order
        self.has_ring = False  # a ring exists once I have tweeted
        self.holders: dict[str, Holding] = {}  # what each follower holds of my ring, as I set it up
        self.version = -1  # of the follower list I last adopted
        self.in_flight = {"setup": 0, "teardown": 0}  # ring updates not yet acknowledged, by op
        self.when_settled: dict[str, list[Callable[[], None]]] = {"setup": [], "teardown": []}
        self.rounds = itertools.count(first_id())  # numbers that grow, also across restarts (see first_id)
        self.round = 0
        self.round_data = b""  # the datagram of the round out, kept to send it again
        self.round_open = False
        self.round_text = ""
        self.round_sent_at = 0.0
        # other users' rings, as a follower
        self.rings: dict[str, RingState] = {}
        self.last_ring_id: dict[str, int] = {}  # newest setup/teardown applied, per tweeter
        self.ring_handlers = {"setup": self._on_setup, "teardown": self._on_teardown,
                              "ring_changed": self._on_ring_changed}  # the requests ring-in takes, by op

    # --- the event loop ---------------------------------------------------------------------------

    def run(self) -> int:
        """Serve until `exit` succeeds or stdin closes; the exit status."""
        self.say(f"user: tracker at {self.tracker[0]}:{self.tracker[1]}")
        self._watch(sys.stdin.fileno(), self._on_stdin)
        try:
            while self.exit_status is None:
                self.output.flush()  # everything printed is out before we sleep
                readable, _, _ = select.select(self.watch_list, [], [], self._sleep_time())
                for source in readable:
                    handler = self.watched.get(source)  # None if an earlier handler closed it
                    if handler is not None:
                        handler()
                self._run_due()
        finally:
            self.output.flush()
        return self.exit_status

    def _sleep_time(self) -> float | None:
        deadlines = [d for d in (self.outbox.next_deadline(), self.timers.next_deadline(),
                                 self.round_timers.next_deadline()) if d is not None]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    def _run_due(self) -> None:
        now = time.monotonic()
        for pending in self.outbox.due(now):
            self._transmit(pending.via, pending.data, pending.address)
        for callback in self.timers.due(now) + self.round_timers.due(now):
            callback()

    def _open(self, address: wire.Address) -> socket.socket:
        """A bound, non-blocking UDP socket watched by the event loop (OSError if it cannot bind)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind(address)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self._watch(sock, functools.partial(self._on_datagram, sock))
        return sock

    def _close(self, sock: socket.socket) -> None:
        self._unwatch(sock)
        sock.close()

    def _watch(self, source: Any, handler: Callable[[], None]) -> None:
        if source not in self.watched:
            self.watched[source] = handler
            self.watch_list = list(self.watched)

    def _unwatch(self, source: Any) -> None:
        if self.watched.pop(source, None) is not None:
            self.watch_list = list(self.watched)

    def say(self, line: str) -> None:
        """Print a line (written out before the event loop next sleeps, see Printer)."""
        self.output.append(line)

    def trace(self, text: str) -> None:
        self.output.append(f"[trace] {text}")

    # --- the console ------------------------------------------------------------------------------

    def _on_stdin(self) -> None:
        """Read what was typed (os.read: stdin may be a pty, and we must never block on it)."""
        try:
            data = os.read(sys.stdin.fileno(), 65536)
        except OSError:  # a closed pty reports EIO
            data = b""
        if not data:
            self._unwatch(sys.stdin.fileno())
            self.stdin_open = False
            data = b"\n" if self.stdin_buffer else b""  # a last line without newline still counts
        self.stdin_buffer += data
        *complete, self.stdin_buffer = self.stdin_buffer.split(b"\n")
        if len(self.stdin_buffer) > MAX_LINE:
            complete.append(self.stdin_buffer)
            self.stdin_buffer = b""
        self.lines.extend(line.decode(errors="replace").rstrip("\r") for line in complete)
        self._next_command()

    def _next_command(self) -> None:
        """Start queued commands until one has to wait; leave when stdin is done and nothing is left."""
        while not self.active and self.lines and self.exit_status is None:
            line = self.lines.popleft()
            try:
                command = parse(line)
            except UsageError as error:
                self.say(str(error))
                continue
            if command is not None:
                self.active = True
                self._start(command)
        if not self.active and not self.lines and not self.stdin_open and self.exit_status is None:
            self.trace("stdin closed: leaving")
            self.exit_status = 0

    def _finish(self, line: str) -> None:
        """Print a command's result line and go on with the next command."""
        self.say(line)
        self.active = False
        self._next_command()

    def _start(self, command: Command) -> None:
        problem = self._local_problem(command)
        if problem:
            self._finish(f"{command.label}: FAILURE {problem}")
            return
        {"register": self._register, "query": self._query, "follow": self._follow, "drop": self._drop,
         "tweet": self._tweet, "end-tweet": self._end_tweet, "exit": self._exit}[command.name](*command.args)

    def _local_problem(self, command: Command) -> str | None:
        """Why a command naming an actor fails before anything is sent, or None."""
        if command.name in ("register", "query"):
            return None
        handles = command.args[:2] if command.name in ("follow", "drop") else command.args[:1]
        for handle in handles:
            if not wire.is_handle(handle):
                return f"invalid handle {handle} (@ and 1 to 15 letters)"
        if self.me is None:
            return "not registered"
        if handles[0] != self.me.handle:
            return f"not your handle: {handles[0]} (this user is {self.me.handle})"
        return None

    # --- talking to the tracker -------------------------------------------------------------------

    def _ask(self, message: dict[str, Any], on_answer: Callable[[dict[str, Any] | None], None],
             via: socket.socket | None = None) -> None:
        """Send a request to the tracker; on_answer(reply), or on_answer(None) if it never answers.

        A "busy" answer (another user's tweet is in progress) is asked again, with a new id and a
        growing pause, for up to BUSY_PATIENCE seconds: so two simultaneous tweets both go out.
        """
        sock = via or (self.me.to_tracker if self.me else self.ephemeral)
        started = time.monotonic()
        pause = BUSY_FIRST_PAUSE

        def answered(reply: dict[str, Any]) -> None:
            nonlocal pause
            if reply.get("busy") is True and time.monotonic() + pause - started < BUSY_PATIENCE:
                self.trace(f"tracker busy: asking again in {pause:g} s")
                self.timers.add(pause, send)
                pause = min(2 * pause, BUSY_MAX_PAUSE)
            else:
                on_answer(reply)

        def send() -> None:
            self._request(sock, self.tracker, dict(message), answered, lambda: on_answer(None))

        send()

    def _result(self, label: str, success: str = "") -> Callable[[dict[str, Any] | None], None]:
        """An on_answer that prints the result line of a one-step command."""
        def done(reply: dict[str, Any] | None) -> None:
            if reply is not None and reply.get("ok") is True:
                self._finish(f"{label}: SUCCESS {success}".rstrip())
            else:
                self._finish(f"{label}: FAILURE {failure_reason(reply)}")
        return done

    # --- the commands -----------------------------------------------------------------------------

    def _register(self, handle: str, ip: str, *port_words: str) -> None:
        problem = self._registration_problem(handle, ip, port_words)
        if problem:
            self._finish(f"register: FAILURE {problem}")
            return
        sockets: list[socket.socket] = []
        for word in port_words:
            try:
                sockets.append(self._open((ip, int(word))))
            except OSError as error:
                for sock in sockets:
                    self._close(sock)
                self._finish(f"register: FAILURE cannot bind {ip}:{word}: {error.strerror}")
                return
        message = {"op": "register", "handle": handle, "ip": ip, "ports": [int(w) for w in port_words]}
        self._ask(message, lambda reply: self._registered(reply, handle, ip, sockets), via=sockets[0])

    def _registration_problem(self, handle: str, ip: str, port_words: tuple[str, ...]) -> str | None:
        if self.me is not None:
            return f"already registered as {self.me.handle}"
        if not wire.is_handle(handle):
            return f"invalid handle {handle} (@ and 1 to 15 letters)"
        if not wire.is_ipv4(ip):
            return f"invalid IPv4 address {ip}"
        for word in port_words:
            if not (PORT_RE.fullmatch(word) and wire.is_port(int(word))):
                return f"invalid port {word} (1-65535)"
        if len(set(map(int, port_words))) != 3:
            return "the three ports must differ"
        return None

    def _registered(self, reply: dict[str, Any] | None, handle: str, ip: str,
                    sockets: list[socket.socket]) -> None:
        if reply is None or reply.get("ok") is not True:
            for sock in sockets:
                self._close(sock)
            self._finish(f"register: FAILURE {failure_reason(reply)}")
            return
        self.me = Registration(handle, ip, *sockets)
        self.watched[self.me.ring_in] = self._on_ring_in
        self._close(self.ephemeral)
        self._finish(f"register: SUCCESS {handle}")

    def _query(self, _word: str) -> None:
        def answered(reply: dict[str, Any] | None) -> None:
            handles = reply.get("handles") if reply else None
            if reply is None or reply.get("ok") is not True:
                self._finish(f"query handles: FAILURE {failure_reason(reply)}")
            elif not (isinstance(handles, list) and all(map(wire.is_handle, handles))):
                self._finish("query handles: FAILURE malformed answer from tracker")
            else:
                self._finish(f"query handles: SUCCESS {len(handles)}" + "".join(f" {h}" for h in handles))
        self._ask({"op": "query"}, answered)

    def _follow(self, handle: str, target: str) -> None:
        self._ask({"op": "follow", "handle": handle, "target": target},
                  self._result("follow", f"{handle} follows {target}"))

    def _drop(self, handle: str, target: str) -> None:
        self._ask({"op": "drop", "handle": handle, "target": target},
                  self._result("drop", f"{handle} dropped {target}"))

    def _end_tweet(self, handle: str) -> None:
        self._ask({"op": "end_tweet", "handle": handle}, self._result("end-tweet"))

    def _tweet(self, handle: str, text: str) -> None:
        if len(text) > wire.MAX_TWEET:
            self._finish(f"tweet: FAILURE {wire.too_long(text)}")
            return
        self._ask({"op": "tweet", "handle": handle, "text": text},
                  lambda reply: self._tweet_answered(reply, text))

    def _tweet_answered(self, reply: dict[str, Any] | None, text: str) -> None:
        """The tracker gave the followers: set up the ring, then send the tweet round it."""
        if reply is None or reply.get("ok") is not True:
            self._finish(f"tweet: FAILURE {failure_reason(reply)}")
            return
        try:
            followers = wire.peers_field(reply)
            version = wire.int_field(reply, "version")
        except wire.WireError as error:  # the tracker clears the tweet after its timeout
            self._finish(f"tweet: FAILURE malformed answer from tracker: {error}")
            return
        self.say(f"tweet: SUCCESS {len(followers)} followers" + "".join(f" {h}" for h, _ in followers))
        self.version = max(self.version, version)
        self._set_up_ring(followers)
        self._after_all("setup", lambda: self._send_round(text))

    def _send_round(self, text: str) -> None:
        """Send the tweet to f1 (or, with no followers, it is back at once).

        The ring acknowledges a tweet end to end: its coming back is the answer. A round not back
        after ROUND_TIMEOUT is sent round again (same round number, so no follower prints it twice)
        until RETURN_TIMEOUT ends it. Acks hop by hop would cost each follower a second datagram and
        a second wake-up per tweet, on the CPUs the next hops need (reference/bench.py).
        """
        assert self.me is not None
        self.round = next(self.rounds)
        self.round_open, self.round_text = True, text
        if not self.ring:
            self._round_returned()
            return
        self.round_data = wire.tweet(self.me.handle, self.me.handle, self.round, text)
        self.round_sent_at = time.monotonic()
        self._transmit(self.me.ring_out, self.round_data, self.ring[0][1])
        self.round_timers.add(ROUND_TIMEOUT, lambda number=self.round: self._send_round_again(number))
        self.round_timers.add(RETURN_TIMEOUT, lambda number=self.round: self._round_lost(number))

    def _send_round_again(self, number: int) -> None:
        assert self.me is not None
        if self.round_open and number == self.round:
            self.trace(f"my tweet is not back after {time.monotonic() - self.round_sent_at:.1f} s: "
                       "sending it round again")
            self._transmit(self.me.ring_out, self.round_data, self.ring[0][1])
            self.round_timers.add(ROUND_TIMEOUT, lambda: self._send_round_again(number))

    def _round_returned(self) -> None:
        assert self.me is not None
        self.round_open = False
        self.round_timers.clear()  # nothing left to wake up for: an idle user sleeps until input comes
        if self.ring:
            self.trace(f"ring round trip {1000 * (time.monotonic() - self.round_sent_at):.3f} ms "
                       f"through {len(self.ring)} followers")
        self.say(f'{self.me.handle} tweet returned: "{self.round_text}"')
        self._end_tweet_automatically()

    def _round_lost(self, number: int) -> None:
        if self.round_open and number == self.round:
            self.round_open = False
            self.round_timers.clear()
            self.trace(f"my tweet did not come back within {RETURN_TIMEOUT:g} s: ending it")
            self._end_tweet_automatically()

    def _end_tweet_automatically(self) -> None:
        assert self.me is not None
        self._end_tweet(self.me.handle)

    def _exit(self, handle: str) -> None:
        self._ask({"op": "exit", "handle": handle}, self._exit_answered)

    def _exit_answered(self, reply: dict[str, Any] | None) -> None:
        """The tracker took me out of other rings: tear mine down, then confirm."""
        assert self.me is not None
        if reply is None or reply.get("ok") is not True:
            self._finish(f"exit: FAILURE {failure_reason(reply)}")
            return
        for handle in list(self.holders):
            self._send_teardown(handle)
        me = self.me.handle
        self._after_all("teardown", lambda: self._ask({"op": "exit_complete", "handle": me},
                                                      self._exit_completed))

    def _exit_completed(self, reply: dict[str, Any] | None) -> None:
        if reply is None or reply.get("ok") is not True:
            self._finish(f"exit: FAILURE {failure_reason(reply)}")
            return
        self.exit_status = 0
        self._finish("exit: SUCCESS exit-complete")

    # --- my ring, as the tweeter ------------------------------------------------------------------

    def _set_up_ring(self, followers: list[Peer]) -> None:
        """Make every follower hold its right neighbours in the ring me, f1..fn; tear down the rest.

        Only followers whose state changes get a message, so a ring is set up once and then updated.
        """
        assert self.me is not None
        self.ring, self.has_ring = followers, True
        members = [(self.me.handle, self.me.ring_in_address)] + followers
        wanted: dict[str, Holding] = {}
        for index in range(1, len(members)):
            handle, address = members[index]
            right, right_address = members[(index + 1) % len(members)]
            wanted[handle] = (address, members[index - 1][0], right, right_address)
        for handle in list(self.holders):
            if handle not in wanted:
                self._send_teardown(handle)
        for handle, holding in wanted.items():
            if self.holders.get(handle) != holding:
                self._send_setup(handle, holding)

    def _send_setup(self, handle: str, holding: Holding) -> None:
        assert self.me is not None
        address, left, right, right_address = holding
        self.holders[handle] = holding
        message = {"op": "setup", "tweeter": self.me.handle, "left": left, "right": right,
                   "right_address": list(right_address)}

        def unknown() -> None:  # we cannot know what it holds now: set it up again next time
            if self.holders.get(handle) == holding:
                del self.holders[handle]
        self._send_ring_update(handle, address, message, unknown)

    def _send_teardown(self, handle: str) -> None:
        assert self.me is not None
        address = self.holders.pop(handle)[0]
        self._send_ring_update(handle, address, {"op": "teardown", "tweeter": self.me.handle}, lambda: None)

    def _send_ring_update(self, handle: str, address: wire.Address, message: dict[str, Any],
                          on_give_up: Callable[[], None]) -> None:
        """Send a setup or teardown, counting it until it is acknowledged or given up."""
        assert self.me is not None
        op = message["op"]
        self.in_flight[op] += 1

        def given_up() -> None:
            self.trace(f"{handle} did not acknowledge {op}")
            on_give_up()
            self._ring_update_done(op)
        self._request(self.me.ring_out, address, message, lambda reply: self._ring_update_done(op),
                      given_up, RING_TIMEOUT, RING_TRIES, RING_MAX_TIMEOUT)

    def _ring_update_done(self, op: str) -> None:
        self.in_flight[op] -= 1
        if self.in_flight[op] == 0:
            waiting, self.when_settled[op] = self.when_settled[op], []
            for callback in waiting:
                callback()

    def _after_all(self, op: str, callback: Callable[[], None]) -> None:
        """Run `callback` once every setup (before a tweet) or teardown (before exit_complete) sent
        has been acknowledged or given up. A tweet does not wait for teardowns: they go to users who
        left the ring, often because they are exiting and will not answer."""
        if self.in_flight[op] == 0:
            callback()
        else:
            self.when_settled[op].append(callback)

    # --- datagrams --------------------------------------------------------------------------------

    def _request(self, sock: socket.socket, address: wire.Address, message: dict[str, Any],
                 on_reply: Callable[[dict[str, Any]], None], on_give_up: Callable[[], None],
                 timeout: float | None = None, tries: int | None = None, max_timeout: float | None = None) -> None:
        pending = self.outbox.add(message, address, sock, on_reply, on_give_up, timeout=timeout, tries=tries,
                                  max_timeout=max_timeout)
        self._transmit(sock, pending.data, address)

    def _transmit(self, sock: socket.socket, data: bytes, address: wire.Address) -> None:
        """Send, then trace (the line is only buffered: sending first costs the order of nothing)."""
        try:
            sock.sendto(data, address)
            failure = None
        except OSError as error:  # the retry timer tries again
            failure = error
        self.trace(f"send {address[0]}:{address[1]} {data[:TRACE_CHARS].decode(errors='replace')}")
        if failure is not None:
            self.trace(f"send failed: {failure}")

    def _on_datagram(self, sock: socket.socket) -> None:
        """Read one datagram at p1, p3 or the ephemeral socket: an answer to one of my requests."""
        try:
            data, address = sock.recvfrom(wire.MAX_DATAGRAM + 1)
        except OSError:  # nothing waiting, closed meanwhile, or a late ICMP error
            return
        self._trace_recv(data, address)
        try:
            message = wire.decode(data)
        except wire.WireError as error:
            self.trace(f"dropped: {error}")
            return
        if message.get("op") != "reply":
            self.trace("dropped: not a reply (this socket takes only replies)")
        elif not self.outbox.answer(message):
            self.trace("late or duplicate reply ignored")

    def _on_ring_in(self) -> None:
        """Read one datagram at ring-in (p2): a tweet, or a setup, teardown or ring_changed.

        A tweet in the plain form (wire.PLAIN_TWEET) for a ring I am in is sent on before anything
        else is done with it, in as few steps as possible: every step before the send is paid at
        every hop, on the ring's round trip (reference/bench.py). Its `recv` line, formatted last,
        is still written before the lines the datagram causes.
        """
        assert self.me is not None
        try:
            data, address = self.me.ring_in.recvfrom(wire.MAX_DATAGRAM + 1)
        except OSError:
            return
        mark = len(self.output)
        plain = wire.PLAIN_TWEET.fullmatch(data)
        if plain is None:
            self._on_ring_message(data, address)
        elif (state := self.rings.get(plain[1].decode())) is not None:
            onward = wire.TWEET_FORMAT % (plain[1], self.me.wire_handle, plain[3], plain[4])
            self._transmit(self.me.ring_out, onward, state.right_address)
            self._print_once(wire.plain_tweet_fields(plain))
        else:  # mine, back from the ring; or of a ring I am not in
            self._on_tweet(wire.plain_tweet_fields(plain))
        self._trace_recv(data, address, mark)

    def _on_ring_message(self, data: bytes, address: wire.Address) -> None:
        """A datagram at ring-in that is not a plain tweet."""
        try:
            message = wire.decode(data)
            tweet = wire.tweet_fields(message) if message.get("op") == "tweet" else None
        except wire.WireError as error:
            self.trace(f"dropped: {error}")
            return
        if tweet is not None:
            self._on_tweet(tweet)
        elif message.get("op") != "reply" and wire.is_id(message.get("id")):
            self._on_ring_request(message, address)
        else:
            self.trace("dropped: not a request this socket takes")

    def _trace_recv(self, data: bytes, address: wire.Address, mark: int | None = None) -> None:
        """The `recv` trace line, at the end of the output or at `mark`."""
        line = f"[trace] recv {address[0]}:{address[1]} {data[:TRACE_CHARS].decode(errors='replace')}"
        self.output.insert(len(self.output) if mark is None else mark, line)

    def _on_ring_request(self, message: dict[str, Any], address: wire.Address) -> None:
        """Apply a setup, teardown or ring_changed once, and acknowledge every copy of it."""
        assert self.me is not None
        key = (address, message["id"])
        answer = self.seen.get(key)
        if answer is None:
            handler = self.ring_handlers.get(message.get("op"))  # type: ignore[arg-type]
            try:
                if handler is None:
                    raise wire.WireError(f"unknown op {wire.show(message.get('op'))}")
                handler(message)
                answer = wire.reply(message["id"], True)
            except wire.WireError as error:
                answer = wire.reply(message["id"], False, str(error))
            self.seen.put(key, answer)
        else:
            self.trace("repeated request: acknowledged again, not applied again")
        self._transmit(self.me.ring_in, answer, address)

    def _on_setup(self, message: dict[str, Any]) -> None:
        assert self.me is not None
        tweeter = wire.handle_field(message, "tweeter")
        if tweeter == self.me.handle:
            raise wire.WireError("I am the tweeter of my own ring, not a follower in it")
        left, right = wire.handle_field(message, "left"), wire.handle_field(message, "right")
        right_address = wire.address_field(message.get("right_address"))
        if self._is_stale(tweeter, message["id"]):
            return
        self.rings[tweeter] = RingState(left, right, right_address)
        self.say(f"{self.me.handle} ring of {tweeter}: left {left} right {right}")

    def _on_teardown(self, message: dict[str, Any]) -> None:
        assert self.me is not None
        tweeter = wire.handle_field(message, "tweeter")
        if not self._is_stale(tweeter, message["id"]) and self.rings.pop(tweeter, None):
            self.say(f"{self.me.handle} ring of {tweeter}: torn down")

    def _is_stale(self, tweeter: str, message_id: int) -> bool:
        """A retried setup or teardown overtaken by a newer one from the same tweeter is ignored."""
        if message_id < self.last_ring_id.get(tweeter, -1):
            self.trace(f"older ring message of {tweeter} ignored")
            return True
        self.last_ring_id[tweeter] = message_id
        return False

    def _on_tweet(self, tweet: wire.Tweet) -> None:
        """A tweet that `_on_ring_in` did not pass on at once: not in the plain form, mine coming
        back, or of a ring I am not in.

        Tweets are not acknowledged hop by hop: the tweeter sends a round that does not come back
        round again (`_send_round`), so every copy is passed on, and each round printed once."""
        assert self.me is not None
        if tweet.tweeter == self.me.handle:
            if self.round_open and tweet.round == self.round:
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

    def _print_once(self, tweet: wire.Tweet) -> None:
        """Print a tweet I passed on, unless I printed its round before (a copy sent again)."""
        assert self.me is not None
        if self.rounds_printed.add((tweet.tweeter, tweet.round)):
            self.say(f'{self.me.handle} received tweet from {tweet.tweeter} via {tweet.sender}: '
                     f'"{tweet.text}"')
        else:
            self.trace(f"round {tweet.round} of {tweet.tweeter} again: passed on, not printed again")

    def _on_ring_changed(self, message: dict[str, Any]) -> None:
        """The tracker's new follower list for my ring: update the ring if I have one."""
        assert self.me is not None
        if wire.handle_field(message, "owner") != self.me.handle:
            raise wire.WireError("not my ring")
        followers, version = wire.peers_field(message), wire.int_field(message, "version")
        if version <= self.version:
            self.trace(f"follower list version {version} is not newer than {self.version}: ignored")
            return
        self.version = version
        if self.has_ring:
            self._set_up_ring(followers)


def failure_reason(reply: dict[str, Any] | None) -> str:
    """The reason to print after FAILURE, on one line."""
    if reply is None:
        return "no answer from tracker"
    return " ".join(str(reply.get("reason") or "tracker gave no reason").split())[:200]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or not wire.is_ipv4(args[0]) or not PORT_RE.fullmatch(args[1]) \
            or not wire.is_port(int(args[1])):
        print("usage: python3 user.py TRACKER_IPv4 TRACKER_PORT", file=sys.stderr, flush=True)
        return 2
    try:
        return User((args[0], int(args[1]))).run()
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
