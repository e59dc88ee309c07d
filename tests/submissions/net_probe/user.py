"""Reports what network it sees: its host name and address, its interfaces, and whether TCP
listeners of the test outside its host can be reached (their addresses are in probe_targets.txt).
Then it says hello to the tracker (a UDP datagram) and waits."""
import socket
import sys
from pathlib import Path

tracker_ip, tracker_port = sys.argv[1], int(sys.argv[2])
name = socket.gethostname()
print(f"probe: host {name} fqdn {socket.getfqdn()} resolves {socket.gethostbyname(name)}", flush=True)
print(f"probe: interfaces {' '.join(sorted(n for _, n in socket.if_nameindex()))}", flush=True)
for line in Path("probe_targets.txt").read_text().split():
    ip, port = line.rsplit(":", 1)
    try:
        socket.create_connection((ip, int(port)), timeout=3).close()
        reached = "connected"
    except OSError as error:
        reached = f"not reached ({error.strerror or error})"
    print(f"probe: {ip} {reached}", flush=True)
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"hello", (tracker_ip, tracker_port))
input()
