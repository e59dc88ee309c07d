"""A submission's dialect: its manifest compiled into what the runner needs.

The runner speaks only canonical commands (register, follow, tweet, ...) and canonical events (a reply
succeeded, a tweet was received from X via Y); this module translates both ways for one submission.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from harness.inputs.keys import KEYS, SIGNAL_KEYS, key_names, only_keys, split_keys
from harness.inputs.manifest import PLACEHOLDER, Manifest, ReturnedLine, TypedLine, load_manifest

MATCH_LIMIT = 4096  # only this much of a line is matched, so a hostile regex cannot run for ever
HANDLE_RE = re.compile(r"@[A-Za-z]+")


def render(template: str, values: dict[str, str]) -> str:
    """Fill `{name}` placeholders from `values` (never str.format: templates are untrusted)."""
    def fill(match: re.Match[str]) -> str:
        return values.get(match.group(1), match.group(0))

    parts = template.split("{{")
    return "{".join(PLACEHOLDER.sub(fill, part).replace("}}", "}") for part in parts)


class Line(Protocol):
    """A printed or typed line as the run stage records it (kind "out": printed)."""

    kind: str
    text: str


L = TypeVar("L", bound=Line)


@dataclass(frozen=True)
class Typed:
    """A line to type: as it reads in transcripts (keys written `{ctrl-c}`) and the bytes sent."""

    visible: str
    data: bytes


def render_typed(template: str, values: dict[str, str]) -> Typed:
    """Fill a typed line's placeholders; its key tokens become the keys' bytes (in the template only:
    a value such as a tweet's text is typed as it is). Text is followed by Enter; a line made only of
    keys is exactly those keys."""
    parts = split_keys(template)
    visible, data = [], []
    for index, part in enumerate(parts):
        if index % 2:
            visible.append(f"{{{part}}}")
            data.append(KEYS[part])
        else:
            rendered = render(part, values)
            visible.append(rendered)
            data.append(rendered)
    enter = "" if only_keys(template) else "\r"
    return Typed("".join(visible), ("".join(data) + enter).encode("utf-8", errors="replace"))


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
        tweets = manifest.tweets
        received = [tweets.received] if isinstance(tweets.received, str) else tweets.received or []
        self.received_res = [re.compile(pattern) for pattern in received]
        returned = tweets.returned
        self.returned_at = returned.at if isinstance(returned, ReturnedLine) else "tweeter"
        line = returned.line if isinstance(returned, ReturnedLine) else returned
        self.returned_re = re.compile(line) if line else None
        self.own_copy_re = re.compile(tweets.own_copy) if isinstance(tweets.own_copy, str) else None
        self.query_re = re.compile(manifest.query.reply)
        self.query_count_re = _compiled(manifest.query.count)
        self.query_item_re = _compiled(manifest.query.item)
        self.query_end_re = _compiled(manifest.query.end)
        self.prompt_re = _compiled(manifest.prompt)
        self.trace_re = _compiled(manifest.trace_lines)
        self.tracker_ready_re = _compiled(manifest.ready.tracker)
        self.user_ready_re = _compiled(manifest.ready.user)

    @classmethod
    def for_submission(cls, folder: Path) -> "Dialect":
        return cls(load_manifest(folder))

    @property
    def ports_per_user(self) -> int:
        return self.manifest.ports_per_user

    @property
    def reads_received(self) -> bool:
        """Whether the submission prints the tweets it receives at all."""
        return bool(self.received_res)

    @property
    def reads_forwarder(self) -> bool:
        return any("forwarder" in pattern.groupindex for pattern in self.received_res)

    @property
    def types_signal_keys(self) -> bool:
        """Whether lines typed at the programs hold keys a terminal turns into signals (Ctrl+C)."""
        lines = [line.send for role in ("tracker", "user") for line in self.startup_lines(role)]
        for command in ("register", "query", "follow", "drop", "tweet", "end_tweet", "exit"):
            lines += [line.send for line in self.command_lines(command) or []]
        return any(key_names(line) & SIGNAL_KEYS for line in lines)

    @property
    def end_tweet_automatic(self) -> bool:
        return self.manifest.tweets.end_tweet_automatic

    def launch_command(self, role: str, values: dict[str, str]) -> str:
        return render(getattr(self.manifest.launch, role), values)

    def environment(self, values: dict[str, str]) -> dict[str, str]:
        """The manifest's environment variables, placeholders filled."""
        return {name: render(str(text), values) for name, text in self.manifest.env.items()}

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

    def is_prompt(self, line: str) -> bool:
        return bool(self.prompt_re and self.prompt_re.search(line[:MATCH_LIMIT]))

    def is_trace(self, line: str) -> bool:
        return bool(self.trace_re and self.trace_re.search(line[:MATCH_LIMIT]))

    def received_in(self, events: list[L]) -> list[tuple[L, Received]]:
        """Every received tweet in one program's printed lines: (its first line, what it says). A
        tweet printed over several lines is those patterns on consecutive lines (protocol-trace lines
        between them are passed over), their groups combined."""
        if not self.received_res:
            return []
        lines = [e for e in events if e.kind == "out" and not self.is_trace(e.text)]
        found, index = [], 0
        while index < len(lines):
            groups = self._match_lines(lines[index:index + len(self.received_res)])
            if groups is None:
                index += 1
                continue
            found.append((lines[index], _received(groups)))
            index += len(self.received_res)
        return found

    def _match_lines(self, lines: list[L]) -> dict[str, str | None] | None:
        if len(lines) < len(self.received_res):
            return None
        groups: dict[str, str | None] = {}
        for pattern, event in zip(self.received_res, lines):
            match = pattern.search(event.text[:MATCH_LIMIT])
            if not match:
                return None
            groups.update({k: v for k, v in match.groupdict().items() if v is not None or k not in groups})
        return groups

    def parse_received(self, line: str) -> Received | None:
        """A one-line received tweet (the first pattern alone)."""
        if len(self.received_res) != 1:
            return None
        match = self.received_res[0].search(line[:MATCH_LIMIT])
        return _received(match.groupdict()) if match else None

    def is_own_copy(self, line: str) -> bool:
        """A line in which the tweeter prints its own tweet (when the manifest says it does)."""
        if self.own_copy_re is not None:
            return bool(self.own_copy_re.search(line[:MATCH_LIMIT]))
        return self.manifest.tweets.own_copy is True and self.parse_received(line) is not None

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

    def parse_query_count(self, line: str) -> int | None:
        match = self.query_count_re.search(line[:MATCH_LIMIT]) if self.query_count_re else None
        return int(match.group("count")) if match else None

    def parse_query_item(self, line: str) -> str | None:
        if not self.query_item_re:
            return None
        match = self.query_item_re.search(line[:MATCH_LIMIT])
        return _handle(match.group("handle")) if match else None

    def ends_query(self, line: str) -> bool:
        return bool(self.query_end_re and self.query_end_re.search(line[:MATCH_LIMIT])) or self.is_prompt(line)


def _compiled(pattern: str | None) -> re.Pattern[str] | None:
    return re.compile(pattern) if pattern else None


def _received(groups: dict[str, str | None]) -> Received:
    return Received(text=groups.get("text"), tweeter=_handle(groups.get("tweeter")),
                    forwarder=_handle(groups.get("forwarder")), receiver=_handle(groups.get("receiver")))


def _handle(value: str | None) -> str | None:
    """Handles are compared with their `@`, whether or not the program printed it."""
    if value is None:
        return None
    value = value.strip()
    return value if value.startswith("@") else f"@{value}"
