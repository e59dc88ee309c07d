"""`validate`: check spec files, spec folders and submissions' manifests together, before grading.

The spec paths are one suite, as `grade --specs A --specs B` would load them: a hidden scenario may
depend on a public one, and an id used in two folders is an error. A submission folder (one holding a
`tweeter.yaml`) has its manifest checked; a class folder of them has each one's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HarnessError, InputFileError
from harness.inputs import yaml_source
from harness.inputs.manifest import MANIFEST_NAME, Manifest
from harness.inputs.scenario import load_suite, scenario_files


@dataclass
class Findings:
    """What `validate` checked and every problem it found, one line each."""

    spec_files: list[Path] = field(default_factory=list)
    manifests: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """`3 spec files, 2 manifests: 2 problems`."""
        counted = [_plural(len(self.spec_files), "spec file"), _plural(len(self.manifests), "manifest")]
        verdict = _plural(len(self.problems), "problem") if self.problems else "no problems"
        return f"{', '.join(counted)}: {verdict}"

    @property
    def exit_status(self) -> int:
        """0 when everything is valid, 1 when something is not (2, usage errors, is raised instead)."""
        return 1 if self.problems else 0


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def validate_paths(paths: list[Path]) -> Findings:
    """Sort the paths into specs and manifests, then check them; a path that is neither (or is
    missing) is a HarnessError naming every such path, and nothing is checked."""
    specs, manifests, refused = [], [], []
    for path in paths:
        try:
            found_specs, found_manifests = _classify(path)
        except HarnessError as exc:
            refused.append(str(exc))
            continue
        specs.extend(found_specs)
        manifests.extend(found_manifests)
    if refused:
        raise HarnessError("; ".join(refused))
    findings = Findings(manifests=list(dict.fromkeys(manifests)))
    specs = list(dict.fromkeys(specs))
    if specs:
        findings.spec_files = scenario_files(specs)
        try:
            load_suite(specs, require_dependencies=True)
        except InputFileError as exc:
            findings.problems.extend(exc.problems)
    for manifest in manifests:
        try:
            yaml_source.validate(yaml_source.load(manifest), Manifest, "manifest")
        except InputFileError as exc:
            findings.problems.extend(exc.problems)
    return findings


def _classify(path: Path) -> tuple[list[Path], list[Path]]:
    """(spec paths, manifest files) a command-line path stands for."""
    if path.is_file():
        return ([], [path]) if path.name == MANIFEST_NAME else ([path], [])
    if not path.is_dir():
        raise HarnessError(f"{path}: no such file or folder")
    if (path / MANIFEST_NAME).is_file():
        return [], [path / MANIFEST_NAME]
    if scenario_files([path]):
        return [path], []
    below = sorted(entry / MANIFEST_NAME for entry in path.iterdir()
                   if entry.is_dir() and (entry / MANIFEST_NAME).is_file())
    if below:
        return [], below
    raise HarnessError(f"{path}: neither a spec folder (no *.yaml scenario files) nor a submission "
                       f"(no {MANIFEST_NAME}, here or one level down)")
