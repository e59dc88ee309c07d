"""Reads all of stdin at once (until end of file, which never comes) and never answers."""
import sys

sys.stdin.buffer.read()
