"""A check: one judged property, what was expected, what was seen, and the evidence used.

`passed` and `failed` are verdicts on what was seen; `unverified` means the harness could not see the
property at all (nothing printed that would show it, no capture), so it earns nothing and says what
the student can print to make it visible; `skipped` means it does not apply here (or is not what
this scenario grades). `cause` is the one line a person reads first: "@bob printed the tweet twice".
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


def passed(name: str, message: str = "") -> CheckResult:
    return CheckResult(name, "passed", message)


def failed(name: str, message: str, cause: str = "") -> CheckResult:
    return CheckResult(name, "failed", message, cause=cause or f"{name}: no")


def unverified(name: str, message: str, cause: str = "") -> CheckResult:
    return CheckResult(name, "unverified", message, cause=cause or f"could not see whether {name}")


def skipped(name: str, message: str) -> CheckResult:
    return CheckResult(name, "skipped", message)
