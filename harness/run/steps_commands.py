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
        if driver.should_stop(step):  # a registration the scenario needs failed: it is blocked
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
    typed = driver.type_command(args.user, "query", timeout)
    seen.typed_seq, seen.not_typed = typed.seq, typed.not_typed
    if typed.seq is None:
        return
    dialect = driver.dialect
    event = _query_answer(driver, args.user, typed.seq, timeout)
    if not isinstance(event, Event):
        seen.gave_up = "exited" if event == "exited" else "timeout"
        return
    seen.line, seen.line_seq = event.text, event.seq
    parsed = dialect.parse_query(event.text)
    if parsed is None:
        seen.refused = True
        return
    seen.count, seen.handles = parsed
    after = event.seq
    if seen.count is None and dialect.query_count_re is not None:
        line = driver.wait_line(args.user, lambda t: dialect.parse_query_count(t) is not None, after, timeout)
        if isinstance(line, Event):
            seen.count, after = dialect.parse_query_count(line.text), line.seq
            driver.cursor[args.user] = line.seq
    if seen.handles is None and dialect.query_item_re is not None:
        seen.handles = _query_items(driver, args.user, after, seen.count, timeout)


def _query_answer(driver: Driver, user: str, typed: int, timeout: float) -> Event | str | None:
    """The answer to `query handles`: its FAILURE line, or a reply line; when the count is printed on
    a line of its own, the reply line followed by one (a bare result line of some earlier command, come
    late, is not a query answer)."""
    dialect = driver.dialect
    start = max(typed, driver.cursor.get(user, -1))

    def probe() -> Event | str | None:
        lines = driver.trace.lines(user, after=start)
        for index, event in enumerate(lines):
            if dialect.reply_outcome("query", event.text) == "failure" and dialect.parse_query(event.text) is None:
                return event
            if dialect.parse_query(event.text) is None:
                continue
            following = next((e for e in lines[index + 1:] if not dialect.is_trace(e.text)), None)
            if dialect.query_count_re is None or (following is not None
                                                  and dialect.parse_query_count(following.text) is not None):
                return event
        return "exited" if driver.exited(user) else None

    event = driver.wait(probe, timeout)
    if isinstance(event, Event):
        driver.cursor[user] = event.seq
    return event  # type: ignore[return-value]


def _query_items(driver: Driver, name: str, after: int, count: int | None, timeout: float) -> list[str]:
    """The handles printed one per line after the answer: `count` of them, or up to the line that
    ends the list (query.end, or the prompt). Lines that are not items (followers nested under a
    handle) are passed over."""
    dialect = driver.dialect

    def probe() -> list[Event] | None:
        items = []
        for event in driver.trace.lines(name, after=after):
            if count is not None and len(items) == count:
                return items
            if dialect.parse_query_item(event.text):
                items.append(event)
            elif count is None and dialect.ends_query(event.text):
                return items
        if count is None and (pending := driver.procs.pending(name)) and dialect.is_prompt(pending):
            return items
        return items if (count is not None and len(items) >= count) or driver.exited(name) else None

    items = driver.wait(probe, timeout) or []
    if items:
        driver.cursor[name] = items[-1].seq  # type: ignore[union-attr]
    return [dialect.parse_query_item(e.text) for e in items]  # type: ignore[union-attr,misc]
