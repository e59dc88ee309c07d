"""Project-wide fixtures: grading in-process, and the guard that no test leaves a process behind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from harness.cli import main
from harness.run.processes import MARKER_VAR


def live_pids_with_environ(prefix: bytes) -> list[int]:
    """Live (non-zombie) processes with an environment entry starting with `prefix`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and any(item.startswith(prefix) for item in environ.split(b"\0")):
            found.append(int(entry.name))
    return found


def harness_started_pids(harness_pid: int | None = None) -> list[int]:
    """Live processes carrying the run marker of the harness in process `harness_pid` (default: this
    one, where the tests run the harness in-process); other harness runs on the machine are ignored."""
    return live_pids_with_environ(f"{MARKER_VAR}={harness_pid or os.getpid()}-".encode())


def wait_until(condition, timeout: float, interval: float = 0.02) -> bool:
    """Wait for a condition outside any trace (another process's state) with a deadline; True once
    it holds. The interval only bounds how late the change is noticed."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)  # a polling interval, not a wait for time to pass
    return True


@pytest.fixture(autouse=True)
def no_leaked_harness_processes():
    yield
    leaked = harness_started_pids()
    assert not leaked, f"processes started by the harness are still running: {leaked}"
    namespaces = our_namespaces()
    assert not namespaces, f"network namespaces of the harness are left behind: {namespaces}"
    folders = our_temporary_folders()
    assert not folders, f"temporary folders of the harness are left behind: {folders}"


def our_temporary_folders() -> list[str]:
    """Working copies, build folders and unpacked archives the harness in this process made (their
    names carry its pid) and did not remove."""
    return sorted(p.name for p in Path(tempfile.gettempdir()).glob(f"tweeter-*-{os.getpid()}-*"))


def our_namespaces() -> list[str]:
    """Namespaces the harness in this process made (its virtual LANs) and did not remove."""
    folder = Path("/run/netns")
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f"tweeter-{os.getpid()}-")) \
        if folder.is_dir() else []


def network_state() -> tuple[list[str], list[str]]:
    """Every network namespace and every link of this machine's own namespace, by name."""
    if shutil.which("ip") is None:
        return [], []
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split("\n")
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout.split("\n")
    return (sorted(name for line in namespaces if line.strip() and not _another_harness(name := line.split()[0])),
            sorted(line.split(":")[1].strip().split("@")[0] for line in links if line.strip()))


def _another_harness(namespace: str) -> bool:
    """A namespace of a harness run in another live process (a second grading run on the machine)."""
    parts = namespace.split("-")
    return (len(parts) > 2 and parts[0] == "tweeter" and parts[1].isdigit() and int(parts[1]) != os.getpid()
            and Path(f"/proc/{parts[1]}").exists())


@pytest.fixture(autouse=True, scope="session")
def network_left_as_found():
    """The whole suite leaves `ip netns list` and `ip link` as it found them (LANs, timeouts,
    crashes and interrupts included)."""
    before = network_state()
    yield
    assert network_state() == before, "the test run left network namespaces or links behind"

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
SUBMISSIONS = Path(__file__).resolve().parent / "submissions"


class Graded:
    """The exit status, terminal output and report.json of one `tweeter-harness` run."""

    def __init__(self, status: int, output: str, out: Path) -> None:
        self.status = status
        self.output = output
        self.out = out

    def report(self, name: str) -> dict:
        return json.loads((self.out / name / "report.json").read_text())

    def scenario(self, name: str, scenario_id: str) -> dict:
        return next(s for s in self.report(name)["scenarios"] if s["id"] == scenario_id)


@pytest.fixture
def grade(tmp_path, capsys):
    def run(*paths: Path, specs: list[str] | None = None, command: str = "grade", extra: tuple = ()) -> Graded:
        out = tmp_path / "results"
        spec_args = [arg for spec in (specs or []) for arg in ("--specs", str(SPECS / f"{spec}.yaml"))]
        status = main([command, *map(str, paths), *spec_args, "--out", str(out), *extra])
        captured = capsys.readouterr()
        return Graded(status, captured.out + captured.err, out)

    return run


# the harness's process without the capabilities a LAN and a loopback capture need, as in a locked-down
# container: it grades on loopback with console evidence only
WITHOUT_CAPTURE = ("setpriv", "--bounding-set", "-net_raw,-net_admin", "--inh-caps", "-net_raw,-net_admin", "--")


@pytest.fixture
def grade_console_only(tmp_path):
    """`grade`, in a process of its own where nothing can be captured (needs root and setpriv)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to grade without CAP_NET_RAW")

    def run(*paths: Path, specs: list[str] | None = None, command: str = "grade", extra: tuple = ()) -> Graded:
        out = tmp_path / "results"
        spec_args = [arg for spec in (specs or []) for arg in ("--specs", str(SPECS / f"{spec}.yaml"))]
        done = subprocess.run([*WITHOUT_CAPTURE, sys.executable, "-m", "harness", command, *map(str, paths),
                               *spec_args, "--out", str(out), "--network", "loopback", *extra],
                              capture_output=True, text=True, cwd=ROOT, timeout=600, check=False)
        graded = Graded(done.returncode, done.stdout + done.stderr, out)
        assert graded.status != 2 and graded.report(paths[0].name)["network"]["evidence"] == "console only", \
            graded.output[-2000:]
        return graded

    return run
