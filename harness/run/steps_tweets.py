"""Tweet steps: type one tweet (or several at once), read the replies, wait until every accepted
tweet went round and was ended, then record who printed what.

The only deliberate wait is the scenario's `grace` after the tweets are complete, during which an
extra delivery would show; nothing else here waits for time to pass.
"""

from __future__ import annotations

import secrets
import time

from harness.inputs.dialect import Received, render
from harness.inputs.scenario import TweetArgs
from harness.run.driver import TRACKER, Driver, TypedCommand
from harness.run.records import DeliverySeen, ReplySeen, StepRecord, TweetSeen

STRAGGLER_S = 1.0  # once a tweet was ended, how long followers' lines still missing may take


def play_tweet(driver: Driver, args: TweetArgs, timeout: float, step: StepRecord) -> None:
    _play(driver, [args], timeout, step)


def play_tweets_at_once(driver: Driver, tweets: list[TweetArgs], timeout: float, step: StepRecord) -> None:
    """Typed back to back; when the first came back before the second was typed (a fast ring, a slow
    console), nothing concurrent happened: play them once more."""
    _play(driver, tweets, timeout, step)
    if not step.tweets_overlapped() and all(t.reply.typed_seq is not None for t in step.tweets):
        step.tweets, step.attempts = [], 2
        _play(driver, tweets, timeout, step)


def tweet_text(args: TweetArgs) -> str:
    """The text to tweet: unique in every run, so that each received line names its tweet."""
    token = secrets.token_hex(3)
    if args.length is not None:
        base = f"t{token} " + "the quick brown fox jumps over the lazy dog, 0123456789! " * 200
        return base[:args.length].rstrip() + "x" * (args.length - len(base[:args.length].rstrip()))
    if args.text is None:
        return f"hello from {args.user}, tweet {token}"
    return render(args.text, {"unique": token})


def _play(driver: Driver, tweets: list[TweetArgs], timeout: float, step: StepRecord) -> None:
    typed_at: dict[int, int] = {}
    texts = [tweet_text(args) for args in tweets]
    with driver.tracker_held_for({args.user: text for args, text in zip(tweets, texts)} if len(tweets) > 1 else {}):
        typings = driver.type_together([(args.user, "tweet", {"text": text}) for args, text in zip(tweets, texts)],
                                       timeout)
    for args, text, typed in zip(tweets, texts, typings):
        handle = driver.users[args.user].handle
        followers = [driver.handle(n) for n in args.deliver_to] if args.deliver_to is not None else None
        reply = ReplySeen(user=args.user, command="tweet", what=f"tweet by {handle}", typed_seq=typed.seq,
                          not_typed=typed.not_typed, waited_s=timeout)
        seen = TweetSeen(user=args.user, tweeter=handle, text=text, followers=followers, reply=reply,
                         reads_forwarder=driver.dialect.reads_forwarder)
        step.tweets.append(seen)
        if typed.seq is None:
            return
        typed_at[id(seen)] = typed.seq
    for seen in step.tweets:
        seen.reply = driver.await_reply(seen.user, "tweet", seen.reply.what, TypedCommand(seen.reply.typed_seq),
                                        timeout)
    first_seq = min(typed_at.values())
    accepted = [t for t in step.tweets if t.reply.outcome == "success"]
    _await_done(driver, accepted, first_seq, timeout)
    driver.watch(lambda: None, driver.grace)  # extra deliveries would show now
    deliveries = _deliveries(driver, step.tweets, first_seq)
    for seen in step.tweets:
        seen.deliveries = deliveries[id(seen)]
        seen.returned = _returned(driver, seen) if driver.dialect.returned_re else None
        seen.end_tweet = _end_tweet_outcome(driver, seen)  # type: ignore[assignment]
        seen.back_seq = _back_seq(driver, seen)


def _reply_seq(seen: TweetSeen) -> int:
    reply = seen.reply
    return reply.line_seq if reply.line_seq is not None else reply.typed_seq if reply.typed_seq is not None else -1


def _returned(driver: Driver, seen: TweetSeen) -> bool:
    """The line that says the tweet came back: the tweeter's, or the tracker's (a user that ends its
    tweet silently)."""
    after = seen.reply.typed_seq if seen.reply.typed_seq is not None else -1
    printer = TRACKER if driver.dialect.returned_at == "tracker" else seen.user
    return any(driver.dialect.is_returned(e.text) for e in driver.trace.lines(printer, after=after))


