"""A submission's dialect: its manifest compiled into what the runner needs.

The runner speaks only canonical commands (register, follow, tweet, ...) and canonical events (a reply
succeeded, a tweet was received from X via Y); this module translates both ways for one submission.
"""

from __future__ import annotations

import ast
import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, Sequence, TypeVar

from harness.inputs.keys import KEYS, SIGNAL_KEYS, key_names, only_keys, split_keys
from harness.inputs.manifest import PLACEHOLDER, Manifest, ReturnedLine, TypedLine, load_manifest

MATCH_LIMIT = 4096  # only this much of a line is matched, so a hostile regex cannot run for ever
HANDLE_RE = re.compile(r"@\w+")  # whole handles: @alice99 is read as @alice99, never as @alice
NAME_RE = re.compile(r"@?\w+")  # a handle in a nested dump, with or without its @


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
        self.query_re = _compiled(manifest.query.reply)
        self.query_count_re = _compiled(manifest.query.count)
        self.query_item_re = _compiled(manifest.query.item)
        self.query_end_re = _compiled(manifest.query.end)
        self.query_empty_re = _compiled(manifest.query.empty)
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

    @functools.cached_property
    def types_signal_keys(self) -> bool:
        """Whether lines typed at the programs hold keys a terminal turns into signals (Ctrl+C); asked
        at every scenario's start, answered once."""
        lines = [line.send for role in ("tracker", "user") for line in self.startup_lines(role)]
        for command in ("register", "query", "follow", "drop", "tweet", "end_tweet", "exit"):
            lines += [line.send for line in self.command_lines(command) or []]
        lines += [send for _, send in self.raw_lines("")]
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

    def raw_lines(self, line: str) -> list[tuple[str | None, str]]:
        """(what to wait for, what to type) that type a scenario's raw line at a user."""
        script = self.manifest.raw_lines
        items = [script] if isinstance(script, str) else list(script or ["{line}"])
        return [(None, item.replace("{line}", line)) if isinstance(item, str) else
                (item.expect, item.send.replace("{line}", line)) for item in items]

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

    @property
    def query_settle_s(self) -> float | None:
        """How long a user printing nothing closes an open list of handles (None: only its lines do)."""
        settle = self.manifest.query.settle_ms
        return settle / 1000 if settle else None

    def parse_query(self, line: str) -> tuple[int | None, list[str] | None] | None:
        """(count, handles) from a query answer line; handles None when they follow on own lines. A
        nested dump (query.nested) that cannot be read as a literal is not the answer."""
        match = self.query_re.search(line[:MATCH_LIMIT]) if self.query_re else None
        if not match:
            return None
        groups = match.groupdict()
        count = int(groups["count"]) if groups.get("count") is not None else None
        listed = groups.get("handles")
        if listed is None:
            return count, None
        if not self.manifest.query.nested:
            return count, HANDLE_RE.findall(listed)
        handles = nested_handles(listed)
        return None if handles is None else (count, handles)

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

    def is_query_empty(self, line: str) -> bool:
        """The line a program prints instead of the list when nobody is registered (query.empty)."""
        return bool(self.query_empty_re and self.query_empty_re.search(line[:MATCH_LIMIT]))

    def is_query_refusal(self, line: str) -> bool:
        return self.reply_outcome("query", line) == "failure" and self.parse_query(line) is None

    def query_answer(self, lines: Sequence[L], quiet: bool = False) -> QueryAnswer[L]:
        """The answer to `query handles` in one program's lines printed after it was typed: a block
        that starts at the FAILURE line, the reply line, the count line, the query.empty line or (no
        reply line) the first handle, and is complete once each part the manifest names was read —
        the reply line (before or after the count and the handles), the count, and `count` handles or
        the handles up to query.end or the prompt. `quiet`: the program has printed nothing for
        query.settle_ms, or shows its prompt; a list with nothing else to close it is then complete
        (and, without a reply, count or empty line, nothing printed is an empty list)."""
        lines = [e for e in lines if e.kind == "out" and not self.is_trace(e.text)]
        start = self._query_start(lines)
        if start is None:
            silent = quiet and not (self.query_re or self.query_count_re or self.query_empty_re)
            return QueryAnswer(handles=[] if silent else None, complete=silent)
        return self._query_block(lines[start:], quiet)

    def _query_start(self, lines: list[L]) -> int | None:
        """Where the answer begins. Where a count line is printed, a reply line begins it only when the
        count line follows it at once (else the count line begins it): a bare result line of an earlier
        command, come late, is not this answer."""
        for index, event in enumerate(lines):
            text = event.text
            if self.is_query_refusal(text) or self.is_query_empty(text) or self.parse_query_count(text) is not None:
                return index
            if self.parse_query(text) is not None:
                following = lines[index + 1].text if index + 1 < len(lines) else None
                if self.query_count_re is None or (following is not None
                                                   and self.parse_query_count(following) is not None):
                    return index
            elif self.query_re is None and (self.parse_query_item(text) or self.ends_query(text)):
                return index
        return None

    def _query_block(self, lines: list[L], quiet: bool) -> QueryAnswer[L]:
        """Read the answer from its first line on (see query_answer). A line that ends the list is
        used only when it is not the prompt: the prompt belongs to the next command."""
        head = lines[0]
        if self.is_query_refusal(head.text) or self.is_query_empty(head.text):
            refused = self.is_query_refusal(head.text)
            return QueryAnswer(head, head, refused, handles=None if refused else [], complete=True)
        answer: QueryAnswer[L] = QueryAnswer(head, head)
        replied, listed, items, closed = self.query_re is None, None, [], False
        for event in lines:
            text = event.text
            wanted = answer.count is None or len(items) < answer.count
            if not replied and (parsed := self.parse_query(text)) is not None:
                replied, listed = True, parsed[1]
                answer.count = parsed[0] if parsed[0] is not None else answer.count
            elif answer.count is None and (count := self.parse_query_count(text)) is not None:
                answer.count = count
            elif listed is None and wanted and (handle := self.parse_query_item(text)):
                items.append(handle)
            elif listed is None and answer.count is None and self.ends_query(text):
                closed = True
                if self.is_prompt(text):
                    break
            else:
                continue  # passed over: a follower nested under a handle, a late line of something else
            answer.last = event
            if closed or self._query_done(replied, answer.count, listed, items, False):
                break
        if answer.last is head and self.is_prompt(head.text):
            answer.first = answer.last = None  # only the prompt: the answer printed nothing of its own
        answer.handles = listed if listed is not None else items if self.query_item_re else None
        answer.complete = self._query_done(replied, answer.count, listed, items, closed or quiet)
        return answer

    def _query_done(self, replied: bool, count: int | None, listed: list[str] | None, items: list[str],
                    closed: bool) -> bool:
        """Whether every part of the answer the manifest names has been read."""
        if not replied or (self.query_count_re is not None and count is None):
            return False
        if listed is not None or not self.query_item_re:
            return True
        return len(items) >= count if count is not None else closed


