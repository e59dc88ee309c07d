"""The checks of one played step, derived from what its record saw and what the scenario asked.

Every message is written here, from the observations alone, in the assignment's words.
"""

from __future__ import annotations

import re
from typing import Any

from harness.inputs.scenario import DELIVERY_PROPERTIES, Scenario, step_args, step_kind
from harness.judge.checks import CheckResult, failed, passed
from harness.judge.delivery import judge_delivery, tweet_json
from harness.judge.wire_evidence import WireView, tweet_hops
from harness.run.records import ReplySeen, ScenarioRecord, StepRecord, TweetSeen

TRACKER = "tracker"
NO_CARRIER = ("no packet on the LAN carried the tweet's text (encoded in a way the harness cannot read), "
              "so the printed lines decided")


class StepJudge:
    """Judges the steps of one scenario record against its scenario."""

    def __init__(self, scenario: Scenario, record: ScenarioRecord) -> None:
        self.scenario = scenario
        self.record = record
        self.handles = record.handles
        self.transcript = record.transcript
        self.tweets: list[dict] = []  # judged tweets, for the reports
        self.record_prompt = record.prompt

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
            return failed(label, self.not_typed(reply.user, reply.command, reply.not_typed))
        late = self._late_note(reply.late_answers)
        if reply.outcome is None:
            why = (f"{self.label(reply.user)}'s program ended ({self.transcript.exit_text(reply.user)})"
                   if reply.gave_up == "exited" else
                   f"no result line: {self.waited(reply.user, reply.typed_seq, reply.waited_s)}")
            return failed(label, f"expected {expect.upper()}; {why}{late}")
        if reply.outcome != expect:
            return failed(label, f"expected {expect.upper()}, seen {reply.outcome.upper()}: {reply.line!r}{late}")
        return passed(label, (reply.line or "") + late)

    def not_typed(self, user: str, command: str, why: str | None) -> str:
        """Why a command was not typed at all: never "no answer"."""
        if why == "no_prompt":
            prompt = self.record_prompt or "its prompt"
            last = [e.text for e in self.transcript.lines(user, ("in",))]
            after = f" after `{last[-1]}`" if last else " after it started"
            return (f"{self.label(user)} never showed its prompt {prompt!r} again{after}, so "
                    f"`{command.replace('_', '-')}` was not typed")
        return f"the submission's manifest says it has no `{command.replace('_', '-')}` command"

    def waited(self, user: str, after_seq: int, waited_s: float) -> str:
        """"stopped waiting after N s (the step limit)", and what the program printed meanwhile."""
        typed = next((e for e in self.transcript.snapshot() if e.seq == after_seq), None)
        lines = [e for e in self.transcript.lines(user, ("out",), after=after_seq) if not self._trace_line(e.text)]
        base = typed.t if typed is not None else self.transcript.t0
        shown = "; ".join(f"{e.text[:120]!r} at +{e.t - base:.2f} s" for e in lines[:4])
        more = f" and {len(lines) - 4} more" if len(lines) > 4 else ""
        return (f"stopped waiting after {waited_s:g} s (the step limit); {self.label(user)} printed meanwhile: "
                + (shown + more if lines else "nothing"))

    def _late_note(self, late: list[int]) -> str:
        if not late:
            return ""
        lines = [e.text for e in self.transcript.snapshot() if e.seq in set(late)]
        return (f" (before it, {', '.join(repr(line[:80]) for line in lines)} was taken as the late answer to an "
                "earlier command)")

    def _trace_line(self, text: str) -> bool:
        pattern = self.record.trace_lines
        return bool(pattern) and re.search(pattern, text[:4096]) is not None

    def _replies(self, args: Any, record: StepRecord) -> list[CheckResult]:
        return [self.reply_check(reply, args.expect) for reply in record.replies]

    _register = _follow = _drop = _end_tweet = _exit = _replies

    def _query(self, args: Any, record: StepRecord) -> list[CheckResult]:
        name = "query handles lists exactly the registered handles"
        seen = record.query
        assert seen is not None
        if seen.typed_seq is None:
            return [failed(name, self.not_typed(seen.user, "query", seen.not_typed))]
        expected = sorted(h if h.startswith("@") else f"@{h}" for h in args.handles)
        if seen.line is None:
            why = (f"{self.label(seen.user)}'s program ended ({self.transcript.exit_text(seen.user)})"
                   if seen.gave_up == "exited" else f"no answer: {self.waited(seen.user, seen.typed_seq, seen.waited_s)}")
            return [failed(name, f"expected the list {expected}; {why}")]
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
        untyped = next((seen for seen in record.tweets if seen.reply.typed_seq is None), None)
        if untyped is not None:
            return [failed(f"tweet by {untyped.tweeter}", self.not_typed(untyped.user, "tweet", untyped.reply.not_typed))]
        checks: list[CheckResult] = []
        single = len(record.tweets) == 1
        for seen in record.tweets:
            expect = tweets[0].expect if single else "success"
            if single or seen.reply.outcome != "failure":
                checks.append(self.reply_check(seen.reply, expect))
        for args, seen in zip(tweets, record.tweets):
            if seen.reply.outcome == "success" and args.deliver_to is not None:
                graded = tuple(args.grade) if args.grade is not None else DELIVERY_PROPERTIES
                wire = self._wire_view(seen, record)
                note = NO_CARRIER if self.record.network.mode == "hosts" and wire is None and seen.followers else ""
                self.tweets.append(tweet_json(seen, wire))
                checks.extend(judge_delivery(seen, graded, wire, note, self.record.prints_received))
            elif seen.reply.outcome == "failure" or args.expect == "failure":
                checks.append(_refused_not_delivered(seen))
        return checks


    def _wire_view(self, seen: TweetSeen, step: StepRecord) -> WireView | None:
        """What the capture shows about this tweet (hosts mode), if any packet carried its text."""
        if self.record.network.mode != "hosts" or seen.reply.typed_seq is None:
            return None
        typed = next((e for e in self.transcript.snapshot() if e.seq == seen.reply.typed_seq), None)
        start = (typed.t - self.transcript.t0) if typed is not None else step.start_t
        hops = tweet_hops(self.record.wire, seen.text, start, step.end_t, self.handles)
        view = WireView(hops, seen.tweeter, sorted(seen.followers or []))
        return view if view.seen else None


def _refused_not_delivered(seen: TweetSeen) -> CheckResult:
    name = "a refused tweet reaches nobody"
    if seen.deliveries:
        return failed(name, f"the tweet was answered FAILURE but "
                      f"{', '.join(sorted({d.receiver for d in seen.deliveries}))} printed it")
    return passed(name)


def step_failed_rule(scenario: Scenario):
    """For the runner: whether a step (as seen so far) failed, so that the script cannot go on as
    written. Judged as the final verdict is, from the record so far (the wire included)."""
    def step_failed(record: ScenarioRecord, step: StepRecord) -> bool:
        return any(check.failed for check in StepJudge(scenario, record).checks(step))

    return step_failed
