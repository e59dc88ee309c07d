"""A helper that every user at once shares: made when the first one begins, closed when the last one
ends (the LANs built ahead, net/lan_pool.py; the programs' launcher, run/launcher.py). Nested and
parallel users (grading runs in threads, a run inside a run) share one."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Generic, Protocol, TypeVar


class Closable(Protocol):
    def close(self) -> None: ...


T = TypeVar("T", bound=Closable)


class Shared(Generic[T]):
    """`current`: the helper while anyone uses it (None otherwise, or where `make` gave none)."""

    def __init__(self, make: Callable[[], T | None]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._users = 0
        self.current: T | None = None

    @contextlib.contextmanager
    def use(self, joined: Callable[[T], None] | None = None) -> Iterator[T | None]:
        """The shared helper, made if this is its first user; `joined` runs on it for each user."""
        with self._lock:
            if self._users == 0:
                self.current = self._make()
            self._users += 1
            if joined is not None and self.current is not None:
                joined(self.current)
        try:
            yield self.current
        finally:
            with self._lock:
                self._users -= 1
                ending, self.current = (self.current, None) if self._users == 0 else (None, self.current)
            if ending is not None:
                ending.close()
