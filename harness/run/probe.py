"""Can a program start at all under the limits a submission gets? Asked once per run, before grading.

A limit set too low for the interpreter itself (`--memory-mb 1`) kills every program at start-up,
the model answer as well, and would be reported as the student's crash ("Segmentation fault").
The probe starts the interpreter the submission's launch command names, doing nothing, in the same
sandbox (limits, user, file-system view) as the scenarios: if that fails, no submission program could
start, and the fault is the limits'. The submission's own code never runs here, so a program that
really crashes at start is still the student's failure.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from harness.run.sandbox import Limits, Sandbox

PROBE_TIMEOUT_S = 20.0  # a probe still running then has started: the limits let it
# Arguments that make an interpreter start and exit at once; any other program is probed with `true`,
# which needs what every dynamically linked program needs (its loader, libc, its limits).
DO_NOTHING = {"python": ["-c", "pass"], "java": ["-version"], "node": ["-e", ""]}
START_LIMITS = ("memory_mb", "processes", "open_files", "cpu_seconds", "file_size_mb")


def probe_command(launch: str) -> list[str]:
    """What to start for a launch command: its interpreter doing nothing, or `true` for a program
    of the submission (which must not run before its scenario does)."""
    words = shlex.split(launch)
    word = words[0] if words else "true"
    if "/" in word or "{" in word:
        return ["true"]
    for prefix, arguments in DO_NOTHING.items():
        if word.startswith(prefix):
            return [word, *arguments]
    return ["true"]


@functools.lru_cache(maxsize=64)
def start_failure(argv: tuple[str, ...], limits: Limits, separate_user: bool) -> str | None:
    """How `argv` failed to start under `limits` (its exit and its last line), or None if it started
    (or is not there to start: the scenario then reports the missing program itself)."""
    folder = Path(tempfile.mkdtemp(prefix=f"tweeter-probe-{os.getpid()}-"))
    workdir = folder / "work"
    workdir.mkdir()
    sandbox = Sandbox(limits, workdir, separate_user, programs=1)
    try:
        sandbox.adopt()
        search_path = sandbox.search_path(os.environ.get("PATH", "/usr/bin:/bin"))
        program = sandbox.executable(argv[0], search_path)
        if program is None:
            return None
        return _run(sandbox.command([program, *argv[1:]]), workdir, search_path, sandbox)
    finally:
        sandbox.close()
        shutil.rmtree(folder, ignore_errors=True)


def _run(command: list[str], workdir: Path, search_path: str, sandbox: Sandbox) -> str | None:
    env = {"PATH": search_path, "HOME": str(workdir), "TMPDIR": str(workdir), "LANG": "C.UTF-8"}
    try:
        done = subprocess.run(command, cwd=workdir, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=PROBE_TIMEOUT_S, preexec_fn=sandbox.preexec())
    except subprocess.TimeoutExpired:
        return None
    except OSError as exc:
        return exc.strerror or str(exc)
    if done.returncode == 0:
        return None
    how = f"killed by {_signal_name(-done.returncode)}" if done.returncode < 0 else f"exit status {done.returncode}"
    lines = (done.stderr or done.stdout).decode("utf-8", "replace").strip().splitlines()
    return f"{how}: {lines[-1]}" if lines else how


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:  # a real-time or unnamed signal
        return f"signal {number}"


def limits_to_blame(argv: tuple[str, ...], limits: Limits, separate_user: bool) -> list[str]:
    """Which of the limits below the defaults stop `argv` from starting: each one that, put back to
    its default alone, lets it start; all of them when no single one does."""
    defaults = Limits()
    lowered = [name for name in START_LIMITS if getattr(limits, name) < getattr(defaults, name)]
    alone = [name for name in lowered if start_failure(
        argv, dataclasses.replace(limits, **{name: getattr(defaults, name)}), separate_user) is None]
    return alone or lowered
