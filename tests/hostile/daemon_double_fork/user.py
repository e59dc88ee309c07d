"""Starts a daemon that escapes the process group and the environment marker, then never answers."""
import os
import sys

DAEMON = "import time\nwhile True:\n    time.sleep(5)  # tweeter-hostile-daemon\n"
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execve(sys.executable, [sys.executable, "-c", DAEMON], {})
    os._exit(0)
sys.stdin.buffer.read()
