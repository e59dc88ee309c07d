"""The build step: submissions in C++ and Java are built once (sandboxed, no network, a time limit of
their own) and graded to full marks; one that does not compile is `error` everywhere, with the
compiler's last lines; a build that hangs is stopped."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SUBMISSIONS, harness_started_pids

slow = pytest.mark.slow  # the whole public suite on a compiled submission


@slow
@pytest.mark.parametrize("name", ["cpp_makefile", "java_javac"])
def test_a_compiled_submission_gets_full_marks(grade, tmp_path, name):
    submission = tmp_path / name
    shutil.copytree(SUBMISSIONS / name, submission)
    graded = grade(submission, extra=("--jobs", "2"))
    report = graded.report(name)
    assert {s["id"]: s["message"] for s in report["scenarios"] if s["status"] != "passed"} == {}
    assert report["score"] == 100 and graded.status == 0
    assert report["build"]["ok"] is True and report["build"]["status"] == "exited with status 0"
    assert (graded.out / name / "build.log").read_text().strip()
    assert not (submission / "build").exists() and not (submission / "classes").exists()  # built in a copy


def test_tweets_at_once_overlap_at_the_first_try_even_on_a_fast_compiled_ring_under_load(grade, tmp_path):
    """A C++ ring goes round in well under a millisecond: the two tweets are written at the same
    moment (no other thread runs between the writes), so they overlap without a second try, even
    with both cores busy and another scenario beside it."""
    submission = tmp_path / "cpp_makefile"
    shutil.copytree(SUBMISSIONS / "cpp_makefile", submission)
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        for _ in range(3):
            graded = grade(submission, specs=["concurrent_tweets", "tweet_ring_order"], extra=("--jobs", "2"))
            record = json.loads((graded.out / "cpp_makefile" / "transcripts" / "concurrent_tweets"
                                 / "record.json").read_text())
            at_once = next(step for step in record["steps"] if step["kind"] == "tweets_at_once")
            assert at_once["attempts"] == 1 and graded.status == 0
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def test_tweets_at_once_typed_through_a_menu_overlap_at_the_first_try_under_load(grade):
    """A menu submission takes a tweet in two lines (the choice, then the text at its own prompt):
    each user is brought to its text prompt in turn, and the two texts are written at the same
    moment, so the tweets overlap at the first try in every run, with both cores busy."""
    runs = 5
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        graded = grade(ROOT / "student_submissions" / "menu_style", specs=["concurrent_tweets"],
                       extra=("--repeat", str(runs)))
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    [scenario] = graded.report("menu_style")["scenarios"]
    assert scenario["pass_rate"] == f"{runs}/{runs}", [run["cause"] for run in scenario["runs"]]
    for run in range(1, runs + 1):
        record = json.loads((graded.out / "menu_style" / "transcripts" / "concurrent_tweets" / f"run-{run}"
                             / "record.json").read_text())
        at_once = next(step for step in record["steps"] if step["kind"] == "tweets_at_once")
        assert at_once["attempts"] == 1


def test_a_submission_that_does_not_compile_is_an_error_with_the_compilers_words(grade):
    graded = grade(SUBMISSIONS / "does_not_compile", specs=["register_new", "follow_success"])
    report = graded.report("does_not_compile")
    assert graded.status == 2 and report["build"]["ok"] is False
    for scenario in report["scenarios"]:
        assert scenario["status"] == "error"
        assert "the build failed: `make` exited with status 2" in scenario["message"]
        assert "error:" in scenario["message"] and "tracker.cpp" in scenario["message"]  # the compiler's lines
    log = (graded.out / "does_not_compile" / "build.log").read_text()
    assert "expected ',' or ';'" in log or "error:" in log


def test_a_build_that_hangs_is_stopped_and_has_no_network(grade, tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    submission = tmp_path / "hangs"
    submission.mkdir()
    (submission / "tracker.py").write_text("")
    (submission / "user.py").write_text("")
    probe = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2); print('reached')"
    (submission / "tweeter.yaml").write_text(
        f"build: python3 -c \"{probe}\" || echo no network; sleep 60\ntimeouts: {{build: 2}}\n")
    try:
        graded = grade(submission, specs=["register_new"])
    finally:
        listener.close()
    report = graded.report("hangs")
    assert report["build"]["status"] == "stopped after 2 s (the build's time limit)"
    assert "no network" in (graded.out / "hangs" / "build.log").read_text()
    assert report["scenarios"][0]["status"] == "error"
    assert harness_started_pids() == []


def test_a_program_of_the_submission_is_never_looked_up_on_path(grade, tmp_path):
    submission = tmp_path / "no_dot_slash"
    submission.mkdir()
    (submission / "user.py").write_text("")
    tracker = submission / "tracker.out"
    tracker.write_text("#!/bin/sh\nexec python3 -c 'import time; time.sleep(60)'\n")
    tracker.chmod(0o755)
    (submission / "tweeter.yaml").write_text('launch: {tracker: "tracker.out {tracker_port}"}\n')
    graded = grade(submission, specs=["register_new"])
    message = graded.report("no_dot_slash")["scenarios"][0]["message"]
    assert "tracker.out: no such program" in message and "write ./tracker.out" in message
    assert message.count("never looked up on PATH") == 1
