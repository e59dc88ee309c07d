"""The build step: a submission's `build:` command, run once before any of its scenarios.

It runs like the submission's programs do: in a working copy, under the sandbox (a uid of its own
as root, resource limits, every process killed at the end), with no network at all (a network
namespace of its own where it can have one), through a shell so that `javac *.java` works, with its
own time limit. Its output is kept as a transcript. The built copy is then handed back to the
harness (owned by root again, so no scenario's uid can change it) and every scenario copies it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pexpect

from harness.run.confine import own_empty_network
from harness.run.processes import ProcessSet
from harness.run.records import Transcript
from harness.run.sandbox import Limits, Sandbox, chown_tree
from harness.run.trace import Trace

NAME = "build"
BUILD_MEMORY_MB = 8192  # compilers, and JVMs above all, reserve far more address space than they use
COPY_IGNORE = shutil.ignore_patterns(".git", "__pycache__", "*.pyc", "grading-results")


@dataclass
class BuildResult:
    """How the build went, what it printed, and where the built copy is."""

    command: str
    ok: bool
    status: str  # "exited with status 0", "stopped after 300 s (the build's time limit)", ...
    duration_s: float
    transcript: Transcript = field(default_factory=Transcript)
    folder: Path | None = None  # the built copy, which every scenario copies
    workdir: Path | None = None  # removed by `remove()` once grading is done

    def tail(self, lines: int = 20) -> str:
        printed = [e.text for e in self.transcript.snapshot() if e.kind in ("out", "note")]
        return "\n".join(printed[-lines:])

    def remove(self) -> None:
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def to_json(self) -> dict:
        return {"command": self.command, "ok": self.ok, "status": self.status,
                "duration_s": round(self.duration_s, 3)}


def build_submission(submission: Path, command: str, timeout: float, limits: Limits, drop_privileges: bool,
                     abort: threading.Event) -> BuildResult:
    """Run `command` in a working copy of `submission`; never raises for what the build does."""
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix=f"tweeter-build-{os.getpid()}-"))
    copy = workdir / "submission"
    trace = Trace()
    shutil.copytree(submission, copy, symlinks=True, ignore=COPY_IGNORE)
    build_limits = limits.merged({"cpu_seconds": max(limits.cpu_seconds, int(timeout) + 1),
                                  "memory_mb": max(limits.memory_mb, BUILD_MEMORY_MB)})
    sandbox = Sandbox(build_limits, copy, drop_privileges, "none: the build runs without network", programs=1)
    procs = ProcessSet(trace, copy, sandbox, stop=abort)
    status, ok = "", False
    try:
        child = procs.launch(NAME, shlex.join(["/bin/sh", "-c", command]), own_empty_network)
        finished = trace.wait_for(lambda: True if child.exited or abort.is_set() else None, timeout, poll=0.25)
        if abort.is_set():
            status = "stopped: grading was interrupted"
        elif not finished:
            status = f"stopped after {timeout:g} s (the build's time limit)"
        else:
            status = trace.exit_text(NAME)
            ok = child.exit_status == 0
    except (pexpect.ExceptionPexpect, OSError, ValueError) as exc:
        status = f"could not start: {exc}"
    finally:
        procs.kill_all()
        sandbox.close()
        if os.geteuid() == 0:
            chown_tree(copy, 0)
    result = BuildResult(command, ok, status, time.monotonic() - started, trace.frozen(),
                         copy if ok else None, workdir)
    if not ok:
        result.remove()
        result.workdir = None
    return result
