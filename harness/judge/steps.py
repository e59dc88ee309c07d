"""The checks of one played step, derived from what its record saw and what the scenario asked.

Every message is written here, from the observations alone, in the assignment's words, so that no
two of them can contradict each other; every failed or unverified check also has its cause in one
line. A program that ended without being told to is a failure of the step during which it ended
(found from the exit's time, not at the next step that happened to notice).
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from harness.inputs.reasons import REASONS, reasons_of
from harness.inputs.scenario import DELIVERY_PROPERTIES, Scenario, step_args, step_kind
from harness.judge.checks import CheckResult, failed, passed, unverified
from harness.judge.delivery import judge_delivery, tweet_json
from harness.judge.endings import ProgramEnds
from harness.judge.wire_evidence import TweetPath, tweet_path
from harness.run.records import HARNESS_STOP, Event, ReplySeen, ScenarioRecord, StepRecord, TweetSeen

TRACKER = "tracker"
TANGLED = ("two tweets were in flight at once and no packet carried readable text to tell theirs apart, so "
           "the printed lines decided")
UNATTRIBUTED = ("on loopback a packet of the tweet's time came from or went to a port that no program of the "
                "scenario held when it was captured (a socket closed right after it sent), so who sent what "
                "cannot be told from the packets: the printed lines decided")


class StepJudge:
    """Judges the steps of one scenario record against its scenario."""

    def __init__(self, scenario: Scenario, record: ScenarioRecord) -> None:
        self.scenario = scenario
        self.record = record
        self.handles = record.handles
        self.transcript = record.transcript
        self.tweets: list[dict] = []  # judged tweets, for the reports
        self.paths: dict[int, TweetPath] = {}  # each tweet's path on the LAN, by id of its TweetSeen
        self.ends = ProgramEnds(scenario, record)

    def label(self, name: str) -> str:
        return "the tracker" if name == TRACKER else self.handles.get(name, f"@{name}")

    def checks(self, record: StepRecord) -> list[CheckResult]:
        """The step's own checks, then one for every program that ended, without being told to,
        while this step was played."""
        step = self.scenario.steps[record.number - 1]
        kind, args = step_kind(step), step_args(step)
        checks = getattr(self, f"_{kind}")(args, record)
        checks.extend(self._ended_during(record))
        for check in checks:
            check.step = record.number
        return checks

    # -- programs that ended -----------------------------------------------------------------
    def _ended_during(self, record: StepRecord) -> list[CheckResult]:
        return [self._death_check(number, event) for number, event in self.ends.costly() if number == record.number]

    def _death_check(self, number: int, event: Event) -> CheckResult:
        """The program, how it ended and when, what it had last read or printed, and why it matters."""
        who = self.label(event.proc)
        needed = self.scenario.needed_after(number).get(event.proc)
        why = "" if self.ends.crashed(event) or needed is None else f"; step {needed} needs it"
        return failed(f"{who} keeps running", self.ends.told(event.proc) + why,
                      self.ends.told(event.proc, lines=False) + why)

    # -- replies -----------------------------------------------------------------------------
    def reply_check(self, reply: ReplySeen, expect: str, reason: str | None = None,
                    stuck: str | None = None) -> CheckResult:
        """The command's answer; a refusal whose step names its `reason` must not give another reason
        the manifest names (`reason` is then a name of harness/inputs/reasons.py). `stuck`: what each
        program waited on when the step saw that nothing could happen any more."""
        label = f"{reply.what} answers {expect.upper()}"
        if reply.typed_seq is None:
            why = self.not_typed(reply.user, reply.command, reply.not_typed)
            return failed(label, why, why)
        if reply.outcome is None:
            if reply.gave_up in ("exited", "tracker_exited"):
                gone = self.ends.gone(reply.user if reply.gave_up == "exited" else TRACKER, reply.typed_seq, reply.what)
                return failed(label, f"expected {expect.upper()}; no answer: {gone}", gone)
            if reply.gave_up == "stuck":
                meanwhile = self.meanwhile(reply.user, reply.typed_seq, reply.waited_s, reply.command)
                return failed(label, f"expected {expect.upper()}; no answer, and {_nothing_can_happen(stuck)}; "
                              f"{meanwhile}",
                              f"`{reply.what}` got no answer, and nothing could happen any more")
            waited = self.waited(reply.user, reply.typed_seq, reply.waited_s, reply.command)
            return failed(label, f"expected {expect.upper()}; no result line: {waited}",
                          f"`{reply.what}` got no answer within {reply.waited_s:g} s")
        if reply.outcome != expect:
            return failed(label, f"expected {expect.upper()}, seen {reply.outcome.upper()}: {reply.line!r}",
                          f"`{reply.what}` answered {reply.outcome.upper()} instead of {expect.upper()}")
        other = self._other_reason(reply, reason)
        if other is not None and reason is not None:
            because = REASONS[reason].because.format(user=self.label(reply.user), target=reply.what.split()[-1])
            given = f"{reply.line!r} ({REASONS[other].label})"
            return failed(label, f"expected FAILURE because {because}; seen FAILURE for another reason: {given}, "
                          f"matching /{self.record.reasons[other]}/",
                          f"`{reply.what}` was refused for another reason: {given}, not because {because}")
        return passed(label, repr(reply.line))

    def _other_reason(self, reply: ReplySeen, reason: str | None) -> str | None:
        """The reason the manifest names that the FAILURE line gives instead of the one tested, or None:
        when it gives the tested one too, or none it names, or nothing is named, the refusal stands."""
        if reason is None or reply.outcome != "failure" or reply.line is None or not self.record.reasons:
            return None
        given = reasons_of(reply.line, self.record.reasons)
        return given[0] if given and reason not in given else None

    def not_typed(self, user: str, command: str, why: str | None) -> str:
        """Why a command was not typed at all: never "no answer"."""
        if why == "no_prompt":
            prompt = self.record.prompt or "its prompt"
            last = [e.text for e in self.transcript.lines(user, ("in",))]
            after = f" after `{last[-1]}`" if last else " after it started"
            return (f"{self.label(user)} never showed its prompt {prompt!r} again{after}, so "
                    f"`{command.replace('_', '-')}` was not typed")
        word = command.replace('_', '-')
        if why == "at_startup":
            return (f"{self.label(user)} registers only at its start-up prompt, and its program was already "
                    f"running, so it could not register again")
        return (f"{self.label(user)}'s program has no `{word}` command (its tweeter.yaml says "
                f"`commands.{command}: null`), so `{word}` could not be typed")

    def waited(self, user: str, after_seq: int, waited_s: float, command: str | None = None) -> str:
        """"stopped waiting after N s (the step limit)", then what was printed meanwhile."""
        return f"stopped waiting after {waited_s:g} s (the step limit); " + self.meanwhile(user, after_seq, waited_s, command)

    def meanwhile(self, user: str, after_seq: int, waited_s: float, command: str | None = None) -> str:
        """What `user` printed in the `waited_s` after the command typed at seq `after_seq` (the
        closest to a result line first, with the patterns it did not match), and programs that ended."""
        typed = next((e for e in self.transcript.snapshot() if e.seq == after_seq), None)
        base = typed.t if typed is not None else self.transcript.t0
        printed = [e for e in self.transcript.lines(user, ("out",), after=after_seq) if e.t - base <= waited_s]
        lines = [e for e in printed if not self._trace_line(e.text)]
        text = f"{self.label(user)} printed meanwhile: "
        if not lines:
            text += f"only {len(printed)} protocol-trace line{'s' if len(printed) != 1 else ''}" if printed else "nothing"
        else:
            shown = self._closest(lines, command)
            text += "; ".join(f"{e.text[:120]!r} {_offset(e.t - base)}" for e in shown)
            text += f" and {len(lines) - len(shown)} more" if len(lines) > len(shown) else ""
            if command is not None:
                text += f", none matching {self._patterns(command)}"
        ended = [f"{self.label(p)}'s program {e.text} {_offset(e.t - base)}" for p in [TRACKER, *self.handles]
                 for e in self.transcript.lines(p, ("exit",))[:1]
                 if e.text != HARNESS_STOP and p != user and e.t - base <= waited_s]
        return text + (f"; meanwhile {', '.join(ended)}" if ended else "")

    def _closest(self, lines: list[Event], command: str | None) -> list[Event]:
        """At most four lines, the most like a result line of `command` first."""
        if command is None:
            return lines[:4]
        word = command.replace("_", "-")
        ranked = sorted(lines, key=lambda e: -difflib.SequenceMatcher(None, e.text[:80].lower(), f"{word}: success").ratio())
        return ranked[:4]

    def _patterns(self, command: str) -> str:
        replies = self.record.replies.get(command)
        return f"/{replies[0]}/ or /{replies[1]}/" if replies else "the result patterns"

    def _trace_line(self, text: str) -> bool:
        pattern = self.record.trace_lines
        return bool(pattern) and re.search(pattern, text[:4096]) is not None

    def _replies(self, args: Any, record: StepRecord) -> list[CheckResult]:
        return [self.reply_check(reply, args.expect, args.reason, record.stuck) for reply in record.replies]

    _register = _follow = _drop = _end_tweet = _exit = _replies

    def _query(self, args: Any, record: StepRecord) -> list[CheckResult]:
        name = "query handles lists exactly the registered handles"
        seen = record.query
        assert seen is not None
        if seen.typed_seq is None:
            why = self.not_typed(seen.user, "query", seen.not_typed)
            return [failed(name, why, why)]
        expected = sorted(h if h.startswith("@") else f"@{h}" for h in args.handles)
        if seen.line is None:
            if seen.gave_up in ("exited", "tracker_exited"):
                gone = self.ends.gone(seen.user if seen.gave_up == "exited" else TRACKER, seen.typed_seq, "query handles")
                return [failed(name, f"expected the list {expected}; no answer: {gone}", gone)]
            if seen.gave_up == "stuck":
                meanwhile = self.meanwhile(seen.user, seen.typed_seq, seen.waited_s, "query")
                return [failed(name, f"expected the list {expected}; no answer, and "
                               f"{_nothing_can_happen(record.stuck)}; {meanwhile}",
                               "`query handles` got no answer, and nothing could happen any more")]
            return [failed(name, f"expected the list {expected}; no answer: "
                           f"{self.waited(seen.user, seen.typed_seq, seen.waited_s, 'query')}",
                           f"`query handles` got no answer within {seen.waited_s:g} s")]
        if seen.refused:
            if args.unregistered:
                return [passed(name, f"refused for a user who has not registered (the course text allows it): "
                               f"{seen.line!r}")]
            return [failed(name, f"expected the list {expected}; seen FAILURE: {seen.line!r}",
                           "`query handles` answered FAILURE")]
        handles = seen.handles or []
        problems = []
        if sorted(handles) != expected:
            problems.append(f"expected {expected or 'no handles'}, seen {sorted(handles) or 'none'}")
        if seen.count is not None and seen.count != len(expected):
            problems.append(f"expected n = {len(expected)}, seen n = {seen.count}")
        if problems:
            shown = f"line: {seen.line!r}" if seen.line else "it printed no list, then nothing more"
            return [failed(name, "; ".join(problems) + f" ({shown})",
                           f"`query handles` listed {sorted(handles) or 'nobody'} instead of {expected or 'nobody'}")]
        return [passed(name, f"n = {len(expected)}: {' '.join(expected)}")]

    # -- raw steps ---------------------------------------------------------------------------
    def _type(self, args: Any, record: StepRecord) -> list[CheckResult]:
        return []

    def _expect(self, args: Any, record: StepRecord) -> list[CheckResult]:
        label = f"{self.label(args.at)} prints /{args.pattern}/"
        seen = record.line
        assert seen is not None
        if seen.line is not None:
            return [passed(label, repr(seen.line))]
        why = self.ends.told(args.at) if seen.gave_up == "exited" else _nothing_can_happen(record.stuck) \
            if seen.gave_up == "stuck" else f"not within {seen.waited_s:g} s"
        return [failed(label, f"expected a line matching /{args.pattern}/; {why}",
                       f"{self.label(args.at)} never printed /{args.pattern}/")]

    def _expect_not(self, args: Any, record: StepRecord) -> list[CheckResult]:
        label = f"{self.label(args.at)} does not print /{args.pattern}/"
        seen = record.line
        assert seen is not None
        if seen.line is not None:
            return [failed(label, f"it printed {seen.line!r}", f"{self.label(args.at)} printed {seen.line[:80]!r}")]
        ended = [e for e in self.transcript.lines(args.at, ("exit",)) if e.t - self.transcript.t0 <= record.end_t]
        if ended:  # a program that is not running prints nothing: its silence shows nothing
            return [unverified(label, f"not seen: {self.label(args.at)}'s program had ended ({ended[0].text}), so "
                               "that it printed nothing shows nothing", f"could not see whether {label}")]
        return [passed(label, f"nothing matching within {seen.waited_s:g} s while it ran")]

    def _expect_alive(self, args: Any, record: StepRecord) -> list[CheckResult]:
        label = f"{self.label(args.at)} is still running"
        if not record.alive:
            return [failed(label, self.ends.told(args.at), self.ends.told(args.at, lines=False))]
        return [passed(label, f"its program was running when step {record.number} was played")]

    # -- tweets ------------------------------------------------------------------------------
    def _tweet(self, args: Any, record: StepRecord) -> list[CheckResult]:
        return self._tweets([args], record)

    def _tweets_at_once(self, args: Any, record: StepRecord) -> list[CheckResult]:
        return [*self._tweets(list(args), record), self._overlap(record)]

    def _overlap(self, record: StepRecord) -> CheckResult:
        """On the LAN, from the packets: each tweet from its first packet to its end at the tracker; on
        loopback (or where packets cannot tell the tweets apart), from the printed lines: every tweet
        typed before the first printed line that showed one back. Typing times alone show nothing."""
        name = "the tweets were in flight at the same time"
        tries = " (played twice)" if record.attempts > 1 else ""
        paths = [self._tweet_path(t, record) for t in record.tweets]
        spans = [p.span for p in paths if p is not None and p.span is not None]
        if spans and len(spans) == len(record.tweets):
            times = "; ".join(f"{t.tweeter}'s from {s[0]:.3f} s to {s[1]:.3f} s" for t, s in zip(record.tweets, spans))
            if max(s[0] for s in spans) <= min(s[1] for s in spans):
                return _evidenced(passed(name, f"their packets overlap in time: {times}{tries} (evidence: wire)"), "wire")
            return _evidenced(unverified(name, f"not seen: one tweet had ended at the tracker before the other's "
                                         f"first packet ({times}){tries}, so nothing was concurrent; type faster (a "
                                         "console that waits for each ring to finish cannot show what happens when "
                                         "two tweets meet)", "could not make two tweets overlap"), "wire")
        if any(t.back_seq is not None for t in record.tweets) and record.tweets_overlapped():
            return passed(name, f"every tweet was typed before the first line that showed one back{tries} "
                          "(evidence: transcript)")
        first = min((t for t in record.tweets if t.back_seq is not None), key=lambda t: t.back_seq or 0, default=None)
        came = (f"{first.tweeter}'s tweet came back before the last one was typed" if first
                else "no tweet was seen to come back, so nothing shows they were in flight together")
        return unverified(name, f"not seen: {came}{tries}, so nothing was concurrent; type faster (a console that "
                          "waits for each ring to finish cannot show what happens when two tweets meet)",
                          "could not make two tweets overlap")

    def _tweets(self, tweets: list[Any], record: StepRecord) -> list[CheckResult]:
        untyped = next((seen for seen in record.tweets if seen.reply.typed_seq is None), None)
        if untyped is not None:
            why = self.not_typed(untyped.user, "tweet", untyped.reply.not_typed)
            return [failed(f"tweet by {untyped.tweeter}", why, why)]
        checks: list[CheckResult] = []
        single = len(record.tweets) == 1
        for seen in record.tweets:
            expect = tweets[0].expect if single else "success"
            if single or seen.reply.outcome != "failure":
                checks.append(self.reply_check(seen.reply, expect, stuck=record.stuck))
        for args, seen in zip(tweets, record.tweets):
            path, note = self._tweet_path(seen, record), ""
            if path is not None and path.unattributed:
                path, note = None, UNATTRIBUTED
            elif path is not None and not path.readable and not single:
                path, note = None, TANGLED  # no readable text to tell the tweets' packets apart
            if seen.reply.outcome == "success" and args.deliver_to is not None:
                graded = tuple(args.grade) if args.grade is not None else DELIVERY_PROPERTIES
                self.tweets.append(tweet_json(seen, path))
                checks.extend(judge_delivery(seen, graded, path, note, self.record.prints_received))
            elif seen.reply.outcome == "failure" or args.expect == "failure":
                checks.append(_refused_not_delivered(seen, path, self.record.prints_received))
        return checks

    def _tweet_path(self, seen: TweetSeen, step: StepRecord) -> TweetPath | None:
        """The tweet's path on the wire; None where nothing was captured."""
        if not self.record.network.captured or seen.reply.typed_seq is None:
            return None
        if id(seen) not in self.paths:
            typed = next((e for e in self.transcript.snapshot() if e.seq == seen.reply.typed_seq), None)
            start = (typed.t - self.transcript.t0) if typed is not None else step.start_t
            others = tuple(t.text for t in step.tweets if t is not seen)
            place = "program" if self.record.network.capture == "loopback" else "host"
            self.paths[id(seen)] = tweet_path(self.record.wire, seen.text, seen.tweeter, sorted(seen.followers or []),
                                              start, step.end_t, self.handles, others, place)
        return self.paths[id(seen)]