def _compiled(pattern: str | None) -> re.Pattern[str] | None:
    return re.compile(pattern) if pattern else None


@dataclass
class QueryAnswer(Generic[L]):
    """The answer to `query handles` as read so far from the lines printed after it was typed."""

    first: L | None = None  # its first line; None when it printed none of its own (an empty list)
    last: L | None = None  # the last line it used
    refused: bool = False  # it is the FAILURE line
    count: int | None = None
    handles: list[str] | None = None
    complete: bool = False  # every part of it the manifest names was read


def nested_handles(text: str) -> list[str] | None:
    """The top-level handles of a list printed whole on one line with each user's followers nested
    beside it: `[['@alice', ['@bob']], ['@bob', []]]`, the same in JSON, `{'@alice': ['@bob']}`, or a
    flat list. It is read as a literal (JSON, or Python's literal syntax; never evaluated), so that a
    follower is never taken for a registered handle; None when it cannot be read that way."""
    value = _literal(text.strip())
    if isinstance(value, dict):
        entries: list[Any] = list(value)
    elif isinstance(value, (list, tuple)):
        entries = [entry[0] if isinstance(entry, (list, tuple)) and entry else entry for entry in value]
    else:
        return None
    if not all(isinstance(entry, str) and NAME_RE.fullmatch(entry) for entry in entries):
        return None
    return [_handle(entry) for entry in entries]  # type: ignore[misc]


def _literal(text: str) -> Any:
    """`text` as a JSON or Python literal, or None (a printed line is untrusted: nothing runs)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _received(groups: dict[str, str | None]) -> Received:
    return Received(text=groups.get("text"), tweeter=_handle(groups.get("tweeter")),
                    forwarder=_handle(groups.get("forwarder")), receiver=_handle(groups.get("receiver")))


def _handle(value: str | None) -> str | None:
    """Handles are compared with their `@`, whether or not the program printed it."""
    if value is None:
        return None
    value = value.strip()
    return value if value.startswith("@") else f"@{value}"
