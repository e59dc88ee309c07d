"""`validate` checks spec folders (as one suite) and submissions' manifests in one call: one line
per problem, a summary, exit 0 clean, 1 problems, 2 usage errors. The wording and place of each
message is tested in test_yaml_errors.py."""

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
    assert output.strip().endswith("manifests: no problems")
    import yaml
    total = sum(yaml.safe_load(p.read_text())["points"] for p in (ROOT / "specs").glob("*.yaml"))
    assert total == 100


def spec(folder: Path, name: str, depends_on: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    extra = f"depends_on: [{depends_on}]\n" if depends_on else ""
    return write(folder, f"{name}.yaml", f"name: {name}\npoints: 1\n{extra}users: [alice]\nsteps:\n  - register: all\n")


def submission(folder: Path, manifest: str) -> Path:
    folder.mkdir(parents=True)
    write(folder, "tweeter.yaml", manifest)
    return folder


def test_spec_folders_are_one_suite_and_submissions_are_checked_in_the_same_call(tmp_path, capsys):
    spec(tmp_path / "public", "register_new")
    spec(tmp_path / "public", "query_none")
    spec(tmp_path / "hidden", "secret", depends_on="register_new")
    good = submission(tmp_path / "alice", "launch:\n  tracker: python3 t.py {tracker_port}\n")
    status, output = validate(capsys, tmp_path / "public", tmp_path / "hidden", good)
    assert (status, output.strip()) == (0, "3 spec files, 1 manifest: no problems")
    status, output = validate(capsys, tmp_path / "hidden")  # alone, its dependency is missing
    assert status == 1
    assert f"{tmp_path / 'hidden' / 'secret.yaml'}:3:14: depends_on names 'register_new', which is not in the suite" in output


def test_every_problem_of_specs_and_manifests_is_listed_then_counted(tmp_path, capsys):
    spec(tmp_path / "specs", "a")
    write(tmp_path / "specs", "b.yaml", "name: b\npoints: 1\nusers: [alice]\nsteps:\n  - register: all\n"
          "  - follow: {user: alice, target: zed}\n")
    write(tmp_path / "specs", "c.yaml", "name: c\npoints: 1\nusers: [alice]\ndepends_on: [aa]\nsteps:\n"
          "  - register: all\n")
    bob = submission(tmp_path / "class" / "bob", "lanch: {}\n")
    carol = submission(tmp_path / "class" / "carol", "pace_ms: -1\n")
    status, output = validate(capsys, tmp_path / "specs", tmp_path / "class")
    assert status == 1
    assert output.splitlines() == [
        f"{tmp_path / 'specs' / 'b.yaml'}:6:35: steps.1.follow.target: 'zed' is not one of the scenario's users",
        f"{tmp_path / 'specs' / 'c.yaml'}:4:14: depends_on names 'aa', which is not in the suite; did you mean 'a'?",
        f"{bob / 'tweeter.yaml'}:1:1: lanch: unknown key `lanch`; did you mean `launch`?",
        f"{carol / 'tweeter.yaml'}:1:10: pace_ms: should be at least 0, not -1",
        "3 spec files, 2 manifests: 4 problems",
    ]


def test_an_id_in_two_spec_folders_names_both_files(tmp_path, capsys):
    first, second = spec(tmp_path / "public", "register_new"), spec(tmp_path / "hidden", "register_new")
    status, output = validate(capsys, tmp_path / "public", tmp_path / "hidden")
    assert status == 1
    assert f"{second}:1:1: scenario id 'register_new' (the file name) is also used by {first}" in output
    assert output.splitlines()[-1] == "2 spec files, 0 manifests: 1 problem"


def test_dependency_loops_are_reported(tmp_path, capsys):
    for name, dep in (("a", "b"), ("b", "a")):
        spec(tmp_path, name, depends_on=dep)
    status, output = validate(capsys, tmp_path)
    assert status == 1
    assert f"{tmp_path / 'a.yaml'}:3:1: depends_on forms a loop: a -> b -> a" in output


@pytest.mark.parametrize("make, message", [
    (lambda root: root / "nowhere", "nowhere: no such file or folder"),
    (lambda root: (root / "empty").mkdir() or root / "empty",
     "empty: neither a spec folder (no *.yaml scenario files) nor a submission (no tweeter.yaml, here or one level down)"),
])
def test_a_path_that_is_missing_or_neither_is_a_usage_error(tmp_path, capsys, make, message):
    good = spec(tmp_path / "specs", "a")
    status, output = validate(capsys, good, make(tmp_path))
    assert status == 2
    assert output.splitlines() == [f"tweeter-harness: {tmp_path / message}"]


def test_alias_bomb_is_refused(tmp_path, capsys):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8))
    spec = write(tmp_path, "bomb.yaml", bomb)
    status, output = validate(capsys, spec)
    assert status == 1 and f"{spec}:1:1: document too large" in output


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
