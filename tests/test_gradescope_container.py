"""The Gradescope bundle end to end, in a container like Gradescope's.

A fresh Debian bookworm root file system is built from the package registry (mmdebstrap). The
bundle is unpacked into its /autograder/source and its setup.sh run there as root, chrooted, with the
machine's network, as Gradescope builds its image; run_autograder is copied to
/autograder/run_autograder, as Gradescope does. Each submission is then graded as Gradescope runs a
container: root with Docker's default capabilities (no NET_ADMIN, no SYS_ADMIN), no user namespaces,
a network namespace holding only `lo`, a pid and a mount namespace of its own, chrooted into the
root (tests/namespace_launcher.py). results.json must follow Gradescope's format, the reference must
get full marks, student code must not read /autograder/source, and the lying star must lose its ring
points there, on the evidence of a capture of loopback.

Only what the root needs to reach the package indexes comes from the build machine, bound in while
setup.sh runs: its apt sources are the root's own (the same mirror), its apt options for that mirror,
its DNS resolver, and its pip configuration with the folders and certificates it names.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, SPECS, wait_until
from tests.submissions.variants import STAR_RING_LABELS, Variant, write
from tests.test_reports import GRADESCOPE_TEST_KEYS
from tests.test_rootless import USER_MAIN

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to build a root file system and namespaces"),
    pytest.mark.skipif(shutil.which("mmdebstrap") is None,
                       reason="needs mmdebstrap to build a Debian root file system (apt-get install mmdebstrap)"),
]
SCENARIOS = ("tweet_ring_order", "tweet_one_follower")
RING_POINTS = 7  # tweet_ring_order's
LAUNCHER = Path(__file__).resolve().parent / "namespace_launcher.py"
SECRET = "/autograder/source/specs/tweet_ring_order.yaml"
# Gradescope's documented results.json keys (https://gradescope-autograders.readthedocs.io/en/latest/specs/)
GRADESCOPE_KEYS = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
                   "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
DOCKER_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"}
DOCKER_HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"  # what Docker writes
APT_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
# apt options this machine needs to read its mirror (e.g. a snapshot's Release files are past their date)
MIRROR_OPTIONS = ("Acquire::Check-Valid-Until ", "Acquire::Check-Date ", "Acquire::http::Proxy ",
                  "Acquire::https::Proxy ")
PIP_CONFIG_FILES = ("/etc/pip.conf", "/etc/xdg/pip/pip.conf", "/root/.config/pip/pip.conf", "/root/.pip/pip.conf")


def reads_source(secret: str) -> Variant:
    """The reference, whose user tries at start to open a file of the autograder's own source."""
    return Variant(
        "reads_source", "A user that reads the autograder's scenario files",
        f"At start, user.py opens {secret} (a scenario file of the autograder, hidden ones sit beside "
        "it) and prints whether it could.", "Full marks; the file cannot be opened.",
        (("user.py", USER_MAIN,
          f"    try:  # VARIANT: open a file of the autograder's source\n"
          f"        open({secret!r}).close()\n"
          f"        print('autograder source: readable', flush=True)\n"
          f"    except OSError as exc:\n"
          f"        print('autograder source: cannot open it:', type(exc).__name__, flush=True)\n" + USER_MAIN),))


