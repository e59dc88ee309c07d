"""ProcessSet on real programs under a pty: prompts, hostile bytes, bounded output."""

from __future__ import annotations

import os
import pty
import sys
import tty

import pytest

from harness.run import filesystem
from harness.run.asleep import SleepWatch
from harness.run.processes import ProcessSet, terminal_has_output
from harness.run.sandbox import Limits, Sandbox
from harness.run.trace import Trace
from tests.conftest import wait_until


@pytest.fixture
def procs(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    sandbox = Sandbox(Limits(output_kb=64), work, drop_privileges=False)
    trace = Trace()
    started = ProcessSet(trace, work, sandbox)
    yield started
    started.kill_all()
    sandbox.close()


def launch_python(procs: ProcessSet, code: str) -> None:
    script = procs.workdir / "prog.py"
    script.write_text(code)
    procs.launch("prog", f"{sys.executable} prog.py")


def printed(procs: ProcessSet) -> list[str]:
    return [e.text for e in procs.trace.lines("prog")]


def test_typing_at_a_prompt_ends_its_line_like_an_echoing_terminal(procs):
    launch_python(procs, "answer = input('Choice: ')\nprint(f'OK {answer}')\n")
    child = procs.children["prog"]
    assert procs.trace.wait_for(lambda: True if child.partial == b"Choice: " else None, 10, poll=0.01)
    procs.send_line("prog", "5")
    assert procs.trace.wait_for(lambda: True if "OK 5" in printed(procs) else None, 10)
    assert printed(procs) == ["Choice: ", "OK 5"]


def test_what_a_program_printed_before_a_line_is_typed_comes_before_it_whole_however_late_the_reader(procs):
    """Python without buffering prints `print(a, b)` in pieces. When a program has printed its line
    and waits for input, but the reader thread has not taken it all yet (here it is kept from reading
    by holding the lock every read is made with), a line typed then used to end the program's line
    where the reader had got to ("outside: cannot read it:" and "FileNotFoundError" on two lines), or
    to come after it in the trace, as if it answered it. What is unread is taken first now."""
    launch_python(procs, "import sys\nsys.stdin.readline()\n"
                         "print('outside: cannot read it:', 'FileNotFoundError', flush=True)\n"
                         "open('printed', 'w').close()\nsys.stdin.readline()\nprint('typed')\n")
    child, watch = procs.children["prog"], SleepWatch()
    assert wait_until(lambda: watch.asleep(child.pid), 10)
    with procs._partial_lock:  # the reader thread is late
        os.write(child.spawn.child_fd, b"go\r")  # typed past the trace: only its effect matters
        assert wait_until(lambda: (procs.workdir / "printed").exists() and watch.asleep(child.pid), 10)
    typed = procs.send_line("prog", "next")
    assert procs.trace.wait_for(lambda: True if "typed" in printed(procs) else None, 10)
    assert printed(procs) == ["outside: cannot read it: FileNotFoundError", "typed"]
    assert procs.trace.lines("prog")[0].seq < typed


def test_a_prompt_without_newline_becomes_a_line_after_silence(procs):
    launch_python(procs, "import sys\nsys.stdout.write('Your handle: ')\nsys.stdout.flush()\ninput()\n")
    assert procs.trace.wait_for(lambda: True if printed(procs) == ["Your handle: "] else None, 10)


def test_undecodable_bytes_and_control_sequences_are_made_harmless(procs):
    launch_python(procs, "import sys\nsys.stdout.buffer.write(b'\\xff\\x1b[2Jhi\\x00\\n')\n")
    assert procs.trace.wait_for(lambda: True if printed(procs) else None, 10)
    assert printed(procs) == ["\ufffd\\x1b[2Jhi\\x00"]


def test_output_is_bounded_and_the_rest_counted(procs):
    launch_python(procs, "import sys\nfor _ in range(3000):\n    print('x' * 999)\n")
    assert procs.trace.wait_for(lambda: True if procs.children["prog"].exited else None, 20, poll=0.05)
    lines = printed(procs)
    notes = [e.text for e in procs.trace.lines("prog", ("note",))]
    assert 0 < len(lines) * 1000 <= 64 * 1024
    assert set(lines) == {"x" * 999}
    assert notes and "more bytes counted, not kept" in notes[0]
    per_line_on_the_pty = 1001  # 999 x, then the terminal's \r\n
    dropped = int(notes[0].split(": ")[1].split()[0])
    assert dropped == (3000 - len(lines)) * per_line_on_the_pty


def test_a_held_program_starts_only_once_let_in(procs):
    if not procs.sandbox.can_hold:
        pytest.skip("programs are held by bubblewrap, which cannot run here")
    (procs.workdir / "prog.py").write_text("print('started', flush=True)\ninput()\n")
    procs.launch("prog", f"{sys.executable} prog.py", held=True)

    def started() -> bool | None:
        return True if "started" in printed(procs) else None

    assert procs.trace.wait_for(started, 1.0) is None  # a second, and only bubblewrap runs
    assert filesystem.program_pid(procs.children["prog"].pid) is None
    procs.let_start("prog")
    assert procs.trace.wait_for(started, 10)
    assert filesystem.program_pid(procs.children["prog"].pid) is not None


def test_a_line_just_written_to_a_terminal_is_seen_as_unread_at_once():
    """A line a program has just written still waits in the terminal's buffer for a kernel worker;
    `unread` must see it there, or a scenario could end while a program's last line is on its way
    (FIONREAD alone misses it nearly every time right after the write)."""
    harness_end, program_end = pty.openpty()
    try:
        tty.setraw(program_end)
        for _ in range(200):
            os.write(program_end, b"@bob received tweet\n")
            assert terminal_has_output(harness_end)
            while terminal_has_output(harness_end):
                os.read(harness_end, 4096)
        os.close(program_end)
        program_end = -1
        assert terminal_has_output(harness_end)  # the program's end closed: an end still to note
    finally:
        for fd in (harness_end, program_end):
            if fd >= 0:
                os.close(fd)
