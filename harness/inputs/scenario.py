"""Scenario files (specs/*.yaml) as a typed model, validated before anything runs.

A step is a mapping with exactly one key naming its kind. High-level steps (register, follow, tweet,
...) are typed through the submission's dialect; raw steps (type, expect, expect_not) talk to one
process directly. Users are named without `@` (`alice` is typed as `@alice`); a target written with
`@` is typed literally, which is how scenarios name handles that are not registered.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationInfo, create_model,
                      field_validator, model_validator)

from harness.inputs import yaml_source
from harness.errors import InputFileError
from harness.inputs.manifest import MANIFEST_NAME, check_regex, placeholders_in
from harness.inputs.reasons import ReasonName

USER_NAME = r"^[A-Za-z]{1,15}$"
# The properties of one tweet's delivery that a tweet step can grade (the judge decides each one).
DELIVERY_PROPERTIES = ("delivered_once", "nobody_else", "ring_order", "peer_to_peer", "returned", "intact",
                       "reached")
# The followers a property needs to have a subject at all (a ring of one has no order); with fewer it
# is not applicable, and a tweet step may not grade it.
FOLLOWERS_NEEDED = {"ring_order": 2, "peer_to_peer": 2, "delivered_once": 1, "reached": 1, "intact": 1}
Outcome = Literal["success", "failure"]
DeliveryProperty = Literal[DELIVERY_PROPERTIES]  # type: ignore[valid-type]
Visibility = Literal["visible", "hidden", "after_due_date", "after_published"]
MAX_TWEET_LENGTH = 10_000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StepArgs(Strict):
    points: float | None = Field(None, ge=0, description="Points for this step (partial credit).")
    timeout: float | None = Field(None, gt=0, le=600, description="Seconds this step may take.")


class CommandArgs(StepArgs):
    """A command answered by one SUCCESS or FAILURE line; a refusal may have to be for one reason."""

    expect: Outcome = "success"
    reason: ReasonName | None = Field(
        None, description="With `expect: failure`: the reason the command must be refused for. Where the "
        "submission's manifest names reasons (replies.reasons), a FAILURE line that gives another of them fails.")

    @model_validator(mode="after")
    def _reason_of_a_refusal(self) -> "CommandArgs":
        if self.reason is not None and self.expect != "failure":
            raise ValueError(f"`reason: {self.reason}` says why the command must be refused: it needs "
                             "`expect: failure`")
        return self


class RegisterArgs(CommandArgs):
    users: list[str] | Literal["all"] = "all"
    handle: str | None = Field(None, description="Type this handle literally (malformed-handle tests).")

    @model_validator(mode="before")
    @classmethod
    def _short_forms(cls, value: Any) -> Any:
        if isinstance(value, (str, list)):
            return {"users": value}
        return value

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict:
        """Publish the short forms `register: all` and `register: [alice, bob]` too."""
        return {"anyOf": [handler(core_schema), {"const": "all"},
                          {"type": "array", "items": {"type": "string"}}]}

    @model_validator(mode="after")
    def _one_user_for_handle(self) -> "RegisterArgs":
        if self.handle is not None and (self.users == "all" or len(self.users) != 1):
            raise ValueError("`handle` needs exactly one user in `users`")
        return self


class PairArgs(CommandArgs):
    user: str
    target: str = Field(description="A user name, or a literal handle starting with @.")


class QueryArgs(StepArgs):
    user: str
    handles: list[str] = Field(description="Exactly the handles the answer must list (any order).")
    unregistered: bool = Field(False, description="The user querying has not registered (the scenario is "
                               "about that case): a FAILURE asking to register first passes too, as the "
                               "course text allows both.")


class TweetArgs(StepArgs):
    user: str
    text: str | None = Field(None, description="Tweet text; placeholder {unique} makes it unique. "
                             "Default: a unique sentence.")
    length: int | None = Field(None, ge=1, le=MAX_TWEET_LENGTH,
                               description="Generate a unique text of exactly this many characters.")
    deliver_to: list[str] | None = Field(None, description="Exactly the users that must receive it "
                                         "(ring order is theirs sorted). Required when expect is success.")
    expect: Outcome = "success"
    grade: list[DeliveryProperty] | None = Field(
        None, description="Delivery properties this step grades (default: all). The others are still "
        "checked and reported, but cannot fail the scenario: one bug, one scenario.")

    @model_validator(mode="after")
    def _consistent(self) -> "TweetArgs":
        if self.text is not None and self.length is not None:
            raise ValueError("give `text` or `length`, not both")
        if self.expect == "success" and self.deliver_to is None:
            raise ValueError("`deliver_to` is required for a tweet expected to succeed")
        for prop in self.grade or ():
            needed = FOLLOWERS_NEEDED.get(prop, 0)
            if len(self.deliver_to or []) < needed:
                raise ValueError(f"`grade: {prop}` needs at least {needed} user{'s' if needed > 1 else ''} in "
                                 f"`deliver_to` (with fewer it has nothing to judge)")
        return self


class UserArgs(CommandArgs):
    user: str


class TypeArgs(StepArgs):
    to: str = Field(description="`tracker` or a user name.")
    line: str

    @field_validator("line")
    @classmethod
    def _line(cls, value: str) -> str:
        return check_raw_placeholders(value)


class ExpectArgs(StepArgs):
    at: str = Field(description="`tracker` or a user name.")
    literal: bool = False  # before `pattern`, which is checked knowing it
    pattern: str = Field(description="Regular expression (or literal text with `literal: true`).")

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str, info: ValidationInfo) -> str:
        """Checked here rather than on the whole step, so that an error points at the pattern."""
        return value if info.data.get("literal") else check_regex(value)


class ExpectNotArgs(ExpectArgs):
    within: float = Field(0.5, gt=0, le=30, description="Seconds during which it must not appear.")


class AliveArgs(StepArgs):
    at: str


REORDER_ONLY_DELAY_MS = (0.0, 20.0)  # `reorder` without `delay_ms`: each frame held this long, at random
MAX_DELAY_MS = 10_000


class Faults(Strict):
    """Network faults applied to the IPv4 frames between hosts (hosts mode only; net/switch.py)."""

    loss: float = Field(0, ge=0, le=1, description="Chance that a frame is dropped (0 to 1).")
    duplicate: float = Field(0, ge=0, le=1, description="Chance that a frame is sent twice (0 to 1).")
    delay_ms: tuple[float, float] | float | None = Field(
        None, description="Milliseconds each frame is held, uniformly in [lo, hi] (or exactly this number).")
    reorder: bool = Field(False, description="Frames may overtake each other (else each pair of hosts keeps "
                          "its order); without delay_ms each frame is held 0 to 20 ms.")
    seed: int | None = Field(None, ge=0, description="The same seed gives the same faults on the same traffic "
                             "(default: a fresh one per run, recorded).")

    @field_validator("delay_ms")
    @classmethod
    def _delay_range(cls, value: tuple[float, float] | float | None) -> tuple[float, float] | None:
        if value is None:
            return None
        if isinstance(value, (int, float)):
            if not 0 <= value <= MAX_DELAY_MS:
                raise ValueError(f"should be from 0 to {MAX_DELAY_MS} milliseconds, not {value:g}")
            return (float(value), float(value))
        low, high = value
        if not 0 <= low <= high <= MAX_DELAY_MS:
            raise ValueError(f"should be [lo, hi] with 0 <= lo <= hi <= {MAX_DELAY_MS}, not [{low:g}, {high:g}]")
        return (float(low), float(high))

    def delay_range(self) -> tuple[float, float] | None:
        """The range each frame's delay is drawn from, or None when frames are not held."""
        return self.delay_ms or (REORDER_ONLY_DELAY_MS if self.reorder else None)  # type: ignore[return-value]

    def describe(self, seed: int | None = None) -> str:
        """The plan in a report's words: "20 % loss, delay 5-50 ms, reordered, seed 7"."""
        parts = [f"{self.loss * 100:g} % loss" if self.loss else "",
                 f"{self.duplicate * 100:g} % duplicated" if self.duplicate else ""]
        delay = self.delay_range()
        if delay:
            parts.append(f"delay {delay[0]:g}-{delay[1]:g} ms" if delay[0] != delay[1] else f"delay {delay[0]:g} ms")
        parts.append("reordered" if self.reorder else "")
        seed = self.seed if seed is None else seed
        return ", ".join([p for p in parts if p] or ["no faults"]) + (f", seed {seed}" if seed is not None else "")


