"""The reference Tweeter tracker and user: the model answer the harness is built and tested against.

Each program also runs on its own from a copy of this folder (`python3 tracker.py PORT`,
`python3 user.py IP PORT`); see README.md.
"""
