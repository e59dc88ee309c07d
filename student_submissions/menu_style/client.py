"""Tweeter client (the user program) with a numbered menu.

Run:  python3 client.py TRACKER_IP TRACKER_PORT

At start it asks for your handle (letters, no @), your IP address and your 3 ports. Then it shows a
menu; type the number of a command and answer its questions:

    1) register 2) follow 3) drop 4) tweet 5) users 6) end tweet 7) exit
    Choice: 2
    Whom? bob
    OK: you now follow bob

Prompts are printed without a newline. When something happens while a prompt waits for you (a tweet
passes through), the line is printed below the prompt and the prompt is shown again. When the
terminal does not echo what is typed (or input comes from a pipe), the client ends the prompt's line
itself once the answer is read, as getpass does.

The networking is the course reference user's (same datagrams, retries and rings); only the console
differs. One event loop (selectors) watches stdin, the UDP sockets and the timers, so the client keeps
passing other users' tweets on while it waits for you or for the tracker. After `register` it owns
three sockets on its IP: port 1 talks to the tracker, port 2 receives ring messages, port 3 sends them.
"""

from __future__ import annotations

import heapq
import itertools
import os
import re
import selectors
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

import wire
from reliable import Outbox, ReplyCache

TRACKER_TIMEOUT, TRACKER_TRIES = 0.25, 5  # 0.25 + 0.5 + 1 + 2 + 4 s, then "no answer from tracker"
RING_TIMEOUT, RING_TRIES = 0.2, 4  # 0.2 + 0.4 + 0.8 + 1.6 s, then the peer is taken as gone
BUSY_PATIENCE = 10.0  # seconds a command answered "busy" keeps being retried
BUSY_FIRST_PAUSE, BUSY_MAX_PAUSE = 0.05, 0.8
RETURN_TIMEOUT = 4.0  # seconds a tweet may take round the ring before the tweeter ends it anyway
SEEN_SIZE = 1024  # ring requests remembered for de-duplication
MAX_LINE = 4096  # a longer "line" without newline is cut here rather than buffered for ever
TRACE_CHARS = 200
NAME_RE = re.compile(r"[A-Za-z]{1,15}")
PORT_RE = re.compile(r"[0-9]{1,5}")
PORT_COUNT = 3

MENU = "1) register 2) follow 3) drop 4) tweet 5) users 6) end tweet 7) exit"
CHOICE = "Choice: "

Peer = tuple[str, wire.Address]  # (handle, ring-in address)
Holding = tuple[wire.Address, str, str, wire.Address]  # a follower's (address, left, right, right's address)


def plain(handle: str) -> str:
    """How a handle is shown on this console: without its `@`."""
    return handle[1:] if handle.startswith("@") else handle


def plain_text(text: str) -> str:
    """A reason from the tracker with its handles shown without `@`."""
    return re.sub(r"@(?=[A-Za-z])", "", text)


def shown(typed: str) -> str:
    """A handle as typed: plain if it is a valid handle, else quoted as it was."""
    return plain(typed) if wire.is_handle(typed) else repr(typed[:40])


def terminal_echoes() -> bool:
    """Whether the terminal shows what is typed (then it also ends the prompt's line for us)."""
    try:
        import termios
        return bool(termios.tcgetattr(sys.stdin.fileno())[3] & termios.ECHO)
    except Exception:  # not a terminal (a pipe, a file), or no termios on this system
        return False