STEP_KINDS = ("register", "follow", "drop", "query", "tweet", "tweets_at_once", "end_tweet", "exit",
              "type", "expect", "expect_not", "expect_alive")
RAW_PLACEHOLDER = re.compile(r"^(tracker_ip|tracker_port|ip|unique|[A-Za-z]{1,15}\.(handle|ports|port[1-5]))$")


def check_raw_placeholders(line: str) -> str:
    """Raw lines may name the tracker, a unique token, or a user's handle and ports."""
    for name in placeholders_in(line):
        if not RAW_PLACEHOLDER.match(name):
            raise ValueError(f"unknown placeholder {{{name}}}; allowed: {{tracker_ip}}, {{tracker_port}}, "
                             "{ip}, {unique}, {USER.handle}, {USER.ports}, {USER.port1}..{USER.port5}")
    return line


def _step(kind: str, args_type: Any) -> Any:
    """A one-key model `{kind: args}`; the value is stored as `.args` (`register` is a reserved name)."""
    model = create_model(f"{kind.title().replace('_', '')}Step", __base__=Strict,
                         __doc__=f"The `{kind}` step.", args=(args_type, Field(alias=kind)))
    return Annotated[model, Tag(f"<{kind}>")]


def _kind_of(value: Any) -> str | None:
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        return f"<{key}>" if key in STEP_KINDS else None
    if isinstance(value, BaseModel):
        return f"<{step_kind(value)}>"
    return None


