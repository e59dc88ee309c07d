"""A squatter binds the tracker's port first; the tracker then fails to bind it and exits."""
import os
import socket
import sys

port = int(sys.argv[1])
ready_read, ready_write = os.pipe()
if os.fork() == 0:
    squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    squatter.bind(("0.0.0.0", port))
    os.write(ready_write, b"x")
    while True:
        squatter.recvfrom(9)
os.read(ready_read, 1)
tracker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tracker.bind(("0.0.0.0", port))  # OSError: Address already in use
