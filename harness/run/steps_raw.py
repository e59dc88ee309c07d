"""Raw steps that talk to one program directly: type a line, wait for a line, watch that a line does
not come, see that a program still runs."""

from __future__ import annotations

import secrets
from typing import Callable

from harness.inputs.scenario import AliveArgs, ExpectArgs, ExpectNotArgs, TypeArgs
from harness.run.driver import Driver, gave_up, search
from harness.run.records import Event, LineSeen, StepRecord


def play_type(driver: Driver, args: TypeArgs, timeout: float, step: StepRecord) -> None:
    driver.type_raw(args.to, args.line, driver.raw_values(args.to, secrets.token_hex(4)), timeout)


def _matcher(args: ExpectArgs) -> Callable[[str], object]:
    return (lambda text: args.pattern in text) if args.literal else search(args.pattern)


def play_expect(driver: Driver, args: ExpectArgs, timeout: float, step: StepRecord) -> None:
    seen = step.line = LineSeen(at=args.at, waited_s=timeout)
    event = driver.wait_line(args.at, _matcher(args), driver.last_typed(args.at), timeout)
    if isinstance(event, Event):
        seen.line, seen.line_seq = event.text, event.seq
    else:
        seen.gave_up = gave_up(event)  # type: ignore[assignment]


def play_expect_not(driver: Driver, args: ExpectNotArgs, timeout: float, step: StepRecord) -> None:
    """Watch for `within` seconds: the window closes on time, since nothing else can close it."""
    seen = step.line = LineSeen(at=args.at, waited_s=args.within)
    matcher = _matcher(args)
    start = driver.last_typed(args.at)
    hit = driver.watch(lambda: next((e for e in driver.trace.lines(args.at, after=start) if matcher(e.text)), None),
                      args.within)
    if isinstance(hit, Event):
        seen.line, seen.line_seq = hit.text, hit.seq


def play_expect_alive(driver: Driver, args: AliveArgs, timeout: float, step: StepRecord) -> None:
    step.alive = not driver.exited(args.at)