Step = Annotated[
    _step("register", RegisterArgs) | _step("follow", PairArgs) | _step("drop", PairArgs)
    | _step("query", QueryArgs) | _step("tweet", TweetArgs) | _step("tweets_at_once", list[TweetArgs])
    | _step("end_tweet", UserArgs) | _step("exit", UserArgs) | _step("type", TypeArgs)
    | _step("expect", ExpectArgs) | _step("expect_not", ExpectNotArgs) | _step("expect_alive", AliveArgs),
    Discriminator(_kind_of, custom_error_type="step_kind",
                  custom_error_message="a step is a mapping with exactly one key, one of: "
                  + ", ".join(STEP_KINDS)),
]


def step_kind(step: BaseModel) -> str:
    return str(type(step).model_fields["args"].alias)


def step_args(step: BaseModel) -> Any:
    return step.args  # type: ignore[attr-defined]


class Scenario(Strict):
    """One graded scenario: fresh tracker and users, a list of steps, points."""

    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    points: float = Field(ge=0, le=1000)
    visibility: Visibility = "visible"
    tags: list[str] = []
    depends_on: list[str] = Field([], description="Scenario ids (file names without .yaml) that test what "
                                  "this scenario builds on: named in its explanations (probably the same "
                                  "cause) and run first; never a reason to withhold its points.")
    setup: int = Field(0, ge=0, description="How many leading steps only prepare what the scenario tests "
                       "(register, follow ...): they are not graded; if one fails the scenario is `blocked`, "
                       "naming the step and the scenario that tests it.")
    users: list[str] = Field(min_length=1, max_length=50)
    timeout: float = Field(60, gt=0, le=1800, description="Seconds the whole scenario may take.")
    step_timeout: float = Field(10, gt=0, le=600, description="Default seconds for one step.")
    grace: float = Field(0.1, ge=0, le=30, description="Seconds to keep watching for extra deliveries "
                         "after a tweet came back and end-tweet was answered.")
    faults: Faults | None = Field(None, description="Network faults between the hosts (needs --network "
                                  "hosts, as root); --faults on the command line replaces them.")
    steps: list[Step] = Field(min_length=1)

    @field_validator("users")
    @classmethod
    def _user_names(cls, users: list[str]) -> list[str]:
        for name in users:
            if not re.match(USER_NAME, name):
                raise ValueError(f"user name {name!r} must be 1 to 15 letters (typed as @{name})")
        if len(set(users)) != len(users):
            raise ValueError("user names must be distinct")
        return users

    @model_validator(mode="after")
    def _references(self) -> "Scenario":
        problems = [problem for index, step in enumerate(self.steps)
                    for problem in _reference_problems(index, step, set(self.users))]
        if self.setup >= len(self.steps):
            problems.append(f"setup: {self.setup} steps prepare, but the scenario has {len(self.steps)}: at "
                            "least one step must be what it tests")
        declared = [step_args(s).points for s in self.steps if getattr(step_args(s), "points", None) is not None]
        if declared and abs(sum(p for p in declared if p) - self.points) > 1e-9:
            problems.append(f"step points add up to {sum(declared)}, but the scenario is worth {self.points}")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def needed_after(self, number: int) -> dict[str, int]:
        """Every program a step after step `number` needs running, with the first such step: the
        tracker for any step, a user for a step typed at it, watching it, or delivering to it."""
        needed: dict[str, int] = {}
        for later, step in enumerate(self.steps[number:], start=number + 1):
            needed.setdefault("tracker", later)
            for name in step_programs(step, self.users):
                needed.setdefault(name, later)
        return needed

    def before_registration(self) -> tuple[int, str] | None:
        """(step number, user) of the first step played at a user's program before any `register`
        step registered that user, or None. Where users register from a start-up prompt, no program
        runs before its registration, so such a step cannot happen."""
        registered: set[str] = set()
        for number, step in enumerate(self.steps, start=1):
            args = step_args(step)
            if step_kind(step) == "register":
                registered.update(self.users if args.users == "all" else args.users)
                continue
            for item in args if isinstance(args, list) else [args]:
                actor = getattr(item, "user", None) or getattr(item, "to", None) or getattr(item, "at", None)
                if actor is not None and actor != "tracker" and actor not in registered:
                    return number, actor
        return None


