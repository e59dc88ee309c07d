"""Submissions that differ from the reference in how they are launched, typed at and read, built when
the tests run.

Each variant is the reference changed in exactly one way that real submissions for this assignment
take (ASSIGNMENT.md, last section: launch, typing, output), plus the `tweeter.yaml` that lets the
harness drive it: the manifest key under test, and only what that needs. They are built like the ones
in variants.py (whose `Variant` and `files` they use): exact text replacements on copies of the
reference's program files, each of which must apply exactly once, and extra files. The code marks
every deliberate deviation with `# VARIANT: ...`. Nothing is committed: tests build the folders into a
temporary directory.

    from tests.submissions.console_variants import VARIANTS, build
    folder = build("ctrl_c_menu", tmp_path)      # tmp_path/ctrl_c_menu/

    python3 tests/submissions/console_variants.py /tmp/console_variants   # build them all, by hand
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.submissions import variants
from tests.submissions.variants import USER_MAIN, Variant

# --- places in reference/user.py that several variants change -------------------------------------------
USER_RUN = "Run:  python3 user.py TRACKER_IP TRACKER_PORT\n"
WATCH_STDIN = "        self._watch(sys.stdin.fileno(), self._on_stdin)\n"
EVENT_LOOP = '''        try:
            while self.exit_status is None:
                self.output.flush()  # everything printed is out before we sleep
                readable, _, _ = select.select(self.watch_list, [], [], self._sleep_time())
                for source in readable:
                    handler = self.watched.get(source)  # None if an earlier handler closed it
                    if handler is not None:
                        handler()
                self._run_due()
        finally:
'''
LOOP_FLUSH = "                self.output.flush()  # everything printed is out before we sleep\n"
FINISH = '''    def _finish(self, line: str) -> None:
        """Print a command's result line and go on with the next command."""
        self.say(line)
        self.active = False
        self._next_command()
'''
QUERY_RESULT = '''                self._finish(f"query handles: SUCCESS {len(handles)}" + "".join(f" {h}" for h in handles))
'''
TWEET_RESULT = '''        self.say(f"tweet: SUCCESS {len(followers)} followers" + "".join(f" {h}" for h, _ in followers))
'''
PRINT_RECEIVED = '''            self.say(f'{self.me.handle} received tweet from {tweet.tweeter} via {tweet.sender}: '
                     f'"{tweet.text}"')
'''
IMPORT_SYS = "import sys\n"
IMPORT_TERMIOS = "import sys\nimport termios  # VARIANT: to clear the keyboard buffer\n"


def commands_after(keys: str, expect: str) -> str:
    """The manifest's `commands:` for a console that wants `keys` pressed and `expect` printed before
    each command, which is then typed in the reference's syntax."""
    syntax = {"register": "register {handle} {ip} {ports}", "query": "query handles",
              "follow": "follow {handle} {target}", "drop": "drop {handle} {target}",
              "tweet": "tweet {handle} \\\"{text}\\\"", "end_tweet": "end-tweet {handle}", "exit": "exit {handle}"}
    return "commands:\n" + "".join(f'  {command}: ["{keys}", {{expect: "{expect}", send: "{line}"}}]\n'
                                   for command, line in syntax.items())


def same_replies(success: str, failure: str) -> str:
    """The manifest's `replies:` when every command is answered by the same two lines."""
    return "replies:\n" + "".join(f'  {command}: {{success: "{success}", failure: "{failure}"}}\n'
                                  for command in ("register", "query", "follow", "drop", "tweet", "end_tweet",
                                                  "exit"))


# --- env_tracker ---------------------------------------------------------------------------------------
ENV_TRACKER = Variant(
    "env_tracker", "The tracker's address read from environment variables",
    "A correct submission whose user takes no command-line arguments: it reads the tracker's IPv4 "
    "address from the environment variable TRACKER_HOST and its port from TRACKER_PORT, and is "
    "launched as `python3 user.py`. Its tweeter.yaml needs `env:` (TRACKER_HOST: \"{tracker_ip}\", "
    "TRACKER_PORT: \"{tracker_port}\") and `launch: {user: python3 user.py}`.",
    "100/100.",
    (("user.py", USER_RUN,
      "Run:  TRACKER_HOST=IPv4 TRACKER_PORT=PORT python3 user.py   (the tracker's address from the environment)\n"),
     ("user.py", USER_MAIN,
      '''def main(argv: list[str] | None = None) -> int:
    # VARIANT: the tracker's address comes from the environment, not from the command line
    host, port = os.environ.get("TRACKER_HOST", ""), os.environ.get("TRACKER_PORT", "")
    if not wire.is_ipv4(host) or not PORT_RE.fullmatch(port) or not wire.is_port(int(port)):
        print("usage: TRACKER_HOST=IPv4 TRACKER_PORT=PORT python3 user.py", file=sys.stderr, flush=True)
        return 2
    try:
        return User((host, int(port))).run()
