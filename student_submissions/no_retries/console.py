"""The console: the shape of the commands typed at a user, and how both programs print their lines.

A line of the wrong shape (unknown command, wrong number of words, tweet text not in quotes) is a
`UsageError` and is answered with one `error: ...; usage: ...` line. Whether the values make sense
(a valid handle, a free port, my own handle) is decided by user.py and answered SUCCESS or FAILURE.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

USAGE = {
    "register": "register @handle IPv4 port1 port2 port3",
    "query": "query handles",
    "follow": "follow @follower @followed",
    "drop": "drop @follower @followed",
    "tweet": 'tweet @handle "text"',
    "end-tweet": "end-tweet @handle",
    "exit": "exit @handle",
}
WORDS = {"register": 6, "query": 2, "follow": 3, "drop": 3, "end-tweet": 2, "exit": 2}
TWEET_RE = re.compile(r'tweet\s+(\S+)\s+"(.*)"\s*')  # greedy: the text may itself contain quotes


class UsageError(ValueError):
    def __init__(self, problem: str, usage: str) -> None:
        super().__init__(f"error: {problem}; usage: {usage}")


@dataclass(frozen=True)
class Command:
    name: str  # a key of USAGE
    args: tuple[str, ...]

    @property
    def label(self) -> str:
        """The word that starts this command's result line ("query handles: SUCCESS ...")."""
        return "query handles" if self.name == "query" else self.name


def parse(line: str) -> Command | None:
    """The command on `line`, None for a blank line, or UsageError."""
    words = line.split()
    if not words:
        return None
    name = words[0]
    if name not in USAGE:
        raise UsageError(f"unknown command {name!r}", " | ".join(USAGE.values()))
    if name == "tweet":
        match = TWEET_RE.fullmatch(line.strip())
        if not match:
            raise UsageError("the tweet text must follow the handle, in double quotes", USAGE[name])
        return Command(name, match.groups())
    if len(words) != WORDS[name] or (name == "query" and words[1] != "handles"):
        raise UsageError(f"{name} takes {WORDS[name] - 1} argument(s)" if name != "query"
                         else "did you mean 'query handles'?", USAGE[name])
    return Command(name, tuple(words[1:]))


class Printer(list[str]):
    """Printed lines (append them), written out together each time the program is about to wait.

    Each flushed print is a write system call, and they were a quarter to a third of the time a tweet
    spends at each hop of a ring. So the event loops print into this buffer while they work and call
    `flush` just before they sleep in select: within one program the lines keep their order, and
    nothing printed is ever held back while the program is idle. The lines go straight to the file
    descriptor, always as UTF-8 (a character that cannot be encoded, such as a lone surrogate in a
    peer's tweet, is written as an escape instead of crashing the program).
    """

    def __init__(self, fd: int = 1) -> None:
        super().__init__()
        self.fd = fd  # standard output

    def flush(self) -> None:
        if not self:
            return
        data = ("\n".join(self) + "\n").encode(errors="backslashreplace")
        self.clear()
        while data:  # a pipe or terminal may take only part of a large write
            data = data[os.write(self.fd, data):]
