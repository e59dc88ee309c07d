"""Whether a program is asleep (`harness.run.asleep`): what `register` waits for before it types a
user's ports, and what a tracker's start waits for when another process holds its port. A program
in the middle of printing a line is never asleep, whether the harness may read its system call (root,
or a user namespace of its own) or not (root of a Docker container: no CAP_SYS_PTRACE, the program
running as a uid of its own). Real processes, a real terminal; the second case drops the capability
from a process of its own with setpriv.
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness.run.asleep import SleepWatch
from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parents[1]
NOBODY = ("setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--")
UNTRACED = ("setpriv", "--bounding-set", "-sys_ptrace", "--inh-caps", "-sys_ptrace", "--")
PRINTS_IN_PIECES = "while True: print('outside: cannot read it:', 'FileNotFoundError', flush=True)"
LOOKS = 20_000
# what the harness sees of two programs as `SleepWatch` reads them: one printing without end, one
# waiting for its input
LOOKER = f"""
import json, sys, time
from harness.run.asleep import SleepWatch
printing, waiting = int(sys.argv[1]), int(sys.argv[2])
try:
    open(f"/proc/{{printing}}/syscall").read()
    readable = True
except PermissionError:
    readable = False
watch = SleepWatch()
while_printing = sum(watch.asleep(printing) for _ in range({LOOKS}))
deadline = time.monotonic() + 10
while not watch.asleep(waiting) and time.monotonic() < deadline:
    pass
print(json.dumps({{"readable": readable, "while_printing": while_printing, "waiting": watch.asleep(waiting)}}))
"""


def test_a_program_is_asleep_once_it_waits_for_its_input_and_not_while_busy():
    waiting = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.readline()"], stdin=subprocess.PIPE)
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    watch = SleepWatch()
    try:
        assert wait_until(lambda: watch.asleep(waiting.pid), 10)
        assert not any(watch.asleep(busy.pid) for _ in range(50))
    finally:
        for process in (waiting, busy):
            process.kill()
            process.wait()
    assert not watch.asleep(busy.pid)  # gone: unreadable


def test_a_program_blocked_writing_its_output_is_not_asleep():
    """Asleep in a write, a program is still printing (on a loaded machine, between the writes of one
    `print`): typing then would cut its line. Once its output is taken it goes on to wait for input."""
    writer = subprocess.Popen([sys.executable, "-c", "import os, sys; os.write(1, b'x' * 1_000_000); "
                               "sys.stdin.readline()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        call = Path(f"/proc/{writer.pid}/syscall")
        assert wait_until(lambda: call.read_bytes().startswith(b"1 "), 10)  # in write(): the pipe is full
        watch = SleepWatch()
        assert not any(watch.asleep(writer.pid) for _ in range(20))
        assert len(writer.stdout.read(1_000_000)) == 1_000_000
        assert wait_until(lambda: watch.asleep(writer.pid), 10)
    finally:
        writer.kill()
        writer.wait()


@contextmanager
def printing_in_pieces() -> Iterator[int]:
    """A program that prints one line in pieces, without end, to a real terminal whose output is taken
    as it comes (as the harness's reader does); run as nobody, as a sandboxed program runs. Its pid."""
    main, terminal = pty.openpty()
    printer = subprocess.Popen([*NOBODY, sys.executable, "-u", "-c", PRINTS_IN_PIECES], stdout=terminal,
                               stderr=terminal)
    os.close(terminal)
    reader = threading.Thread(target=_take_all, args=(main,), daemon=True)
    reader.start()
    try:
        yield printer.pid
    finally:
        printer.kill()
        printer.wait()
        reader.join(5)
        os.close(main)


def _take_all(fd: int) -> None:
    while True:
        try:
            if not os.read(fd, 65536):
                return
        except OSError:
            return


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
@pytest.mark.parametrize("traced", [True, False], ids=["system-call-read", "in-a-container-without-ptrace"])
def test_a_program_printing_a_line_in_pieces_is_never_asleep_between_them(traced):
    """Python without buffering prints `print(a, b)` in four writes to its terminal. A thread may wake
    between reading its state (asleep in a write) and its system call ("running"): seen so, a program in
    the middle of a line looked asleep, and `register` was typed into it and cut it in two. Where its
    system call cannot be read at all, a thread asleep in a write looked asleep too. Either way it is
    now never asleep, while a program waiting for its input is."""
    waiting = subprocess.Popen([*NOBODY, sys.executable, "-c", "import sys; sys.stdin.readline()"],
                               stdin=subprocess.PIPE)
    try:
        with printing_in_pieces() as printer:
            call = Path(f"/proc/{printer}/syscall")  # setpriv runs the program in its own place: its pid
            assert wait_until(lambda: call.read_bytes().split()[0] in (b"1", b"running"), 10)  # printing
            looked = subprocess.run([*(() if traced else UNTRACED), sys.executable, "-c", LOOKER, str(printer),
                                     str(waiting.pid)], capture_output=True, text=True, timeout=120, cwd=ROOT,
                                    check=True)
    finally:
        waiting.kill()
        waiting.wait()
    seen = json.loads(looked.stdout)
    assert seen["readable"] is traced
    assert seen["while_printing"] == 0, f"{seen['while_printing']} of {LOOKS} looks said asleep"
    assert seen["waiting"]
