"""The sandbox as root: programs are found as the sandbox user would find them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from harness.run import filesystem, sandbox
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="a separate user per scenario needs root")


@pytest.fixture
def public_dir():
    """A folder everyone can enter (pytest's own tmp_path lies in a 0700 folder)."""
    folder = Path(tempfile.mkdtemp(prefix="tweeter-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def test_python_linking_into_a_private_home_is_passed_over(grade, public_dir, monkeypatch):
    """A virtual environment's bin is reachable, but its python3 links into a (0700) home."""
    private = public_dir / "home"
    private.mkdir(mode=0o700)
    (private / "python3").symlink_to(sys.executable)
    venv_bin = public_dir / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python3").symlink_to(private / "python3")
    monkeypatch.setenv("PATH", f"{venv_bin}{os.pathsep}{os.environ['PATH']}")
    graded = grade(ROOT / "reference", specs=["register_new"])
    assert graded.status == 0, graded.scenario("reference", "register_new")["message"]
    tracker_log = (graded.out / "reference" / "transcripts" / "register_new" / "tracker.log").read_text()
    assert str(venv_bin) not in tracker_log.splitlines()[0]


@pytest.mark.skipif(filesystem.bubblewrap_unavailable() is not None, reason="needs bubblewrap")
def test_an_interpreter_reached_through_links_under_tmp_runs_in_the_file_system_view(tmp_path):
    """A virtual environment under /tmp (a CI checkout): its `python` links on to an installation
    elsewhere. The program's view has an empty /tmp of its own, yet every folder on the way is there."""
    (tmp_path / "install").mkdir()
    (tmp_path / "install" / "python3").symlink_to(os.path.realpath(sys.executable))
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python3").symlink_to(tmp_path / "install" / "python3")
    (venv_bin / "python").symlink_to("python3")
    work = tmp_path / "work"
    work.mkdir()
    command = filesystem.wrap([str(venv_bin / "python"), "-c", "import os; print(sorted(os.listdir('/tmp')))"], work)
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"[{tmp_path.relative_to('/tmp').parts[0]!r}]"  # only the way to its own


def test_working_copies_are_private_to_their_scenario_and_kept_only_on_request(grade):
    """Each scenario's working copy belongs to that scenario's user alone (0700); it is removed when
    the scenario ends, unless `--keep-work` asks for it (then harness.log says where it is)."""
    kept = grade(ROOT / "reference", specs=["register_new", "query_none"], extra=("--keep-work",))
    folders = []
    for scenario in ("register_new", "query_none"):
        log = (kept.out / "reference" / "transcripts" / scenario / "harness.log").read_text()
        folders.append(Path(log.split("working copy kept at ")[1].split()[0]))
    try:
        copies = [folder / "submission" for folder in folders]
        owners = {copy.stat().st_uid for copy in copies}
        assert all(copy.stat().st_mode & 0o777 == 0o700 for copy in copies)
        assert len(owners) == 2 and 0 not in owners  # a user of its own per scenario, not root
        assert (copies[0] / "tracker.py").read_text() == (ROOT / "reference" / "tracker.py").read_text()
    finally:
        for folder in folders:
            shutil.rmtree(folder)
    removed = grade(ROOT / "reference", specs=["register_new"])
    log = (removed.out / "reference" / "transcripts" / "register_new" / "harness.log").read_text()
    assert "working copy kept" not in log  # and the autouse check finds no folder of this run left


@pytest.mark.skipif(os.geteuid() != 0 or not (sandbox.CGROUP_PIDS / "cgroup.procs").exists(),
                    reason="needs root and the pids cgroup")
def test_a_cgroup_left_by_a_killed_harness_run_is_emptied_and_removed_by_the_next():
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a harness process that no longer exists: its pid names the leftover cgroup
    stale = sandbox.CGROUP_PIDS / f"tweeter-{gone.pid}-leftover"
    ours = sandbox.CGROUP_PIDS / f"tweeter-{os.getpid()}-in-use"
    survivor = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        for cgroup in (stale, ours):
            cgroup.mkdir()
        (stale / "cgroup.procs").write_text(str(survivor.pid))
        sandbox.remove_stale_cgroups()
        assert survivor.wait(timeout=5) == -9  # what still ran there is killed
        assert not stale.exists() and ours.exists()  # a live run's cgroup is left alone
    finally:
        survivor.kill()
        survivor.wait()
        for cgroup in (stale, ours):
            if cgroup.exists():
                cgroup.rmdir()
