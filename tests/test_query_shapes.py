"""`query handles` answered in the shapes real programs print (issue 23, pattern 3): each shape read
by the dialect from printed lines alone (no processes), declared in a manifest that is refused with
one clear line when it says two things at once, and a purpose-built submission per shape
(tests/submissions/query_variants.py) graded to full marks through its manifest alone."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from pydantic import ValidationError

from harness.inputs.dialect import Dialect, nested_handles
from harness.inputs.manifest import Manifest
from tests.submissions.query_variants import build

QUERY_SPECS = ["query_several", "query_none", "register_handle_chars"]
FULL_MARKS = {  # variant -> the scenarios that exercise its shape
    "query_count_first": QUERY_SPECS,
    "query_one_line": QUERY_SPECS,
    "query_no_header": QUERY_SPECS,
    "query_no_users_line": QUERY_SPECS,
}
QUERY_CHECK = "query handles lists exactly the registered handles"


@dataclass
class Printed:
    """A printed line as the run stage records it."""

    text: str
    kind: str = "out"


def dialect(**query: object) -> Dialect:
    return Dialect(Manifest.model_validate({"query": query}))


def read(reader: Dialect, *texts: str, quiet: bool = False) -> tuple[bool, int | None, list[str] | None]:
    """(complete, count, handles) of the answer in `texts`, the lines printed after the query."""
    answer = reader.query_answer([Printed(text) for text in texts], quiet)
    return answer.complete, answer.count, answer.handles


# --- a. the count line before the list ------------------------------------------------------------------
COUNT_FIRST = dict(reply="^SUCCESS$", count=r"^Number of handles: (?P<count>\d+)$", item=r"^(?P<handle>@\w+)$")


@pytest.mark.parametrize("lines", [
    ["Number of handles: 2", "@alice", "@bob", "SUCCESS"],  # the result line after the handles
    ["Number of handles: 2", "SUCCESS", "@alice", "@bob"],  # ... between the count and the handles
    ["SUCCESS", "Number of handles: 2", "@alice", "@bob"],  # ... before the count
], ids=["reply_last", "reply_between", "reply_first"])
def test_the_count_may_come_before_or_after_the_reply(lines):
    assert read(dialect(**COUNT_FIRST), *lines) == (True, 2, ["@alice", "@bob"])


def test_a_count_first_answer_waits_for_its_result_line_and_uses_it_up():
    reader = dialect(**COUNT_FIRST)
    assert read(reader, "Number of handles: 2", "@alice", "@bob") == (False, 2, ["@alice", "@bob"])
    lines = [Printed(t) for t in ("Number of handles: 0", "SUCCESS", "SUCCESS")]
    answer = reader.query_answer(lines)
    assert (answer.complete, answer.handles) == (True, [])
    assert answer.last is lines[1]  # the first SUCCESS is the query's, the second another command's


def test_a_late_bare_result_line_before_the_count_is_not_the_answer():
    assert read(dialect(**COUNT_FIRST), "SUCCESS", "SUCCESS", "Number of handles: 1", "@carol") == \
        (True, 1, ["@carol"])


def test_a_count_line_with_no_reply_line_at_all():
    reader = dialect(reply=None, count=r"^(?P<count>\d+) users registered:$", item=r"^  (?P<handle>@\w+)$")
    assert read(reader, "2 users registered:", "  @alice", "  @bob") == (True, 2, ["@alice", "@bob"])
    assert read(reader, "0 users registered:") == (True, 0, [])


# --- b. the whole list on one line, followers nested -------------------------------------------------------
@pytest.mark.parametrize("text", [
    "[['@alice', ['@bob']], ['@bob', []]]",
    '[["@alice", ["@bob"]], ["@bob", []]]',
    "{'@alice': ['@bob'], '@bob': []}",
    '{"@alice": ["@bob"], "@bob": []}',
    "[('@alice', '10.0.0.2', 30001, ['@bob']), ('@bob', '10.0.0.3', 30004, [])]",
    "['@alice', '@bob']",
    "[['alice', ['bob']], ['bob', []]]",
], ids=["python_pairs", "json_pairs", "python_dict", "json_dict", "tuples", "flat", "without_at"])
def test_only_the_top_level_handles_of_a_nested_dump_are_registered(text):
    assert nested_handles(text) == ["@alice", "@bob"]


@pytest.mark.parametrize("text", ["[['@alice', ['@bob']]", "__import__('os').system('true')", "[[1, []]]",
                                  "[{'handle': '@alice'}]", "'@alice'", "[" * 500 + "]" * 500])
def test_a_dump_that_is_not_a_literal_list_of_handles_is_not_read(text):
    assert nested_handles(text) is None


def test_the_nested_reply_line():
    reader = dialect(reply=r"^query handles: SUCCESS (?P<count>\d+ )?(?P<handles>[\[{].*)$", nested=True)
    assert read(reader, "query handles: SUCCESS [['@alice', ['@bob', '@carol']], ['@bob', []], ['@carol', []]]") \
        == (True, None, ["@alice", "@bob", "@carol"])
    assert read(reader, "query handles: SUCCESS []") == (True, None, [])
    assert read(reader, "query handles: SUCCESS [['@alice', [") == (False, None, None)  # not the answer


def test_without_nested_every_follower_is_counted_again():
    reader = dialect(reply=r"^query handles: SUCCESS (?P<handles>\[.*\])$")
    assert read(reader, "query handles: SUCCESS [['@alice', ['@bob']], ['@bob', []]]")[2] == \
        ["@alice", "@bob", "@bob"]


# --- c. no header: the first line is already the first handle ------------------------------------------
NO_HEADER = dict(reply=None, item=r"^\d+ (?P<handle>@\w+)( \d+)+$", settle_ms=500)


def test_no_header_the_list_ends_when_the_user_falls_quiet():
    reader = dialect(**NO_HEADER)
    lines = ["0 @carol 30001 30002 30003", "1 @alice 30004 30005 30006"]
    assert read(reader, *lines) == (False, None, ["@carol", "@alice"])
    assert read(reader, *lines, quiet=True) == (True, None, ["@carol", "@alice"])


def test_no_header_nothing_printed_is_an_empty_list_only_once_quiet():
    reader = dialect(**NO_HEADER)
    assert read(reader) == (False, None, None)
    assert read(reader, "[trace] sent query", quiet=True) == (True, None, [])
    answer = reader.query_answer([], quiet=True)
    assert answer.first is None and answer.last is None  # no line of its own: the cursor stays


def test_no_header_with_a_line_for_nobody():
    reader = dialect(**NO_HEADER, empty="^No users$")
    assert read(reader, "No users") == (True, None, [])
    assert read(reader, quiet=True) == (False, None, None)  # it prints `No users`: silence is not the answer


def test_no_header_ended_by_an_end_line_or_the_prompt():
    reader = Dialect(Manifest.model_validate({"prompt": "^> $", "query": dict(reply=None, item=r"^(?P<handle>@\w+)$",
                                                                              end="^--$")}))
    assert read(reader, "@carol", "@bob", "--") == (True, None, ["@carol", "@bob"])
    assert read(reader, "--") == (True, None, [])
    answer = reader.query_answer([Printed("@carol"), Printed("> ")])
    assert (answer.complete, answer.handles) == (True, ["@carol"])
    assert answer.last is not None and answer.last.text == "@carol"  # the prompt is the next command's


def test_no_header_a_refusal_is_still_a_refusal():
    answer = dialect(**NO_HEADER).query_answer([Printed("query handles: FAILURE register first")])
    assert answer.complete and answer.refused


# --- d. handles with digits are read whole ---------------------------------------------------------------
def test_handles_with_digits_are_read_whole():
    reader = Dialect(Manifest())
    assert reader.parse_query("query handles: SUCCESS 2 @alice99 @carol") == (2, ["@alice99", "@carol"])
    received = reader.parse_received('@bob2 received tweet from @alice99 via @carol1: "hi"')
    assert received is not None and (received.tweeter, received.forwarder, received.receiver) == \
        ("@alice99", "@carol1", "@bob2")
    assert reader.is_returned('@alice99 tweet returned: "hi"')
    assert dialect(reply=None, item=r"^(?P<handle>@\w+)$", settle_ms=100).parse_query_item("@alice99") == "@alice99"


# --- the manifest says each shape once --------------------------------------------------------------------
@pytest.mark.parametrize(("query", "message"), [
    ({"reply": None}, "query.reply: null (no header line) needs query.item, the regex of one handle per line"),
    ({"reply": r"^(?P<count>\d+)$", "nested": True},
     "query.nested reads the list from the `handles` group of query.reply: give it one, e.g. (?P<handles>\\[.*\\])"),
    ({"reply": "^(?P<handles>.*)$", "nested": True, "item": r"^(?P<handle>@\w+)$", "end": "^--$"},
     "query.nested reads the whole list from the reply line and query.item one handle per line: give only one "
     "of them"),
    ({"reply": None, "item": r"^(?P<handle>@\w+)$"},
     "query.item: say where the list of handles ends: a `count` group in query.reply, query.count, query.end, "
     "the user's `prompt`, or query.settle_ms (it ends when the user stops printing)"),
])
def test_an_inconsistent_query_is_refused_in_one_line(query, message):
    with pytest.raises(ValidationError) as error:
        Manifest.model_validate({"query": query})
    assert message in str(error.value) and "\n" not in message


# --- purpose-built submissions, graded -------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(FULL_MARKS))
def test_each_shape_is_graded_to_full_marks(grade, tmp_path, name):
    graded = grade(build(name, tmp_path), specs=FULL_MARKS[name], extra=("--jobs", "2"))
    report = graded.report(name)
    assert {s["id"]: s["message"] for s in report["scenarios"] if s["status"] != "passed"} == {}
    assert graded.status == 0


def test_a_program_that_accepts_digits_is_seen_listing_them_whole(grade, tmp_path):
    graded = grade(build("accepts_handle_digits", tmp_path), specs=["register_handle_chars"])
    scenario = graded.scenario("accepts_handle_digits", "register_handle_chars")
    assert scenario["status"] == "failed" and scenario["score"] == 0
    query = next(c for c in scenario["checks"] if c["name"] == QUERY_CHECK)
    assert query["status"] == "failed"
    assert query["message"] == ("expected ['@carol'], seen ['@alice99', '@carol']; expected n = 1, seen n = 2 "
                                "(line: 'query handles: SUCCESS 2 @alice99 @carol')")


FOLLOWERS_SPEC = """name: query handles while users follow each other
points: 2
setup: 1
users: [alice, bob, carol]
steps:
  - register: all
  - follow: {user: bob, target: alice}
  - follow: {user: carol, target: alice}
  - query: {user: carol, handles: [alice, bob, carol], points: 1}
  - follow: {user: bob, target: "@nobody", expect: failure, points: 1}
