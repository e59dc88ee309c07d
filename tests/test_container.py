"""`check` as root of a container like Docker's default: a user, mount and network namespace of its
own, only Docker's default capabilities (no NET_ADMIN, no SYS_ADMIN, no SYS_PTRACE; NET_RAW kept),
and no user namespaces inside. No LAN can be built there, but loopback can be captured: the lying
star loses its ring points on the wire, named by its programs' ports, and the reference keeps 100.
The programs run as a uid of their own, whose descriptors root may read there only as that uid.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.submissions.variants import STAR_RING_LABELS, write

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                       reason="needs root to make a container's namespaces"),
]
LAUNCHER = Path(__file__).resolve().parent / "namespace_launcher.py"
SCENARIOS = ("tweet_ring_order", "tweet_one_follower")
RING_POINTS = 7  # tweet_ring_order's
PEER_TO_PEER = "forwarded peer to peer round the ring"


@dataclass
class Checked:
    done: subprocess.CompletedProcess
    report: dict
    folder: Path  # the submission's reports


def check_in_container(submission: Path, out: Path) -> Checked:
    """`tweeter-harness check` of the two ring scenarios, as root of a container."""
    command = [sys.executable, "-m", "harness", "check", str(submission), "--out", str(out),
               *(arg for scenario in SCENARIOS for arg in ("-k", scenario))]
    done = subprocess.run([sys.executable, str(LAUNCHER), "--no-user-namespaces", "--net", "--docker-capabilities",
                           "--", *command], capture_output=True, text=True, cwd=ROOT, timeout=600, check=False)
    report = out / submission.name / "report.json"
    return Checked(done, json.loads(report.read_text()) if report.is_file() else {}, report.parent)


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, Checked]:
    folder = tmp_path_factory.mktemp("container")
    star = write(STAR_RING_LABELS, folder / "submissions")
    reference = folder / "submissions" / "reference"
    shutil.copytree(ROOT / "reference", reference)
    return {"star": check_in_container(star, folder / "out"),
            "reference": check_in_container(reference, folder / "out")}


def scenario(report: dict, scenario_id: str) -> dict:
    return next(s for s in report["scenarios"] if s["id"] == scenario_id)


def test_a_container_without_net_admin_grades_on_a_loopback_capture(graded):
    for checked in graded.values():
        done, report = checked.done, checked.report
        assert report, done.stdout[-2000:] + done.stderr[-2000:]
        network = report["network"]
        assert network["mode"] == "loopback" and network["capture"] == "loopback", network
        assert network["evidence"] == "wire (loopback capture)"
        assert "virtual LANs need the capability NET_ADMIN, which this process does not have" in network["reason"]
        assert "Evidence: wire (loopback capture): " in done.stdout and "Warning" not in done.stdout



def test_in_a_container_the_programs_run_as_a_uid_of_their_own_without_bubblewrap(graded):
    """Docker's default capabilities allow switching users but not bubblewrap (no SYS_ADMIN, no user
    namespaces): the report names the protection that applied."""
    for checked in graded.values():
        records = list(checked.folder.glob("transcripts/*/record.json"))
        assert len(records) == len(SCENARIOS), checked.done.stderr[-2000:]
        for record in records:
            protections = json.loads(record.read_text())["protections"]
            assert protections["separate_user"] is True and protections["uid"] != 0
            assert protections["filesystem"].startswith("permissions only"), protections["filesystem"]


def test_the_lying_star_loses_its_ring_points_in_a_container_and_the_reference_keeps_100(graded):
    star, reference = graded["star"].report, graded["reference"].report
    ring = scenario(star, "tweet_ring_order")
    assert ring["status"] == "failed" and ring["score"] == 0, ring["summary"]
    peer = next(c for c in ring["checks"] if c["name"] == PEER_TO_PEER)
    assert peer["evidence"] == "wire" and "@carol got it from @alice's program, not from @bob's program" \
        in peer["message"], peer["message"]
    assert star["score"] == star["max_score"] - RING_POINTS
    assert reference["score"] == reference["max_score"], \
        [s["summary"] for s in reference["scenarios"] if s["status"] != "passed"]
