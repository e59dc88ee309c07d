"""Programs started through the launcher process (run/launcher.py) are the harness's own children,
confined exactly as when the harness forks them, and the launcher never outlives its session or the
harness."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from harness.run import launcher
from harness.run.processes import ProcessSet
from harness.run.sandbox import Limits, Sandbox
from harness.run.trace import Trace
from tests.conftest import wait_until

pytestmark = pytest.mark.skipif(launcher.unavailable() is not None, reason=str(launcher.unavailable()))

LIMITS = Limits(open_files=97, cpu_seconds=33)
REPORT = textwrap.dedent("""\
    import os, resource
    print("uid", os.getuid(), "parent", os.getppid(), flush=True)
    print("limits", resource.getrlimit(resource.RLIMIT_NOFILE)[0], resource.getrlimit(resource.RLIMIT_CPU)[0], flush=True)
    print("fds", sorted(int(fd) for fd in os.listdir("/proc/self/fd")), flush=True)
    raise SystemExit(3)
    """)


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        return int(next(line for line in status if line.startswith("PPid:")).split()[1])


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def reachable(tmp_path):
    """A folder the sandbox's own user can reach (pytest's are its owner's alone)."""
    with tempfile.TemporaryDirectory(prefix="launcher-test-") as folder:
        yield Path(folder)


def run_report(tmp_path, through_launcher: bool) -> tuple[list[str], int | None, int]:
    """The report program started once, through the launcher or by fork: what it printed, its exit
    status, and the uid its sandbox gave it."""
    work = tmp_path / ("launched" if through_launcher else "forked")
    work.mkdir()
    (work / "report.py").write_text(REPORT)
    with launcher.session() if through_launcher else contextlib.nullcontext():
        assert not through_launcher or wait_until(lambda: launcher.current() is not None, 10)
        assert (launcher.current() is not None) == through_launcher
        sandbox = Sandbox(LIMITS, work, drop_privileges=True, isolate_files=False)
        procs = ProcessSet(Trace(), work, sandbox)
        try:
            child = procs.launch("prog", "python3 report.py")
            assert procs.trace.wait_for(lambda: True if child.exited else None, 20, poll=0.02)
            lines = [event.text for event in procs.trace.lines("prog")]
            return lines, child.exit_status, sandbox.uid if sandbox.uid is not None else os.getuid()
        finally:
            procs.kill_all()
            sandbox.close()


def test_a_launched_program_is_the_harness_child_confined_as_when_forked(reachable):
    launched, status, uid = run_report(reachable, through_launcher=True)
    forked, forked_status, forked_uid = run_report(reachable, through_launcher=False)
    assert launched[0] == f"uid {uid} parent {os.getpid()}"  # waited for and reaped by the harness itself
    assert forked[0] == f"uid {forked_uid} parent {os.getpid()}"
    assert launched[1] == forked[1] == "limits 97 33"
    assert launched[2] == forked[2] == "fds [0, 1, 2, 3]"  # its terminal three times, and the listing itself
    assert status == forked_status == 3


def test_a_program_that_cannot_start_is_refused_as_when_forked(tmp_path):
    """A script whose interpreter does not exist: exec fails in the child; the harness hears why,
    in the same words either way, and the launcher's child is reaped (pexpect leaves a failed child
    of its own fork unreaped)."""
    messages = []
    before = set(unreaped_children())
    for through_launcher in (True, False):
        work = tmp_path / f"work{len(messages)}"
        work.mkdir()
        script = work / "prog"
        script.write_text("#!/no/such/interpreter\n")
        script.chmod(0o755)
        with launcher.session() if through_launcher else contextlib.nullcontext():
            assert not through_launcher or wait_until(lambda: launcher.current() is not None, 10)
            sandbox = Sandbox(Limits(), work, drop_privileges=False, isolate_files=False)
            procs = ProcessSet(Trace(), work, sandbox)
            try:
                with pytest.raises(OSError) as refused:
                    procs.launch("prog", "./prog")
                messages.append((type(refused.value), str(refused.value).replace(str(work), "WORK")))
            finally:
                procs.kill_all()
                sandbox.close()
            if len(messages) == 1:
                assert set(unreaped_children()) <= before  # the launcher's child that failed is reaped
    assert messages[0] == messages[1]
    assert "No such file or directory" in messages[0][1]


def unreaped_children() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and alive(int(entry)) is False and os.path.exists(f"/proc/{entry}"):
            try:
                if parent_of(int(entry)) == os.getpid():
                    found.append(int(entry))
            except (OSError, StopIteration):
                continue
    return found


def test_a_held_program_gets_its_gate_through_the_launcher(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "prog.py").write_text("print('started', flush=True)\ninput()\n")
    with launcher.session():
        assert wait_until(lambda: launcher.current() is not None, 10)
        sandbox = Sandbox(Limits(), work, drop_privileges=False)
        if not sandbox.can_hold:
            sandbox.close()
            pytest.skip("programs are held by bubblewrap, which cannot run here")
        procs = ProcessSet(Trace(), work, sandbox)
        try:
            child = procs.launch("prog", f"{sys.executable} prog.py", held=True)
            assert "--block-fd 3" in " ".join(child.spawn.args if isinstance(child.spawn.args[0], str)
                                               else [a.decode() for a in child.spawn.args])
            assert sandbox.program_pid(child.pid) is None  # only bubblewrap, waiting at the gate
            procs.let_start("prog")
            assert procs.trace.wait_for(lambda: True if [e for e in procs.trace.lines("prog")] else None, 20)
            assert [e.text for e in procs.trace.lines("prog")] == ["started"]
        finally:
            procs.kill_all()
            sandbox.close()


def test_a_launcher_that_died_leaves_programs_to_fork_and_ends_with_its_session(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    with launcher.session():
        assert wait_until(lambda: launcher.current() is not None, 10)
        running = launcher.current()
        assert running is not None and alive(running.process.pid)
        assert parent_of(running.process.pid) == os.getpid()
        os.kill(running.process.pid, signal.SIGKILL)
        sandbox = Sandbox(Limits(), work, drop_privileges=False, isolate_files=False)
        procs = ProcessSet(Trace(), work, sandbox)
        try:
            child = procs.launch("prog", "/bin/echo still started")
            assert procs.trace.wait_for(lambda: True if child.exited else None, 20, poll=0.02)
            assert [e.text for e in procs.trace.lines("prog")] == ["still started"]
            assert launcher.current() is None  # broken: every later program is forked
        finally:
            procs.kill_all()
            sandbox.close()
    assert launcher.current() is None
    assert not any(thread.name == "tweeter-launcher" for thread in threading.enumerate())


def test_the_launcher_ends_with_its_session_and_with_a_killed_harness(tmp_path):
    with launcher.session():
        assert wait_until(lambda: launcher.current() is not None, 10)
        first = launcher.current().process.pid
    assert not alive(first)
    harness = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""\
        import threading, time
        from harness.run import launcher
        with launcher.session():
            deadline = time.monotonic() + 10
            while launcher.current() is None and time.monotonic() < deadline:
                threading.Event().wait(0.01)
            print(launcher.current().process.pid if launcher.current() else 0, flush=True)
            threading.Event().wait()
        """)], stdout=subprocess.PIPE, text=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    try:
        second = int(harness.stdout.readline())
        assert second and alive(second)
    finally:
        harness.kill()
        harness.wait()
    assert wait_until(lambda: not alive(second), 10)
