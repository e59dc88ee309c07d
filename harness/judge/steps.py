"""The checks of one played step, derived from what its record saw and what the scenario asked.

Every message is written here, from the observations alone, in the assignment's words.
"""

from __future__ import annotations

from typing import Any

from harness.inputs.scenario import DELIVERY_PROPERTIES, Scenario, step_args, step_kind
from harness.judge.checks import CheckResult, failed, passed
from harness.judge.delivery import judge_delivery, tweet_json
from harness.run.records import ReplySeen, StepRecord, Transcript, TweetSeen

TRACKER = "tracker"


class StepJudge:
    """Judges the steps of one scenario record against its scenario."""

    def __init__(self, scenario: Scenario, handles: dict[str, str], transcript: Transcript) -> None:
        self.scenario = scenario
        self.handles = handles
        self.transcript = transcript
        self.tweets: list[dict] = []  # judged tweets, for the reports

    def label(self, name: str) -> str:
        return "the tracker" if name == TRACKER else self.handles.get(name, f"@{name}")

    def checks(self, record: StepRecord) -> list[CheckResult]:
        """The step's own checks, then one for every program that ended without being told to."""
        step = self.scenario.steps[record.number - 1]
        kind, args = step_kind(step), step_args(step)
        checks = getattr(self, f"_{kind}")(args, record)
        checks.extend(self._still_running(record))
        for check in checks:
            check.step = record.number
        return checks

    def _still_running(self, record: StepRecord) -> list[CheckResult]:
        """A crash is a failure of the step that caused it, whatever that step's own checks said."""
        on_purpose = self._exited_on_purpose(record.number)
        return [failed(f"{self.label(name)} keeps running",
                       f"{self.label(name)}'s program ended ({self.transcript.exit_text(name)})")
                for name in record.ended if name not in on_purpose]

    def _exited_on_purpose(self, number: int) -> set[str]:
        """Users told to exit (and expected to) at or before step `number`."""
        return {step_args(step).user for step in self.scenario.steps[:number]
                if step_kind(step) == "exit" and step_args(step).expect == "success"}

    # -- replies -----------------------------------------------------------------------------
    def reply_check(self, reply: ReplySeen, expect: str) -> CheckResult:
        label = f"{reply.what} answers {expect.upper()}"
        if reply.typed_seq is None:
            return failed(label, f"the submission's manifest says it has no `{reply.command}` command")
        if reply.outcome is None:
            why = (f"{self.label(reply.user)}'s program ended ({self.transcript.exit_text(reply.user)})"
                   if reply.gave_up == "exited" else f"no result line within {reply.waited_s:g} s")
            return failed(label, f"expected {expect.upper()}; {why}")
        if reply.outcome != expect:
            return failed(label, f"expected {expect.upper()}, seen {reply.outcome.upper()}: {reply.line!r}")
        return passed(label, reply.line or "")

    def _replies(self, args: Any, record: StepRecord) -> list[CheckResult]:
        return [self.reply_check(reply, args.expect) for reply in record.replies]

    _register = _follow = _drop = _end_tweet = _exit = _replies

    def _query(self, args: Any, record: StepRecord) -> list[CheckResult]:
        name = "query handles lists exactly the registered handles"
        seen = record.query
        assert seen is not None
        if seen.typed_seq is None:
            return [failed(name, "the submission's manifest says it has no `query` command")]
        expected = sorted(h if h.startswith("@") else f"@{h}" for h in args.handles)
        if seen.line is None:
            return [failed(name, f"expected the list {expected}; no answer within {seen.waited_s:g} s")]
        if seen.refused:
            return [failed(name, f"expected the list {expected}; seen FAILURE: {seen.line!r}")]
        handles = seen.handles or []
        problems = []
        if sorted(handles) != expected:
            problems.append(f"expected {expected or 'no handles'}, seen {sorted(handles) or 'none'}")
        if seen.count is not None and seen.count != len(expected):
            problems.append(f"expected n = {len(expected)}, seen n = {seen.count}")
        if problems:
            return [failed(name, "; ".join(problems) + f" (line: {seen.line!r})")]
        return [passed(name, f"n = {len(expected)}: {' '.join(expected)}")]

    # -- raw steps ---------------------------------------------------------------------------
    def _type(self, args: Any, record: StepRecord) -> list[CheckResult]:
        return []

    def _expect(self, args: Any, record: StepRecord) -> list[CheckResult]:
        label = f"{self.label(args.at)} prints /{args.pattern}/"
        seen = record.line
        assert seen is not None
        if seen.line is not None:
            return [passed(label, seen.line)]
        why = "its program ended" if seen.gave_up == "exited" else f"not within {seen.waited_s:g} s"
        return [failed(label, f"expected a line matching /{args.pattern}/; {why}")]

    def _expect_not(self, args: Any, record: StepRecord) -> list[CheckResult]:
        label = f"{self.label(args.at)} does not print /{args.pattern}/"
        seen = record.line
        assert seen is not None
        if seen.line is not None:
            return [failed(label, f"it printed {seen.line!r}")]
        return [passed(label, f"nothing matching within {seen.waited_s:g} s")]

    def _expect_alive(self, args: Any, record: StepRecord) -> list[CheckResult]:
        label = f"{self.label(args.at)} is still running"
        if not record.alive:
            return [failed(label, f"its program ended ({self.transcript.exit_text(args.at)})")]
        return [passed(label)]

    # -- tweets ------------------------------------------------------------------------------
    def _tweet(self, args: Any, record: StepRecord) -> list[CheckResult]:
        return self._tweets([args], record)

    def _tweets_at_once(self, args: Any, record: StepRecord) -> list[CheckResult]:
        return self._tweets(list(args), record)

    def _tweets(self, tweets: list[Any], record: StepRecord) -> list[CheckResult]:
        if any(seen.reply.typed_seq is None for seen in record.tweets):
            return [failed("tweet", "the submission's manifest says it has no `tweet` command")]
        checks: list[CheckResult] = []
        single = len(record.tweets) == 1
        for seen in record.tweets:
            expect = tweets[0].expect if single else "success"
            if single or seen.reply.outcome != "failure":
                checks.append(self.reply_check(seen.reply, expect))
        for args, seen in zip(tweets, record.tweets):
            if seen.reply.outcome == "success" and args.deliver_to is not None:
                graded = tuple(args.grade) if args.grade is not None else DELIVERY_PROPERTIES
                self.tweets.append(tweet_json(seen))
                checks.extend(judge_delivery(seen, graded))
            elif seen.reply.outcome == "failure" or args.expect == "failure":
                checks.append(_refused_not_delivered(seen))
        return checks


def _refused_not_delivered(seen: TweetSeen) -> CheckResult:
    name = "a refused tweet reaches nobody"
    if seen.deliveries:
        return failed(name, f"the tweet was answered FAILURE but "
                      f"{', '.join(sorted({d.receiver for d in seen.deliveries}))} printed it")
    return passed(name)


def step_failed_rule(scenario: Scenario):
    """For the runner: whether a step (seen so far) failed, so the script cannot go on as written."""
    judge = StepJudge(scenario, {name: f"@{name}" for name in scenario.users}, Transcript())

    def step_failed(record: StepRecord) -> bool:
        return any(check.failed for check in judge.checks(record))

    return step_failed
