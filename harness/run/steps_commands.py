"""Steps that type one tracker command and read its answer: register, follow, drop, end-tweet,
exit, query handles. Each records the reply it saw; the judge decides whether it was right."""

from __future__ import annotations

import time

from harness.inputs.dialect import QueryAnswer
from harness.inputs.scenario import PairArgs, QueryArgs, RegisterArgs, UserArgs
from harness.run import register_ports
from harness.run.driver import ABORT_POLL_S, STUCK, Driver, gave_up
from harness.run.records import Event, QuerySeen, StepRecord


def play_register(driver: Driver, args: RegisterArgs, timeout: float, step: StepRecord) -> None:
    names = list(driver.users) if args.users == "all" else args.users
    for name in names:
        handle = args.handle or driver.users[name].handle
        register_ports.check_before_register(driver, name)  # its ports are typed now: still free on its host?
        if driver.start_user is not None:
            step.replies.append(driver.register_at_startup(name, handle, timeout))
        else:
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
    answer = _query_answer(driver, args.user, typed.seq, timeout)
    if not isinstance(answer, QueryAnswer):
        seen.gave_up = gave_up(answer)  # type: ignore[assignment]
        return
    # an empty list shown only by silence or the prompt has no line of its own: "" stands for it
    seen.line, seen.line_seq = (answer.first.text, answer.first.seq) if answer.first is not None else ("", None)
    seen.refused, seen.count, seen.handles = answer.refused, answer.count, answer.handles


def _query_answer(driver: Driver, user: str, typed: int, timeout: float) -> QueryAnswer[Event] | str | None:
    """The answer to `query handles`: the block of lines printed after it was typed, read by the
    dialect in whatever order the manifest allows (its reply, count and handles), once complete; when
    the step's time runs out or the program (or the tracker) ends first, as much of it as was printed,
    if anything (else why it gave up). Its last line used is the user's cursor: never an answer again."""
    dialect = driver.dialect
    start = max(typed, driver.cursor.get(user, -1))
    settle = dialect.query_settle_s

    def probe() -> QueryAnswer[Event] | str | None:
        answer = dialect.query_answer(driver.trace.lines(user, after=start), _quiet(driver, user, typed, settle))
        if answer.complete:
            return answer
        if driver.exited(user):
            return "exited"
        return "tracker_exited" if driver.tracker_gone() else None

    # a settle is an event only time shows: look again at least five times within it
    poll = max(settle / 5, 0.01) if settle else ABORT_POLL_S
    result = driver.wait(probe, timeout, poll=poll, decided=True)
    if not isinstance(result, QueryAnswer):  # as much as was printed; nothing more can come when stuck
        partial = dialect.query_answer(driver.trace.lines(user, after=start), quiet=result == STUCK)
        if partial.first is None and not (result == STUCK and partial.complete):
            return result  # type: ignore[return-value]
        result = partial
    if result.last is not None:
        driver.cursor[user] = result.last.seq
    return result


def _quiet(driver: Driver, user: str, typed: int, settle: float | None) -> bool:
    """Whether `user` has fallen quiet since `query handles` was typed: it shows its prompt (without
    newline), or it has printed no new line for `settle` seconds."""
    pending = driver.procs.pending(user)
    if pending:
        return driver.dialect.is_prompt(pending)
    if settle is None:
        return False
    events = driver.trace.lines(user, ("out", "in"), after=typed - 1)
    return bool(events) and time.monotonic() - events[-1].t >= settle
