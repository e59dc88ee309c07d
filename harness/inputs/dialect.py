"""A submission's dialect: its manifest compiled into what the runner needs.

The runner speaks only canonical commands (register, follow, tweet, ...) and canonical events (a reply
succeeded, a tweet was received from X via Y); this module translates both ways for one submission.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness.inputs.manifest import PLACEHOLDER, Manifest, TypedLine, load_manifest

MATCH_LIMIT = 4096  # only this much of a line is matched, so a hostile regex cannot run for ever
HANDLE_RE = re.compile(r"@[A-Za-z]+")


def render(template: str, values: dict[str, str]) -> str:
    """Fill `{name}` placeholders from `values` (never str.format: templates are untrusted)."""
    def fill(match: re.Match[str]) -> str:
        return values.get(match.group(1), match.group(0))

    parts = template.split("{{")
    return "{".join(PLACEHOLDER.sub(fill, part).replace("}}", "}") for part in parts)


@dataclass(frozen=True)
class Received:
    """A follower's printed evidence that a tweet reached it."""

    text: str | None
    tweeter: str | None
    forwarder: str | None
    receiver: str | None


class Dialect:
    """Typing and reading rules for one submission."""

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.received_re = re.compile(manifest.tweets.received)
        self.returned_re = re.compile(manifest.tweets.returned) if manifest.tweets.returned else None
        self.query_re = re.compile(manifest.query.reply)
        self.query_item_re = re.compile(manifest.query.item) if manifest.query.item else None
        self.tracker_ready_re = re.compile(manifest.ready.tracker) if manifest.ready.tracker else None
        self.user_ready_re = re.compile(manifest.ready.user) if manifest.ready.user else None

    @classmethod
    def for_submission(cls, folder: Path) -> "Dialect":
        return cls(load_manifest(folder))

    @property
    def ports_per_user(self) -> int:
        return self.manifest.ports_per_user

    @property
    def reads_forwarder(self) -> bool:
        return "forwarder" in self.received_re.groupindex

    @property
    def end_tweet_automatic(self) -> bool:
        return self.manifest.tweets.end_tweet_automatic

    def launch_command(self, role: str, values: dict[str, str]) -> str:
        return render(getattr(self.manifest.launch, role), values)

    def startup_lines(self, role: str) -> list[TypedLine]:
        return list(getattr(self.manifest.startup, role))

    def command_lines(self, command: str) -> list[TypedLine] | None:
        """The lines that type `command`, or None when the submission does not have it."""
        return self.manifest.commands.script(command)

    def reply_outcome(self, command: str, line: str) -> str | None:
        """'success' / 'failure' if `line` is the result line of `command`, else None."""
        reply = self.manifest.replies.of(command)
        head = line[:MATCH_LIMIT]
        if re.search(reply.failure, head):
            return "failure"
        if re.search(reply.success, head):
            return "success"
        return None

    def parse_received(self, line: str) -> Received | None:
        match = self.received_re.search(line[:MATCH_LIMIT])
        if not match:
            return None
        groups = match.groupdict()
        return Received(text=groups.get("text"), tweeter=_handle(groups.get("tweeter")),
                        forwarder=_handle(groups.get("forwarder")), receiver=_handle(groups.get("receiver")))

    def is_returned(self, line: str) -> bool:
        return bool(self.returned_re and self.returned_re.search(line[:MATCH_LIMIT]))

    def parse_query(self, line: str) -> tuple[int | None, list[str] | None] | None:
        """(count, handles) from a query answer line; handles None when they follow on own lines."""
        match = self.query_re.search(line[:MATCH_LIMIT])
        if not match:
            return None
        groups = match.groupdict()
        count = int(groups["count"]) if groups.get("count") is not None else None
        handles = HANDLE_RE.findall(groups["handles"]) if groups.get("handles") is not None else None
        return count, handles

    def parse_query_item(self, line: str) -> str | None:
        if not self.query_item_re:
            return None
        match = self.query_item_re.search(line[:MATCH_LIMIT])
        return _handle(match.group("handle")) if match else None


def _handle(value: str | None) -> str | None:
    """Handles are compared with their `@`, whether or not the program printed it."""
    if value is None:
        return None
    value = value.strip()
    return value if value.startswith("@") else f"@{value}"
