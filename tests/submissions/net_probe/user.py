"""Reports what network it can see: its interfaces, and whether a TCP listener of the test (on the
host's loopback, at the port in probe_port.txt) can be reached. Sends nothing anywhere else."""
import socket
from pathlib import Path

port = int(Path("probe_port.txt").read_text())
interfaces = sorted(name for _, name in socket.if_nameindex())
try:
    socket.create_connection(("127.0.0.1", port), timeout=5).close()
    reached = "connected"
except OSError as error:
    reached = f"not reached ({error.strerror})"
print(f"probe: interfaces {' '.join(interfaces)}; host listener {reached}", flush=True)
input()
