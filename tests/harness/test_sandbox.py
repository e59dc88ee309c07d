"""The sandbox as root: programs are found as the sandbox user would find them."""

from __future__ import annotations

import os
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="a separate user per scenario needs root")


def test_python_linking_into_a_private_home_is_passed_over(grade, tmp_path, monkeypatch):
    """A virtual environment's bin is reachable, but its python3 links into root's (0700) home."""
    private = tmp_path / "home"
    private.mkdir(mode=0o700)
    (private / "python3").symlink_to(sys.executable)
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python3").symlink_to(private / "python3")
    tmp_path.chmod(0o755)
    monkeypatch.setenv("PATH", f"{venv_bin}{os.pathsep}{os.environ['PATH']}")
    graded = grade(ROOT / "reference", specs=["register_new"])
    assert graded.status == 0, graded.scenario("reference", "register_new")["message"]
    tracker_log = (graded.out / "reference" / "transcripts" / "register_new" / "tracker.log").read_text()
    assert str(venv_bin) not in tracker_log.splitlines()[0]
