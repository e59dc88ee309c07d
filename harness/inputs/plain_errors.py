"""Validation errors in the words of the file's author, not of the code that read it.

pydantic reports errors with its own vocabulary: the classes of the models ("a valid dictionary or
instance of Commands"), the members of a union it tried (`str`, `list[str]`, `ReturnedLine`), one
error per member. An author of a scenario or manifest knows only keys and values, so each error is
said here as what the key or value should be, where it is, and, for a misspelt key, step or choice,
which one was probably meant. The keys allowed at a place come from the model's JSON Schema, the same
one editors use.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

PathKey = tuple[str | int, ...]
# What a value of the wrong type should have been, by pydantic error type.
EXPECTED = {
    "string_type": "text", "int_type": "a whole number", "int_parsing": "a whole number",
    "int_from_float": "a whole number", "float_type": "a number", "float_parsing": "a number",
    "bool_type": "true or false", "bool_parsing": "true or false", "list_type": "a list",
    "tuple_type": "a list", "set_type": "a list", "dict_type": "a mapping of keys",
    "model_type": "a mapping of keys", "model_attributes_type": "a mapping of keys",
    "none_required": "empty (null)",
}
BOUNDS = {"greater_than": ("gt", "more than"), "greater_than_equal": ("ge", "at least"),
          "less_than": ("lt", "less than"), "less_than_equal": ("le", "at most")}
WHOLE_DOCUMENT_PLACE = re.compile(r"^([A-Za-z_]+(?:\.[A-Za-z0-9_]+)*): (.*)$")


@dataclass(frozen=True)
class Problem:
    """One problem: the key path it is about, what to point at there (`key`, `value`, or `auto`: see
    LocatedYaml.position), and what is wrong."""

    path: PathKey
    point: str
    text: str


@dataclass
class _Error:
    """One pydantic error, its location cleaned of union members, said in plain words."""

    loc: PathKey  # where in the data (union members removed)
    problem: Problem
    expected: str | None = None  # for a value of the wrong type: what it should have been
    in_union: bool = False  # one member of a union reported it
    given: Any = None


def kind_of(value: Any) -> str:
    """A value as its author would name what they wrote: `a list`, `-1`, `'alice'`."""
    if value is None:
        return "empty"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value) if not isinstance(value, bool) else str(value).lower()
    return text if len(text) <= 40 else f"{text[:37]}..."


def translate(exc: ValidationError, data: Any, model: type[BaseModel]) -> list[Problem]:
    """Every error of `exc` (raised validating `data` against `model`) as plain Problems."""
    errors = [_plain(error, data, model) for error in exc.errors(include_url=False)]
    errors = [error for error in errors if not _shadowed(error, errors)]
    return _merge_union_members(errors)


def _plain(error: Any, data: Any, model: type[BaseModel]) -> _Error:
    kind = error["type"]
    loc, in_union = _data_location(tuple(error["loc"]), data, keep_last=kind == "missing")
    given = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return _Error(loc, Problem(loc[:-1], "auto", f"missing required key `{loc[-1]}`"), in_union=in_union)
    if kind == "extra_forbidden":
        key, known = str(loc[-1]), _known_keys(model, loc[:-1])
        hint = _suggest(key, known) or _home_of(model, key) or _listed(known)
        return _Error(loc, Problem(loc, "key", f"unknown key `{key}`{hint}"))
    if kind in EXPECTED:
        expected = EXPECTED[kind]
        return _Error(loc, Problem(loc, "value", f"should be {expected}, not {kind_of(given)}"),
                      expected=expected, in_union=in_union, given=given)
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        expected = " or ".join(f"`{choice}`" for choice in choices)
        suggestion = _suggest(given, choices) if isinstance(given, str) else ""
        text = f"should be {_one_of(choices)}, not {kind_of(given)}{suggestion}"
        return _Error(loc, Problem(loc, "value", text), expected=expected, in_union=in_union, given=given)
    if kind in BOUNDS:
        name, words = BOUNDS[kind]
        return _Error(loc, Problem(loc, "value", f"should be {words} {_number(ctx.get(name))}, not {kind_of(given)}"))
    if kind in ("too_short", "too_long", "string_too_short", "string_too_long"):
        return _Error(loc, Problem(loc, "auto", _length(kind, ctx, given)))
    if kind == "step_kind" or kind.startswith("union_tag"):
        return _Error(loc, _one_key_problem(loc, given, _known_keys(model, loc)))
    text = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return _Error(loc, _whole_document_place(loc, text))


def _data_location(loc: PathKey, data: Any, keep_last: bool) -> tuple[PathKey, bool]:
    """The part of pydantic's location that is in the data: the other parts name the union member it
    tried (`str`, `list[str]`, `<tweet>`), which the author never wrote."""
    kept: list[str | int] = []
    node, dropped = data, False
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif not (last and keep_last):
            dropped = True
            continue
        kept.append(part)
    return tuple(kept), dropped


def _shadowed(error: _Error, errors: list[_Error]) -> bool:
    """A union member whose type did not fit says nothing when another member fitted and found a
    problem further in (`returned: {at: tracker}` lacks `line`; that it is not text is beside the point)."""
    if not (error.in_union and error.expected):
        return False
    size = len(error.loc)
    return any(len(other.loc) > size and other.loc[:size] == error.loc for other in errors)


def _merge_union_members(errors: list[_Error]) -> list[Problem]:
    """Union members that all refused a value's type become one line: `should be text or a list`."""
    problems: list[Problem] = []
    merged: dict[PathKey, list[_Error]] = {}
    for error in errors:
        if error.in_union and error.expected:
            if error.loc not in merged:
                merged[error.loc] = []
                problems.append(error.problem)  # placeholder, replaced below, keeps the order
            merged[error.loc].append(error)
        elif error.problem not in problems:
            problems.append(error.problem)
    for loc, members in merged.items():
        if len(members) == 1:  # one member only (a step's kind): its own words, suggestion included
            continue
        expected = " or ".join(dict.fromkeys(member.expected or "" for member in members))
        index = problems.index(members[0].problem)
        problems[index] = Problem(loc, "value", f"should be {expected}, not {kind_of(members[0].given)}")
    return problems


