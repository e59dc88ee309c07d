"""Hostile submissions: each run ends within its timeouts with a clear status and message, the rest
of the batch is graded normally, every result file is written, and nothing the run started survives.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.run import filesystem
from harness.run.sandbox import processes_of
from tests.conftest import harness_started_pids

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = Path(__file__).resolve().parent / "hostile"
STEP_TIMEOUT_S = 2

# what each one must be reported as, and a phrase the explanation must contain
EXPECTED = {
    "busy_loop_at_start": ("failed", "no result line: stopped waiting after 2 s (the step limit)"),
    "blocks_on_read": ("failed", "no answer, and nothing could happen any more: "),
    "fork_bomb": ("failed", "no result line: stopped waiting after 2 s (the step limit)"),
    "memory_hog": ("failed", "register @alice answers SUCCESS"),
    "prints_100mb": ("failed", "more bytes counted, not kept"),
    "invalid_utf8_and_escapes": ("failed", "\\x1b[2J"),
    "ignores_sigterm": ("failed", "no answer, and nothing could happen any more: "),
    "daemon_double_fork": ("failed", "no result line: stopped waiting after 2 s (the step limit)"),
    "closes_stdout": ("failed", "no answer, and nothing could happen any more: "),
    "exits_at_once": ("failed", "@alice's program exited with status 3"),
    "binds_tracker_port": ("error", "Address already in use"),
}


def sandbox_uids(out: Path) -> set[int]:
    """The uids this run's scenarios ran as, from the sandbox note in each trace."""
    uids = set()
    for trace in out.glob("*/transcripts/*/trace.jsonl"):
        for line in trace.read_text().splitlines():
            event = json.loads(line)
            if event["proc"] == "harness" and event["text"].startswith("sandbox: "):
                uids.add(json.loads(event["text"].removeprefix("sandbox: "))["uid"])
    return uids


def daemon_pids() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int(entry.name) != os.getpid() and \
                    b"tweeter-hostile-daemon" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
def hostile_batch(tmp_path_factory):
    """One class: every hostile submission plus a copy of the reference, graded together."""
    batch = tmp_path_factory.mktemp("class")
    for folder in HOSTILE.iterdir():
        shutil.copytree(folder, batch / folder.name)
    shutil.copytree(ROOT / "reference", batch / "reference", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("results")
    status = main(["grade", str(batch), "--specs", str(ROOT / "specs" / "register_new.yaml"),
                   "--step-timeout", str(STEP_TIMEOUT_S), "--jobs", "2", "--out", str(out)])
    reports = {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/report.json")}
    return status, reports, out


def test_every_hostile_submission_is_covered():
    assert {p.name for p in HOSTILE.iterdir()} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_submission_gets_a_clear_verdict_in_bounded_time(hostile_batch, name):
    _, reports, _ = hostile_batch
    scenario = reports[name]["scenarios"][0]
    status, phrase = EXPECTED[name]
    assert scenario["status"] == status
    assert phrase in scenario["message"]
    assert scenario["score"] == 0
    assert scenario["duration_s"] < STEP_TIMEOUT_S + 8  # the step timeout, start-up and clean-up


def test_the_rest_of_the_batch_is_graded_normally(hostile_batch):
    status, reports, _ = hostile_batch
    assert status == 1
    assert reports["reference"]["score"] == reports["reference"]["max_score"] > 0


def test_nothing_the_batch_started_is_left(hostile_batch):
    _, _, out = hostile_batch
    assert harness_started_pids() == []
    assert daemon_pids() == []  # escaped group and environment; found by its uid
    if os.geteuid() == 0:
        uids = sandbox_uids(out)
        assert len(uids) == len(EXPECTED) + 1  # one uid per scenario run
        assert [pid for uid in uids for pid in processes_of(uid)] == []


def test_report_says_which_protections_were_in_force(hostile_batch):
    _, reports, _ = hostile_batch
    sandbox = reports["fork_bomb"]["sandbox"]
    assert sandbox["limits"]["processes"] == 64
    if os.geteuid() == 0:
        assert sandbox["separate_user"] and sandbox["process_limit_binds"]
    bubblewrap = filesystem.bubblewrap_unavailable() is None
    assert sandbox["filesystem"] == filesystem.BUBBLEWRAP if bubblewrap else \
        sandbox["filesystem"].startswith(filesystem.PERMISSIONS)


def test_memory_limit_binds(grade):
    graded = grade(HOSTILE / "memory_hog", specs=["register_new"],
                   extra=("--memory-mb", "200", "--step-timeout", "20"))
    scenario = graded.scenario("memory_hog", "register_new")
    assert scenario["status"] == "failed"
    assert "MemoryError" in scenario["message"]


def test_process_limit_binds(grade, tmp_path):
    counter = tmp_path / "fork_count"
    shutil.copytree(HOSTILE / "fork_bomb", counter)
    (counter / "user.py").write_text(
        "import os, sys, signal\n"
        "made = 0\n"
        "for _ in range(500):\n"
        "    try:\n"
        "        if os.fork() == 0:\n"
        "            signal.pause()\n"
        "        made += 1\n"
        "    except OSError:\n"
        "        break\n"
        "print(f'forked {made} children', flush=True)\n"
        "sys.stdin.read()\n")
    graded = grade(counter, specs=["register_new"], extra=("--processes", "20", "--step-timeout", "2"))
    message = graded.scenario("fork_count", "register_new")["message"]
    made = [int(count) for count in re.findall(r"< forked (\d+) children", message)]  # each user's last lines
    assert len(made) == 2
    # 20 for the submission's own (the tracker and the users count too), bubblewrap's two per program on
    # top: @alice and @bob start together and share what is left (one may get all of it), hence their sum
    assert 15 <= sum(made) < 20 + filesystem.PROCESSES_PER_PROGRAM
