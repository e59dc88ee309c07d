"""Submissions that refuse a command for the wrong reason, built when the tests run.

A FAILURE is the right answer only for the right reason: after @bob exits, `follow @carol @bob` must
be refused because @bob is gone, not because @carol's program still holds @bob's ring and thinks she
follows him (a real submission did exactly that: "Already following @bob"). Each variant here is the
reference changed in one such way (or not at all, to show that the right reason passes), plus the
`tweeter.yaml` whose `replies.reasons` names the words its failure lines use for each reason, so
that the harness can tell one refusal from another. They are built like the ones in variants.py
(whose `Variant` and `write` they use): exact text replacements on copies of the reference's program
files, each of which must apply exactly once. The code marks every deliberate deviation with
`# VARIANT: ...`. Nothing is committed: tests build the folders into a temporary directory.

    from tests.submissions.reason_variants import VARIANTS, build
    folder = build("stale_follow_state", tmp_path)      # tmp_path/stale_follow_state/

    python3 tests/submissions/reason_variants.py /tmp/reason_variants   # build them all, by hand
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.submissions import variants
from tests.submissions.variants import Variant

BUILDER = "tests/submissions/reason_variants.py"

# The reference's failure lines say why (reference/tracker.py, Reject; reference/user.py,
# _local_problem): these are their words, one regex per reason name (docs/MANIFEST.md).
REASONS_MANIFEST = '''# Every FAILURE line says why, in words; the scenarios that test one reason check that it is that one.
replies:
  reasons:
    unknown_handle: "unknown handle"
    already_following: "already follow"
    not_following: "does not follow"
    not_registered: "not registered"
    duplicate_handle: "duplicate handle"
    invalid_handle: "invalid handle"
    busy: "busy"
'''

# --- stale_follow_state --------------------------------------------------------------------------------
STALE_FOLLOW_STATE = Variant(
    "stale_follow_state", "Stale ring state survives an exit, and refuses a follow for the wrong reason",
    "A submission whose follower keeps the ring state a tweeter set up even after the tweeter tore it "
    "down on exit (it acknowledges the teardown and prints that the ring is torn down, but keeps it), "
    "and whose user refuses `follow` by itself, without asking the tracker, when it holds a ring of "
    "the target: `follow: FAILURE Already following @bob`. After @bob exits, @carol's `follow @bob` is "
    "refused, as it must be, but because of @bob's stale ring, not because @bob is gone. Its "
    "tweeter.yaml names the reasons its failure lines give (`replies.reasons`).",
    "exit_cleanup fails its last step (refused for another reason: already following); follow_twice "
    "passes (the tracker refuses the second follow: already following, the reason it tests). Without "
    "`reasons` in tweeter.yaml exit_cleanup passes: any FAILURE will do.",
    (("user.py", '''        if not self._is_stale(tweeter, message["id"]) and self.rings.pop(tweeter, None):
''',
      '''        if not self._is_stale(tweeter, message["id"]) and self.rings.get(tweeter):  # VARIANT: kept (stale)
'''),
     ("user.py", '''    def _follow(self, handle: str, target: str) -> None:
        self._ask(''',
      '''    def _follow(self, handle: str, target: str) -> None:
        if target in self.rings:  # VARIANT: "in its ring, so already following", without asking the tracker
            self._finish(f"follow: FAILURE Already following {target}")
            return
        self._ask('''),
     ),
    {"tweeter.yaml": REASONS_MANIFEST})


# --- reference_reasons ---------------------------------------------------------------------------------
REFERENCE_REASONS = Variant(
    "reference_reasons", "The reference, with the reasons of its failure lines named",
    "The reference unchanged, and a tweeter.yaml that names the reasons its failure lines give "
    "(`replies.reasons`). Every refusal it answers is for the reason the scenario tests.",
    "Full marks on every scenario whose steps name a reason (`reason:`): the bundled specs name the "
    "reasons a correct program gives.",
    (),
    {"tweeter.yaml": REASONS_MANIFEST})


VARIANTS: dict[str, Variant] = {v.name: v for v in (STALE_FOLLOW_STATE, REFERENCE_REASONS)}


def build(name: str, into: Path) -> Path:
    """Write variant `name` into `into/<name>/` (replacing what was there); the folder."""
    return variants.write(VARIANTS[name], into, BUILDER)


if __name__ == "__main__":
    sys.exit(variants.build_all(sys.argv[1:], VARIANTS, BUILDER))
