"""Virtual LANs built before a scenario needs them and removed after it, off its critical path.

Building a LAN (a few `ip -batch` runs: namespaces, veth pairs, a bridge, addresses) and removing it
take tens of milliseconds each, which a scenario would otherwise wait for at its start and its end.
Inside a `session` (a grading run), a scenario takes a LAN of its shape (lan.LanShape: the number of
hosts, their addresses, bridge or switch) that was built while the scenarios before it ran, and one
more of that shape is built at once for the next; a LAN given back is removed by the same background
threads. A session starts by building one LAN of each shape its scenarios will ask for, in their
order: scenarios of one suite come in few shapes (two to seven hosts), so all but the very first
find theirs ready.

Outside a session (a test building one scenario, the pytest plugin) a LAN is built when it is taken
and removed when it is given back, as before: no thread, nothing left behind. A session ends by
removing every spare and waiting until every LAN given back is gone, also when grading is stopped
or fails, so no namespace outlives the grading run that made it.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

from harness.net.lan import LanShape, VirtualLan
from harness.shared import Shared


class LanPool:
    """Spare LANs by shape, and LANs being removed: two background threads do both (the first two
    scenarios of a run start together)."""

    def __init__(self) -> None:
        self._worker = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tweeter-lan")
        self._spares: dict[LanShape, list[Future[VirtualLan]]] = {}
        self._removing: list[Future[None]] = []
        self._lock = threading.Lock()
        self._closed = False

    def expect(self, shapes: list[LanShape]) -> None:
        """Start building a LAN of each of these shapes that has none ready or on its way, in order
        (the first scenarios' first)."""
        with self._lock:
            for shape in dict.fromkeys(shapes):
                waiting = self._spares.setdefault(shape, [])
                if not waiting and not self._closed:
                    waiting.append(self._worker.submit(VirtualLan, shape))

    def take(self, shape: LanShape, names: list[str], folder: Path) -> VirtualLan:
        """A LAN of `shape` with its hosts named after `names` (a spare if one is ready or on its way,
        else built now), and another of that shape started for the next scenario."""
        with self._lock:
            waiting = self._spares.setdefault(shape, [])
            spare = waiting.pop(0) if waiting else None
            if not self._closed:
                waiting.append(self._worker.submit(VirtualLan, shape))
        lan = None
        if spare is not None:
            with contextlib.suppress(Exception):  # a spare that failed to build: build it here, and say why
                lan = spare.result()
        return (lan or VirtualLan(shape)).named(names, folder)

    def give_back(self, lan: VirtualLan) -> None:
        """Remove `lan` in the background (at once once the pool is closed)."""
        with self._lock:
            if not self._closed:
                self._removing.append(self._worker.submit(lan.close))
                return
        lan.close()

    def close(self) -> None:
        """Remove every spare and wait until every LAN given back is gone."""
        with self._lock:
            self._closed = True
            spares = [future for waiting in self._spares.values() for future in waiting]
            self._spares.clear()
        for future in spares:
            future.add_done_callback(_close_built)
        self._worker.shutdown(wait=True)  # the spares' builds, their removals, and every LAN given back


def _close_built(future: Future[VirtualLan]) -> None:
    """Remove a spare LAN that nobody took (a build that failed left nothing behind)."""
    if not future.cancelled() and future.exception() is None:
        future.result().close()


_pool: Shared[LanPool] = Shared(LanPool)


@contextlib.contextmanager
def session(expect: list[LanShape] | None = None) -> Iterator[None]:
    """LANs are built ahead and removed behind while this lasts, starting with one of each shape of
    `expect` (nested or parallel sessions share one pool, closed when the last ends)."""
    with _pool.use(lambda pool: pool.expect(expect or [])):
        yield


def current() -> LanPool | None:
    """The pool of the sessions in progress (None outside any)."""
    return _pool.current


def take(shape: LanShape, names: list[str], folder: Path) -> VirtualLan:
    """A LAN for one scenario: from the session's pool, else built now."""
    pool = _pool.current
    return pool.take(shape, names, folder) if pool is not None else VirtualLan(shape).named(names, folder)


def give_back(lan: VirtualLan) -> None:
    """A scenario's LAN it is done with: removed behind it in a session, else now."""
    pool = _pool.current
    if pool is not None:
        pool.give_back(lan)
    else:
        lan.close()
