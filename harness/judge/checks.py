"""A check: one judged property, what was expected, what was seen, and the evidence used."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CheckStatus = Literal["passed", "failed", "skipped"]


@dataclass
class CheckResult:
    """One judged property: what was expected, what was seen, and the evidence used."""

    name: str
    status: CheckStatus
    message: str = ""
    step: int | None = None
    evidence: str | None = None  # what decided it: "wire" (the capture) or "console" (printed lines)

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def to_json(self) -> dict:
        data = {"name": self.name, "status": self.status, "message": self.message, "step": self.step}
        if self.evidence:
            data["evidence"] = self.evidence
        return data


def passed(name: str, message: str = "") -> CheckResult:
    return CheckResult(name, "passed", message)


def failed(name: str, message: str) -> CheckResult:
    return CheckResult(name, "failed", message)


def skipped(name: str, message: str) -> CheckResult:
    return CheckResult(name, "skipped", message)
