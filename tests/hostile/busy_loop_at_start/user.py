"""Spins for ever from the start: never reads a command, never prints."""
while True:
    pass
