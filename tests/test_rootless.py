"""`check` as a student runs it: an ordinary user, no root. The harness becomes root of a user
namespace of its own and grades on the same virtual LAN as the instructor's, so a star whose
followers print the labels of a ring loses the ring points there too, a correct program keeps 100,
and bubblewrap still shows a program nothing outside its working copy.

The user is made by the test and removed after it. It runs the harness from this checkout with this
environment's packages: the folders they are in are bound into a private mount namespace at a place
every user may enter (a checkout under /root would be out of its reach otherwise).
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.net import rootless
from harness.run.sandbox import processes_of
from tests.conftest import ROOT, wait_until
from tests.submissions.variants import STAR_RING_LABELS, Variant, write

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0 or not all(shutil.which(tool) for tool in ("useradd", "runuser", "unshare")),
                       reason="needs root to make a user (useradd, runuser, unshare)"),
]
SCENARIOS = ("tweet_ring_order", "tweet_one_follower")
RING_POINTS = 7  # tweet_ring_order's
USER_MAIN = "    try:\n        return User((args[0], int(args[1]))).run()\n"


def reads_outside(secret: Path) -> Variant:
    """The reference, whose user tries at start to read a file of the same user outside its working copy."""
    return Variant(
        "reads_outside", "A user that reads a file outside its working copy",
        "At start, user.py reads a file that belongs to the user running the harness, outside the "
        "submission, and prints what it found.", "Nothing outside the working copy is visible.",
        (("user.py", USER_MAIN,
          f"    try:  # VARIANT: read a file outside the working copy\n"
          f"        print('outside:', open({str(secret)!r}).read().strip(), flush=True)\n"
          f"    except OSError as exc:\n"
          f"        print('outside: cannot read it:', type(exc).__name__, flush=True)\n" + USER_MAIN),))


@dataclass
class Student:
    """A user of its own, and the places where it runs the harness."""

    name: str
    home: Path  # the user's own folder: submissions, reports, its secret

    def check(self, submission: Path, user_namespaces: bool = True,
              network: str = "auto") -> tuple[subprocess.CompletedProcess, dict]:
        """`tweeter-harness check submission` as this user (the two ring scenarios), on a machine that
        allows user namespaces or not; and its report."""
        out = self.home / "out"
        command = [*self._python(), "-m", "harness", "check", str(submission), "--out", str(out),
                   "--network", network, *(arg for scenario in SCENARIOS for arg in ("-k", scenario))]
        done = subprocess.run(self._as_user(command, user_namespaces), capture_output=True, text=True,
                              timeout=600, check=False)
        report = out / submission.name / "report.json"
        return done, json.loads(report.read_text()) if report.is_file() else {}

    def _python(self) -> list[str]:
        return [str(BOUND / "python" / Path(sys.executable).resolve().relative_to(Path(sys.base_prefix).resolve()))]

    def _as_user(self, command: list[str], user_namespaces: bool) -> list[str]:
        """`command` run as the user, in a mount namespace where the checkout, the interpreter and its
        packages are bound under BOUND; without `user_namespaces`, in a user namespace where none
        can be made (tests/namespace_launcher.py), as on a system that disables them."""
        binds = {"repo": ROOT, "python": Path(sys.base_prefix).resolve(),
                 **{f"site{i}": Path(path) for i, path in enumerate(_package_folders())}}
        python_path = ":".join(str(BOUND / name) for name in binds if name != "python")
        run_as = ["runuser", "-u", self.name, "--", "env", "-i", f"HOME={self.home}", f"PATH={os.environ['PATH']}",
                  f"PYTHONPATH={python_path}", "LANG=C.UTF-8", *command]
        if not user_namespaces:
            return [sys.executable, str(LAUNCHER), "--no-user-namespaces",
                    *(arg for name, path in binds.items() for arg in ("--bind", str(path), str(BOUND / name))),
                    "--", *run_as]
        script = "".join(f'mkdir -p "{BOUND / name}" && mount --bind "{path}" "{BOUND / name}" && '
                         for name, path in binds.items())
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                script + 'exec "$@"', "sh", *run_as]


LAUNCHER = Path(__file__).resolve().parent / "namespace_launcher.py"
BOUND = Path("/tmp") / f"tweeter-rootless-{uuid.uuid4().hex[:8]}"  # mount points, in the private namespace only


def _package_folders() -> list[str]:
    return [path for path in site.getsitepackages() if Path(path).is_dir()]


@pytest.fixture(scope="module")
def student():
    """An ordinary user made for these tests, with a folder of its own; removed with all it ran."""
    name = f"tw{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                    name], check=True, capture_output=True)
    home = Path(tempfile.mkdtemp(prefix="tweeter-student-"))  # where any user may enter (pytest's are root's)
    home.chmod(0o755)
    uid = pwd.getpwnam(name).pw_uid
    BOUND.mkdir(mode=0o755)
    try:
        os.chown(home, uid, uid)
        yield Student(name, home)
    finally:
        for pid in processes_of(uid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        gone = wait_until(lambda: not live(processes_of(uid)), 10)
        subprocess.run(["userdel", name], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(BOUND, ignore_errors=True)
        assert gone, f"processes of the test's user are left: {live(processes_of(uid))}"


def live(pids: list[int]) -> list[int]:
    """The processes of `pids` that still run (an ended one waiting to be collected is not)."""
    found = []
    for pid in pids:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                found.append(pid)
        except (OSError, IndexError):
            continue
    return found


def owned_copy(student: Student, folder: Path) -> Path:
    """`folder` copied into the student's own folder, as theirs."""
    copy = student.home / folder.name
    shutil.copytree(folder, copy)
    uid = pwd.getpwnam(student.name).pw_uid
    for path in [copy, *copy.rglob("*")]:
        os.chown(path, uid, uid, follow_symlinks=False)
    return copy


