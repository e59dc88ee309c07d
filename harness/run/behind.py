"""What a scenario leaves to clean once its verdict's evidence is complete, cleaned behind it.

A scenario's programs are killed, its strays swept and its network closed before its record is
final: those decide what the record holds and which ports the next scenario may take. What is left
(its working copy, removed file by file; its sandbox's cgroup and uid, given back) changes nothing
any scenario sees, so inside a `session` (a grading run) a thread of the run does it while the next
scenario starts; the session ends once all of it is done, also when grading is stopped or fails.
Outside a session (a test running one scenario, the pytest plugin) it is done at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from harness.shared import Shared


class Behind:
    """One thread that runs what scenarios leave, in order; `close` waits for all of it."""

    def __init__(self) -> None:
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tweeter-behind")

    def submit(self, work: Callable[[], None]) -> None:
        self._worker.submit(work)

    def close(self) -> None:
        self._worker.shutdown(wait=True)


_behind: Shared[Behind] = Shared(Behind)


@contextlib.contextmanager
def session() -> Iterator[None]:
    """Cleaning is done behind the scenarios while this lasts (sessions nest and share one thread)."""
    with _behind.use():
        yield


def later(work: Callable[[], None]) -> None:
    """Run `work` behind the current scenario in a session, else now. It must not raise: nobody
    would hear it."""
    behind = _behind.current
    if behind is None:
        work()
    else:
        behind.submit(work)
