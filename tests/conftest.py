"""Project-wide test guard: no test may leave a process the harness started."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.processes import MARKER_VAR


def harness_started_pids(harness_pid: int | None = None) -> list[int]:
    """Live processes carrying the run marker of the harness in process `harness_pid` (default: this
    one, where the tests run the harness in-process); other harness runs on the machine are ignored."""
    needle = f"{MARKER_VAR}={harness_pid or os.getpid()}-".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and any(item.startswith(needle) for item in environ.split(b"\0")):
            found.append(int(entry.name))
    return found


@pytest.fixture(autouse=True)
def no_leaked_harness_processes():
    yield
    leaked = harness_started_pids()
    assert not leaked, f"processes started by the harness are still running: {leaked}"
