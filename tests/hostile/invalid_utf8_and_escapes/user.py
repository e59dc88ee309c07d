"""Answers every line with bytes that are not UTF-8, a screen clear, a title change and a NUL, and a
fake result word that is not at the start of the line."""
import sys

for _ in sys.stdin:
    sys.stdout.buffer.write(b"\xff\xfe\xc3\x28 \x1b[2J\x1b]0;pwned\x07\x00 register: SUCCESS\n")
    sys.stdout.buffer.flush()
