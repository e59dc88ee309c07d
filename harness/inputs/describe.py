"""How a scenario's steps read in explanations and reports: in the assignment's words."""

from __future__ import annotations

from typing import Any, Callable

from harness.inputs.scenario import TweetArgs, step_args, step_kind


def handle(name: str) -> str:
    """A user name as its handle; a literal handle (starting with @) as written."""
    return name if name.startswith("@") else f"@{name}"


def describe_step(step: Any) -> str:
    """One line for a step of a scenario, e.g. "@bob follows @alice (must be refused)"."""
    kind, args = step_kind(step), step_args(step)
    expect = getattr(args, "expect", "success")
    suffix = "" if expect == "success" else " (must be refused)"
    if kind == "register":
        users = args.users if args.users != "all" else "every user"
        who = args.handle or (" ".join(map(handle, users)) if isinstance(users, list) else users)
        return f"register {who}{suffix}"
    if kind in ("follow", "drop"):
        return f"{handle(args.user)} {'follows' if kind == 'follow' else 'drops'} {handle(args.target)}{suffix}"
    if kind == "query":
        return f"{handle(args.user)} types query handles (expect: {' '.join(map(handle, args.handles)) or 'none'})"
    if kind == "tweet":
        return _describe_tweet(args, handle) + suffix
    if kind == "tweets_at_once":
        return "at the same time: " + "; ".join(_describe_tweet(t, handle) for t in args)
    if kind in ("end_tweet", "exit"):
        return f"{handle(args.user)} types {kind.replace('_', '-')}{suffix}"
    if kind == "type":
        return f"type {args.line!r} at {args.to}"
    if kind == "expect":
        return f"{args.at} prints /{args.pattern}/"
    if kind == "expect_not":
        return f"{args.at} does not print /{args.pattern}/ within {args.within:g} s"
    return f"{args.at} is still running"


def _describe_tweet(args: TweetArgs, handle: Callable[[str], str]) -> str:
    size = f"a text of {args.length} characters" if args.length else repr(args.text) if args.text else "a unique text"
    to = ", ".join(map(handle, sorted(args.deliver_to))) if args.deliver_to else "nobody"
    return f"{handle(args.user)} tweets {size} (must reach {to})"
