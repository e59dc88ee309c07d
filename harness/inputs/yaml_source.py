"""Load YAML while remembering where every key and value is written, so errors point at them.

ruamel.yaml composes the document into nodes that carry the line and column of each key and each
value (and reads YAML 1.2, where `no` and `on` are text, not booleans). Validation errors come back
as key paths (`steps.3.tweet.text`); `LocatedYaml.where` turns a path into `file:LINE:COLUMN`, the
place an editor should jump to. A syntax error is reported where the reader can fix it: an unclosed
bracket or quote where it opens, not at the end of the file where the parser noticed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from harness.errors import InputFileError
from harness.inputs import plain_errors

MAX_FILE_BYTES = 1_000_000
MAX_NODES = 100_000
MAX_DEPTH = 50
PathKey = tuple[str | int, ...]
Position = tuple[int, int]  # 1-based line and column
CLOSERS = {"[": "]", "{": "}", '"': '"', "'": "'"}


class _TooLarge(Exception):
    """The document expands past MAX_NODES (an alias bomb) or nests past MAX_DEPTH."""


@dataclass
class LocatedYaml:
    """Plain data from a YAML file plus where each key and each value of it is written."""

    path: str
    data: Any
    keys: dict[PathKey, Position] = field(default_factory=dict)  # the key of a mapping entry
    values: dict[PathKey, Position] = field(default_factory=dict)  # the value (a list item, the root)
    collections: set[PathKey] = field(default_factory=set)  # values that are mappings or lists

    def position(self, key_path: PathKey, point: str = "auto") -> Position:
        """Where to point for a problem with `key_path`: its key for `key` (an unknown key), its value
        for `value` (a value of the wrong type); for `auto`, the key when the value is a whole mapping
        or list (a problem with its contents), else the value. For a path that does not exist (a
        missing key), the deepest part of it that does."""
        found = next(tuple(key_path[:end]) for end in range(len(key_path), -1, -1)
                     if tuple(key_path[:end]) in self.values or end == 0)
        exact = found == tuple(key_path)
        wants_key = point == "key" or not exact or (point == "auto" and found in self.collections)
        if found in self.keys and wants_key:
            return self.keys[found]
        return self.values.get(found, (1, 1))

    def line_of(self, key_path: PathKey) -> int:
        return self.position(key_path)[0]

    def where(self, key_path: PathKey, point: str = "auto") -> str:
        """`file:LINE:COLUMN`, the prefix of every message about this file."""
        line, column = self.position(key_path, point)
        return f"{self.path}:{line}:{column}"


def load(path: Path) -> LocatedYaml:
    """Parse one YAML file; any problem is an InputFileError naming file, line and column."""
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputFileError(name, [f"{name}:1:1: cannot read: {exc.strerror}"]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise InputFileError(name, [f"{name}:1:1: file is larger than {MAX_FILE_BYTES} bytes"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise InputFileError(name, [f"{name}:{line}:1: not UTF-8 text (byte {exc.start})"]) from None
    reader = YAML(typ="safe", pure=True)
    try:
        node = reader.compose(text)
    except MarkedYAMLError as exc:
        raise InputFileError(name, [f"{name}:{_syntax_problem(exc, text)}"]) from None
    except (YAMLError, RecursionError) as exc:
        problem = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).splitlines()[0]
        raise InputFileError(name, [f"{name}:1:1: YAML syntax error: {problem}"]) from None
    source = LocatedYaml(name, None)
    if node is None:
        return source
    source.values[()] = _position(node)
    try:
        source.data = _Builder(source, reader).build(node, ())
    except _TooLarge as exc:
        raise InputFileError(name, [f"{name}:1:1: {exc}"]) from None
    except (YAMLError, ValueError) as exc:  # a scalar that cannot be constructed, e.g. a bad !!int
        raise InputFileError(name, [f"{name}:1:1: YAML error: {str(exc).splitlines()[0]}"]) from None
    return source


def _position(node: Node) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    """Turns composed nodes into plain data, recording positions and refusing duplicate keys."""

    def __init__(self, source: LocatedYaml, reader: YAML) -> None:
        self.source = source
        self.constructor = reader.constructor
        self.count = 0

    def build(self, node: Node, at: PathKey) -> Any:
        self.count += 1
        if self.count > MAX_NODES or len(at) > MAX_DEPTH:
            raise _TooLarge(f"document too large or too deeply nested (over {MAX_NODES} nodes or "
                            f"{MAX_DEPTH} levels)")
        if isinstance(node, MappingNode):
            self.source.collections.add(at)
            return self._mapping(node, at)
        if isinstance(node, SequenceNode):
            self.source.collections.add(at)
            return [self._item(item, (*at, index)) for index, item in enumerate(node.value)]
        return self.constructor.construct_object(node, deep=True)

    def _item(self, node: Node, at: PathKey) -> Any:
        self.source.values[at] = _position(node)
        return self.build(node, at)

    def _mapping(self, node: MappingNode, at: PathKey) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node)
            if key in result:
                first = self.source.keys[(*at, key)]
                raise InputFileError(self.source.path, [
                    f"{self.source.path}:{_position(key_node)[0]}:{_position(key_node)[1]}: key {key!r} is "
                    f"given twice (first at line {first[0]}); keep one"])
            self.source.keys[(*at, key)] = _position(key_node)
            result[key] = self._item(value_node, (*at, key))
        return result

    def _key(self, node: Node) -> Any:
        if not isinstance(node, ScalarNode):
            line, column = _position(node)
            raise InputFileError(self.source.path, [
                f"{self.source.path}:{line}:{column}: a key must be a plain word, not a list or mapping"])
        key = self.constructor.construct_object(node, deep=True)
        return key if isinstance(key, (str, int, float, bool)) or key is None else str(key)


def _syntax_problem(exc: MarkedYAMLError, text: str) -> str:
    """`LINE:COL: YAML syntax error: ...`, at the opening bracket or quote when one is left open."""
    opener = _unclosed_opener(exc, text)
    if opener is not None:
        line, column, char = opener
        return f"{line}:{column}: YAML syntax error: this {char!r} is never closed"
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return f"{line}:{column}: YAML syntax error: {_plain_syntax(str(exc.problem or exc.context or exc))}"


def _unclosed_opener(exc: MarkedYAMLError, text: str) -> tuple[int, int, str] | None:
    """The parser names the bracket or quote it was inside ("while parsing a flow sequence"); if that
    opener has no matching closer, it is the place to fix."""
    mark = exc.context_mark
    if mark is None or not 0 <= mark.index < len(text) or text[mark.index] not in CLOSERS:
        return None
    if _closed(text, mark.index):
        return None
    return mark.line + 1, mark.column + 1, text[mark.index]


def _closed(text: str, start: int) -> bool:
    """Whether the bracket or quote at `start` is closed: brackets nest, quotes hide brackets, a
    comment runs to the end of its line; a mismatched closer means it is not."""
    if text[start] in "\"'":
        return _quote_end(text, start) is not None
    stack = [CLOSERS[text[start]]]
    index = start + 1
    while index < len(text) and stack:
        char = text[index]
        if char in "\"'" and _starts_token(text, index):
            end = _quote_end(text, index)
            if end is None:
                return False
            index = end
        elif char == "#" and text[index - 1] in " \t\n":
            newline = text.find("\n", index)
            index = len(text) if newline < 0 else newline
            continue
        elif char in "[{":
            stack.append(CLOSERS[char])
        elif char in "]}":
            if char != stack.pop():
                return False
        index += 1
    return not stack


def _starts_token(text: str, index: int) -> bool:
    """A quote opens a quoted scalar only at the start of one (`don't` holds no quote)."""
    before = text[:index].rstrip(" \t")
    return not before or before[-1] in "[{,:\n" or len(before) < index and before[-1] in "-?"


def _quote_end(text: str, start: int) -> int | None:
    """Index of the quote closing the one at `start` ('' inside single quotes, \\" inside double)."""
    quote, index = text[start], start + 1
    while index < len(text):
        if quote == '"' and text[index] == "\\":
            index += 2
            continue
        if text[index] == quote:
            if quote == "'" and text[index + 1:index + 2] == "'":
                index += 2
                continue
            return index
        index += 1
    return None


def _plain_syntax(problem: str) -> str:
    """The parser's words for the commonest slips, said as what to do."""
    if "'\\t'" in problem:
        return "a tab here: indent YAML with spaces"
    if problem.startswith("mapping values are not allowed"):
        return "unexpected ':' (check this line's indentation, or quote a value that holds ': ')"
    return problem.splitlines()[0]


def validate(source: LocatedYaml, model: type[BaseModel], what: str) -> BaseModel:
    """Validate located data against a model; errors become `file:line:col: key.path: problem` lines.
    An empty document (nothing but comments) is an empty mapping."""
    data = {} if source.data is None else source.data
    if not isinstance(data, dict):
        raise InputFileError(source.path, [f"{source.where(())}: a {what} must be a mapping of keys "
                                           f"(`key: value` lines), not {plain_errors.kind_of(data)}"])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputFileError(source.path, describe_errors(source, model, exc)) from None


def describe_errors(source: LocatedYaml, model: type[BaseModel], exc: ValidationError) -> list[str]:
    """One line per problem, in plain words, at the key or value it is about."""
    located = []
    for problem in plain_errors.translate(exc, source.data, model):
        dotted = ".".join(str(part) for part in problem.path) or "(top level)"
        located.append((source.position(problem.path, problem.point),
                        f"{source.where(problem.path, problem.point)}: {dotted}: {problem.text}"))
    return [message for _, message in sorted(located, key=lambda entry: entry[0])]