'''),
     ),
    {"tweeter.yaml": '''# The user reads the tracker's address from the environment (see main() in user.py).
env: {TRACKER_HOST: "{tracker_ip}", TRACKER_PORT: "{tracker_port}"}
launch: {user: "python3 user.py"}
'''})


# --- ctrl_c_menu ---------------------------------------------------------------------------------------
CTRL_C_MENU = Variant(
    "ctrl_c_menu", "The keyboard is read only after Ctrl+C",
    "A correct submission whose user does not read the keyboard while it runs its event loop: one "
    "presses Ctrl+C (SIGINT, a KeyboardInterrupt in Python), it prints `Command> ` (no newline), reads "
    "one line, runs that command and goes back to its loop. Its tweeter.yaml needs `commands:` with "
    "every command as a list: the key `{ctrl-c}`, then the command typed after the `Command>` prompt; "
    "and `ready: {user: ...}`, the line it prints once in its loop (Ctrl+C before that kills it).",
    "100/100.",
    (("user.py", WATCH_STDIN, "        self.say(\"press Ctrl+C to type a command\")  # VARIANT: stdin is not watched\n"),
     ("user.py", EVENT_LOOP,
      '''        try:
            while self.exit_status is None:
                try:
                    self.output.flush()  # everything printed is out before we sleep
                    readable, _, _ = select.select(self.watch_list, [], [], self._sleep_time())
                    for source in readable:
                        handler = self.watched.get(source)  # None if an earlier handler closed it
                        if handler is not None:
                            handler()
                    self._run_due()
                except KeyboardInterrupt:  # VARIANT: Ctrl+C: prompt, read one line (the loop waits), run it
                    self.output.flush()
                    os.write(self.output.fd, b"Command> ")
                    self._on_stdin()
        finally:
'''),
     ),
    {"tweeter.yaml": "# Ctrl+C before the user is in its event loop would kill it: wait for its first line.\n"
                     'ready: {user: "^press Ctrl\\\\+C to type a command"}\n'
                     "# Each command: press Ctrl+C, wait for the `Command> ` prompt, type the command.\n"
                     + commands_after("{ctrl-c}", "^Command>")})


# --- prompt_each_command -------------------------------------------------------------------------------
PROMPT_EACH_COMMAND = Variant(
    "prompt_each_command", "A prompt before each command; input typed earlier is thrown away",
    "A correct submission whose user prints `Enter a command: ` (no newline) whenever it is idle, and "
    "reads the keyboard only then: one command at a time, after the previous command's result was "
    "printed. Before it prints the prompt it clears the keyboard buffer (termios.tcflush), so a "
    "command typed before the prompt appeared is lost. A line it prints while the prompt shows (a "
    "received tweet) starts on a line of its own. Its tweeter.yaml needs `prompt:`.",
    "100/100.",
    (("user.py", IMPORT_SYS, IMPORT_TERMIOS),
     ("user.py", "        self.active = False  # a command is running\n",
      '''        self.active = False  # a command is running
        self.prompting = False  # VARIANT: the prompt shows, and nothing was printed after it
'''),
     ("user.py", WATCH_STDIN, "        self._prompt()  # VARIANT: stdin is read only after the prompt\n"),
     ("user.py", LOOP_FLUSH,
      '''                if self.prompting and self.output:  # VARIANT: end the prompt's line before printing more
                    self.output.insert(0, "")
                    self.prompting = False
                self.output.flush()  # everything printed is out before we sleep
'''),
     ("user.py", "            data = os.read(sys.stdin.fileno(), 65536)\n",
      '''            data = os.read(sys.stdin.fileno(), 65536)
            self._unwatch(sys.stdin.fileno())  # VARIANT: one command per prompt
            self.prompting = False
'''),
     ("user.py", '''            self.trace("stdin closed: leaving")
            self.exit_status = 0
