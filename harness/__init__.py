"""The Tweeter grading harness: drives tracker and user programs and judges what they print."""

__version__ = "0.1.0"
