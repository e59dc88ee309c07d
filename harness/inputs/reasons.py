"""The reasons a command can be refused for: one vocabulary for the manifest and the scenarios.

A FAILURE alone does not say why. A refusal for the wrong reason (`follow @carol @bob` refused with
"already following @bob" after @bob exited, because stale ring state survived the exit) is a bug a
TA takes points for. So a manifest may name, by these names, the words its failure lines use for
each reason (`replies.reasons`), and a scenario step that expects failure may name the reason it
tests (`reason:`). Both read the names from here, so they cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Reason:
    """One reason for a refusal: a short label, and the sentence that says it (`{user}` is the handle
    of the user typing, `{target}` the handle the command is about)."""

    label: str
    because: str


REASONS: dict[str, Reason] = {
    "unknown_handle": Reason("unknown handle", "{target} is not registered"),
    "already_following": Reason("already following", "{user} already follows {target}"),
    "not_following": Reason("not following", "{user} does not follow {target}"),
    "not_registered": Reason("not registered", "{user} has not registered"),
    "duplicate_handle": Reason("handle taken", "{target} is already registered"),
    "invalid_handle": Reason("invalid handle", "{target} is not a valid handle"),
    "busy": Reason("busy", "the tracker is busy with a tweet"),
}
REASON_NAMES = tuple(REASONS)
ReasonName = Literal[REASON_NAMES]  # type: ignore[valid-type]


def reasons_of(line: str, patterns: dict[str, str]) -> list[str]:
    """The named reasons whose pattern a FAILURE line matches, in the vocabulary's order. Patterns are
    searched anywhere in the line, ignoring case: a failure line's words are the student's prose
    ("Already following @bob"), not a fixed format."""
    return [name for name in REASON_NAMES
            if name in patterns and re.search(patterns[name], line[:4096], re.IGNORECASE) is not None]