''',
      '''            self.trace("stdin closed: leaving")
            self.exit_status = 0
        elif not self.active and not self.lines and self.exit_status is None:  # VARIANT: idle: ask again
            self._prompt()

    def _prompt(self) -> None:
        """VARIANT: throw away what was typed meanwhile, show the prompt, and read the next command."""
        if sys.stdin.fileno() in self.watched:  # the prompt shows already
            return
        termios.tcflush(sys.stdin.fileno(), termios.TCIFLUSH)
        self.output.flush()
        os.write(self.output.fd, b"Enter a command: ")
        self.prompting = True
        self._watch(sys.stdin.fileno(), self._on_stdin)
'''),
     ),
    {"tweeter.yaml": '''# The user reads a command only after it printed its prompt (input typed earlier is thrown away).
prompt: "^Enter a command:"
'''})


# --- two_line_tweets -----------------------------------------------------------------------------------
TWO_LINE_TWEETS = Variant(
    "two_line_tweets", "A received tweet printed over two lines",
    "A correct submission whose follower prints a received tweet over two lines: "
    "`Tweet from @alice (forwarded by @bob):`, then the text indented by four spaces. Its "
    "tweeter.yaml needs `tweets: {received: [...]}`, a list of two regexes, one per line.",
    "100/100.",
    (("user.py", PRINT_RECEIVED,
      '''            self.say(f"Tweet from {tweet.tweeter} (forwarded by {tweet.sender}):")  # VARIANT: two lines
            self.say(f"    {tweet.text}")
'''),
     ),
    {"tweeter.yaml": '''# A received tweet is two lines: who sent it and who passed it on, then the text, indented.
tweets:
  received: ['^Tweet from (?P<tweeter>@[A-Za-z]+) \\(forwarded by (?P<forwarder>@[A-Za-z]+)\\):$', '^    (?P<text>.*)$']
'''})


# --- silent_receiver -----------------------------------------------------------------------------------
SILENT_RECEIVER = Variant(
    "silent_receiver", "Followers print nothing when a tweet reaches them",
    "A submission whose followers pass every tweet on round the ring but print nothing when it reaches "
    "them (the assignment asks them to print the forwarder and the tweet). Its tweeter.yaml needs "
    "`tweets: {received: null}`.",
    "Not 100/100: what a follower received cannot be judged from the console, so the checks "
    "'every follower receives it exactly once' and 'the text arrives intact' are not judged there.",
    (("user.py", PRINT_RECEIVED,
      "            pass  # VARIANT: a follower prints nothing when a tweet reaches it (it still passes it on)\n"),
     ),
    {"tweeter.yaml": '''# Followers print nothing when a tweet reaches them.
tweets: {received: null}
'''})


# --- query_count_line ----------------------------------------------------------------------------------
QUERY_COUNT_LINE = Variant(
    "query_count_line", "query handles: a count line, then one handle per line",
    "A correct submission whose user answers `query handles` with `query handles: SUCCESS`, then a line "
    "`3 users:`, then one `  @alice` line per handle. Its tweeter.yaml needs `query:` with `reply` (no "
    "count or handles in it), `count` and `item`.",
    "100/100.",
    (("user.py", QUERY_RESULT,
      '''                self._finish("query handles: SUCCESS\\n"  # VARIANT: a count line, then one handle per line
                             + f"{len(handles)} users:" + "".join(f"\\n  {h}" for h in handles))
'''),
     ),
    {"tweeter.yaml": '''# query handles: `query handles: SUCCESS`, `3 users:`, then `  @alice` lines.
query: {reply: "^query handles: SUCCESS$", count: "^(?P<count>\\\\d+) users:$", item: "^  (?P<handle>@[A-Za-z]+)$"}
'''})


# --- query_nested --------------------------------------------------------------------------------------
QUERY_NESTED = Variant(
    "query_nested", "query handles: a nested dump of users and their followers",
    "A correct submission whose tracker answers query handles with every user's followers too, and "
    "whose user prints `query handles: SUCCESS`, then each handle on a line of its own with a "
    "`    follower: @bob` line under it per follower, then `end of list`; no count. Its tweeter.yaml "
    "needs `query:` with `reply`, `item` and `end`.",
    "100/100.",
    (("tracker.py", '''        if self._handles_json is None:
            self._handles_json = wire.encode(sorted(self.users))
        return b'{"op":"reply","id":%d,"ok":true,"handles":%s}' % (request_id, self._handles_json)
''',
      '''        # VARIANT: every user's followers too (not cached: follow and drop change them)
        followers = {handle: self.users[handle].followers for handle in sorted(self.users)}
        return wire.reply(request_id, True, handles=sorted(self.users), followers=followers)
