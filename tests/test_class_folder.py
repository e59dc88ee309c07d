"""A class folder as an instructor gets it: every entry gets a row (nested programs, archives,
folders that are not submissions), nothing is dropped in silence, and nothing a submission can do
shows it the specs, the harness, the reference or a neighbour's work."""

from __future__ import annotations

import csv
import json
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from harness.run import filesystem
from tests.conftest import ROOT, SPECS

PROGRAMS = ("tracker.py", "user.py", "wire.py", "reliable.py", "console.py")


def reference_into(folder):
    folder.mkdir(parents=True)
    for name in PROGRAMS:
        shutil.copy(ROOT / "reference" / name, folder / name)
    return folder


def rows(out) -> dict[str, dict]:
    return {row["submission"]: row for row in list(csv.DictReader((out / "grades.csv").open()))[1:]}  # after max points


def test_every_entry_of_a_class_folder_gets_a_row(grade, tmp_path):
    batch = tmp_path / "class"
    reference_into(batch / "alice")
    reference_into(batch / "bob" / "project")  # uploaded one level down
    (batch / "carol").mkdir()
    for name in ("server.py", "client.py"):  # no tweeter.yaml to say which is which
        (batch / "carol" / name).write_text("print('hi')\n")
    (batch / "dave").mkdir()  # empty
    reference_into(tmp_path / "erin")
    shutil.make_archive(str(batch / "erin"), "zip", tmp_path / "erin")
    with tarfile.open(batch / "frank.tar.gz", "w:gz") as archive:
        archive.add(tmp_path / "erin", arcname="frank-project")
    (batch / ".git").mkdir()  # hidden: passed over
    (batch / "notes.txt").write_text("grade by Friday\n")  # a loose file: passed over, and named
    out = batch / "results"  # the output folder inside the class folder: passed over
    graded = grade(batch, specs=["register_new"], extra=("--out", str(out)))
    assert graded.status == 2  # some entries could not be graded
    table = rows(out)
    assert set(table) == {"alice", "bob", "carol", "dave", "erin", "frank"}
    assert "passed over 1 file(s) that are neither submission folders nor archives: notes.txt" in graded.output
    for name in ("alice", "bob", "erin", "frank"):
        assert (table[name]["status"], table[name]["score"]) == ("graded", "4"), name
    for name in ("carol", "dave"):
        assert table[name]["status"] == "not a submission" and table[name]["score"] == "0"
    bob = json.loads((out / "bob" / "report.json").read_text())
    assert bob["path"].endswith("bob/project") and bob["origin"].endswith("class/bob")  # where it looked
    carol = json.loads((out / "carol" / "report.json").read_text())
    assert "found client.py, server.py but no tracker.py and user.py: add a tweeter.yaml naming them" in carol["error"]
    assert "an empty folder" in json.loads((out / "dave" / "report.json").read_text())["error"]


def test_an_archive_that_would_escape_its_folder_is_refused(grade, tmp_path):
    batch = tmp_path / "class"
    batch.mkdir()
    with zipfile.ZipFile(batch / "sneaky.zip", "w") as archive:
        archive.writestr("../escaped.txt", "outside")
        archive.writestr("tracker.py", "")
    link = tmp_path / "linked"
    link.mkdir()
    (link / "tracker.py").symlink_to("/etc/passwd")
    with tarfile.open(batch / "links.tar.gz", "w:gz") as archive:
        archive.add(link, arcname="links")
    graded = grade(batch, specs=["register_new"])
    table = rows(graded.out)
    assert table["sneaky"]["status"] == "not a submission" and table["links"]["status"] == "not a submission"
    assert not (tmp_path / "escaped.txt").exists() and not list(tmp_path.rglob("escaped.txt"))


SNOOP = '''"""Reads everything it should not see and prints whatever it finds."""
from __future__ import annotations
import os, sys
for path in open("targets.txt").read().split():
    try:
        print("READ", path, open(path, errors="replace").read(200).replace("\\n", " "), flush=True)
    except OSError as error:
        print("DENIED", path, error.strerror, flush=True)
for top in ("/", "/tmp", os.path.expanduser("~")):
    try:
        print("LIST", top, sorted(os.listdir(top))[:40], flush=True)
    except OSError as error:
        print("DENIED", top, error.strerror, flush=True)
''' + open(ROOT / "reference" / "tracker.py").read().split('"""', 2)[2].replace(
    "from __future__ import annotations\n", "", 1)


