"""`validate` and the loaders reject malformed specs and manifests with file:line messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.inputs.schema import dumps, manifest_schema, scenario_schema

ROOT = Path(__file__).resolve().parents[2]


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def validate(capsys, *paths: Path) -> tuple[int, str]:
    status = main(["validate", *map(str, paths)])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_bundled_specs_are_valid_and_total_100(capsys):
    status, output = validate(capsys, ROOT / "specs")
    assert status == 0, output
    import yaml
    total = sum(yaml.safe_load(p.read_text())["points"] for p in (ROOT / "specs").glob("*.yaml"))
    assert total == 100


@pytest.mark.parametrize("text, line, fragment", [
    ("name: x\npoints: 1\nusers: [alice]\nsteps:\n  - follw: {user: alice, target: bob}\n", 5,
     "steps.0: a step is a mapping with exactly one key"),
    ("name: x\npoints: 1\nusers: [alice]\nsteps:\n  - register: all\n  - tweet: {user: alice}\n", 6,
     "steps.1.tweet: `deliver_to` is required"),
    ("name: x\npoints: 1\nusers: [alice]\nsteps:\n  - register: all\n  - follow:\n      user: alice\n"
     "      target: alice\n      expcet: failure\n", 9, "steps.1.follow.expcet: unknown key"),
    ("name: x\npoints: lots\nusers: [alice]\nsteps:\n  - register: all\n", 2, "points: Input should be a valid number"),
    ("name: x\npoints: 1\nusers: [alice2]\nsteps:\n  - register: all\n", 3, "user name 'alice2' must be 1 to 15 letters"),
    ("name: x\npoints: 1\nusers: [alice]\nsteps:\n  - type: {to: alice, line: 'x {nope}'}\n", 5,
     "unknown placeholder {nope}"),
    ("name: x\npoints: 1\nusers: [alice]\nsteps:\n  - expect: {at: alice, pattern: '(unclosed'}\n", 5,
     "invalid regular expression"),
    ("name: [unclosed\n", 2, "YAML syntax error"),
    ("- just\n- a list\n", 1, "a scenario must be a mapping"),
])
def test_malformed_scenarios_are_reported_with_file_and_line(tmp_path, capsys, text, line, fragment):
    spec = write(tmp_path, "bad.yaml", text)
    status, output = validate(capsys, spec)
    assert status == 2
    assert f"{spec}:{line}:" in output
    assert fragment in output
    assert "Traceback" not in output


def test_unknown_user_and_dependency_are_reported(tmp_path, capsys):
    write(tmp_path, "a.yaml", "name: x\npoints: 1\nusers: [alice]\nsteps:\n  - register: all\n"
          "  - follow: {user: alice, target: zed}\n")
    write(tmp_path, "b.yaml", "name: x\npoints: 1\nusers: [alice]\ndepends_on: [missing]\nsteps:\n"
          "  - register: all\n")
    status, output = validate(capsys, tmp_path)
    assert status == 2
    assert f"{tmp_path / 'a.yaml'}:6: steps.1: 'zed' is not one of the scenario's users" in output
    assert "depends_on names 'missing'" in output


def test_dependency_loops_are_reported(tmp_path, capsys):
    for name, dep in (("a", "b"), ("b", "a")):
        write(tmp_path, f"{name}.yaml", f"name: {name}\npoints: 1\nusers: [alice]\ndepends_on: [{dep}]\n"
              "steps:\n  - register: all\n")
    status, output = validate(capsys, tmp_path)
    assert status == 2 and "depends_on forms a loop" in output


@pytest.mark.parametrize("text, line, fragment", [
    ("commands:\n  follow: 'follow {handle} {whom}'\n", 2, "unknown placeholder {whom}"),
    ("tweets:\n  received: 'got (.*)'\n", 2, "needs the named group(s) text"),
    ("ports_per_user: 9\n", 1, "ports_per_user: Input should be less than or equal to 5"),
    ("launch:\n  tracker: ''\n", 2, "launch command is empty"),
    ("lanch: {}\n", 1, "lanch: unknown key"),
])
def test_malformed_manifests_are_reported_with_file_and_line(tmp_path, capsys, text, line, fragment):
    manifest = write(tmp_path, "tweeter.yaml", text)
    status, output = validate(capsys, manifest)
    assert status == 2
    assert f"{manifest}:{line}:" in output and fragment in output


def test_alias_bomb_is_refused(tmp_path, capsys):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8))
    spec = write(tmp_path, "bomb.yaml", bomb)
    status, output = validate(capsys, spec)
    assert status == 2 and "too large" in output


def test_published_schemas_match_the_models():
    regenerate = "regenerate with: tweeter-harness schema scenario > specs/schema.json (and manifest)"
    assert json.loads((ROOT / "specs" / "schema.json").read_text()) == json.loads(dumps(scenario_schema())), regenerate
    assert json.loads((ROOT / "specs" / "manifest.schema.json").read_text()) == json.loads(dumps(manifest_schema()))


def test_schema_validates_the_bundled_specs():
    import jsonschema
    import yaml
    schema = scenario_schema()
    for spec in (ROOT / "specs").glob("*.yaml"):
        jsonschema.validate(yaml.safe_load(spec.read_text()), schema)
