"""Values of command-line options, checked once for every front end (the `tweeter-harness` command
and the pytest plugin): a bad value is refused in one line that says what is wrong with it."""

from __future__ import annotations

import argparse
import math


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is too small: it must be at least 1")
    return value


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


def seed_value(text: str) -> int:
    """A seed to replay: a whole number from 0, as the reports print it."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number (a seed from a report)") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a seed: seeds are whole numbers from 0")
    return value