def _nothing_can_happen(stuck: str | None) -> str:
    """The facts that ended a wait early: every program blocked, with no timer and nothing to wake it."""
    return f"nothing could happen any more: {stuck or 'every program was blocked'}"


def _offset(seconds: float) -> str:
    """A time relative to a command typed: "at +0.25 s", or "0.09 s before it was typed"."""
    return f"at +{seconds:.2f} s" if seconds >= 0 else f"{-seconds:.2f} s before it was typed"


def _evidenced(result: CheckResult, evidence: str) -> CheckResult:
    result.evidence = evidence
    return result


def _refused_not_delivered(seen: TweetSeen, path: TweetPath | None, prints_received: bool) -> CheckResult:
    """A tweet that must be refused (or was) reaches nobody: nobody printed it and, on the LAN, no
    packet carried it to a user; the message says what the answer was."""
    name = "a refused tweet reaches nobody"
    answered = {"failure": "was answered FAILURE", "success": "was accepted (it must be refused)"}.get(
        seen.reply.outcome or "", "got no answer")
    sent = sorted({h.dst for h in path.hops if h.carried and h.dst not in (TRACKER, seen.tweeter)}) if path else []
    if sent:
        return _evidenced(failed(name, f"the tweet {answered}, but packets carried it to {', '.join(sent)} "
                                 "(evidence: wire)", f"{', '.join(sent)} got a tweet that {answered}"), "wire")
    if seen.deliveries:
        who = ", ".join(sorted({d.receiver for d in seen.deliveries}))
        return failed(name, f"the tweet {answered}, but {who} printed it", f"{who} printed a tweet that {answered}")
    if path is not None and (path.readable or path.to_tracker):
        return _evidenced(passed(name, "no packet carried its text to a user (evidence: wire)"), "wire")
    if not prints_received:
        return unverified(name, "not seen: the submission prints nothing when a tweet reaches a follower "
                          "(tweets.received: null) and no packet showed its text; print received tweets, or grade "
                          "on a virtual LAN (--network hosts)", "could not see whether the refused tweet reached anyone")
    return passed(name, "nobody printed it")


def should_stop_rule(scenario: Scenario):
    """For the runner: whether to stop playing after a step (as seen so far): a step that only
    prepares the subject failed (the scenario is blocked), or a program ended without being told to
    (nothing more can be learned). A failed step of the subject does not stop it: the next ones
    still show what works. Judged as the final verdict is, from the record so far (the wire included)."""
    def should_stop(record: ScenarioRecord, step: StepRecord) -> bool:
        judge = StepJudge(scenario, record)
        if step.number <= scenario.setup and any(check.lost for check in judge.checks(step)):
            return True
        return bool(judge.ends.costly())

    return should_stop
