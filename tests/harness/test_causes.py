"""The cause of a lost scenario is named as a TA would name it, on submissions built to show it: the
program that ended (how, when, after which typed line), found at the step that killed it; a result
line that matches neither pattern (shown, with the patterns); and one line that says it, first."""

from __future__ import annotations

from tests.submissions.variants import Variant, write

FOLLOW = '''    def _follow(self, handle: str, target: str) -> None:
        self._ask({"op": "follow", "handle": handle, "target": target},
                  self._result("follow", f"{handle} follows {target}"))
'''
CRASHES_ON_FOLLOW = Variant(
    "crashes_on_follow", "A user that crashes on follow",
    "The user's follow handler raises (an unchecked index), so the program ends with status 3 as soon as "
    "follow is typed.", "follow_success fails at its follow step: @bob's program exited with status 3.",
    (("user.py", FOLLOW, FOLLOW.replace('        self._ask(', '        raise SystemExit(3)  # VARIANT: a crash\n'
                                        '        self._ask(')),))
FOLLOW_SAYS_OK = Variant(
    "follow_says_ok", "A user that answers follow in its own words",
    "follow is answered `follow: OK` instead of `follow: SUCCESS`: the harness cannot read it as a result.",
    "follow_success fails; the explanation shows the line and the patterns it did not match.",
    (("user.py", FOLLOW, FOLLOW.replace('self._result("follow", f"{handle} follows {target}"))',
                                        'lambda reply: self._finish("follow: OK"))  # VARIANT: its own words')),))


def test_a_program_that_ends_is_named_with_how_when_and_after_what(grade, tmp_path):
    folder = write(CRASHES_ON_FOLLOW, tmp_path)
    graded = grade(folder, specs=["follow_success", "tweet_one_follower"], extra=("--step-timeout", "2"))
    follow = graded.scenario("crashes_on_follow", "follow_success")
    assert follow["status"] == "failed"
    assert follow["summary"].startswith("@bob's program exited with status 3") and \
        "after `follow @bob @alice`" in follow["summary"]
    answer = next(c for c in follow["checks"] if c["name"] == "follow @bob @alice answers SUCCESS")
    assert answer["step"] == 2 and "@bob's program exited with status 3" in answer["message"]
    # its last step: nothing later needs @bob, and status 3 is no crash, so its end is not charged twice
    assert not any(c["name"] == "@bob keeps running" for c in follow["checks"])
    assert "no result line" not in follow["message"]  # the program ended: not "no answer within 2 s"
    blocked = graded.scenario("crashes_on_follow", "tweet_one_follower")  # the follow only prepares it here
    assert blocked["status"] == "blocked" and "`follow_success` tests it" in blocked["summary"]


def test_a_result_line_in_other_words_is_shown_with_the_patterns(grade, tmp_path):
    folder = write(FOLLOW_SAYS_OK, tmp_path)
    graded = grade(folder, specs=["follow_success"], extra=("--step-timeout", "1"))
    scenario = graded.scenario("follow_says_ok", "follow_success")
    assert scenario["summary"] == "`follow @bob @alice` got no answer, and nothing could happen any more"
    assert "'follow: OK' at +" in scenario["message"]
    assert r"none matching /^follow: SUCCESS\b/ or /^follow: FAILURE\b/" in scenario["message"]
    assert scenario["message"].splitlines()[0] == scenario["summary"]  # the cause comes first
