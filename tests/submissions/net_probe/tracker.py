"""A tracker that binds its port and prints every datagram it gets, with its sender's address."""
import socket
import sys

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("0.0.0.0", int(sys.argv[1])))
count = 0
while True:
    data, (ip, _) = sock.recvfrom(65536)
    count += 1
    print(f"tracker: got {data.decode(errors='replace')} from {ip} ({count} so far)", flush=True)
