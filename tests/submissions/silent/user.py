"""A user that reads commands and never prints a result line (tests step timeouts)."""
import sys

for line in sys.stdin:
    pass
