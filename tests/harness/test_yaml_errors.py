"""Malformed scenario files and manifests are reported like a compiler would: one line each,
`file:LINE:COLUMN:` at the offending key or value, in plain words, with "did you mean" for slips.

Each case marks the place the message must point at with `»` in the text (removed before writing).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from harness.cli import main
from harness.inputs.schema import manifest_schema, scenario_schema
from tests.conftest import ROOT

MARK = "»"
SCENARIO = "name: x\npoints: 1\nusers: [alice, bob]\nsteps:\n"

SCENARIO_CASES = [
    # misspelt step name and misspelt key
    (SCENARIO + "  - »follw: {user: alice, target: bob}\n", "unknown step `follw`; did you mean `follow`?"),
    (SCENARIO + "  - follow: {user: alice, »targt: bob}\n", "unknown key `targt`; did you mean `target`?"),
    ("name: x\npoints: 1\nusers: [alice]\n»step:\n  - register: all\n", "did you mean `steps`?"),
    (SCENARIO + "  - follow: {user: alice, target: bob, expect: »failur}\n", "did you mean `failure`?"),
    (SCENARIO + "  - tweet: {user: alice, deliver_to: [], grade: [»rign_order]}\n", "did you mean `ring_order`?"),
    # wrong types, a list or text where a mapping goes, negative numbers
    ("name: x\npoints: »lots\nusers: [alice]\nsteps:\n  - register: all\n", "points: should be a number, not 'lots'"),
    ("name: x\npoints: »-3\nusers: [alice]\nsteps:\n  - register: all\n", "points: should be at least 0, not -3"),
    (SCENARIO + "  - expect_not: {at: alice, pattern: x, within: »-1}\n", "within: should be more than 0, not -1"),
    (SCENARIO + "  - follow: »[alice, bob]\n", "steps.0.follow: should be a mapping of keys, not a list"),
    (SCENARIO + "  - register: all\n  - tweet: »5\n", "should be a mapping of keys, not 5"),
    ("name: x\npoints: 1\nusers: »alice\nsteps:\n  - register: all\n", "users: should be a list, not 'alice'"),
    ("name: x\npoints: 1\nusers: [alice]\nsetup: »1.5\nsteps:\n  - register: all\n", "should be a whole number"),
    ("»- just\n- a list\n", "a scenario must be a mapping of keys"),
    ("»", "the file is empty (or only comments): a scenario needs `name`, `points`, `users` and `steps`"),
    ("»# only a comment\n", "the file is empty (or only comments)"),
    (SCENARIO + "  - »follow:\n    user: alice\n", "indent the step's keys under `follow:`"),
    (SCENARIO + "  - »just text\n", "a step is a mapping with one key naming its kind"),
    # bad regexes, placeholders, names, whole-scenario rules
    (SCENARIO + "  - expect: {at: alice, pattern: »'(unclosed'}\n", "invalid regular expression"),
    (SCENARIO + "  - type: {to: alice, line: »'x {nope}'}\n", "unknown placeholder {nope}"),
    (SCENARIO + "  - register: all\n  - follow: {user: alice, target: »zed}\n",
     "'zed' is not one of the scenario's users"),
    (SCENARIO + "  - register: all\n  - »tweet: {user: alice}\n", "`deliver_to` is required"),
    ("name: x\npoints: 1\n»users: [alice, alice2]\nsteps:\n  - register: all\n",
     "user name 'alice2' must be 1 to 15 letters"),
    # network faults: chances, the delay's range, the seed, a misspelt key
    ("name: x\npoints: 1\nusers: [alice]\nfaults: {loss: »1.5}\nsteps:\n  - register: all\n",
     "faults.loss: should be at most 1, not 1.5"),
    ("name: x\npoints: 1\nusers: [alice]\nfaults: {»los: 0.2}\nsteps:\n  - register: all\n",
     "unknown key `los`; did you mean `loss`?"),
    ("name: x\npoints: 1\nusers: [alice]\nfaults: {»delay_ms: [50, 5]}\nsteps:\n  - register: all\n",
     "faults.delay_ms: should be [lo, hi] with 0 <= lo <= hi <= 10000, not [50, 5]"),
    ("name: x\npoints: 1\nusers: [alice]\nfaults: {delay_ms: »fast}\nsteps:\n  - register: all\n",
     "faults.delay_ms: should be a list or a number, not 'fast'"),
    ("name: x\npoints: 1\nusers: [alice]\nfaults: {seed: »-1}\nsteps:\n  - register: all\n",
     "faults.seed: should be at least 0, not -1"),
    ("name: x\npoints: 1\nusers: [alice]\nfaults: {reorder: »maybe}\nsteps:\n  - register: all\n",
     "faults.reorder: should be true or false"),
    # syntax errors: reported where the bracket or quote opens, and the duplicated key
    ("name: x\npoints: 1\nusers: »[alice\nsteps:\n  - register: all\n", "this '[' is never closed"),
    (SCENARIO + "  - follow: »{user: alice, target: bob\n  - register: all\n", "this '{' is never closed"),
    ('name: »"abc\npoints: 1\nusers: [alice]\n', "this '\"' is never closed"),
    ("name: »'it''s\npoints: 1\n", "this \"'\" is never closed"),
    ("name: x\ntags: [a, »[b, c}]\n", "this '[' is never closed"),
    ("name: x\n»\tpoints: 1\n", "indent YAML with spaces"),
    ("name: x\npoints: 1\n»name: y\n", "key 'name' is given twice (first at line 1)"),
]

MANIFEST_CASES = [
    ("commands: »[1]\n", "commands: should be a mapping of keys, not a list"),
    ("»lanch: {}\n", "unknown key `lanch`; did you mean `launch`?"),
    ("»end_tweet_automatic: false\n", "it belongs under `tweets:`"),
    ("replies:\n  follow: {»sucess: x, failure: y}\n", "did you mean `success`?"),
    ("pace_ms: »-5\n", "pace_ms: should be at least 0, not -5"),
    ("ports_per_user: »9\n", "should be at most 5, not 9"),
    ("network:\n  tracker:\n    port: »-1\n", "should be at least 1"),
    ("timeouts: {step: »0}\n", "should be more than 0"),
    ("tweets:\n  received: »'got (.*)'\n", "needs the named group(s) text"),
    ("tweets:\n  received: »5\n", "should be text or a list, not 5"),
    ("tweets:\n  »returned: {at: tracker}\n", "missing required key `line`"),
    ("query:\n  reply: »'(x'\n", "invalid regular expression"),
    ("launch:\n  tracker: »''\n", "launch command is empty"),
    ("commands:\n  follow: »'follow {handle} {whom}'\n", "unknown placeholder {whom}"),
    ("»- a\n- b\n", "a manifest must be a mapping of keys"),
    ("launch: {tracker: »[x\n", "this '[' is never closed"),
]


def schema_keys(node: object) -> set[str]:
    """Every key the published schemas allow, anywhere."""
    if isinstance(node, dict):
        return set(node.get("properties", {})) | {key for value in node.values() for key in schema_keys(value)}
    if isinstance(node, list):
        return {key for value in node for key in schema_keys(value)}
    return set()


def internal_identifiers() -> set[str]:
    """Names of classes and functions in harness/inputs, which no message may show; function names
    that are also keys an author writes (`ports_per_user`) are left out."""
    names = set()
    for module in (ROOT / "harness" / "inputs").glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.FunctionDef) and ("_" in node.name or node.name[0].isupper()):
                names.add(node.name)
    return names - schema_keys([scenario_schema(), manifest_schema()])


INTERNAL = internal_identifiers()
FOREIGN = re.compile(r"pydantic|https?://|Input should|Value error|\b[A-Z][a-z0-9]+[A-Z]\w*|\w+\[\w+|function-")


def marked(text: str) -> tuple[str, str]:
    """The text without its mark, and the `LINE:COLUMN` of the mark."""
    before = text[:text.index(MARK)]
    return text.replace(MARK, ""), f"{before.count(chr(10)) + 1}:{len(before.rsplit(chr(10), 1)[-1]) + 1}"


def validate_lines(capsys, path: Path) -> tuple[int, list[str]]:
    status = main(["validate", str(path)])
    captured = capsys.readouterr()
    return status, (captured.out + captured.err).splitlines()


def assert_reported(capsys, path: Path, text: str, fragment: str) -> None:
    source, place = marked(text)
    path.write_text(source, encoding="utf-8")
    status, lines = validate_lines(capsys, path)
    problems, summary = lines[:-1], lines[-1]
    assert status == 1, lines
    assert summary.endswith(f"{len(problems)} problem{'s' * (len(problems) != 1)}"), lines
    for problem in problems:
        assert problem.startswith(f"{path}:"), problem
        assert re.match(rf"{re.escape(str(path))}:\d+:\d+: \S", problem), problem
        assert not FOREIGN.search(problem.removeprefix(str(path))), problem
        assert not set(re.findall(r"\w+", problem.removeprefix(str(path)))) & INTERNAL, problem
    assert any(p.startswith(f"{path}:{place}: ") and fragment in p for p in problems), (place, problems)


@pytest.mark.parametrize("text, fragment", SCENARIO_CASES, ids=[f"s{n}" for n in range(len(SCENARIO_CASES))])
def test_malformed_scenarios_point_at_the_offending_node(tmp_path, capsys, text, fragment):
    assert_reported(capsys, tmp_path / "bad.yaml", text, fragment)


@pytest.mark.parametrize("text, fragment", MANIFEST_CASES, ids=[f"m{n}" for n in range(len(MANIFEST_CASES))])
def test_malformed_manifests_point_at_the_offending_node(tmp_path, capsys, text, fragment):
    assert_reported(capsys, tmp_path / "tweeter.yaml", text, fragment)


def test_the_identifier_check_would_catch_class_names():
    assert {"Commands", "Scenario", "TweetArgs", "check_regex"} <= INTERNAL
    assert FOREIGN.search("should be a valid dictionary or instance of ReturnedLine")
    assert FOREIGN.search("tweets.received.list[str]: Input should be a valid list")


def test_yaml_1_2_reads_no_and_on_as_text(tmp_path, capsys):
    spec = tmp_path / "words.yaml"
    spec.write_text("name: no\npoints: 1\nusers: [alice]\nsteps:\n  - register: all\n"
                    "  - tweet: {user: alice, text: on, deliver_to: []}\n")
    status, lines = validate_lines(capsys, spec)
    assert status == 0, lines
    from harness.inputs.scenario import load_scenario, step_args
    scenario = load_scenario(spec)
    assert scenario.name == "no" and step_args(scenario.steps[1]).text == "on"