def step_shape(step: BaseModel) -> str:
    """What a step does, without the names: its command, refused or not, and what it acts on
    ("follow, refused, of a handle typed literally"; "tweet, to several followers")."""
    kind, args = step_kind(step), step_args(step)
    refused = ", refused" if getattr(args, "expect", "success") == "failure" else ""
    shape = f"{kind.replace('_', '-')}{refused}"
    if isinstance(args, PairArgs):
        shape += ", of a handle typed literally" if args.target.startswith("@") else ", of a user"
    if isinstance(args, TweetArgs):
        count = len(args.deliver_to or [])
        shape += ", to " + ("nobody" if count == 0 else "one follower" if count == 1 else "several followers")
    return shape


def step_programs(step: BaseModel, users: list[str]) -> set[str]:
    """The users' programs a step needs: those it types at or watches, and those a tweet must reach."""
    args = step_args(step)
    if step_kind(step) == "register":
        return set(users if args.users == "all" else args.users)
    names: set[str] = set()
    for item in args if isinstance(args, list) else [args]:
        names.update(n for n in (getattr(item, "user", None), getattr(item, "to", None), getattr(item, "at", None)) if n)
        names.update(getattr(item, "deliver_to", None) or [])
    return names & set(users)


def _reference_problems(index: int, step: BaseModel, users: set[str]) -> list[str]:
    """Names a step uses that are not declared users (literal @handles are allowed as targets), each
    at the key that names it (`steps.1.follow.target: ...`)."""
    args = step_args(step)
    kind = step_kind(step)
    items = [(f"{kind}.{number}", item) for number, item in enumerate(args)] if isinstance(args, list) \
        else [(kind, args)]
    problems = []
    for place, item in items:
        for field, name in _names_used(item):
            if name not in users:
                problems.append(f"steps.{index}.{place}.{field}: {name!r} is not one of the scenario's "
                                f"users{_suggestion(name, sorted(users))}")
    return problems


def _names_used(item: Any) -> list[tuple[str, str]]:
    """(key, user name) for every user a step's arguments name."""
    names: list[tuple[str, str]] = []
    for field in ("user", "to", "at"):
        value = getattr(item, field, None)
        if value is not None and not (field != "user" and value == "tracker"):
            names.append((field, value))
    if isinstance(item, PairArgs) and not item.target.startswith("@"):
        names.append(("target", item.target))
    for field in ("deliver_to", "handles"):
        names.extend((f"{field}.{number}", name) for number, name in enumerate(getattr(item, field, None) or [])
                     if not name.startswith("@"))
    if isinstance(item, RegisterArgs) and item.users != "all":
        names.extend((f"users.{number}", name) for number, name in enumerate(item.users))
    if isinstance(item, TypeArgs):
        names.extend(("line", p.split(".")[0]) for p in placeholders_in(item.line) if "." in p)
    return names


