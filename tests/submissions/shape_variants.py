"""Submissions in the shapes real programs take that a TA grades by design, not as bugs, built when
the tests run: registration at a start-up prompt (and an end when it is refused), garbage answered
late, a console that needs a key before every line, and one real bug whose crash must be charged once.

Built like the variants of variants.py and console_variants.py (whose `Variant` and helpers they use):
exact text replacements on copies of the reference's program files, each of which must apply exactly
once, plus a `tweeter.yaml`. The code marks every deliberate deviation with `# VARIANT: ...`.

    from tests.submissions.shape_variants import build
    folder = build("registers_at_startup", tmp_path)

    python3 tests/submissions/shape_variants.py /tmp/shape_variants   # build them all, by hand
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.submissions import variants
from tests.submissions.console_variants import (CTRL_C_MENU, FINISH, IMPORT_SYS, IMPORT_TERMIOS, SAME_RESULT_LINES,
                                                SAME_RESULT_MANIFEST)
from tests.submissions.variants import Variant

HERE = "tests/submissions/shape_variants.py"
RUN_START = '''        self.say(f"user: tracker at {self.tracker[0]}:{self.tracker[1]}")
        self._watch(sys.stdin.fileno(), self._on_stdin)
'''
USAGE_ERROR = '''            except UsageError as error:
                self.say(str(error))
'''
PROMPT_AFTER_CTRL_C = '                    os.write(self.output.fd, b"Command> ")\n'
TRACKER_FOLLOW = '''        follower, owner = self._actor_and_target(message, address)
        if follower.handle in owner.followers:
'''

# --- registers_at_startup ------------------------------------------------------------------------------
REGISTERS_AT_STARTUP = Variant(
    "registers_at_startup", "Registration at a start-up prompt; a refused registration ends the program",
    "A correct submission whose user asks `Handle: `, `IP: ` and `Ports: ` when it starts, registers "
    "right there, and has no command prompt before that; when the tracker refuses the registration it "
    "prints the FAILURE and ends (exit status 1), a design the course allows. A scenario that needs a "
    "user who has not registered yet (query handles with nobody registered) cannot happen in it. Its "
    "tweeter.yaml needs `registration: startup`, `startup.user` with `{handle}`, and `commands.register: null`.",
    "100/100: query_none is not applicable (full points, with the reason); a refused registration that "
    "ends the program costs nothing when no later step needs that user.",
    (("user.py", RUN_START,
      '''        self.say(f"user: tracker at {self.tracker[0]}:{self.tracker[1]}")
        # VARIANT: the handle, address and ports are asked at start, and registered right there
        self.output.flush()
        answers = [input("Handle: "), input("IP: "), input("Ports: ")]
        self.lines.append("register " + " ".join(answers))
        self._watch(sys.stdin.fileno(), self._on_stdin)
        self._next_command()
'''),
     ("user.py", FINISH,
      '''    def _finish(self, line: str) -> None:
        """Print a command's result line and go on with the next command."""
        self.say(line)
        self.active = False
        if line.startswith("register: FAILURE"):  # VARIANT: a refused registration ends the program
            self.exit_status = 1
            return
        self._next_command()
''')),
    {"tweeter.yaml": '''# The user registers from its start-up prompts (see User.run); it has no `register` command.
registration: startup
startup:
  user:
    - {expect: "^Handle:", send: "{handle}"}
    - {expect: "^IP:", send: "{ip}"}
    - {expect: "^Ports:", send: "{ports}"}
commands: {register: null}
'''})

# --- garbage_answered_late -----------------------------------------------------------------------------
GARBAGE_ANSWERED_LATE = Variant(
    "garbage_answered_late", "Bare SUCCESS / FAILURE lines, and garbage answered 0.2 s late",
    "Like same_result_lines (every command answered by a bare SUCCESS or FAILURE line, nothing says "
    "which command it answers), but a line it cannot parse is answered `FAILURE` 0.2 s later, and the "
    "lines typed after it wait until then. Typed at machine speed, those late FAILUREs arrive after the "
    "next command was typed and are taken for its answer; typed as a person types (each line after "
    "the last was dealt with) they never are.",
    "100/100 on garbage_input.",
    (*SAME_RESULT_LINES,
     ("user.py", USAGE_ERROR,
      '''            except UsageError as error:  # VARIANT: a line it cannot parse is answered 0.2 s later,
                self.active = True  # and nothing typed after it is read before that
                self.timers.add(0.2, lambda: (self.say("FAILURE"), setattr(self, "active", False), self._next_command()))
                return
''')),
    {"tweeter.yaml": "# Every command is answered by a bare SUCCESS or FAILURE line.\n" + SAME_RESULT_MANIFEST})

# --- ctrl_c_before_every_line --------------------------------------------------------------------------
CTRL_C_BEFORE_EVERY_LINE = Variant(
    "ctrl_c_before_every_line", "The keyboard is read only after Ctrl+C, raw lines too",
    CTRL_C_MENU.explanation + " What was typed before Ctrl+C is thrown away (termios.tcflush), so a "
    "scenario's raw lines (garbage typed at it) need the key too: its tweeter.yaml adds `raw_lines`.",
    "100/100 on garbage_input, each raw line read and answered; without `raw_lines` the raw lines are "
    "never read (and nothing the scenario checks shows it).",
    (("user.py", IMPORT_SYS, IMPORT_TERMIOS), *CTRL_C_MENU.replacements,
     ("user.py", PROMPT_AFTER_CTRL_C,
      "                    termios.tcflush(sys.stdin.fileno(), termios.TCIFLUSH)  # VARIANT: earlier typing is lost\n"
      + PROMPT_AFTER_CTRL_C)),
    {"tweeter.yaml": CTRL_C_MENU.extra_files["tweeter.yaml"]
     + "# A scenario's raw lines: Ctrl+C, the prompt, then the line.\n"
     + 'raw_lines: ["{ctrl-c}", {expect: "^Command>", send: "{line}"}]\n'})

# --- tracker_crashes_on_unknown_follow -----------------------------------------------------------------
TRACKER_CRASHES_ON_UNKNOWN_FOLLOW = Variant(
    "tracker_crashes_on_unknown_follow", "The tracker crashes on `follow` of an unknown handle",
    "The tracker looks the followed handle up without checking that it is registered, so `follow` "
    "of an unknown handle ends it with an uncaught KeyError. One bug: `follow_unknown` tests it and "
    "loses its points; `exit_cleanup` reaches the same input on its last step (following a user "
    "who has exited) and must not lose its points for it again.",
    "follow_unknown fails at once with the tracker's death as the cause; exit_cleanup keeps its "
    "points, noting that the crash is charged in follow_unknown.",
    (("tracker.py", TRACKER_FOLLOW,
      '''        follower = self._actor(message, address)
        owner = self.users[wire.handle_field(message, "target")]  # VARIANT: a KeyError for an unknown handle
        if follower.handle in owner.followers:
'''),),
    {})

VARIANTS: dict[str, Variant] = {v.name: v for v in (
    REGISTERS_AT_STARTUP, GARBAGE_ANSWERED_LATE, CTRL_C_BEFORE_EVERY_LINE, TRACKER_CRASHES_ON_UNKNOWN_FOLLOW)}


def build(name: str, into: Path) -> Path:
    """Write variant `name` into `into/<name>/` (replacing what was there); the folder."""
    return variants.write(VARIANTS[name], into, HERE)


if __name__ == "__main__":
    sys.exit(variants.build_all(sys.argv[1:], VARIANTS, HERE))
