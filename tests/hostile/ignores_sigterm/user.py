"""Ignores the polite signals, then waits for ever."""
import signal
import sys

for polite in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(polite, signal.SIG_IGN)
for _ in sys.stdin:
    pass
while True:
    signal.pause()
