"""A check: one judged property, what was expected, what was seen, and the evidence used.

No credit without evidence: `passed` is a verdict on something seen that shows the property, and
says what (a check cannot pass with nothing to show); `failed` on something seen that shows the
opposite; `unverified` means nothing seen shows it either way (nothing printed that would show it,
no packet that could), so it earns nothing and says what the program would have to print or send to
make it visible; `skipped` means the scenario does not grade it (or it has no subject here, as the
order of a ring of one), and costs nothing. `cause` is the one line a person reads first: "@bob
printed the tweet twice".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CheckStatus = Literal["passed", "failed", "unverified", "skipped"]


@dataclass
class CheckResult:
    """One judged property: what was expected, what was seen, and the evidence used."""

    name: str
    status: CheckStatus
    message: str = ""
    step: int | None = None
    evidence: str | None = None  # what decided it: "wire" (the capture) or "console" (printed lines)
    cause: str = ""  # for a failed or unverified check: the cause in one line

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    @property
    def unverified(self) -> bool:
        return self.status == "unverified"

    @property
    def lost(self) -> bool:
        """Whether it costs the scenario its points (failed, or not seen at all)."""
        return self.status in ("failed", "unverified")

    def to_json(self) -> dict:
        data = {"name": self.name, "status": self.status, "message": self.message, "step": self.step}
        if self.evidence:
            data["evidence"] = self.evidence
        return data


def passed(name: str, seen: str) -> CheckResult:
    """A property seen to hold; `seen` says what showed it, and must say something."""
    if not seen.strip():
        raise ValueError(f"check {name!r} cannot pass without saying what was seen")
    return CheckResult(name, "passed", seen)


def failed(name: str, message: str, cause: str = "") -> CheckResult:
    return CheckResult(name, "failed", message, cause=cause or f"{name}: no")


def unverified(name: str, message: str, cause: str = "") -> CheckResult:
    return CheckResult(name, "unverified", message, cause=cause or f"could not see whether {name}")


def skipped(name: str, message: str) -> CheckResult:
    return CheckResult(name, "skipped", message)