def load_scenario(path: Path) -> Scenario:
    return _load_located(path)[1]


def _load_located(path: Path) -> tuple[yaml_source.LocatedYaml, Scenario]:
    source = yaml_source.load(path)
    if source.data is None:  # one line for the whole file, not one per missing key
        raise InputFileError(str(path), [f"{path}:1:1: the file is empty (or only comments): a scenario needs "
                                         "`name`, `points`, `users` and `steps`"])
    return source, yaml_source.validate(source, Scenario, "scenario")  # type: ignore[return-value]


def scenario_files(paths: list[Path]) -> list[Path]:
    """Expand folders into their *.yaml files (sorted; a submission's tweeter.yaml is not a
    scenario); a missing path is an error."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.glob("*.yaml") if p.is_file() and p.name != MANIFEST_NAME))
        elif path.is_file():
            files.append(path)
        else:
            raise InputFileError(str(path), [f"{path}: no such file or folder"])
    return files


def load_suite(paths: list[Path], require_dependencies: bool = False) -> dict[str, tuple[Path, Scenario]]:
    """All scenarios by id (file stem), every file validated; all problems reported together.

    The paths are one suite even across folders: a hidden scenario may depend on a public one, and
    an id used twice is an error naming both files. A dependency outside the suite is an error for
    `validate`; when grading a chosen subset of scenarios it is ignored, so that one scenario file
    can be run on its own.
    """
    suite: dict[str, tuple[Path, Scenario]] = {}
    sources: dict[str, yaml_source.LocatedYaml] = {}
    problems: list[str] = []
    for file in scenario_files(paths):
        try:
            source, scenario = _load_located(file)
        except InputFileError as exc:
            problems.extend(exc.problems)
            continue
        if file.stem in suite:
            problems.append(f"{file}:1:1: scenario id {file.stem!r} (the file name) is also used by "
                            f"{suite[file.stem][0]}")
            continue
        suite[file.stem], sources[file.stem] = (file, scenario), source
    for scenario_id, (file, scenario) in suite.items():
        missing = [(index, name) for index, name in enumerate(scenario.depends_on) if name not in suite]
        if missing and require_dependencies:
            index, name = missing[0]
            problems.append(f"{sources[scenario_id].where(('depends_on', index))}: depends_on names {name!r}, "
                            f"which is not in the suite{_suggestion(name, list(suite))}")
        elif missing:
            suite[scenario_id] = (file, scenario.model_copy(
                update={"depends_on": [d for d in scenario.depends_on if d in suite]}))
    problems.extend(_cycle_problems(suite, sources))
    if problems:
        raise InputFileError(", ".join(str(p) for p in paths), problems)
    if not suite:
        raise InputFileError(", ".join(str(p) for p in paths), ["no scenario files (*.yaml) found"])
    return suite


def _suggestion(name: str, ids: list[str]) -> str:
    close = difflib.get_close_matches(name, ids, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _cycle_problems(suite: dict[str, tuple[Path, Scenario]],
                    sources: dict[str, yaml_source.LocatedYaml]) -> list[str]:
    """depends_on must not loop, or the scenarios in the loop could never run."""
    state: dict[str, str] = {}

    def visit(scenario_id: str, chain: list[str]) -> str | None:
        if state.get(scenario_id) == "done" or scenario_id not in suite:
            return None
        if state.get(scenario_id) == "active":
            return " -> ".join([*chain[chain.index(scenario_id):], scenario_id])
        state[scenario_id] = "active"
        for dependency in suite[scenario_id][1].depends_on:
            loop = visit(dependency, [*chain, scenario_id])
            if loop:
                return loop
        state[scenario_id] = "done"
        return None

    for scenario_id in suite:
        loop = visit(scenario_id, [])
        if loop:
            return [f"{sources[scenario_id].where(('depends_on',), point='key')}: depends_on forms a loop: {loop}"]
    return []
