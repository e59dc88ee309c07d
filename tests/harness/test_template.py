"""`manifest-template`: a commented tweeter.yaml guessed from a submission's files, every guess
marked, that validates, and that grades the submission it was written for."""

from __future__ import annotations

import shutil

import yaml

from harness.cli import main
from harness.net.mode import hosts_unavailable
from tests.conftest import ROOT, SUBMISSIONS
from tests.submissions.variants import build


def template_of(folder, capsys) -> tuple[str, dict]:
    assert main(["manifest-template", str(folder), "-o", "-"]) == 0
    text = capsys.readouterr().out
    return text, yaml.safe_load(text) or {}


def test_hard_coded_addresses_and_ports_are_found(tmp_path, capsys, grade):
    folder = build("hardcoded_tracker", tmp_path)
    (folder / "tweeter.yaml").unlink()
    text, manifest = template_of(folder, capsys)
    assert manifest["network"] == {"tracker": {"ip": "10.120.70.106", "port": 8000}}
    assert manifest["launch"] == {"tracker": "python3 tracker.py", "user": "python3 user.py"}
    assert all("# guess:" in line for line in text.splitlines() if line.strip() and not line.startswith(("#", "launch:", "network:", "  tracker:", "commands:")))
    assert main(["manifest-template", str(folder)]) == 0
    assert main(["validate", str(folder)]) == 0
    if hosts_unavailable() is None:  # the guessed manifest drives the submission
        graded = grade(folder, specs=["register_new", "tweet_one_follower"], extra=("--network", "hosts"))
        assert graded.status == 0, graded.output


def test_a_makefile_and_its_targets_are_read(capsys):
    _, manifest = template_of(SUBMISSIONS / "cpp_makefile", capsys)
    assert manifest["build"] == "make"
    assert manifest["launch"] == {"tracker": "./build/tracker.out {tracker_port}",
                                  "user": "./build/user.out {tracker_ip} {tracker_port}"}
    assert manifest["commands"]["query"] == "query handles"


def test_java_and_argparse_launches(capsys):
    _, java = template_of(SUBMISSIONS / "java_javac", capsys)
    assert java["build"] == "javac -d classes *.java"
    assert java["launch"]["tracker"].endswith("-cp classes Tracker {tracker_port}")
    _, menu = template_of(ROOT / "student_submissions" / "menu_style", capsys)
    assert menu["launch"]["tracker"] == "python3 server.py --port {tracker_port}"
    assert menu["launch"]["user"] == "python3 client.py {tracker_ip} {tracker_port}"


def test_an_existing_manifest_is_kept_unless_forced(tmp_path, capsys):
    folder = tmp_path / "menu"
    shutil.copytree(ROOT / "student_submissions" / "menu_style", folder)
    before = (folder / "tweeter.yaml").read_text()
    assert main(["manifest-template", str(folder)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert (folder / "tweeter.yaml").read_text() == before
    assert main(["manifest-template", str(folder), "--force"]) == 0
    assert (folder / "tweeter.yaml").read_text() != before