@dataclass
class Container:
    """A root file system built for this module, and the folder that holds it and its side files."""

    folder: Path

    @property
    def root(self) -> Path:
        return self.folder / "root"

    @property
    def autograder(self) -> Path:
        return self.root / "autograder"

    def run(self, command: list[str], *options: str, env: dict[str, str] | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess:
        """`command` as root of a container on this root, with Docker's default capabilities."""
        return subprocess.run([sys.executable, str(LAUNCHER), "--chroot", str(self.root), "--docker-capabilities",
                               *options, "--", *command], env=env or DOCKER_ENV, capture_output=True, text=True,
                              timeout=timeout, check=False)


def _mirror_options() -> str:
    """This machine's apt options for its mirror, as apt.conf lines."""
    dump = subprocess.run(["apt-config", "dump"], capture_output=True, text=True, check=True).stdout
    return "".join(f"{line}\n" for line in dump.splitlines() if line.startswith(MIRROR_OPTIONS))


def _bootstrap(folder: Path) -> None:
    """A minimal Debian bookworm in folder/root from this machine's mirror, with ca-certificates (so
    that the machine's bundle can be bound over its own), and nothing of the machine left in it: the
    apt options, resolver and host name mmdebstrap copied in are taken out again."""
    options = folder / "mirror-options.conf"
    options.write_text(_mirror_options())
    mirror = [str(APT_SOURCES)] if APT_SOURCES.is_file() else []
    done = subprocess.run(["mmdebstrap", "--variant=minbase", "--include=ca-certificates",
                           *([f"--aptopt={options}"] if options.read_text() else []), "bookworm",
                           str(folder / "root"), *mirror], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    for name in ("etc/apt/apt.conf.d/99mmdebstrap", "etc/resolv.conf", "etc/hostname"):
        (folder / "root" / name).unlink(missing_ok=True)
    (folder / "root/etc/hosts").write_text(DOCKER_HOSTS)


def _pip_paths() -> list[str]:
    """This machine's pip configuration files and every file or folder they, or PIP_* variables,
    name (find-links, constraints, certificates; the folder of a file:// index)."""
    configs = [path for path in (*PIP_CONFIG_FILES, os.environ.get("PIP_CONFIG_FILE", "")) if os.path.isfile(path)]
    values = [value for name, value in os.environ.items() if name.startswith("PIP_")]
    for config in configs:
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(config)
        values += [value for section in parser.sections() for value in parser[section].values()]
    tokens = [token for value in values for token in value.split()]
    # a file:// index (PEP 503) links to its files relative to itself: bind the folder holding both
    named = [str(Path(token.removeprefix("file://")).parent) if token.startswith("file://") else token
             for token in tokens]
    return sorted({path for path in [*configs, *named] if path.startswith("/") and os.path.exists(path)})


def _processes_in(folder: Path) -> list[int]:
    """Processes whose root or working folder is inside `folder`."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and any(os.readlink(entry / link).startswith(f"{folder}/")
                                            for link in ("root", "cwd")):
                found.append(int(entry.name))
    return found


def _mounts_in(folder: Path) -> list[str]:
    """Mount points inside `folder` in this process's mount namespace."""
    points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return [point for point in points if point.startswith(f"{folder}/")]


@pytest.fixture(scope="module")
def container():
    """The root file system, built once for this module; removed with all that ran in it."""
    folder = Path(tempfile.mkdtemp(prefix="gradescope-container-"))
    try:
        _bootstrap(folder)
        yield Container(folder)
    finally:
        left = _processes_in(folder)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not _processes_in(folder), 10)
        mounts = _mounts_in(folder)
        for point in reversed(mounts):
            subprocess.run(["umount", "--lazy", point], capture_output=True, check=False)
        shutil.rmtree(folder, ignore_errors=True)
        assert not left and not mounts and not folder.exists(), (left, mounts)


@pytest.fixture(scope="module")
def installed(container, tmp_path_factory):
    """The bundle (only SCENARIOS) unpacked and set up in the container's root, as Gradescope builds
    its image; setup.sh's output."""
    from harness.cli import main
    specs = tmp_path_factory.mktemp("specs")
    for scenario in SCENARIOS:
        shutil.copy(SPECS / f"{scenario}.yaml", specs)
    bundle = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    assert main(["gradescope-bundle", "--specs", str(specs), "-o", str(bundle)]) == 0
    source = container.autograder / "source"
    with zipfile.ZipFile(bundle) as archive:
        for info in archive.infolist():
            os.chmod(archive.extract(info, source), (info.external_attr >> 16) & 0o777 or 0o644)
    shutil.copy2(source / "run_autograder", container.autograder / "run_autograder")  # as Gradescope does
    binds = {path: path for path in ["/etc/resolv.conf", *_pip_paths()]}
    binds[str(container.folder / "mirror-options.conf")] = "/etc/apt/apt.conf.d/99mirror"
    made = _mount_points_made(container.root, binds.values())
    pip_env = {name: value for name, value in os.environ.items() if name.startswith("PIP_")}
    done = container.run(["sh", "-c", "cd /autograder/source && exec ./setup.sh"],
                         *(arg for source, target in binds.items() for arg in ("--ro-bind", source, target)),
                         env={**DOCKER_ENV, **pip_env})
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    _remove_mount_points(made)
    return done


def _mount_points_made(root: Path, targets: Iterable[str]) -> list[Path]:
    """The files and folders the launcher will make in `root` to bind `targets` on: for each target,
    its topmost missing folder, or itself."""
    made = []
    for target in targets:
        path = root / target.lstrip("/")
        while not path.parent.exists():
            path = path.parent
        if not path.exists() and path not in made:
            made.append(path)
    return made


def _remove_mount_points(made: list[Path]) -> None:
    """Take the mount points out of the root again: they must hold nothing (a bind is not a copy)."""
    for path in made:
        inside = [path, *path.rglob("*")] if path.is_dir() else [path]
        assert not [p for p in inside if p.is_file() and p.stat().st_size], f"{path} is not an empty mount point"
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


@dataclass
class Graded:
    """What grading one submission in the container left: run_autograder's own output, results.json,
    and the harness's report.json and transcripts (copied out of the container)."""

    done: subprocess.CompletedProcess
    results: dict
    report: dict
    grading: Path  # the harness's output for the submission: report.json, transcripts/


def _grade(container: Container, submission: Path, keep: Path) -> Graded:
    """`submission` graded by /autograder/run_autograder in a container of its own, as Gradescope runs
    it for an upload (results and grading kept in `keep`)."""
    shutil.rmtree(container.autograder / "submission", ignore_errors=True)
    shutil.rmtree(container.autograder / "results", ignore_errors=True)
    shutil.copytree(submission, container.autograder / "submission", ignore=shutil.ignore_patterns("__pycache__"))
    (container.autograder / "results").mkdir()
    done = container.run(["sh", "-c", "cd /autograder && exec ./run_autograder >results/stdout 2>&1"],
                         "--net", "--no-user-namespaces", timeout=300)
    shutil.copytree(container.autograder / "results", keep / "results")
    if (container.autograder / "grading/submission").is_dir():  # the harness's own output, when it ran
        shutil.copytree(container.autograder / "grading/submission", keep / "grading")
    results = json.loads((keep / "results/results.json").read_text())
    report_file = keep / "grading/report.json"
    return Graded(done, results, json.loads(report_file.read_text()) if report_file.is_file() else {},
                  keep / "grading")


@pytest.fixture(scope="module")
def graded(container, installed, tmp_path_factory):
    """The reference, a user that reads the autograder's source, and the lying star, each graded in
    the container."""
    built = tmp_path_factory.mktemp("built")
    submissions = {"reference": ROOT / "reference", "reads_source": write(reads_source(SECRET), built),
                   "star": write(STAR_RING_LABELS, built)}
    return {name: _grade(container, folder, tmp_path_factory.mktemp(name)) for name, folder in submissions.items()}


def by_id(results: dict) -> dict[str, dict]:
    """results.json's tests by scenario id (their names are the scenarios' titles)."""
    return {test["extra_data"]["id"]: test for test in results["tests"]}


def test_setup_installs_the_harness_on_a_fresh_debian(container, installed):
    harness = container.root / "autograder/venv/bin/tweeter-harness"
    assert harness.is_file() and os.access(harness, os.X_OK), installed.stdout[-2000:]
    for private in ("autograder/source", "autograder/source/specs", "autograder/venv"):
        assert (container.root / private).stat().st_mode & 0o077 == 0, private  # root's alone
    assert (container.root / "usr/bin/python3").exists()  # what students' Python programs run with
    for machine in ("etc/resolv.conf", "etc/hostname", "etc/pip.conf", "etc/apt/apt.conf.d/99mirror"):
        assert not (container.root / machine).exists(), machine  # bound in for setup.sh, not left


def test_results_follow_gradescope_format_and_the_reference_gets_full_marks(graded):
    reference = graded["reference"]
    results = reference.results
    assert reference.done.returncode == 0, reference.done.stderr[-2000:]
    assert set(results) <= GRADESCOPE_KEYS and isinstance(results["score"], float)
    assert isinstance(results["execution_time"], int) and isinstance(results["output"], str)
    assert results["visibility"] in VISIBILITIES and results["stdout_visibility"] in ("visible", "hidden")
    tests = by_id(results)
    assert set(tests) == set(SCENARIOS)
    for test in tests.values():
        assert set(test) == GRADESCOPE_TEST_KEYS
        assert isinstance(test["score"], float) and isinstance(test["max_score"], float)
        assert test["status"] in ("passed", "failed") and test["visibility"] in VISIBILITIES
        assert isinstance(test["name"], str) and isinstance(test["output"], str)
    assert results["score"] == sum(t["max_score"] for t in tests.values()) == reference.report["max_score"], \
        results["output"]
    assert all(t["status"] == "passed" for t in tests.values())
    assert reference.report["network"]["mode"] == "loopback"  # no NET_ADMIN, no user namespaces: no LAN


def test_student_code_cannot_read_the_autograder_source(graded):
    reads = graded["reads_source"]
    assert reads.results["score"] == graded["reference"].results["score"], reads.results["output"]
    logs = sorted(reads.grading.glob("transcripts/*/alice.log"))
    assert [log.parent.name for log in logs] == sorted(SCENARIOS)
    for log in logs:
        text = log.read_text()
        assert "autograder source: cannot open it: PermissionError" in text and "readable" not in text, text[-2000:]
    protections = json.loads((logs[0].parent / "record.json").read_text())["protections"]
    assert protections["separate_user"] is True  # a uid of its own: the source is root's alone
    assert protections["filesystem"].startswith("permissions only")  # bubblewrap needs user namespaces


def test_the_lying_star_loses_its_ring_points_on_a_capture_of_loopback(graded):
    star, reference = graded["star"].results, graded["reference"].results
    assert "Evidence: wire (loopback capture)" in star["output"], star["output"]
    ring = by_id(star)["tweet_ring_order"]
    assert ring["status"] == "failed" and ring["score"] == 0.0, ring["output"]
    assert star["score"] == reference["score"] - RING_POINTS < reference["score"]
