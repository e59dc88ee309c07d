"""Floods its output with 100 MB, then blocks."""
import sys

line = b"flood " * 170 + b"\n"
for _ in range(100 * 1024 * 1024 // len(line)):
    sys.stdout.buffer.write(line)
sys.stdout.buffer.flush()
sys.stdin.buffer.read()
