"""Submissions that answer `query handles` in the shapes real programs print, built when the tests run.

Each variant is the reference changed in exactly one way a real submission for this assignment
answers `query handles` (ASSIGNMENT.md, "query answers"; issue 23, pattern 3), plus the
`tweeter.yaml` that lets the harness read that shape, and one that wrongly accepts handles with
digits, which the harness must see listing `@alice99`. They are built like the ones in variants.py
and console_variants.py (whose `Variant`, `write` and helpers they use): exact text replacements on
copies of the reference's program files, each of which must apply exactly once, and extra files.
The code marks every deliberate deviation with `# VARIANT: ...`. Nothing is committed: tests build
the folders into a temporary directory.

    from tests.submissions.query_variants import VARIANTS, build
    folder = build("query_no_header", tmp_path)      # tmp_path/query_no_header/

    python3 tests/submissions/query_variants.py /tmp/query_variants   # build them all, by hand
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.submissions import variants
from tests.submissions.console_variants import FINISH, QUERY_RESULT, TWEET_RESULT, same_replies
from tests.submissions.variants import Variant

BUILDER = "tests/submissions/query_variants.py"

# --- places in reference/tracker.py and reference/wire.py that the variants change ------------------------
TRACKER_QUERY_REPLY = '''        if self._handles_json is None:
            self._handles_json = wire.encode(sorted(self.users))
        return b'{"op":"reply","id":%d,"ok":true,"handles":%s}' % (request_id, self._handles_json)
'''
WIRE_HANDLE_RE = 'HANDLE_RE = re.compile(r"@[A-Za-z]{1,15}")  # `@` and 1..15 ASCII letters\n'


def tracker_sends_users(row: str, why: str) -> tuple[str, str, str]:
    """The tracker's answer to query handles with a `users` list beside `handles`: one `row` per
    registered handle (an expression of `handle` and `member`), not cached (follow and drop change it)."""
    return ("tracker.py", TRACKER_QUERY_REPLY,
            f'''        # VARIANT: {why}
        users = [{row} for handle, member in sorted(self.users.items())]
        return wire.reply(request_id, True, handles=sorted(self.users), users=users)
''')


# --- query_count_first ---------------------------------------------------------------------------------
QUERY_COUNT_FIRST = Variant(
    "query_count_first", "query handles: the count line first, the handles, then a bare SUCCESS",
    "A correct submission whose user answers every command with a bare `SUCCESS` or `FAILURE` line, and "
    "`query handles` with `Number of handles: 2` first, then one `@alice` line per handle, and its "
    "`SUCCESS` last. Its tweeter.yaml needs `replies:` for every command and `query:` with `reply`, "
    "`count` and `item`: the harness reads the count before the reply line, and takes the trailing "
    "SUCCESS as the query's, never as the next command's.",
    "100/100.",
    (("user.py", FINISH,
      '''    def _finish(self, line: str, *before: str) -> None:
        """Print a command's result line (after the lines `before` it) and go on with the next command."""
        for extra in before:  # VARIANT: a command's lines come before its result line
            self.say(extra)
        # VARIANT: every command is answered by the same bare line, SUCCESS or FAILURE
        self.say("SUCCESS" if line.partition(": ")[2].startswith("SUCCESS") else "FAILURE")
        self.active = False
        self._next_command()
'''),
     ("user.py", QUERY_RESULT,
      '''                self._finish("query handles: SUCCESS", f"Number of handles: {len(handles)}",  # VARIANT: count first
                             *handles)
'''),
     ("user.py", TWEET_RESULT, '        self.say("SUCCESS")  # VARIANT: the same bare line for every command\n'),
     ),
    {"tweeter.yaml": "# Every command is answered by a bare SUCCESS or FAILURE line.\n"
                     + same_replies("^SUCCESS$", "^FAILURE$")
                     + r'''# query handles: `Number of handles: 2`, then `@alice` lines, then SUCCESS.
query: {reply: '^SUCCESS$', count: '^Number of handles: (?P<count>\d+)$', item: '^(?P<handle>@\w+)$'}
'''})


# --- query_one_line ------------------------------------------------------------------------------------
QUERY_ONE_LINE = Variant(
    "query_one_line", "query handles: the whole list on one line, each user's followers nested beside it",
    "A correct submission whose tracker answers query handles with every user's followers too, and whose "
    "user prints the whole list as a Python literal on the result line: `query handles: SUCCESS "
    "[['@alice', ['@carol']], ['@carol', []]]`. Only the top-level handles are registered handles; the "
    "nested ones are followers. Its tweeter.yaml needs `query:` with a `reply` whose `handles` group "
    "holds the list, and `nested: true`.",
    "100/100; without `nested: true` every follower is counted as a registered handle once more.",
    (tracker_sends_users("[handle, list(member.followers)]", "every user with its followers beside it"),
     ("user.py", QUERY_RESULT,
      '''                users = reply.get("users") or []  # VARIANT: the whole list on one line, followers nested
                self._finish(f"query handles: SUCCESS {users}")
