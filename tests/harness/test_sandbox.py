"""The sandbox as root: programs are found as the sandbox user would find them."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

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
