"""Errors the harness reports to its user as one clear line instead of a traceback."""

from __future__ import annotations


class HarnessError(Exception):
    """A problem with how the harness was asked to run (exit status 2)."""


class InputFileError(HarnessError):
    """A scenario file or manifest is malformed; says where, like a compiler would."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(problems))