'''),
     ("user.py", QUERY_RESULT,
      '''                followers = reply.get("followers") or {}  # VARIANT: a nested dump, no count
                lines = ["query handles: SUCCESS"]
                for handle in handles:
                    lines += [handle] + [f"    follower: {follower}" for follower in followers.get(handle, [])]
                self._finish("\\n".join(lines + ["end of list"]))
'''),
     ),
    {"tweeter.yaml": '''# query handles: `query handles: SUCCESS`, each handle with its followers under it, `end of list`.
query: {reply: "^query handles: SUCCESS$", item: "^(?P<handle>@[A-Za-z]+)$", end: "^end of list$"}
'''})


# --- same_result_lines ---------------------------------------------------------------------------------
SAME_RESULT_LINES = (
    ("user.py", FINISH,
     '''    def _finish(self, line: str, *more: str) -> None:
        """Print a command's result line (and `more` lines) and go on with the next command."""
        # VARIANT: every command is answered by the same bare line, SUCCESS or FAILURE
        self.say("SUCCESS" if line.partition(": ")[2].startswith("SUCCESS") else "FAILURE")
        for extra in more:
            self.say(extra)
        self.active = False
        self._next_command()
'''),
    ("user.py", QUERY_RESULT,
     '''                self._finish("query handles: SUCCESS", str(len(handles)), *handles)  # VARIANT: count, handles
'''),
    ("user.py", TWEET_RESULT, '        self.say("SUCCESS")  # VARIANT: the same bare line for every command\n'),
)
SAME_RESULT_MANIFEST = (same_replies("^SUCCESS$", "^FAILURE$")
                        + "# query handles: SUCCESS, the count on its own line, one handle per line.\n"
                        + 'query: {reply: "^SUCCESS$", count: "^(?P<count>\\\\d+)$", item: "^(?P<handle>@[A-Za-z]+)$"}\n')

SAME_RESULT_LINES_VARIANT = Variant(
    "same_result_lines", "Every command answered by the same bare SUCCESS / FAILURE line",
    "A correct submission whose user answers every command with a line that is only `SUCCESS` or "
    "`FAILURE` (nothing says which command it answers: only timing ties a reply to its command); "
    "query handles is `SUCCESS`, then the count on a line of its own, then one handle per line. Its "
    "tweeter.yaml needs `replies:` for every command and a `query:` that reads the count and items.",
    "100/100.",
    SAME_RESULT_LINES,
    {"tweeter.yaml": "# Every command is answered by a bare SUCCESS or FAILURE line.\n" + SAME_RESULT_MANIFEST})


# --- slow_follow_reply ---------------------------------------------------------------------------------
SLOW_FOLLOW_REPLY = Variant(
    "slow_follow_reply", "Bare SUCCESS / FAILURE lines, and follow answered 2 s late",
    "Like same_result_lines (every command answered by a bare SUCCESS or FAILURE line), but the user "
    "prints follow's answer 2 seconds after the tracker gave it; commands typed meanwhile wait their "
    "turn. Its tweeter.yaml needs `replies:` for every command and `query:`, as same_result_lines.",
    "With --step-timeout 1 on specs/follow_twice.yaml: the first follow fails (the harness stopped "
    "waiting after 1 s, the step limit), and its late SUCCESS is not taken for the next command's answer.",
    SAME_RESULT_LINES + (
        ("user.py", '''        self._ask({"op": "follow", "handle": handle, "target": target},
                  self._result("follow", f"{handle} follows {target}"))
''',
         '''        answer = self._result("follow", f"{handle} follows {target}")
        self._ask({"op": "follow", "handle": handle, "target": target},  # VARIANT: the answer is printed 2 s late
                  lambda reply: self.timers.add(2.0, lambda: answer(reply)))
'''),
    ),
    {"tweeter.yaml": "# Every command is answered by a bare SUCCESS or FAILURE line (follow's 2 s late).\n"
                     + SAME_RESULT_MANIFEST})


# --- silent_end_tweet ----------------------------------------------------------------------------------
SILENT_END_TWEET = Variant(
    "silent_end_tweet", "Nothing printed when a tweet comes back; only the tracker says it ended",
    "A correct submission whose tweeter prints nothing when its tweet comes back round the ring and "
    "sends end-tweet silently (no result line; end-tweet typed by hand is still answered); the "
    "tracker prints `Tweet has ended` when it accepts an end-tweet. Its tweeter.yaml needs "
    "`tweets: {returned: {at: tracker, line: ...}}`.",
    "100/100.",
    (("user.py", '''        self.say(f'{self.me.handle} tweet returned: "{self.round_text}"')