def snooping_class(batch: Path) -> tuple[Path, Path, Path]:
    """A class of two: a correct neighbour with private notes, and a snoop whose tracker prints what it can read."""
    neighbour = reference_into(batch / "neighbour")
    (neighbour / "NOTES.md").write_text("NEIGHBOUR-WORK-5c1e\n")
    snoop = reference_into(batch / "snoop")
    (snoop / "tracker.py").write_text(SNOOP)
    return batch, neighbour, snoop


@pytest.mark.skipif(os.geteuid() != 0, reason="a separate user per scenario needs root")
def test_nothing_a_submission_should_not_see_reaches_any_report(grade, tmp_path):
    """A hostile tracker tries to read a hidden scenario, the reference, the harness, a neighbour's
    submission and the output folder, and prints what it finds: none of it shows anywhere."""
    hidden_specs = tmp_path / "hidden"
    hidden_specs.mkdir()
    secret = "SECRET-HIDDEN-SCENARIO-7f3a"
    (hidden_specs / "hidden_register.yaml").write_text(
        (SPECS / "register_new.yaml").read_text().replace("Two users register", f"{secret} two users register")
        + "visibility: hidden\n")
    batch, neighbour, snoop = snooping_class(tmp_path / "class")
    out = tmp_path / "results"
    targets = [hidden_specs / "hidden_register.yaml", ROOT / "reference" / "tracker.py", ROOT / "harness" / "cli.py",
               neighbour / "NOTES.md", out / "neighbour" / "report.json", "/autograder/source/specs/x.yaml"]
    (snoop / "targets.txt").write_text("\n".join(map(str, targets)) + "\n")
    graded = grade(batch, extra=("--specs", str(hidden_specs), "--out", str(out)))
    transcripts = "".join(p.read_text(errors="replace") for p in (out / "snoop" / "transcripts").rglob("*")
                          if p.is_file())
    pages = "".join(p.read_text(errors="replace") for p in (out / "snoop").glob("report.*"))
    stolen = ("NEIGHBOUR-WORK-5c1e", "The Tweeter tracker: the database", "def build_parser")
    for marker in (secret, *stolen):
        assert marker not in transcripts, marker  # nothing the program printed or sent carries it
    for marker in stolen:  # the instructor's pages show the hidden scenario's own text, nothing stolen
        assert marker not in pages, marker
    snoop_log = (out / "snoop" / "transcripts" / "hidden_register" / "tracker.log").read_text()
    assert snoop_log.count("DENIED") >= len(targets)  # every one of them refused or absent
    assert "READ" not in snoop_log
    if filesystem.bubblewrap_unavailable() is None:
        listing = next(line for line in snoop_log.splitlines() if "LIST / " in line)
        assert "work" not in listing and "root" not in listing and "home" not in listing  # only the system
    assert graded.report("neighbour")["score"] == 4


@pytest.mark.skipif(os.geteuid() != 0, reason="a separate user per scenario needs root")
def test_without_bubblewrap_private_files_stay_out_and_the_report_says_so(grade, tmp_path, monkeypatch):
    """Where bubblewrap cannot run, permissions alone keep a neighbour's (private) work and the
    harness's private files out of reach, and the report names the weaker protection and why."""
    monkeypatch.setattr(filesystem, "bubblewrap_unavailable", lambda: "bubblewrap (bwrap) is not installed")
    batch, neighbour, snoop = snooping_class(tmp_path / "class")
    out = tmp_path / "results"
    (snoop / "targets.txt").write_text(f"{neighbour / 'NOTES.md'}\n{out / 'neighbour' / 'report.json'}\n")
    graded = grade(batch, specs=["register_new"], extra=("--out", str(out)))
    report = graded.report("snoop")
    assert report["sandbox"]["filesystem"] == \
        f"{filesystem.PERMISSIONS} (bubblewrap (bwrap) is not installed)"
    snoop_log = (out / "snoop" / "transcripts" / "register_new" / "tracker.log").read_text()
    assert snoop_log.count("DENIED") >= 2 and "NEIGHBOUR-WORK-5c1e" not in snoop_log
    assert report["score"] == 4 and graded.report("neighbour")["score"] == 4
