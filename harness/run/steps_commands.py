"""Steps that type one tracker command and read its answer: register, follow, drop, end-tweet,
exit, query handles. Each records the reply it saw; the judge decides whether it was right."""

from __future__ import annotations

from harness.inputs.scenario import PairArgs, QueryArgs, RegisterArgs, UserArgs
from harness.run.driver import Driver
from harness.run.records import Event, QuerySeen, StepRecord


def play_register(driver: Driver, args: RegisterArgs, timeout: float, step: StepRecord) -> None:
    names = list(driver.users) if args.users == "all" else args.users
    for name in names:
        handle = args.handle or driver.users[name].handle
        step.replies.append(driver.command(name, "register", f"register {handle}", timeout,
                                           handle=handle, name=handle.lstrip("@")))
        if driver.step_failed(step):  # the next users would meet a script that cannot go on
            break


def _pair(command: str, driver: Driver, args: PairArgs, timeout: float, step: StepRecord) -> None:
    target = driver.handle(args.target)
    what = f"{command} {driver.users[args.user].handle} {target}"
    step.replies.append(driver.command(args.user, command, what, timeout,
                                       target=target, target_name=target.lstrip("@")))


def play_follow(driver: Driver, args: PairArgs, timeout: float, step: StepRecord) -> None:
    _pair("follow", driver, args, timeout, step)


def play_drop(driver: Driver, args: PairArgs, timeout: float, step: StepRecord) -> None:
    _pair("drop", driver, args, timeout, step)


def play_end_tweet(driver: Driver, args: UserArgs, timeout: float, step: StepRecord) -> None:
    step.replies.append(driver.command(args.user, "end_tweet", f"end-tweet {driver.users[args.user].handle}",
                                       timeout))


def play_exit(driver: Driver, args: UserArgs, timeout: float, step: StepRecord) -> None:
    step.replies.append(driver.command(args.user, "exit", f"exit {driver.users[args.user].handle}", timeout))


def play_query(driver: Driver, args: QueryArgs, timeout: float, step: StepRecord) -> None:
    seen = step.query = QuerySeen(user=args.user, waited_s=timeout)
    seen.typed_seq = driver.type_command(args.user, "query", timeout)
    if seen.typed_seq is None:
        return
    dialect = driver.dialect
    start = max(seen.typed_seq, driver.cursor.get(args.user, -1))
    event = driver.wait_line(args.user, lambda t: dialect.parse_query(t) is not None
                             or dialect.reply_outcome("query", t) == "failure", start, timeout)
    if not isinstance(event, Event):
        seen.gave_up = "exited" if event == "exited" else "timeout"
        return
    driver.cursor[args.user] = event.seq
    seen.line, seen.line_seq = event.text, event.seq
    parsed = dialect.parse_query(event.text)
    if parsed is None:
        seen.refused = True
        return
    seen.count, seen.handles = parsed
    if seen.handles is None:
        seen.handles = _query_items(driver, args.user, event.seq, seen.count or 0, timeout)


def _query_items(driver: Driver, name: str, after: int, count: int, timeout: float) -> list[str]:
    """The handles printed one per line after the answer line: `count` of them."""
    dialect = driver.dialect

    def probe() -> list[str] | None:
        found = [h for e in driver.trace.lines(name, after=after) if (h := dialect.parse_query_item(e.text))]
        return found[:count] if len(found) >= count or driver.exited(name) else None

    items = driver.wait(probe, timeout) or []
    if items:
        last = [e for e in driver.trace.lines(name, after=after) if dialect.parse_query_item(e.text)]
        driver.cursor[name] = last[len(items) - 1].seq
    return items  # type: ignore[return-value]