class Console:
    """Prompts without newline, one answer line per prompt, and event lines that never run into a prompt.

    Lines typed before their prompt appears wait in a queue, in order. `refresh()` shows a prompt
    again after event lines were printed below it.
    """

    def __init__(self, on_exhausted: Callable[[], None]) -> None:
        self.echoes = terminal_echoes()
        self.lines: deque[str] = deque()
        self.question: tuple[str, Callable[[str], None]] | None = None
        self.prompt_shown = False  # the cursor is just after the prompt
        self.closed = False  # end of input seen
        self.on_exhausted = on_exhausted
        self._pumping = False

    @staticmethod
    def write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def say(self, line: str) -> None:
        if self.prompt_shown:  # move off the prompt; refresh() shows it again
            self.write("\n")
            self.prompt_shown = False
        self.write(line + "\n")

    def ask(self, prompt: str, handler: Callable[[str], None]) -> None:
        self.question = (prompt, handler)
        self.write(prompt)
        self.prompt_shown = True
        self.pump()

    def refresh(self) -> None:
        if self.question is not None and not self.prompt_shown:
            self.write(self.question[0])
            self.prompt_shown = True

    def feed(self, lines: list[str]) -> None:
        self.lines.extend(lines)
        self.pump()

    def pump(self) -> None:
        """Give queued lines to the questions asked, one line each."""
        if self._pumping:
            return
        self._pumping = True
        try:
            while self.question is not None and self.lines:
                handler = self.question[1]
                line = self.lines.popleft()
                self.question = None
                if self.prompt_shown and not self.echoes:
                    self.write("\n")
                self.prompt_shown = False
                handler(line)
            if self.question is not None and not self.lines and self.closed:
                self.question = None
                if self.prompt_shown:
                    self.write("\n")
                    self.prompt_shown = False
                self.on_exhausted()
        finally:
            self._pumping = False


@dataclass
class Registration:
    handle: str
    ip: str
    to_tracker: socket.socket  # port 1
    ring_in: socket.socket  # port 2
    ring_out: socket.socket  # port 3

    @property
    def ring_in_address(self) -> wire.Address:
        return self.ring_in.getsockname()


@dataclass
class RingState:
    """What this client, as a follower, knows of one tweeter's ring."""

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


