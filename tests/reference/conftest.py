"""Helpers for testing reference/ as real processes over real UDP on 127.0.0.1.

Every process runs in its own session, carries a marker in its environment, and is killed (whole
process group) when its test ends; a test fails if any marked process is still alive afterwards.
Nothing here sleeps for a fixed time: tests wait for printed lines, with a timeout.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import live_pids_with_environ

REFERENCE = Path(__file__).resolve().parents[2] / "reference"
MARKER = "TWEETER_REFERENCE_TEST"
WAIT = 10.0  # seconds a test waits for a line before failing
_handed_out: set[int] = set()


def free_ports(count: int) -> list[int]:
    """`count` UDP ports the OS just called free (bound together, so distinct, then released)."""
    while True:
        sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        ports = [sock.getsockname()[1] for sock in sockets]
        for sock in sockets:
            sock.close()
        if not _handed_out & set(ports):
            _handed_out.update(ports)
            return ports


class Proc:
    """A process whose output lines are collected by a reader thread, to be waited for by pattern."""

    def __init__(self, args: list[str], name: str) -> None:
        self.name = name
        self.popen = subprocess.Popen([sys.executable, *args], cwd=REFERENCE, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      start_new_session=True, env={**os.environ, MARKER: "1"})
        self.lines: list[str] = []
        self.cursor = 0
        self._arrived: queue.Queue[None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for raw in self.popen.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))
            self._arrived.put(None)
        self._arrived.put(None)

    def send(self, line: str) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(line.encode() + b"\n")
        self.popen.stdin.flush()

    def expect(self, pattern: str, timeout: float = WAIT) -> re.Match[str]:
        """The next line (after earlier expects) matching `pattern`; the cursor moves past it."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            while self.cursor < len(self.lines):
                line = self.lines[self.cursor]
                self.cursor += 1
                match = regex.search(line)
                if match:
                    return match
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.name}: no line matching {pattern!r}; output:\n"
                                     + "\n".join(self.console()[-30:]))
            try:
                self._arrived.get(timeout=remaining)
            except queue.Empty:
                pass

    def wait_for(self, pattern: str, timeout: float = WAIT) -> None:
        """Wait until any line printed so far or later matches `pattern` (the cursor stays)."""
        deadline = time.monotonic() + timeout
        while not self.matching(pattern):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: no line matching {pattern!r}; output:\n"
                                     + "\n".join(self.console()[-30:]))
            try:
                self._arrived.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pass

    def command(self, line: str, timeout: float = WAIT) -> str:
        """Type a command and return its result line (the next line with SUCCESS/FAILURE/error)."""
        self.send(line)
        return self.expect(r"^(\S+( handles)?: (SUCCESS|FAILURE)|error: )", timeout).string

    def console(self) -> list[str]:
        """Everything printed except trace lines."""
        return [line for line in self.lines if not line.startswith("[trace] ")]

    def matching(self, pattern: str) -> list[str]:
        regex = re.compile(pattern)
        return [line for line in self.lines if regex.search(line)]

    def wait_exit(self, timeout: float = WAIT) -> int:
        return self.popen.wait(timeout)

    def kill(self) -> None:
        """Kill the whole process group and reap the process."""
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait(WAIT)


def marked_pids() -> list[int]:
    """Live (non-zombie) processes carrying this module's marker."""
    return live_pids_with_environ(f"{MARKER}=1".encode())


class Network:
    """A tracker and users for one test."""

    def __init__(self) -> None:
        self.procs: list[Proc] = []
        self.tracker_port = 0

    def tracker(self, *options: str) -> Proc:
        proc = self._start(["tracker.py", "0", "--host", "127.0.0.1", *options], "tracker")
        self.tracker_port = int(proc.expect(r"^tracker: listening on 127\.0\.0\.1:(\d+)$").group(1))
        return proc

    def user(self, name: str = "user") -> Proc:
        proc = self._start(["user.py", "127.0.0.1", str(self.tracker_port)], name)
        proc.expect(r"^user: tracker at ")
        return proc

    def registered(self, handle: str) -> Proc:
        """A user process registered as `handle` on 127.0.0.1 with three free ports."""
        proc = self.user(handle)
        ports = " ".join(map(str, free_ports(3)))
        assert proc.command(f"register {handle} 127.0.0.1 {ports}") == f"register: SUCCESS {handle}"
        return proc

    def ports(self, count: int) -> list[int]:
        return free_ports(count)

    def follow_all(self, users: dict[str, Proc], owner: str, followers: list[str]) -> None:
        for follower in followers:
            assert users[follower].command(f"follow {follower} {owner}") == \
                f"follow: SUCCESS {follower} follows {owner}"

    def tweet_round(self, users: dict[str, Proc], tweeter: str, text: str, ring: list[str]) -> None:
        """`tweeter` tweets; each of `ring` (alphabetical) gets it once from the one before; it returns."""
        result = users[tweeter].command(f'tweet {tweeter} "{text}"')
        assert result == f"tweet: SUCCESS {len(ring)} followers" + "".join(f" {h}" for h in ring)
        self.check_round(users, tweeter, text, ring)

    def check_round(self, users: dict[str, Proc], tweeter: str, text: str, ring: list[str]) -> None:
        """The tweet came back, was ended, and reached exactly `ring`, in order, once each."""
        users[tweeter].expect(rf'^{tweeter} tweet returned: "{re.escape(text)}"$')
        assert users[tweeter].expect(r"^end-tweet: ").string == "end-tweet: SUCCESS"
        forwarders = [tweeter] + ring[:-1]
        for follower, forwarder in zip(ring, forwarders):
            line = f'{follower} received tweet from {tweeter} via {forwarder}: "{text}"'
            users[follower].wait_for(f"^{re.escape(line)}$")
        for handle, proc in users.items():
            copies = proc.matching(f'received tweet from {tweeter} via .*: "{re.escape(text)}"$')
            assert len(copies) == (1 if handle in ring else 0), (handle, copies)

    def _start(self, args: list[str], name: str) -> Proc:
        proc = Proc(args, name)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            proc.kill()


@pytest.fixture
def net() -> Iterator[Network]:
    """A Network whose processes are all gone when the test ends (checked, not assumed)."""
    network = Network()
    try:
        yield network
    finally:
        network.stop()
    alive = marked_pids()
    assert not alive, f"processes started by the test are still running: {alive}"
