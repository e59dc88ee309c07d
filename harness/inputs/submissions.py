"""Finding submissions: a folder is one if it holds a manifest or the default programs; a folder of
such folders is a batch (a class)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.inputs.manifest import MANIFEST_NAME

DEFAULT_PROGRAMS = ("tracker.py", "user.py")


@dataclass(frozen=True)
class Submission:
    name: str
    path: Path


def is_submission(folder: Path) -> bool:
    return (folder / MANIFEST_NAME).is_file() or all((folder / p).is_file() for p in DEFAULT_PROGRAMS)


def discover(paths: list[Path]) -> list[Submission]:
    """Submissions named by `paths`, in order; names made unique for the output folders."""
    found: list[Path] = []
    for path in paths:
        if not path.is_dir():
            raise HarnessError(f"{path}: no such folder")
        if is_submission(path):
            found.append(path)
            continue
        children = sorted(c for c in path.iterdir() if c.is_dir() and is_submission(c))
        if not children:
            raise HarnessError(f"{path}: not a submission (no {MANIFEST_NAME}, no tracker.py and user.py) "
                               "and holds no submission folders")
        found.extend(children)
    return _named(found)


def _named(folders: list[Path]) -> list[Submission]:
    used: dict[str, int] = {}
    result = []
    for folder in folders:
        base = folder.resolve().name or "submission"
        used[base] = used.get(base, 0) + 1
        name = base if used[base] == 1 else f"{base}-{used[base]}"
        result.append(Submission(name, folder.resolve()))
    return result
