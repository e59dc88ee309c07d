"""Strings from submissions made safe for any report: printable, bounded, formatted the same way
everywhere. Everything a submission printed is hostile."""

from __future__ import annotations

import re

MAX_TEXT = 300  # any short string (names, tweet texts, sandbox values)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
SURROGATE = re.compile(r"[\ud800-\udfff]")
SAFE_NAME = re.compile(r"[^A-Za-z0-9_.@-]+")

def visible(value: object, limit: int = MAX_TEXT) -> str:
    """Any value as printable, bounded text: control characters as \\xNN, surrogates replaced."""
    text = "" if value is None else value if isinstance(value, str) else str(value)
    cut = ""
    if len(text) > limit:
        cut = f"… ({len(text) - limit} more characters)"
        text = text[:limit]
    text = CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return SURROGATE.sub("\ufffd", text) + cut


def event_mark(kind: str) -> str:
    """How a transcript line shows what it was: `>` typed at the program, `<` printed by it, `*` the rest."""
    return {"in": ">", "out": "<"}.get(kind, "*")


def short(value: object, chars: int) -> str:
    text = visible(value, MAX_TEXT)
    chars = max(chars, 2)
    return text if len(text) <= chars else text[:chars - 1] + "…"


def format_time(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds * 1000:.1f} ms" if abs(seconds) < 1 else f"{seconds:.3f} s"


def number(value: object) -> str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return visible(value, 40)
    return f"{number:g}"


def safe_name(name: str) -> str:
    """A name (a submission's, a scenario's) as a file name that is also a safe relative link."""
    return SAFE_NAME.sub("_", name).strip("._") or "_"


def network_label(network: dict | None) -> str:
    """"hosts (rootless)", "hosts", "loopback" from a report's network record ("" when none)."""
    if not isinstance(network, dict) or not network.get("mode"):
        return ""
    return visible(network.get("label") or network.get("mode"), 40)


def evidence_line(network: dict | None) -> str:
    """The one line that says which evidence the verdicts rest on, and why: "Evidence: wire (LAN):
    every packet ...", "Evidence: console only: ..."; from a report's network record. A record from
    before the line existed says it from the network mode."""
    if not isinstance(network, dict) or not network.get("mode"):
        return "Evidence: not recorded"
    level = network.get("evidence") or ("wire (LAN)" if network.get("mode") == "hosts" else "console only")
    why = network.get("evidence_reason") or network.get("reason", "")
    return visible(f"Evidence: {level}: {why}", 2 * MAX_TEXT)