'''),
     ),
    {"tweeter.yaml": r'''# query handles: `query handles: SUCCESS [['@alice', ['@carol']], ['@carol', []]]`.
query: {reply: '^query handles: SUCCESS (?P<handles>\[.*\])$', nested: true}
'''})


# --- query_no_header -----------------------------------------------------------------------------------
NO_HEADER_LIST = '''                # VARIANT: no header and no result line: `index handle ports` per user, nothing for nobody
                for index, (handle, *ports) in enumerate(reply.get("users") or []):
                    self.say(f"{index} {handle} " + " ".join(map(str, ports)))
'''
NO_HEADER_NEXT = '''                self.active = False
                self._next_command()
'''
NO_HEADER_ROW = ("[handle, *member.ports]", "every user with its ports")
NO_HEADER_ITEM = r"item: '^\d+ (?P<handle>@\w+)( \d+)+$'"

QUERY_NO_HEADER = Variant(
    "query_no_header", "query handles: no header, the first line is already the first handle",
    "A correct submission whose user answers `query handles` with one `0 @carol 30001 30002 30003` line "
    "per registered user (its index, handle and ports) and nothing else: no result line, no count, no "
    "end line, no prompt; with nobody registered it prints nothing at all. Its tweeter.yaml needs "
    "`query:` with `reply: null`, `item`, and `settle_ms`: the list ends when the user stops printing, "
    "and nothing printed for that long is an empty list.",
    "100/100.",
    (tracker_sends_users(*NO_HEADER_ROW),
     ("user.py", QUERY_RESULT, NO_HEADER_LIST + NO_HEADER_NEXT),
     ),
    {"tweeter.yaml": f'''# query handles: one `0 @carol 30001 30002 30003` line per user, nothing when nobody is registered.
query: {{reply: null, {NO_HEADER_ITEM}, settle_ms: 500}}
'''})


# --- query_no_users_line -------------------------------------------------------------------------------
QUERY_NO_USERS_LINE = Variant(
    "query_no_users_line", "query handles: no header, and `No users` when nobody is registered",
    "Like query_no_header (one `0 @carol 30001 30002 30003` line per user, no result line), but with "
    "nobody registered the user prints `No users`. Its tweeter.yaml needs `query:` with `reply: null`, "
    "`item`, `settle_ms` (the list ends when the user stops printing) and `empty` (the line that stands "
    "for an empty list).",
    "100/100.",
    (tracker_sends_users(*NO_HEADER_ROW),
     ("user.py", QUERY_RESULT, NO_HEADER_LIST + '''                if not reply.get("users"):
                    self.say("No users")  # VARIANT: the answer when nobody is registered
''' + NO_HEADER_NEXT),
     ),
    {"tweeter.yaml": f'''# query handles: one `0 @carol 30001 30002 30003` line per user, `No users` when nobody is registered.
query: {{reply: null, {NO_HEADER_ITEM}, empty: '^No users$', settle_ms: 500}}
'''})


# --- accepts_handle_digits -----------------------------------------------------------------------------
ACCEPTS_HANDLE_DIGITS = Variant(
    "accepts_handle_digits", "A tracker (and user) that accepts handles with digits",
    "The tracker and the user check handles with `@[A-Za-z0-9]{1,15}` instead of letters only, so "
    "`register @alice99` succeeds and `query handles` then lists `@alice99`. The assignment allows "
    "letters only. It follows the reference's console convention: no tweeter.yaml.",
    "register_handle_chars fails: `register @alice99` answers SUCCESS, and the query lists "
    "['@alice99', '@carol'] instead of ['@carol'] (read whole, never as @alice).",
    (("wire.py", WIRE_HANDLE_RE,
      'HANDLE_RE = re.compile(r"@[A-Za-z0-9]{1,15}")  # VARIANT: digits accepted too (letters only are allowed)\n'),
     ))


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    QUERY_COUNT_FIRST, QUERY_ONE_LINE, QUERY_NO_HEADER, QUERY_NO_USERS_LINE, ACCEPTS_HANDLE_DIGITS)}


def build(name: str, into: Path) -> Path:
    """Write variant `name` into `into/<name>/` (replacing what was there); the folder."""
    return variants.write(VARIANTS[name], into, BUILDER)


if __name__ == "__main__":
    sys.exit(variants.build_all(sys.argv[1:], VARIANTS, BUILDER))
