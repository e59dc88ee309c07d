"""Values of command-line options, checked once for every front end (the `tweeter-harness` command
and the pytest plugin): a bad value is refused in one line that says what is wrong with it."""

from __future__ import annotations

import argparse
import math
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the pytest plugin imports this module in every pytest run: the model only when used
    from harness.inputs.scenario import Faults


def positive_int(text: str) -> int:
    return _whole_number(text, 1, "is not a whole number", "is too small: it must be at least 1")


def _whole_number(text: str, least: int, not_a_number: str, too_small: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} {not_a_number}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"{text!r} {too_small}")
    return value


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


FAULTS_SYNTAX = "loss=0.2,duplicate=0.1,delay=5-50,reorder,seed=7"
FAULT_KEYS = {"loss": "loss", "duplicate": "duplicate", "delay": "delay_ms", "delay_ms": "delay_ms",
              "reorder": "reorder", "seed": "seed"}


def faults(text: str) -> "Faults":
    """`--faults loss=0.2,duplicate=0.1,delay=5-50,reorder,seed=7`: the scenario key `faults`, compactly
    (every part optional; `delay=20` is a fixed delay). Checked by the scenario's own model, so the
    command line and scenario files refuse the same values in the same words."""
    from pydantic import ValidationError

    from harness.inputs.plain_errors import translate
    from harness.inputs.scenario import Faults
    values = _fault_values(text)
    try:
        return Faults.model_validate(values)
    except ValidationError as exc:
        problem = translate(exc, values, Faults)[0]
        key = str(problem.path[0]) if problem.path else ""
        written = values.get(key)
        shown = "-".join(map(str, written)) if isinstance(written, list) else str(written)
        raise argparse.ArgumentTypeError(f"{'delay' if key == 'delay_ms' else key}={shown}: {problem.text}") from None


def _fault_values(text: str) -> dict[str, object]:
    """The parts of a --faults value as the scenario key's values (not yet checked)."""
    values: dict[str, object] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, has_value, value = (piece.strip() for piece in item.partition("="))
        key = FAULT_KEYS.get(name)
        if key is None:
            raise argparse.ArgumentTypeError(f"{name!r} is not a fault: use loss, duplicate, delay, reorder and seed, "
                                             f"e.g. {FAULTS_SYNTAX}")
        if not has_value and key != "reorder":
            raise argparse.ArgumentTypeError(f"{name} needs a value, e.g. {FAULTS_SYNTAX}")
        if key == "reorder":
            values[key] = {"": True, "true": True, "yes": True, "false": False, "no": False}.get(value.lower(), value)
        elif key == "delay_ms" and (span := re.fullmatch(r"([^-]+)-(.+)", value)):
            values[key] = [_number(span.group(1)), _number(span.group(2))]
        else:
            values[key] = _number(value)
    return values


def _number(text: str) -> object:
    """A number written on the command line as the number (so that messages show it as written)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def seed_value(text: str) -> int:
    """A seed to replay: a whole number from 0, as the reports print it."""
    return _whole_number(text, 0, "is not a whole number (a seed from a report)",
                         "is not a seed: seeds are whole numbers from 0")
