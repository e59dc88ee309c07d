"""The package's data flows one way: inputs -> net -> run -> judge -> reports -> entry points.

Every import in harness/ (lazy ones inside functions included) is read with ast, and each arrow
that points back up the flow fails the test, naming the module and the line.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "harness"
RANK = {"errors": 0, "shared": 0, "inputs": 1, "net": 2, "run": 3, "judge": 4, "reports": 5}
ENTRY = 6  # modules at the top of the package: cli, batch, rejudge, pytest_plugin, ...
# the modules of run/ that the judge and the reports read: the records, and the messages their
# frames hold (run/exchanges.py, a pure reading of records)
RECORDS = ("harness.run.records", "harness.run.exchanges")


def stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANK else "entry"


def rank(module: str) -> int:
    return RANK.get(stage(module), ENTRY)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import of a harness module in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.lineno, f"{node.module}.{alias.name}") if node.module == "harness"
                      else (node.lineno, node.module) for alias in node.names]
    return [(line, name) for line, name in found if name == "harness" or name.startswith("harness.")]


def backward_arrows(modules: dict[str, list[tuple[int, str]]]) -> list[str]:
    problems = []
    for source, targets in modules.items():
        for line, target in targets:
            if rank(target) > rank(source):
                problems.append(f"{source}:{line} imports {target}, a later stage")
            elif stage(source) in ("judge", "reports") and stage(target) == "run" and target not in RECORDS:
                problems.append(f"{source}:{line} imports {target}; of run/ only the records (and their messages) "
                                "may be read")
            elif stage(source) == "reports" and stage(target) == "inputs":
                problems.append(f"{source}:{line} imports {target}; reports read grades and records only")
    return problems


def test_no_import_points_back_up_the_data_flow():
    modules = {module_name(path): imports(path) for path in PACKAGE.rglob("*.py")}
    assert {stage(m) for m in modules} == set(RANK) | {"entry"}  # every stage exists and is looked at
    assert backward_arrows(modules) == []


def test_the_rule_catches_a_backward_arrow():
    """The checker itself can fail: a runner importing the judge, a report reading the runner."""
    planted = {"harness.run.runner": [(3, "harness.judge.checks")],
               "harness.reports.html": [(5, "harness.run.trace"), (6, "harness.run.records"),
                                        (7, "harness.run.exchanges")],
               "harness.net.netns": [(7, "harness.run.sandbox")],
               "harness.judge.steps": [(9, "harness.inputs.scenario")]}
    assert backward_arrows(planted) == [
        "harness.run.runner:3 imports harness.judge.checks, a later stage",
        "harness.reports.html:5 imports harness.run.trace; of run/ only the records (and their messages) may be "
        "read",
        "harness.net.netns:7 imports harness.run.sandbox, a later stage",
    ]