def _one_key_problem(loc: PathKey, given: Any, kinds: list[str]) -> Problem:
    """A step (or any one-key choice) whose key is not one of the kinds."""
    if isinstance(given, dict) and len(given) == 1:
        key = str(next(iter(given)))
        return Problem((*loc, key), "key", f"unknown step `{key}`{_suggest(key, kinds) or _listed(kinds)}")
    if isinstance(given, dict) and given:
        named = [str(key) for key in given if key in kinds]
        hint = f" (indent the step's keys under `{named[0]}:`)" if len(named) == 1 else ""
        return Problem(loc, "value", f"a step has exactly one key, its kind; this one has {len(given)}: "
                       + ", ".join(map(str, given)) + hint)
    return Problem(loc, "value", f"a step is a mapping with one key naming its kind ({_one_of(kinds)}), "
                   f"not {kind_of(given)}")


def _whole_document_place(loc: PathKey, text: str) -> Problem:
    """Checks of a whole document name their place in the text (`steps.3: ...`); use it."""
    match = WHOLE_DOCUMENT_PLACE.match(text)
    if loc or not match:
        return Problem(loc, "auto", text)
    parts = tuple(int(part) if part.isdigit() else part for part in match.group(1).split("."))
    return Problem(parts, "auto", match.group(2))


def _length(kind: str, ctx: dict, given: Any) -> str:
    """`should have at least 1 item, not 0`: lists and texts that are too short or too long."""
    unit = "character" if kind.startswith("string") else "item"
    if kind.endswith("short"):
        least = ctx.get("min_length")
        return f"should have at least {least} {unit}{'s' * (least != 1)}, not {ctx.get('actual_length', 0)}"
    most = ctx.get("max_length")
    return f"should have at most {most} {unit}{'s' * (most != 1)}, not {ctx.get('actual_length', len(given))}"


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean `{close[0]}`?" if close else ""


def _listed(choices: list[str]) -> str:
    return f" (allowed here: {', '.join(choices)})" if choices else ""


def _one_of(choices: list[str]) -> str:
    quoted = [f"`{choice}`" for choice in choices]
    return quoted[0] if len(quoted) == 1 else "one of " + ", ".join(quoted)


def _known_keys(model: type[BaseModel], path: PathKey) -> list[str]:
    """The keys a mapping at `path` may have, from the model's JSON Schema (all members of a union)."""
    schema = _schema(model)
    nodes = _expand(schema, schema)
    for part in path:
        nodes = [found for node in nodes for found in _child(schema, node, part)]
    return list(dict.fromkeys(key for node in nodes for key in node.get("properties", {})))


def _home_of(model: type[BaseModel], key: str) -> str:
    """`; it belongs under `tweets:``, for a key written at the wrong level."""
    schema = _schema(model)
    queue: list[tuple[str, dict]] = [("", node) for node in _expand(schema, schema)]
    seen: set[str] = set()
    while queue:
        where, node = queue.pop(0)
        if where and key in node.get("properties", {}):
            return f"; it belongs under `{where}:`"
        for name, child in node.get("properties", {}).items():
            place = f"{where}.{name}" if where else name
            if place not in seen and len(place.split(".")) < 4:
                seen.add(place)
                queue.extend((place, found) for found in _expand(schema, child))
    return ""


@functools.cache
def _schema(model: type[BaseModel]) -> dict:
    return model.model_json_schema(by_alias=True)


def _expand(root: dict, node: Any) -> list[dict]:
    """A schema node as the plain alternatives it stands for ($ref followed, anyOf/oneOf/allOf opened)."""
    if not isinstance(node, dict):
        return []
    if "$ref" in node:
        return _expand(root, root["$defs"][node["$ref"].rsplit("/", 1)[-1]])
    for combined in ("anyOf", "oneOf", "allOf"):
        if combined in node:
            return [found for member in node[combined] for found in _expand(root, member)]
    return [node]


def _child(root: dict, node: dict, part: str | int) -> list[dict]:
    if isinstance(part, int):
        items = node.get("prefixItems", [])
        if part < len(items):
            return _expand(root, items[part])
        return _expand(root, node.get("items"))
    if part in node.get("properties", {}):
        return _expand(root, node["properties"][part])
    return _expand(root, node.get("additionalProperties"))