"""


def test_a_nested_dump_lists_followers_that_are_not_counted(grade, tmp_path):
    spec = tmp_path / "query_followers.yaml"
    spec.write_text(FOLLOWERS_SPEC)
    folder = build("query_one_line", tmp_path)
    graded = grade(folder, extra=("--specs", str(spec)))
    scenario = graded.scenario("query_one_line", "query_followers")
    assert scenario["status"] == "passed", scenario["message"]
    log = (graded.out / "query_one_line" / "transcripts" / "query_followers" / "carol.log").read_text()
    assert "[['@alice', ['@bob', '@carol']], ['@bob', []], ['@carol', []]]" in log

    manifest = folder / "tweeter.yaml"
    manifest.write_text(manifest.read_text().replace(", nested: true", ""))
    graded = grade(folder, extra=("--specs", str(spec)))
    query = next(c for c in graded.scenario("query_one_line", "query_followers")["checks"] if c["name"] == QUERY_CHECK)
    assert query["status"] == "failed"
    assert query["message"].startswith("expected ['@alice', '@bob', '@carol'], seen "
                                       "['@alice', '@bob', '@bob', '@carol', '@carol']")


def test_a_result_line_after_the_list_is_the_querys_never_the_next_commands(grade, tmp_path):
    """Every command answers the same bare line and the query prints its SUCCESS after the handles:
    that SUCCESS is used up by the query, so the FAILURE of the follow typed next is read as its own."""
    spec = tmp_path / "query_followers.yaml"
    spec.write_text(FOLLOWERS_SPEC)
    graded = grade(build("query_count_first", tmp_path), extra=("--specs", str(spec)))
    scenario = graded.scenario("query_count_first", "query_followers")
    assert scenario["status"] == "passed", scenario["message"]
    follow = next(c for c in scenario["checks"] if c["name"].startswith("follow @bob @nobody"))
    assert re.search(r"'FAILURE'", follow["message"])
