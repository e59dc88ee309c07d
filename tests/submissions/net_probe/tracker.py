"""A tracker that binds its port and never answers anything (tests step timeouts)."""
import socket
import sys

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("0.0.0.0", int(sys.argv[1])))
while True:
    sock.recvfrom(65536)
