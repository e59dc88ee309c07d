"""`tweeter-harness gradescope-bundle`: an autograder.zip for Gradescope.

The zip holds the harness's own source (installed by setup.sh into a virtual environment), the
scenario files, and run_autograder, which grades /autograder/submission and always leaves a
results.json behind: if the harness cannot run at all, a zero score with the reason.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path

from harness.errors import HarnessError
from harness.inputs.scenario import scenario_files

PACKAGES = {"harness": "cli"}  # package, a module that proves it is ours
SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once when the autograder image is built (Ubuntu 22.04 there; proven on a fresh
# Debian bookworm too).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
# python3: the students' Python programs run with the system's; iproute2: virtual LANs where the
# container allows them; bubblewrap: programs see only their working copy where it can run.
apt-get install -y python3 iproute2 bubblewrap
# The harness needs Python 3.11+ with venv: the system's where it is new enough (Debian 12+, Ubuntu
# 23.04+), else python3.11 from the distribution (Ubuntu 22.04's universe) or from deadsnakes.
if python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    apt-get install -y python3-venv
    PY=python3
else
    apt-get install -y python3.11 python3.11-venv || {
        apt-get install -y software-properties-common
        add-apt-repository -y ppa:deadsnakes/ppa && apt-get update && apt-get install -y python3.11 python3.11-venv; }
    PY=python3.11
fi
"$PY" -m venv /autograder/venv
/autograder/venv/bin/pip install --upgrade pip
/autograder/venv/bin/pip install /autograder/source/tweeter-harness
# The scenarios (hidden ones too) and the harness: for root alone, whatever a student's code tries.
chmod -R go-rwx /autograder/source /autograder/venv
"""
RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this for every submission. results.json is written whatever happens.
ROOT="${AUTOGRADER_ROOT:-/autograder}"
HARNESS="${TWEETER_HARNESS:-$ROOT/venv/bin/tweeter-harness}"
RESULTS="$ROOT/results"
WORK="$ROOT/grading"
mkdir -p "$RESULTS"
rm -rf "$WORK"
"$HARNESS" grade "$ROOT/submission" --specs "$ROOT/source/specs" --out "$WORK" --quiet --network __NETWORK__ \
    >"$RESULTS/harness-output.txt" 2>&1
status=$?
found=$(find "$WORK" -mindepth 2 -maxdepth 2 -name results.json 2>/dev/null | head -n 1)
if [ -n "$found" ]; then
    cp "$found" "$RESULTS/results.json"
else
    python3 - "$RESULTS/results.json" "$RESULTS/harness-output.txt" "$status" <<'PY'
import json, sys
results, log, status = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    tail = open(log, encoding="utf-8", errors="replace").read()[-3000:]
except OSError:
    tail = "(no output)"
json.dump({"score": 0.0, "visibility": "visible", "stdout_visibility": "hidden",
           "output": "The grader could not grade this submission (exit status " + status + ").\n"
                     "Check that your files are at the top level of the upload, or that your "
                     "tweeter.yaml is valid.\n\n" + tail,
           "tests": []}, open(results, "w"), indent=2)
PY
fi
exit 0
"""


def _pyproject() -> str:
    """A minimal pyproject with the installed harness's own requirements."""
    requirements = [r for r in importlib.metadata.requires("tweeter-harness") or [] if "extra ==" not in r]
    deps = ",\n".join(f'    "{r}"' for r in requirements)
    version = importlib.metadata.version("tweeter-harness")
    return f"""[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "tweeter-harness"
version = "{version}"
requires-python = ">=3.11"
dependencies = [
{deps}
]

[project.scripts]
tweeter-harness = "harness.cli:main"

[tool.setuptools.packages.find]
include = ["harness*"]

[tool.setuptools.package-data]
"*" = ["*.yaml", "*.json", "*.md", "*.j2", "templates/*"]
"""


def _add_executable(archive: zipfile.ZipFile, name: str, text: str) -> None:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFREG | 0o755) << 16
    archive.writestr(info, text)


def reference_folder() -> Path:
    """The model answer, from a checkout of the project (it is not installed with the harness)."""
    folder = Path(importlib.util.find_spec("harness.cli").origin).parent.parent / "reference"
    if not (folder / "tracker.py").is_file():
        raise HarnessError("--with-reference needs a checkout of the project: the installed harness carries "
                           "no model answer")
    return folder


def build_bundle(specs: list[Path], output: Path, network: str = "auto", with_reference: bool = False) -> list[str]:
    """Write autograder.zip; returns the names of the scenario files it carries. `network`: the
    --network its run_autograder grades with (auto: hosts, as Gradescope runs it as root);
    `with_reference`: also carry the model answer (in reference/, not installed), to try the
    autograder on it."""
    files = scenario_files(specs)
    reference = reference_folder() if with_reference else None
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tweeter-harness"
        for package, module in PACKAGES.items():
            source = Path(importlib.util.find_spec(f"{package}.{module}").origin).parent
            shutil.copytree(source, tree / package,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "bundled_specs"))
        (tree / "pyproject.toml").write_text(_pyproject())
        with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
            _add_executable(archive, "setup.sh", SETUP_SH)
            _add_executable(archive, "run_autograder", RUN_AUTOGRADER.replace("__NETWORK__", network))
            for path in sorted(tree.rglob("*")):
                if path.is_file():
                    archive.write(path, str(path.relative_to(tmp)))
            for spec in files:
                archive.write(spec, f"specs/{spec.name}")
            for path in sorted(reference.glob("*.py")) + sorted(reference.glob("*.md")) if reference else []:
                archive.write(path, f"reference/{path.name}")
    return [f.name for f in files]

