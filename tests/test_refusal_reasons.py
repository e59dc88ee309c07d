"""A refusal for the wrong reason (issue 23, pattern 9): where a manifest names the reasons its failure
lines give (`replies.reasons`) and a step names the reason it tests (`reason:`), a FAILURE that gives
another reason loses the step, quoting the line; where the manifest names none, any FAILURE passes.

Graded end to end on purpose-built submissions (tests/submissions/reason_variants.py), and the
validation and the judge's rule checked on their own, fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.inputs.manifest import Replies, load_manifest
from harness.inputs.reasons import REASON_NAMES, reasons_of
from harness.inputs.scenario import PairArgs, Scenario, load_scenario, step_args
from harness.judge.steps import StepJudge
from harness.run.records import ReplySeen, ScenarioRecord, StepRecord
from tests.conftest import SPECS
from tests.submissions.reason_variants import REASONS_MANIFEST, build

STALE_CAUSE = ("`follow @carol @bob` was refused for another reason: 'follow: FAILURE Already following @bob' "
               "(already following), not because @bob is not registered")
ALLOWED = ", ".join(REASON_NAMES)
# The bundled scenarios with a step that names its reason.
WITH_REASONS = ["exit_cleanup", "follow_unknown", "follow_twice", "drop_not_following", "register_duplicate",
                "register_handle_chars", "register_handle_length"]


# -- graded end to end ------------------------------------------------------------------------------
def test_a_refusal_for_another_named_reason_loses_the_step(grade, tmp_path):
    graded = grade(build("stale_follow_state", tmp_path), specs=["exit_cleanup", "follow_twice"],
                   extra=("--jobs", "2"))
    exit_cleanup = graded.scenario("stale_follow_state", "exit_cleanup")
    assert (exit_cleanup["status"], exit_cleanup["score"]) == ("failed", 0)
    assert exit_cleanup["message"].splitlines()[0] == STALE_CAUSE
    lost = [(c["step"], c["name"]) for c in exit_cleanup["checks"] if c["status"] in ("failed", "unverified")]
    assert lost == [(10, "follow @carol @bob answers FAILURE")]  # everything else about the exit holds
    follow_twice = graded.scenario("stale_follow_state", "follow_twice")
    assert follow_twice["status"] == "passed", follow_twice["message"]  # refused, for the reason it tests
    assert graded.status == 1


def test_without_reasons_in_the_manifest_any_refusal_passes_as_before(grade, tmp_path):
    folder = build("stale_follow_state", tmp_path)
    (folder / "tweeter.yaml").write_text("# no reasons named\n")
    graded = grade(folder, specs=["exit_cleanup"])
    exit_cleanup = graded.scenario("stale_follow_state", "exit_cleanup")
    assert exit_cleanup["status"] == "passed", exit_cleanup["message"]
    last = next(c for c in exit_cleanup["checks"] if c["step"] == 10)
    assert (last["status"], last["message"]) == ("passed", "'follow: FAILURE Already following @bob'")


def test_the_reference_refuses_for_every_reason_the_bundled_specs_test(grade, tmp_path):
    folder = build("reference_reasons", tmp_path)
    graded = grade(folder, specs=WITH_REASONS, extra=("--jobs", "2"))
    report = graded.report("reference_reasons")
    assert {s["id"]: s["message"] for s in report["scenarios"] if s["status"] != "passed"} == {}
    tested = 0
    for scenario_id in WITH_REASONS:
        steps = load_scenario(SPECS / f"{scenario_id}.yaml").steps
        record = json.loads((graded.out / "reference_reasons" / "transcripts" / scenario_id / "record.json").read_text())
        assert record["reasons"] == load_manifest(folder).replies.reasons.named() != {}
        for played in record["steps"]:
            reason = getattr(step_args(steps[played["number"] - 1]), "reason", None)
            for reply in played["replies"] if reason else ():
                assert reasons_of(reply["line"], record["reasons"]) == [reason], (scenario_id, reply["line"])
                tested += 1
    assert tested == 8  # one refusal per step that names a reason (register_handle_chars has two)


# -- the judge's rule, on hand-built records ---------------------------------------------------------
def judged(line: str, reasons: dict[str, str], reason: str | None = "unknown_handle"):
    """The check of `follow @carol @bob`, expected refused for `reason`, answered by `line`."""
    scenario = load_scenario(SPECS / "exit_cleanup.yaml")
    reply = ReplySeen(user="carol", command="follow", what="follow @carol @bob", typed_seq=1, outcome="failure",
                      line=line, line_seq=2)
    record = ScenarioRecord(scenario_id="exit_cleanup", file="", reasons=reasons,
                            handles={"alice": "@alice", "bob": "@bob", "carol": "@carol"},
                            steps=[StepRecord(number=10, kind="follow", replies=[reply])])
    return StepJudge(scenario, record).reply_check(reply, "failure", reason)


NAMED = {"unknown_handle": "not registered|unknown|does not exist", "already_following": "already follow"}


def test_another_named_reason_fails_and_quotes_the_line():
    check = judged("Already following @bob", NAMED)
    assert check.status == "failed"
    assert check.cause == ("`follow @carol @bob` was refused for another reason: 'Already following @bob' "
                           "(already following), not because @bob is not registered")
    assert check.message == ("expected FAILURE because @bob is not registered; seen FAILURE for another reason: "
                             "'Already following @bob' (already following), matching /already follow/")


@pytest.mark.parametrize("line, reasons, reason", [
    ("follow: FAILURE @bob does not exist", NAMED, "unknown_handle"),  # the reason tested
    ("follow: FAILURE no", NAMED, "unknown_handle"),  # no reason named: a FAILURE as before
    ("already following @bob, who is unknown", NAMED, "unknown_handle"),  # the tested one, among others
    ("Already following @bob", {}, "unknown_handle"),  # the manifest names no reasons: as before
    ("Already following @bob", NAMED, None),  # the step names no reason: as before
])
def test_the_tested_reason_or_none_named_passes_as_before(line, reasons, reason):
    check = judged(line, reasons, reason)
    assert (check.status, check.message) == ("passed", repr(line))


def test_a_scenario_step_checks_its_reason_through_the_judge():
    scenario = load_scenario(SPECS / "exit_cleanup.yaml")
    assert step_args(scenario.steps[9]).reason == "unknown_handle"
    reply = ReplySeen(user="carol", command="follow", what="follow @carol @bob", typed_seq=1, outcome="failure",
                      line="follow: FAILURE Already following @bob", line_seq=2)
    step = StepRecord(number=10, kind="follow", replies=[reply])
    record = ScenarioRecord(scenario_id="exit_cleanup", file="", reasons=NAMED, steps=[step],
                            handles={"alice": "@alice", "bob": "@bob", "carol": "@carol"})
    [check] = StepJudge(scenario, record).checks(step)
    assert (check.status, check.step) == ("failed", 10)
    assert check.cause.startswith("`follow @carol @bob` was refused for another reason:")


# -- validation --------------------------------------------------------------------------------------
def validate_lines(capsys, *paths: Path) -> tuple[int, list[str]]:
    status = main(["validate", *map(str, paths)])
    captured = capsys.readouterr()
    return status, (captured.out + captured.err).splitlines()


def manifest(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "tweeter.yaml").write_text(text)
    return folder


@pytest.mark.parametrize("text, problem", [
    ('replies:\n  reasons: {unknwn_handle: "unknown"}\n',
     f"2:3: replies.reasons: unknown reason `unknwn_handle`; did you mean `unknown_handle`? (the reasons: {ALLOWED})"),
    ('replies:\n  reasons:\n    too_long: "too long"\n',
     f"2:3: replies.reasons: unknown reason `too_long` (the reasons: {ALLOWED})"),
    ('replies:\n  reasons:\n    busy: "(busy"\n',
     "3:11: replies.reasons.busy: invalid regular expression: missing ), unterminated subpattern at position 0"),
    ('replies:\n  reasons:\n    busy: ""\n',
     "3:11: replies.reasons.busy: an empty pattern matches every FAILURE line: give the words of this reason"),
])
def test_a_manifest_names_only_known_reasons_with_valid_patterns(tmp_path, capsys, text, problem):
    folder = manifest(tmp_path, text)
    status, lines = validate_lines(capsys, folder)
    assert (status, lines) == (1, [f"{folder / 'tweeter.yaml'}:{problem}", "0 spec files, 1 manifest: 1 problem"])


def test_a_manifest_with_reasons_is_valid(tmp_path, capsys):
    assert validate_lines(capsys, manifest(tmp_path, REASONS_MANIFEST)) == (0, ["0 spec files, 1 manifest: no problems"])


SPEC = "name: s\npoints: 1\nusers: [alice, bob]\nsteps:\n  - register: all\n  - {step}\n"


@pytest.mark.parametrize("step, problem", [
    ("follow: {user: bob, target: alice, reason: already_following}",
     "6:5: steps.1.follow: `reason: already_following` says why the command must be refused: it needs "
     "`expect: failure`"),
    ("follow: {user: bob, target: alice, expect: failure, reason: allready_following}",
     "6:65: steps.1.follow.reason: should be one of "
     + ", ".join(f"`{name}`" for name in REASON_NAMES) + ", not 'allready_following'; did you mean `already_following`?"),
    ('register: {users: [bob], handle: "@alice", expect: failure, reason: taken}',
     "6:73: steps.1.register.reason: should be one of " + ", ".join(f"`{name}`" for name in REASON_NAMES)
     + ", not 'taken'"),
])
def test_a_step_names_a_known_reason_and_only_for_a_refusal(tmp_path, capsys, step, problem):
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC.format(step=step))
    status, lines = validate_lines(capsys, spec)
    assert (status, lines) == (1, [f"{spec}:{problem}", "1 spec file, 0 manifests: 1 problem"])


def test_the_vocabulary_is_the_same_in_manifests_and_scenarios():
    assert tuple(Replies.model_fields["reasons"].annotation.model_fields) == REASON_NAMES
    assert PairArgs(user="bob", target="@nobody", expect="failure", reason="busy").reason == "busy"
    scenario = Scenario.model_validate({"name": "s", "points": 1, "users": ["bob"], "steps": [
        {"exit": {"user": "bob", "expect": "failure", "reason": "not_registered"}}]})
    assert step_args(scenario.steps[0]).reason == "not_registered"