''', "        # VARIANT: nothing is printed when my tweet comes back\n"),
     ("user.py", '''    def _end_tweet_automatically(self) -> None:
        assert self.me is not None
        self._end_tweet(self.me.handle)
''',
      '''    def _end_tweet_automatically(self) -> None:
        assert self.me is not None

        def ended(_reply: dict[str, Any] | None) -> None:  # VARIANT: no result line; the command is over
            self.active = False
            self._next_command()
        self._ask({"op": "end_tweet", "handle": self.me.handle}, ended)
'''),
     ("tracker.py", '''        self.log(f"tracker: tweet of {member.handle} ended")
''',
      '''        self.log(f"tracker: tweet of {member.handle} ended")
        self.log("Tweet has ended")  # VARIANT: the only sign that a tweet came back
'''),
     ),
    {"tweeter.yaml": '''# The tweeter prints nothing when its tweet comes back; the tracker prints `Tweet has ended`.
tweets: {returned: {at: tracker, line: "^Tweet has ended"}}
'''})


# --- prints_own_tweet ----------------------------------------------------------------------------------
PRINTS_OWN_TWEET = Variant(
    "prints_own_tweet", "The tweeter prints its own tweet like a received one",
    "A correct submission whose tweeter also prints its own tweet when it sends it, in the very form "
    "of a received tweet: `@alice received tweet from @alice via @alice: \"...\"`. Its tweeter.yaml "
    "needs `tweets: {own_copy: true}`; without it that line is a delivery to someone outside the ring.",
    "100/100; without `own_copy` in tweeter.yaml the 'nobody else receives it' checks fail.",
    (("user.py", '''        self.round_open, self.round_text = True, text
''',
      '''        self.round_open, self.round_text = True, text
        self.say(f'{self.me.handle} received tweet from {self.me.handle} via {self.me.handle}: "{text}"')  # VARIANT
'''),
     ),
    {"tweeter.yaml": '''# The tweeter prints its own tweet as it sends it, in the form of a received tweet.
tweets: {own_copy: true}
'''})


# --- races_input ---------------------------------------------------------------------------------------
RACES_INPUT = Variant(
    "races_input", "A console that loses input typed right after a result",
    "A correct submission whose user, after printing each command's result line, waits 50 ms and then "
    "clears the keyboard buffer (termios.tcflush) before it reads the next command: a command typed "
    "within 50 ms of a result is lost. Typed by hand this never shows. Its tweeter.yaml needs "
    "`pace_ms:` (150 ms between two lines typed at the same user), and `ready: {user: ...}` so that "
    "the first command is not typed before the program runs (it would be answered too late for the pace).",
    "100/100 with `pace_ms: 150`; without it, commands typed right after a result are lost.",
    (("user.py", IMPORT_SYS, IMPORT_TERMIOS),
     ("user.py", FINISH,
      '''    def _finish(self, line: str) -> None:
        """Print a command's result line and go on with the next command."""
        self.say(line)
        self.output.flush()  # VARIANT: 50 ms after a result, what was typed meanwhile is thrown away
        time.sleep(0.05)
        termios.tcflush(sys.stdin.fileno(), termios.TCIFLUSH)
        self.active = False
        self._next_command()
'''),
     ),
    {"tweeter.yaml": '''# The console loses lines typed within 50 ms of a result: type them 150 ms apart.
pace_ms: 150
# The pace counts from the line typed before: a first command typed while Python still starts is
# answered late, and the next one, 150 ms after it, would come within 50 ms of that answer.
ready: {user: "^user: tracker at "}
'''})


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    ENV_TRACKER, CTRL_C_MENU, PROMPT_EACH_COMMAND, TWO_LINE_TWEETS, SILENT_RECEIVER, QUERY_COUNT_LINE,
    QUERY_NESTED, SAME_RESULT_LINES_VARIANT, SLOW_FOLLOW_REPLY, SILENT_END_TWEET, PRINTS_OWN_TWEET,
    RACES_INPUT)}


def build(name: str, into: Path) -> Path:
    """Write variant `name` into `into/<name>/` (replacing what was there); the folder."""
    return variants.write(VARIANTS[name], into, "tests/submissions/console_variants.py")


if __name__ == "__main__":
    sys.exit(variants.build_all(sys.argv[1:], VARIANTS, "tests/submissions/console_variants.py"))