@pytest.fixture(scope="module")
def graded(student, tmp_path_factory):
    """The lying star and the reference, each checked once as the student."""
    built = tmp_path_factory.mktemp("built")
    star = owned_copy(student, write(STAR_RING_LABELS, built))
    reference = owned_copy(student, ROOT / "reference")
    return {"star": student.check(star), "reference": student.check(reference)}


def scenario(report: dict, scenario_id: str) -> dict:
    return next(s for s in report["scenarios"] if s["id"] == scenario_id)


@pytest.mark.skipif(rootless.unavailable() is not None, reason=f"no user namespaces here: {rootless.unavailable()}")
def test_a_student_without_root_grades_on_a_lan_of_its_own(graded):
    for done, report in graded.values():
        assert report, done.stderr[-2000:]
        assert report["network"]["mode"] == "hosts" and report["network"]["rootless"] is True
        assert "without root" in report["network"]["reason"]
        assert report["network"]["evidence"] == "wire (LAN)"
        assert "Network: hosts (rootless)" in done.stdout and "Evidence: wire (LAN): every packet" in done.stdout
        assert "Warning" not in done.stdout


@pytest.mark.skipif(rootless.unavailable() is not None, reason=f"no user namespaces here: {rootless.unavailable()}")
def test_the_lying_star_loses_its_ring_points_and_the_reference_keeps_100(graded):
    _, star = graded["star"]
    _, reference = graded["reference"]
    ring = scenario(star, "tweet_ring_order")
    assert ring["status"] == "failed" and ring["score"] == 0, ring["summary"]
    peer = next(c for c in ring["checks"] if c["name"] == "forwarded peer to peer round the ring")
    assert peer["evidence"] == "wire" and "got it from @alice's host" in peer["message"]
    assert star["score"] == star["max_score"] - RING_POINTS
    assert reference["score"] == reference["max_score"], \
        [s["summary"] for s in reference["scenarios"] if s["status"] != "passed"]


@pytest.mark.skipif(rootless.unavailable() is not None, reason=f"no user namespaces here: {rootless.unavailable()}")
def test_a_program_checked_without_root_cannot_read_outside_its_working_copy(student, tmp_path_factory):
    secret = student.home / "secret.txt"
    secret.write_text("the student's own secret\n")
    uid = pwd.getpwnam(student.name).pw_uid
    os.chown(secret, uid, uid)  # the user's own file: without the sandbox, its programs could read it
    submission = owned_copy(student, write(reads_outside(secret), tmp_path_factory.mktemp("outside")))
    done, report = student.check(submission)
    assert report, done.stderr[-2000:]
    assert report["network"]["rootless"] is True
    logs = list((student.home / "out" / submission.name / "transcripts").glob("*/alice.log"))
    assert logs
    for log in logs:
        text = log.read_text()
        assert "outside: cannot read it: FileNotFoundError" in text and "student's own secret" not in text
    protections = json.loads((logs[0].parent / "record.json").read_text())["protections"]
    assert protections["filesystem"].startswith("bubblewrap") and protections["uid"] == uid


def test_where_user_namespaces_are_disabled_the_reason_is_named_and_check_warns(student, graded):
    """The same lying star, checked where the system forbids user namespaces: loopback, console evidence
    only (the star keeps its points there), and `check` says why and how to get the wire."""
    star = student.home / STAR_RING_LABELS.name
    done, report = student.check(star, user_namespaces=False)
    assert report, done.stderr[-2000:]
    network = report["network"]
    assert network["mode"] == "loopback" and network["evidence"] == "console only"
    assert "user namespaces disabled by the system (user.max_user_namespaces = 0)" in network["reason"]
    assert "Evidence: console only: no packet captured (no LAN: virtual LANs need root or user namespaces: " \
           "user namespaces disabled by the system (user.max_user_namespaces = 0); no loopback capture: no " \
           "packet socket on loopback (Operation not permitted; it needs CAP_NET_RAW))" in done.stdout
    assert "Warning: this verdict rests on what your programs printed only" in done.stdout
    assert report["score"] == report["max_score"]  # what only the wire shows goes unseen
    refused, _ = student.check(star, user_namespaces=False, network="hosts")
    assert refused.returncode == 2 and refused.stderr.strip() == (
        "tweeter-harness: --network hosts is not available here: virtual LANs need root or user namespaces: "
        "user namespaces disabled by the system (user.max_user_namespaces = 0)")
