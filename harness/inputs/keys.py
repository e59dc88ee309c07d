"""Keys and control characters in typed lines, written visibly: `{ctrl-c}`, `{enter}`, `{tab}` ...

Some programs read the keyboard only after Ctrl+C, or want a key pressed before each command. A line
of a manifest or a scenario names such keys in braces; the transcripts and explanations show the
line as written, and the program gets the bytes a terminal would send (Ctrl+C through the pty is a
SIGINT to the program, as at a keyboard).

A line made only of keys is typed as exactly those keys (`{ctrl-c}` presses Ctrl+C and nothing else);
any other line is typed with Enter after it.
"""

from __future__ import annotations

import re
import string

KEYS: dict[str, str] = {
    "enter": "\r", "tab": "\t", "esc": "\x1b", "backspace": "\x7f", "space": " ",
    "up": "\x1b[A", "down": "\x1b[B", "right": "\x1b[C", "left": "\x1b[D",
    **{f"ctrl-{letter}": chr(index) for index, letter in enumerate(string.ascii_lowercase, start=1)},
    "ctrl-backslash": "\x1c",
}
KEY_TOKEN = re.compile(r"\{(" + "|".join(sorted(map(re.escape, KEYS), key=len, reverse=True)) + r")\}")


SIGNAL_KEYS = {"ctrl-c", "ctrl-z", "ctrl-backslash"}  # a terminal turns these into signals


def key_names(text: str) -> set[str]:
    """The keys a line names."""
    return set(KEY_TOKEN.findall(text))


def split_keys(template: str) -> list[str]:
    """The template cut at its key tokens: text, key, text, key, ... (keys at odd positions)."""
    return KEY_TOKEN.split(template)


def only_keys(template: str) -> bool:
    return bool(template) and KEY_TOKEN.sub("", template) == ""