def _back_seq(driver: Driver, seen: TweetSeen) -> int | None:
    """The first line showing the tweet came back: its returned line, or end-tweet's answer."""
    after = seen.reply.typed_seq if seen.reply.typed_seq is not None else -1
    printer = TRACKER if driver.dialect.returned_at == "tracker" else seen.user
    seqs = [e.seq for e in driver.trace.lines(printer, after=after) if driver.dialect.is_returned(e.text)]
    seqs += [e.seq for e in driver.trace.lines(seen.user, after=_reply_seq(seen))
             if driver.dialect.reply_outcome("end_tweet", e.text)]
    return min(seqs) if seqs else None


def _end_tweet_outcome(driver: Driver, seen: TweetSeen) -> str | None:
    """End-tweet's answer at the tweeter; where only the tracker says the tweet ended, that line."""
    for event in driver.trace.lines(seen.user, after=_reply_seq(seen)):
        outcome = driver.dialect.reply_outcome("end_tweet", event.text)
        if outcome:
            return outcome
    if driver.dialect.returned_at == "tracker" and driver.dialect.returned_re and _returned(driver, seen):
        return "success"
    return None


def _deliveries(driver: Driver, tweets: list[TweetSeen], first_seq: int) -> dict[int, list[DeliverySeen]]:
    """Received-tweet lines printed since the tweets were typed, attributed to their tweet."""
    result: dict[int, list[DeliverySeen]] = {id(t): [] for t in tweets}
    for slot in driver.users.values():
        for event, received in driver.dialect.received_in(driver.trace.lines(slot.name, after=first_seq)):
            tweet = _attribute(received, tweets)
            if tweet is not None and tweet.user == slot.name and driver.dialect.is_own_copy(event.text):
                continue  # the tweeter printing its own tweet: not a delivery
            if tweet is not None:
                result[id(tweet)].append(DeliverySeen(
                    receiver=slot.handle, seq=event.seq, t=round(event.t - driver.trace.t0, 6),
                    text=received.text, tweeter=received.tweeter, forwarder=received.forwarder,
                    printed_receiver=received.receiver))
    return result


def _attribute(received: Received, tweets: list[TweetSeen]) -> TweetSeen | None:
    """Which typed tweet a received line belongs to: by tweeter if printed, else by text."""
    if received.tweeter is not None:
        return next((t for t in tweets if t.tweeter.lower() == received.tweeter.lower()), None)
    for tweet in tweets:
        if received.text == tweet.text:
            return tweet
    for tweet in tweets:
        if received.text and tweet.text.startswith(received.text):
            return tweet
    return tweets[0] if len(tweets) == 1 else None


def _await_done(driver: Driver, accepted: list[TweetSeen], first_seq: int, timeout: float) -> None:
    """Wait until every accepted tweet reached its followers, came back and end-tweet was answered.

    Once a tweeter has ended its tweet (end-tweet answered), followers' lines still missing get
    STRAGGLER_S more: lines of different processes reach the harness in any order, but a tweet
    that never went round (a follower that does not forward) must not hold the step for its
    whole timeout.
    """
    manual_sent: set[int] = set()
    ended_at: dict[int, float] = {}

    def finished(seen: TweetSeen, receivers: set[str]) -> bool:
        followers = set(seen.followers or [])
        if driver.dialect.returned_re:
            round_done = _returned(driver, seen)
        else:  # nothing says it came back: every follower printed it (or, printing nothing, at once)
            round_done = followers <= receivers or not driver.dialect.reads_received
        if round_done and not driver.dialect.end_tweet_automatic and id(seen) not in manual_sent:
            manual_sent.add(id(seen))
            seen.end_tweet_typed_seq = driver.type_command(seen.user, "end_tweet", timeout).seq
        if not _end_tweet_outcome(driver, seen):
            return False
        ended = ended_at.setdefault(id(seen), time.monotonic())
        return followers <= receivers or time.monotonic() - ended >= STRAGGLER_S

    def done() -> bool | None:
        if driver.tracker_gone() or all(driver.exited(t.user) for t in accepted):
            return True  # no end-tweet can be answered any more
        deliveries = _deliveries(driver, accepted, first_seq)
        return True if all(finished(t, {d.receiver for d in deliveries[id(t)]}) for t in accepted) else None

    driver.wait(done, timeout, poll=0.05, decided=True)
