"""Allocates (and touches) 50 MB after 50 MB until something stops it."""
hoard = []
while True:
    hoard.append(bytearray(50 * 1024 * 1024))
