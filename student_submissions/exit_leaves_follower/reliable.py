"""Making requests survive a lossy network: ids, retries with a capped doubling timeout, and de-duplication.

UDP may lose, duplicate or reorder datagrams. A sender therefore keeps every request in an `Outbox`
until its reply arrives and re-sends it on a timeout; a receiver keeps the replies it sent in a
`ReplyCache` so that a repeated request (its reply was lost) is answered again without being applied
twice. Neither class touches a socket: they say what to send, the event loop sends it, which keeps
them easy to test.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable

try:
    from . import wire
except ImportError:  # run as a script from inside reference/
    import wire


def first_id() -> int:
    """Ids start at the clock in microseconds, so a restarted program never reuses an id its former
    self used from the same address (the tracker caches replies by address and id), and ids from one
    sender grow over time (a receiver may ignore an older setup that arrives after a newer one)."""
    return time.time_ns() // 1000


@dataclass(slots=True)
class Pending:
    """One request waiting for its reply."""

    data: bytes
    address: wire.Address
    via: Any  # the socket to send from; opaque here
    on_reply: Callable[[dict[str, Any]], None]
    on_give_up: Callable[[], None]
    key: Hashable | None
    timeout: float
    max_timeout: float
    tries_left: int
    deadline: float = field(default=0.0)


class Outbox:
    """Requests sent and not yet answered.

    The wait before each re-send doubles from `first_timeout` up to `max_timeout` and then stays
    there: on a LAN that loses one datagram in five, many quick tries within a fixed patience get
    through far more often than a few ever slower ones (five doubling tries from 0.25 s fail one
    request in 170; sixteen tries in the same 7.75 s, one in twelve million).
    """

    def __init__(self, first_timeout: float, tries: int, max_timeout: float) -> None:
        self.first_timeout = first_timeout
        self.max_timeout = max_timeout
        self.tries = tries
        self._ids = itertools.count(first_id())
        self._pending: dict[int, Pending] = {}
        self._by_key: dict[Hashable, int] = {}
        self._deadlines: list[tuple[float, int]] = []  # a heap; entries of answered ids are skipped

    def add(self, message: dict[str, Any], address: wire.Address, via: Any,
            on_reply: Callable[[dict[str, Any]], None], on_give_up: Callable[[], None],
            key: Hashable | None = None, now: float | None = None,
            timeout: float | None = None, tries: int | None = None,
            max_timeout: float | None = None) -> Pending:
        """Give `message` a fresh id and remember it; the caller sends the returned Pending's data.

        A request added with the `key` of one still pending replaces it (e.g. a newer follower list
        for the same ring makes the older one pointless). `timeout` and `tries` override the defaults
        (and `max_timeout`) for requests that need more or less patience.
        """
        if key is not None and key in self._by_key:
            self._pending.pop(self._by_key.pop(key), None)
        request_id = next(self._ids)
        message["id"] = request_id
        now = time.monotonic() if now is None else now
        timeout = self.first_timeout if timeout is None else timeout
        tries = self.tries if tries is None else tries
        max_timeout = self.max_timeout if max_timeout is None else max_timeout
        pending = Pending(wire.encode(message), address, via, on_reply, on_give_up, key,
                          timeout, max_timeout, tries - 1, now + timeout)
        self._pending[request_id] = pending
        if key is not None:
            self._by_key[key] = request_id
        heapq.heappush(self._deadlines, (pending.deadline, request_id))
        return pending

    def answer(self, message: dict[str, Any]) -> bool:
        """Deliver a reply to its request; False when nothing waits for it (late or duplicate)."""
        pending = self._pending.pop(message.get("id"), None) if wire.is_id(message.get("id")) else None
        if pending is None:
            return False
        if pending.key is not None:
            self._by_key.pop(pending.key, None)
        pending.on_reply(message)
        return True

    def next_deadline(self) -> float | None:
        """When `due` next has work, so the event loop can sleep until then instead of polling."""
        while self._deadlines and self._deadlines[0][1] not in self._pending:
            heapq.heappop(self._deadlines)
        return self._deadlines[0][0] if self._deadlines else None

    def due(self, now: float) -> list[Pending]:
        """The requests to send again now; those out of tries are dropped and told so."""
        resend = []
        while self._deadlines and self._deadlines[0][0] <= now:
            deadline, request_id = heapq.heappop(self._deadlines)
            pending = self._pending.get(request_id)
            if pending is None or pending.deadline != deadline:
                continue
            if pending.tries_left == 0:
                del self._pending[request_id]
                if pending.key is not None:
                    self._by_key.pop(pending.key, None)
                pending.on_give_up()
                continue
            pending.tries_left -= 1
            pending.timeout = min(2 * pending.timeout, pending.max_timeout)
            pending.deadline = now + pending.timeout
            heapq.heappush(self._deadlines, (pending.deadline, request_id))
            resend.append(pending)
        return resend


class ReplyCache:
    """The last `size` replies by key, (sender address, request id): the de-duplication memory."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._replies: OrderedDict[Hashable, bytes] = OrderedDict()

    def get(self, key: Hashable) -> bytes | None:
        return self._replies.get(key)

    def put(self, key: Hashable, data: bytes) -> None:
        self._replies[key] = data
        if len(self._replies) > self.size:
            self._replies.popitem(last=False)


class Recent(ReplyCache):
    """The same memory for what has no reply to repeat (a tweet's round: every copy is passed on,
    but printed once): only whether a key was seen."""

    def add(self, key: Hashable) -> bool:
        """Remember `key`; False if it was already remembered."""
        if self.get(key) is not None:
            return False
        self.put(key, b"")
        return True