class Client:
    """One user's state, its menu and its event loop."""

    def __init__(self, tracker: wire.Address) -> None:
        self.tracker = tracker
        self.selector = selectors.DefaultSelector()
        self.outbox = Outbox(TRACKER_TIMEOUT, TRACKER_TRIES)
        self.seen = ReplyCache(SEEN_SIZE)
        self.timers = Timers()
        self.exit_status: int | None = None
        self.console = Console(self._input_ended)
        self.stdin_buffer = b""
        # who I am (asked at start)
        self.name = ""
        self.ip = ""
        self.ports: list[int] = []
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
        self.round = 0
        self.round_open = False
        self.round_text = ""
        self.round_sent_at = 0.0
        # other users' rings, as a follower
        self.rings: dict[str, RingState] = {}
        self.last_ring_id: dict[str, int] = {}  # newest setup/teardown applied, per tweeter

    # --- the event loop ---------------------------------------------------------------------------

    def run(self) -> int:
        """Serve until exit or end of input; the exit status."""
        self.say(f"Tweeter client - tracker at {self.tracker[0]}:{self.tracker[1]}")
        self.console.ask("Your handle: ", self._got_name)
        try:
            self.selector.register(sys.stdin.fileno(), selectors.EVENT_READ, self._on_stdin)
        except PermissionError:  # a regular file or /dev/null cannot be watched, but never blocks
            while not self.console.closed:
                self._on_stdin()
        while self.exit_status is None:
            self.console.refresh()
            for key, _ in self.selector.select(self._sleep_time()):
                key.data()
            self._run_due()
        self.selector.close()
        return self.exit_status

    def _sleep_time(self) -> float | None:
        deadlines = [d for d in (self.outbox.next_deadline(), self.timers.next_deadline()) if d is not None]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    def _run_due(self) -> None:
        now = time.monotonic()
        for pending in self.outbox.due(now):
            self._transmit(pending.via, pending.data, pending.address)
        for callback in self.timers.due(now):
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
        self.selector.register(sock, selectors.EVENT_READ, lambda: self._on_datagram(sock))
        return sock

    def _close(self, sock: socket.socket) -> None:
        self.selector.unregister(sock)
        sock.close()

    def say(self, line: str) -> None:
        self.console.say(line)

    def trace(self, text: str) -> None:
        self.say(f"[net] {text}")

    # --- reading the keyboard ---------------------------------------------------------------------

    def _on_stdin(self) -> None:
        """Read what was typed (os.read: stdin may be a pty, and we must never block on it)."""
        try:
            data = os.read(sys.stdin.fileno(), 65536)
        except OSError:  # a closed pty reports EIO
            data = b""
        if not data:
            if sys.stdin.fileno() in self.selector.get_map():
                self.selector.unregister(sys.stdin.fileno())
            self.console.closed = True
            data = b"\n" if self.stdin_buffer else b""  # a last line without newline still counts
        self.stdin_buffer += data
        *complete, self.stdin_buffer = self.stdin_buffer.split(b"\n")
        if len(self.stdin_buffer) > MAX_LINE:
            complete.append(self.stdin_buffer)
            self.stdin_buffer = b""
        self.console.feed([line.decode(errors="replace").rstrip("\r") for line in complete])

    def _input_ended(self) -> None:
        """End of input while a question waits: leave (a registration stays at the tracker)."""
        if self.exit_status is None:
            self.say("(end of input: leaving)")
            self.exit_status = 0

    # --- start-up questions -----------------------------------------------------------------------

    def _got_name(self, answer: str) -> None:
        name = answer.strip()
        name = name[1:] if name.startswith("@") else name
        if not NAME_RE.fullmatch(name):
            self.say("A handle is 1 to 15 letters, for example alice. Try again.")
            self.console.ask("Your handle: ", self._got_name)
            return
        self.name = name
        self.console.ask("Your IP: ", self._got_ip)

    def _got_ip(self, answer: str) -> None:
        ip = answer.strip()
        if not wire.is_ipv4(ip):
            self.say("That is not an IPv4 address (like 127.0.0.1). Try again.")
            self.console.ask("Your IP: ", self._got_ip)
            return
        self.ip = ip
        self.console.ask(f"Your {PORT_COUNT} ports: ", self._got_ports)

    def _got_ports(self, answer: str) -> None:
        words = answer.replace(",", " ").split()
        ports = [int(w) for w in words if PORT_RE.fullmatch(w) and wire.is_port(int(w))]
        if len(words) != PORT_COUNT or len(ports) != PORT_COUNT or len(set(ports)) != PORT_COUNT:
            self.say(f"Please give {PORT_COUNT} different port numbers (1-65535), separated by spaces.")
            self.console.ask(f"Your {PORT_COUNT} ports: ", self._got_ports)
            return
        self.ports = ports
        self.say(f"Hello {self.name}! You will register from {self.ip}, ports {' '.join(map(str, ports))}.")
        self._menu()

    # --- the menu ---------------------------------------------------------------------------------

    def _menu(self) -> None:
        if self.exit_status is None:
            self.say(MENU)
            self.console.ask(CHOICE, self._on_choice)

    def _finish(self, *lines: str) -> None:
        """Print a command's result line(s), then the menu again."""
        for line in lines:
            self.say(line)
        self._menu()

    def _on_choice(self, answer: str) -> None:
        choice = answer.strip()
        if not choice:
            self.console.ask(CHOICE, self._on_choice)
            return
        action = {"1": self._choose_register, "2": lambda: self._choose_pair("follow"),
                  "3": lambda: self._choose_pair("drop"), "4": self._choose_tweet, "5": self._query,
                  "6": self._end_tweet, "7": self._exit}.get(choice)
        if action is None:
            self.say(f"No such choice: {choice[:40]!r}. Type a number from 1 to 7.")
            self._menu()
            return
        action()

    def _choose_register(self) -> None:
        self.console.ask(f"Handle (Enter = @{self.name}): ", self._register)

    def _choose_pair(self, verb: str) -> None:
        self.console.ask("Whom? ", lambda answer: self._pair(verb, answer))

    def _choose_tweet(self) -> None:
        self.console.ask("Text: ", self._tweet)

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

    def _result(self, success: str, failure: str) -> Callable[[dict[str, Any] | None], None]:
        """An on_answer that prints `success`, or `failure` followed by the reason."""
        def done(reply: dict[str, Any] | None) -> None:
            if reply is not None and reply.get("ok") is True:
                self._finish(success)
            else:
                self._finish(f"{failure}: {failure_reason(reply)}")
        return done

    # --- the commands -----------------------------------------------------------------------------

    def _register(self, answer: str) -> None:
        handle = answer.strip() or f"@{self.name}"
        failure = f"ERROR: cannot register {shown(handle)}"
        if self.me is not None:
            self._finish(f"{failure}: you are already registered as {plain(self.me.handle)}")
            return
        if not wire.is_handle(handle):
            self._finish(f"{failure}: a handle is @ followed by 1 to 15 letters")
            return
        sockets: list[socket.socket] = []
        for port in self.ports:
            try:
                sockets.append(self._open((self.ip, port)))
            except OSError as error:
                for sock in sockets:
                    self._close(sock)
                self._finish(f"{failure}: cannot use {self.ip}:{port}: {error.strerror}")
                return
        message = {"op": "register", "handle": handle, "ip": self.ip, "ports": list(self.ports)}
        self._ask(message, lambda reply: self._registered(reply, handle, sockets), via=sockets[0])

    def _registered(self, reply: dict[str, Any] | None, handle: str, sockets: list[socket.socket]) -> None:
        if reply is None or reply.get("ok") is not True:
            for sock in sockets:
                self._close(sock)
            self._finish(f"ERROR: cannot register {shown(handle)}: {failure_reason(reply)}")
            return
        self.me = Registration(handle, self.ip, *sockets)
        self._close(self.ephemeral)
        self._finish(f"OK: registered {plain(handle)} at {self.ip}, ports {' '.join(map(str, self.ports))}")

    def _query(self) -> None:
        def answered(reply: dict[str, Any] | None) -> None:
            handles = reply.get("handles") if reply else None
            if reply is None or reply.get("ok") is not True:
                self._finish(f"ERROR: cannot list users: {failure_reason(reply)}")
            elif not (isinstance(handles, list) and all(map(wire.is_handle, handles))):
                self._finish("ERROR: cannot list users: the tracker's answer is malformed")
            elif not handles:
                self._finish("Users (0): nobody is registered")
            else:
                self._finish(f"Users ({len(handles)}):", *(f"  - {plain(h)}" for h in handles))
        self._ask({"op": "query"}, answered)

    def _pair(self, verb: str, answer: str) -> None:
        """follow / drop: I start or stop following the user named in `answer`."""
        word = answer.strip()
        target = word if word.startswith("@") else f"@{word}"
        if not wire.is_handle(target):
            self._finish(f"ERROR: cannot {verb} {word[:40]!r}: a handle is 1 to 15 letters")
            return
        failure = f"ERROR: cannot {verb} {plain(target)}"
        if self.me is None:
            self._finish(f"{failure}: register first")
            return
        success = f"OK: you now follow {plain(target)}" if verb == "follow" \
            else f"OK: you no longer follow {plain(target)}"
        self._ask({"op": verb, "handle": self.me.handle, "target": target}, self._result(success, failure))

    def _end_tweet(self) -> None:
        if self.me is None:
            self._finish("ERROR: cannot end tweet: register first")
            return
        self._ask({"op": "end_tweet", "handle": self.me.handle},
                  self._result("OK: tweet finished", "ERROR: cannot end tweet"))

    def _tweet(self, text: str) -> None:
        if self.me is None:
            self._finish("ERROR: cannot tweet: register first")
        elif not text.strip():
            self._finish("ERROR: cannot tweet: the text is empty")
        elif len(text) > wire.MAX_TWEET:
            self._finish(f"ERROR: cannot tweet: too long ({len(text)} > {wire.MAX_TWEET} characters)")
        else:
            self._ask({"op": "tweet", "handle": self.me.handle, "text": text},
                      lambda reply: self._tweet_answered(reply, text))

    def _tweet_answered(self, reply: dict[str, Any] | None, text: str) -> None:
        """The tracker gave the followers: set up the ring, then send the tweet round it.

        The tweet command lasts until its end-tweet is answered; the menu comes back then."""
        if reply is None or reply.get("ok") is not True:
            self._finish(f"ERROR: cannot tweet: {failure_reason(reply)}")
            return
        try:
            followers = wire.peers_field(reply)
            version = wire.int_field(reply, "version")
        except wire.WireError as error:  # the tracker clears the tweet after its timeout
            self._finish(f"ERROR: cannot tweet: malformed answer from the tracker: {error}")
            return
        count = f"{len(followers)} follower" + ("" if len(followers) == 1 else "s")
        names = ", ".join(plain(h) for h, _ in followers)
        self.say(f"OK: tweeting to {count}" + (f": {names}" if names else ""))
        self.version = max(self.version, version)
        self._set_up_ring(followers)
        self._after_all("setup", lambda: self._send_round(text))

    def _send_round(self, text: str) -> None:
        """Send the tweet to the first follower (or, with no followers, it is back at once)."""
        assert self.me is not None
        self.round += 1
        self.round_open, self.round_text = True, text
        if not self.ring:
            self._round_returned()
            return
        message = {"op": "tweet", "tweeter": self.me.handle, "from": self.me.handle,
                   "round": self.round, "text": text}
        self.round_sent_at = time.monotonic()
        self._request(self.me.ring_out, self.ring[0][1], message, lambda reply: None,
                      lambda: self.trace(f"{plain(self.ring[0][0])} did not take my tweet"),
                      RING_TIMEOUT, RING_TRIES)
        self.timers.add(RETURN_TIMEOUT, lambda number=self.round: self._round_lost(number))

    def _round_returned(self) -> None:
        self.round_open = False
        if self.ring:
            self.trace(f"ring round trip {1000 * (time.monotonic() - self.round_sent_at):.3f} ms "
                       f"through {len(self.ring)} followers")
        self.say(f'Your tweet came back around the ring: "{self.round_text}"')
        self._end_tweet()  # sent automatically: the user never has to choose 6 for it

    def _round_lost(self, number: int) -> None:
        if self.round_open and number == self.round:
            self.round_open = False
            self.trace(f"my tweet did not come back within {RETURN_TIMEOUT:g} s: ending it")
            self._end_tweet()

    def _exit(self) -> None:
        if self.me is None:
            self.exit_status = 0
            self.say("OK: goodbye (you never registered)")
            return
        self._ask({"op": "exit", "handle": self.me.handle}, self._exit_answered)

    def _exit_answered(self, reply: dict[str, Any] | None) -> None:
        """The tracker took me out of other rings: tear mine down, then confirm."""
        assert self.me is not None
        if reply is None or reply.get("ok") is not True:
            self._finish(f"ERROR: cannot exit: {failure_reason(reply)}")
            return
        for handle in list(self.holders):
            self._send_teardown(handle)
        me = self.me.handle
        self._after_all("teardown", lambda: self._ask({"op": "exit_complete", "handle": me},
                                                      self._exit_completed))

    def _exit_completed(self, reply: dict[str, Any] | None) -> None:
        assert self.me is not None
        if reply is None or reply.get("ok") is not True:
            self._finish(f"ERROR: cannot exit: {failure_reason(reply)}")
            return
        self.exit_status = 0
        self.say(f"OK: goodbye, {plain(self.me.handle)} has left Tweeter")

    # --- my ring, as the tweeter ------------------------------------------------------------------

    def _set_up_ring(self, followers: list[Peer]) -> None:
        """Make every follower hold its neighbours in the ring me, f1..fn; tear down the rest.

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
            self.trace(f"{plain(handle)} did not acknowledge {op}")
            on_give_up()
            self._ring_update_done(op)
        self._request(self.me.ring_out, address, message, lambda reply: self._ring_update_done(op),
                      given_up, RING_TIMEOUT, RING_TRIES)

    def _ring_update_done(self, op: str) -> None:
        self.in_flight[op] -= 1
        if self.in_flight[op] == 0:
            waiting, self.when_settled[op] = self.when_settled[op], []
            for callback in waiting:
                callback()

    def _after_all(self, op: str, callback: Callable[[], None]) -> None:
        """Run `callback` once every setup (before a tweet) or teardown (before exit_complete) sent
        has been acknowledged or given up."""
        if self.in_flight[op] == 0:
            callback()
        else:
            self.when_settled[op].append(callback)

    # --- datagrams --------------------------------------------------------------------------------

    def _request(self, sock: socket.socket, address: wire.Address, message: dict[str, Any],
                 on_reply: Callable[[dict[str, Any]], None], on_give_up: Callable[[], None],
                 timeout: float | None = None, tries: int | None = None) -> None:
        pending = self.outbox.add(message, address, sock, on_reply, on_give_up, timeout=timeout, tries=tries)
        self._transmit(sock, pending.data, address)

    def _transmit(self, sock: socket.socket, data: bytes, address: wire.Address) -> None:
        self.trace(f"send {address[0]}:{address[1]} {data[:TRACE_CHARS].decode(errors='replace')}")
        try:
            sock.sendto(data, address)
        except OSError as error:  # the retry timer tries again
            self.trace(f"send failed: {error}")

    def _on_datagram(self, sock: socket.socket) -> None:
        try:
            data, address = sock.recvfrom(wire.MAX_DATAGRAM + 1)
        except OSError:  # closed meanwhile, or a late ICMP error: nothing to read
            return
        self.trace(f"recv {address[0]}:{address[1]} {data[:TRACE_CHARS].decode(errors='replace')}")
        try:
            message = wire.decode(data)
        except wire.WireError as error:
            self.trace(f"dropped: {error}")
            return
        if message.get("op") == "reply":
            if not self.outbox.answer(message):
                self.trace("late or duplicate reply ignored")
        elif self.me is not None and sock is self.me.ring_in and wire.is_id(message.get("id")):
            self._on_ring_request(message, address)
        else:
            self.trace("dropped: not a request this socket takes")

    def _on_ring_request(self, message: dict[str, Any], address: wire.Address) -> None:
        """Apply a setup, teardown, tweet or ring_changed once, and acknowledge every copy of it."""
        assert self.me is not None
        key = (address, message["id"])
        answer = self.seen.get(key)
        if answer is None:
            handler = {"setup": self._on_setup, "teardown": self._on_teardown, "tweet": self._on_tweet,
                       "ring_changed": self._on_ring_changed}.get(message.get("op"))  # type: ignore[arg-type]
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
        tweeter = wire.handle_field(message, "tweeter")
        left, right = wire.handle_field(message, "left"), wire.handle_field(message, "right")
        right_address = wire.address_field(message.get("right_address"))
        if self._is_stale(tweeter, message["id"]):
            return
        self.rings[tweeter] = RingState(left, right, right_address)
        self.say(f"(ring of {plain(tweeter)}: you sit between {plain(left)} and {plain(right)})")

    def _on_teardown(self, message: dict[str, Any]) -> None:
        tweeter = wire.handle_field(message, "tweeter")
        if not self._is_stale(tweeter, message["id"]) and self.rings.pop(tweeter, None):
            self.say(f"(ring of {plain(tweeter)}: closed)")

    def _is_stale(self, tweeter: str, message_id: int) -> bool:
        """A retried setup or teardown overtaken by a newer one from the same tweeter is ignored."""
        if message_id < self.last_ring_id.get(tweeter, -1):
            self.trace(f"older ring message of {plain(tweeter)} ignored")
            return True
        self.last_ring_id[tweeter] = message_id
        return False

    def _on_tweet(self, message: dict[str, Any]) -> None:
        """Print and pass on a tweet (print first: the line is out before the next hop has it)."""
        assert self.me is not None
        tweeter, forwarder = wire.handle_field(message, "tweeter"), wire.handle_field(message, "from")
        text, number = wire.text_field(message), wire.int_field(message, "round")
        if tweeter == self.me.handle:
            if self.round_open and number == self.round:
                self._round_returned()
            return
        state = self.rings.get(tweeter)
        if state is None:
            raise wire.WireError(f"no ring of {tweeter} here")
        self.say(f'[tweet] {plain(tweeter)} said "{text}" (passed on by {plain(forwarder)})')
        onward = {"op": "tweet", "tweeter": tweeter, "from": self.me.handle, "round": number, "text": text}
        self._request(self.me.ring_out, state.right_address, onward, lambda reply: None,
                      lambda: self.trace(f"{plain(state.right)} did not take the tweet of {plain(tweeter)}"),
                      RING_TIMEOUT, RING_TRIES)

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
    """The reason to print after an ERROR, on one line, handles without `@`."""
    if reply is None:
        return "no answer from the tracker"
    return plain_text(" ".join(str(reply.get("reason") or "the tracker gave no reason").split())[:200])


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or not wire.is_ipv4(args[0]) or not PORT_RE.fullmatch(args[1]) \
            or not wire.is_port(int(args[1])):
        print("usage: python3 client.py TRACKER_IP TRACKER_PORT", file=sys.stderr, flush=True)
        return 2
    try:
        return Client((args[0], int(args[1]))).run()
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
