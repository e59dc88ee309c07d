"""Load YAML while remembering the line of every key, so validation errors can point at lines.

Validation errors come back as key paths (`steps.3.tweet.text`); `LocatedYaml.line_of` turns a path
into the line of the deepest node that exists, which is where an editor should jump.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from harness.errors import InputFileError

MAX_FILE_BYTES = 1_000_000
MAX_NODES = 100_000
MAX_DEPTH = 50
PathKey = tuple[str | int, ...]


@dataclass
class LocatedYaml:
    """Plain data from a YAML file plus the 1-based line of each key path."""

    path: str
    data: Any
    lines: dict[PathKey, int]

    def line_of(self, key_path: PathKey) -> int:
        for end in range(len(key_path), -1, -1):
            line = self.lines.get(tuple(key_path[:end]))
            if line is not None:
                return line
        return 1


def _construct(node: yaml.Node, at: PathKey, lines: dict[PathKey, int], loader: yaml.SafeLoader) -> Any:
    if len(lines) > MAX_NODES or len(at) > MAX_DEPTH:  # alias bombs and absurd nesting
        raise yaml.YAMLError(f"document too large or too deeply nested (over {MAX_NODES} nodes)")
    lines.setdefault(at, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, loader)
            key = key if isinstance(key, (str, int, float, bool)) or key is None else str(key)
            lines[(*at, key)] = key_node.start_mark.line + 1
            result[key] = _construct(value_node, (*at, key), lines, loader)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*at, index), lines, loader) for index, item in enumerate(node.value)]
    return _scalar(node, loader)


def _scalar(node: yaml.Node, loader: yaml.SafeLoader) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        return f"<{node.id}>"
    return loader.construct_object(node, deep=True)


def load(path: Path) -> LocatedYaml:
    """Parse one YAML file; any problem is an InputFileError naming file and line."""
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputFileError(name, [f"{name}: cannot read: {exc.strerror}"]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise InputFileError(name, [f"{name}: file is larger than {MAX_FILE_BYTES} bytes"])
    try:
        text = raw.decode("utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except UnicodeDecodeError as exc:
        raise InputFileError(name, [f"{name}: not UTF-8 text (byte {exc.start})"]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise InputFileError(name, [f"{name}:{line}: YAML syntax error: {exc.problem or exc}"]) from None
    except yaml.YAMLError as exc:
        raise InputFileError(name, [f"{name}:1: YAML error: {exc}"]) from None
    lines: dict[PathKey, int] = {}
    loader = yaml.SafeLoader("")
    try:
        data = None if node is None else _construct(node, (), lines, loader)
    except yaml.YAMLError as exc:
        raise InputFileError(name, [f"{name}:1: YAML error: {exc}"]) from None
    finally:
        loader.dispose()
    return LocatedYaml(name, data, lines)


def validate(source: LocatedYaml, model: type[BaseModel], what: str) -> BaseModel:
    """Validate located data against a model; errors become file:line messages with key paths. An
    empty document (nothing but comments) is an empty mapping."""
    data = {} if source.data is None else source.data
    if not isinstance(data, dict):
        raise InputFileError(source.path, [f"{source.path}:1: a {what} must be a mapping of keys"])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputFileError(source.path, describe_errors(source, exc)) from None


def describe_errors(source: LocatedYaml, exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = tuple(part for part in error["loc"] if not _is_union_tag(part))
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (check the spelling)"
        for line in message.splitlines():
            at, text = _located(loc, line)
            dotted = ".".join(str(part) for part in at) or "(top level)"
            problems.append(f"{source.path}:{source.line_of(at)}: {dotted}: {text}")
    return problems


def _located(loc: PathKey, message: str) -> tuple[PathKey, str]:
    """Whole-document checks name their place as `steps.3: ...`; use it to find the line."""
    match = re.match(r"^([A-Za-z_]+(?:\.[A-Za-z0-9_]+)*): (.*)$", message)
    if loc or not match:
        return loc, message
    parts = tuple(int(p) if p.isdigit() else p for p in match.group(1).split("."))
    return parts, match.group(2)


def _is_union_tag(part: str | int) -> bool:
    """Pydantic puts the tried union member in the path (`function-after[...]`); people don't need it."""
    return isinstance(part, str) and ("[" in part or part.startswith(("function-", "<")))
