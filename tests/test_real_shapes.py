"""Real programs' shapes graded as a TA grades them, each on a purpose-built submission
(tests/submissions/shape_variants.py): registration at a start-up prompt, a program that ends by design
when its registration is refused, raw lines typed as a person types them (after the answer to the last
one; after a key where the console needs one), and one crash charged once, in the scenario that tests it,
with the death as the headline the moment it happens."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from harness.cli import main
from tests.submissions.shape_variants import build
from tests.test_manifest_keys import without

REFUSED_THEN_ON = """name: a refused registration, then the others carry on
points: 2
setup: 1
users: [alice, bob]
steps:
  - register: [alice]
  - register: {users: [bob], handle: "@alice", expect: failure}
  - expect_not: {at: alice, pattern: "^never printed", within: 0.3}
  - query: {user: alice, handles: [alice]}
"""
REFUSED_THEN_NEEDED = REFUSED_THEN_ON.replace("name: a refused", "name: needed later, a refused") \
    + "  - expect_alive: {at: bob}\n"


def spec_file(tmp_path, name: str, text: str) -> tuple[str, str]:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return "--specs", str(path)


def test_registration_at_a_startup_prompt(grade, tmp_path):
    folder = build("registers_at_startup", tmp_path)
    graded = grade(folder, specs=["query_none", "register_duplicate", "register_handle_chars", "tweet_one_follower"],
                   extra=("--jobs", "2"))
    report = graded.report("registers_at_startup")
    statuses = {s["id"]: (s["status"], s["score"], s["max_score"]) for s in report["scenarios"]}
    assert statuses == {"query_none": ("not applicable", 3, 3), "register_duplicate": ("passed", 4, 4),
                        "register_handle_chars": ("passed", 4, 4), "tweet_one_follower": ("passed", 5, 5)}
    reason = graded.scenario("registers_at_startup", "query_none")["message"]
    assert reason.startswith("Not applicable: step 1 (@alice types query handles (expect: none)) needs @alice's "
                             "program before @alice has registered, but this submission's users register at their "
                             "start-up prompt")
    assert not (graded.out / "registers_at_startup" / "transcripts" / "query_none" / "alice.log").exists()  # nothing ran
    log = (graded.out / "registers_at_startup" / "transcripts" / "register_duplicate" / "bob.log").read_text()
    assert re.search(r"< Handle: ?\n.*> @alice\n", log)  # the refused handle was typed at the start-up prompt
    assert graded.status == 0


def test_an_end_by_design_costs_nothing_the_same_every_time_under_load(grade, tmp_path):
    folder = build("registers_at_startup", tmp_path)
    load = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        graded = grade(folder, specs=["register_duplicate"],
                       extra=(*spec_file(tmp_path, "refused_then_on", REFUSED_THEN_ON), "--repeat", "10", "--jobs", "2"))
    finally:
        for process in load:
            process.kill()
            process.wait()
    for scenario in graded.report("registers_at_startup")["scenarios"]:
        assert scenario["pass_rate"] == "10/10", (scenario["id"], scenario["runs"])
    runs = tmp_path / "results" / "registers_at_startup" / "transcripts" / "refused_then_on"
    exits = [line for log in runs.rglob("bob.log") for line in log.read_text().splitlines() if "exited with status 1" in line]
    assert len(exits) == 10  # bob's program did end every time, and it cost nothing


def test_an_end_a_later_step_needs_is_charged_and_tied_to_the_program_s_own_input(grade, tmp_path):
    folder = build("registers_at_startup", tmp_path)
    graded = grade(folder, extra=spec_file(tmp_path, "refused_then_needed", REFUSED_THEN_NEEDED))
    scenario = graded.scenario("registers_at_startup", "refused_then_needed")
    assert scenario["status"] == "failed"
    death = next(c for c in scenario["checks"] if c["name"] == "@bob keeps running")
    assert re.fullmatch(r"@bob's program exited with status 1 at \d+\.\d\d s, after `\d+ \d+ \d+` was typed at it; "
                        r"its last lines: '.*'; 'register: FAILURE duplicate handle @alice'; step 5 needs it",
                        death["message"]), death["message"]
    assert death["step"] in (2, 3)  # the step during which it ended, not the one that noticed


def test_raw_lines_are_typed_one_at_a_time_after_the_answer_to_the_last(grade, tmp_path):
    folder = build("garbage_answered_late", tmp_path)
    graded = grade(folder, specs=["garbage_input"])
    assert graded.scenario("garbage_answered_late", "garbage_input")["status"] == "passed"
    log = (graded.out / "garbage_answered_late" / "transcripts" / "garbage_input" / "alice.log").read_text()
    marks = [line.split()[1] + " " + " ".join(line.split()[2:])[:7] for line in log.splitlines()
             if line.split()[1:2] in (["<"], [">"]) and "[trace]" not in line]
    typed = [i for i, mark in enumerate(marks) if mark.startswith(">")]
    for here, after in zip(typed[1:6], typed[2:7]):  # each raw line, then its late FAILURE, then the next line
        assert "< FAILURE" in marks[here + 1:after], marks


def test_a_key_before_every_raw_line_where_the_console_needs_it(grade, tmp_path):
    folder = build("ctrl_c_before_every_line", tmp_path)
    graded = grade(folder, specs=["garbage_input"])
    assert graded.scenario("ctrl_c_before_every_line", "garbage_input")["status"] == "passed"
    log = (graded.out / "ctrl_c_before_every_line" / "transcripts" / "garbage_input" / "alice.log").read_text()
    assert log.count("> {ctrl-c}") == 7  # register, five raw lines, the query
    assert len(re.findall(r"< (Command> )?error: ", log)) == 5  # each raw line read and answered
    without(folder, r"^raw_lines:")
    graded = grade(folder, specs=["garbage_input"])
    log = (graded.out / "ctrl_c_before_every_line" / "transcripts" / "garbage_input" / "alice.log").read_text()
    assert log.count("> {ctrl-c}") == 2 and "error: " not in log  # typed without the key: never read


def test_one_crash_is_charged_once_where_it_is_tested_and_named_at_once(grade, tmp_path):
    folder = build("tracker_crashes_on_unknown_follow", tmp_path)
    graded = grade(folder, specs=["follow_unknown", "exit_cleanup"], extra=("--jobs", "2"))
    tested = graded.scenario("tracker_crashes_on_unknown_follow", "follow_unknown")
    assert tested["status"] == "failed" and tested["score"] == 0
    assert re.fullmatch(r"the tracker's program exited with status 1 at \d+\.\d\d s, after the datagram of "
                        r"`follow @bob @nobody` \(typed at @bob\) reached it", tested["summary"]), tested["summary"]
    death = next(c for c in tested["checks"] if c["name"] == "the tracker keeps running")
    assert death["message"].endswith("its last line: \"KeyError: '@nobody'\"")
    assert "stopped waiting" not in tested["message"]  # decided by the death, not by the step limit
    again = graded.scenario("tracker_crashes_on_unknown_follow", "exit_cleanup")
    assert (again["status"], again["score"]) == ("passed", 6)
    assert again["message"].startswith("Step 10 lost nothing here: it is the same bug as in `follow_unknown` (the "
                                       "tracker exited with status 1 (KeyError: '@…') on a `follow, refused, of a "
                                       "handle typed literally` step), charged there once.")
    assert {c["status"] for c in again["checks"] if c["step"] == 10} == {"skipped"}
    assert main(["rejudge", str(graded.out)]) == 1
    again = json.loads((graded.out / "tracker_crashes_on_unknown_follow" / "report.json").read_text())
    assert [(s["id"], s["status"], s["score"]) for s in again["scenarios"]] == \
        [("follow_unknown", "failed", 0), ("exit_cleanup", "passed", 6)]


def test_a_blocked_scenario_names_the_scenario_that_tests_its_failed_step(grade, tmp_path):
    folder = build("tracker_crashes_on_unknown_follow", tmp_path)
    tracker = folder / "tracker.py"
    tracker.write_text(re.sub(r"owner = self\.users\[.*# VARIANT.*", "raise SystemExit(4)  # VARIANT: every follow",
                              tracker.read_text()))
    graded = grade(folder, specs=["follow_success", "tweet_one_follower", "exit_cleanup"], extra=("--jobs", "2"))
    blocked = graded.scenario("tracker_crashes_on_unknown_follow", "exit_cleanup")  # it depends on tweet_one_follower
    assert blocked["status"] == "blocked"
    assert blocked["summary"].endswith("(step 2 only prepares what this scenario tests; `follow_success` tests it)")
