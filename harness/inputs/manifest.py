"""The manifest (`tweeter.yaml`): how to launch, type at and read one submission.

Every key has a default taken from the reference's console convention (reference/CONVENTION.md),
so a submission that follows it needs no manifest at all. The model is validated like the scenario
files, and its JSON Schema is published beside the specs.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.inputs import yaml_source
from harness.inputs.keys import KEYS

MANIFEST_NAME = "tweeter.yaml"
HANDLE = r"@[A-Za-z]+"
MAX_REGEX_LENGTH = 500

LAUNCH_PLACEHOLDERS = {"tracker_ip", "tracker_port", "handle", "name", "ip", "ports", "port1", "port2",
                       "port3", "port4", "port5"}
COMMAND_PLACEHOLDERS = LAUNCH_PLACEHOLDERS | {"target", "target_name", "text"}
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")


def placeholders_in(template: str) -> set[str]:
    return set(PLACEHOLDER.findall(template.replace("{{", "").replace("}}", "")))


def check_placeholders(template: str, allowed: set[str], keys: bool = False) -> str:
    """Every `{name}` must be an allowed placeholder (or, in a typed line, a key such as `{enter}`)."""
    unknown = placeholders_in(template) - allowed - (set(KEYS) if keys else set())
    if unknown:
        raise ValueError(f"unknown placeholder {{{sorted(unknown)[0]}}}; allowed: "
                         + ", ".join(f"{{{name}}}" for name in sorted(allowed)))
    return template


def check_regex(pattern: str, required_groups: tuple[str, ...] = ()) -> str:
    if len(pattern) > MAX_REGEX_LENGTH:
        raise ValueError(f"regular expression longer than {MAX_REGEX_LENGTH} characters")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None
    missing = [group for group in required_groups if group not in compiled.groupindex]
    if missing:
        raise ValueError(f"regular expression needs the named group(s) {', '.join(missing)}, "
                         f"e.g. (?P<{missing[0]}>...)")
    return pattern


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _attribute(command: str) -> str:
    """`register` clashes with a BaseModel method, so that field is stored as `register_`."""
    return "register_" if command == "register" else command


class TypedLine(Strict):
    """One line typed at a program, optionally after it printed something matching `expect`."""

    send: str = Field(description="The line to type; placeholders like {handle}, {target}, {text}.")
    expect: str | None = Field(None, description="Regex the program must print first (a prompt).")

    @field_validator("send")
    @classmethod
    def _send(cls, value: str) -> str:
        return check_placeholders(value, COMMAND_PLACEHOLDERS, keys=True)

    @field_validator("expect")
    @classmethod
    def _expect(cls, value: str | None) -> str | None:
        return None if value is None else check_regex(value)


CommandScript = str | list[str | TypedLine] | None


def _script(value: CommandScript) -> list[TypedLine] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    return [TypedLine(send=item) if isinstance(item, str) else item for item in items]


class Launch(Strict):
    tracker: str = Field("python3 tracker.py {tracker_port}",
                         description="Command that starts the tracker (no shell); placeholders allowed.")
    user: str = Field("python3 user.py {tracker_ip} {tracker_port}",
                      description="Command that starts one user (no shell); placeholders allowed.")

    @field_validator("tracker", "user")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("launch command is empty")
        return check_placeholders(value, LAUNCH_PLACEHOLDERS)


class Startup(Strict):
    """Answers to start-up prompts, typed in order, each after its prompt appears."""

    tracker: list[TypedLine] = []
    user: list[TypedLine] = []


class Ready(Strict):
    tracker: str | None = Field(None, description="Regex the tracker prints when it is ready; "
                                "default: wait until the tracker's port is bound.")
    user: str | None = Field(None, description="Regex a user prints when it is ready for commands.")

    @field_validator("tracker", "user")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        return None if value is None else check_regex(value)


class Commands(Strict):
    """How each canonical command is typed: one line, a list of lines (menus), or null (absent)."""

    register_: CommandScript = Field("register {handle} {ip} {ports}", alias="register")
    query: CommandScript = "query handles"
    follow: CommandScript = "follow {handle} {target}"
    drop: CommandScript = "drop {handle} {target}"
    tweet: CommandScript = 'tweet {handle} "{text}"'
    end_tweet: CommandScript = "end-tweet {handle}"
    exit: CommandScript = "exit {handle}"

    @field_validator("*")
    @classmethod
    def _lines(cls, value: CommandScript) -> CommandScript:
        for line in _script(value) or []:
            check_placeholders(line.send, COMMAND_PLACEHOLDERS, keys=True)
        return value

    def script(self, command: str) -> list[TypedLine] | None:
        return _script(getattr(self, _attribute(command)))


class Reply(Strict):
    success: str
    failure: str

    @field_validator("success", "failure")
    @classmethod
    def _regex(cls, value: str) -> str:
        return check_regex(value)


def _reply(word: str) -> Reply:
    return Reply(success=f"^{re.escape(word)}: SUCCESS\\b", failure=f"^{re.escape(word)}: FAILURE\\b")


class Replies(Strict):
    """Regexes that recognise the result line of each command."""

    register_: Reply = Field(_reply("register"), alias="register")
    query: Reply = _reply("query handles")
    follow: Reply = _reply("follow")
    drop: Reply = _reply("drop")
    tweet: Reply = _reply("tweet")
    end_tweet: Reply = _reply("end-tweet")
    exit: Reply = _reply("exit")

    def of(self, command: str) -> Reply:
        return getattr(self, _attribute(command))


class Query(Strict):
    """How the answer to `query handles` reads: one line, or a first line and more lines after it."""

    reply: str = Field(r"^query handles: SUCCESS (?P<count>\d+)(?P<handles>.*)$",
                       description="Regex for the (first line of the) answer; groups `count` and/or "
                       "`handles` when it holds them.")
    count: str | None = Field(None, description="Regex (group `count`) for a line after the reply that "
                              "gives the number of handles, when the reply line does not.")
    item: str | None = Field(None, description="Regex (group `handle`) for one handle per line after the "
                             "reply; lines that do not match (followers nested under a handle) are passed over.")
    end: str | None = Field(None, description="Regex for the line after the last handle, when no count is "
                            "printed (the user's `prompt` also ends the list).")

    @field_validator("reply")
    @classmethod
    def _reply(cls, value: str) -> str:
        return check_regex(value)

    @field_validator("count")
    @classmethod
    def _count(cls, value: str | None) -> str | None:
        return None if value is None else check_regex(value, ("count",))

    @field_validator("item")
    @classmethod
    def _item(cls, value: str | None) -> str | None:
        return None if value is None else check_regex(value, ("handle",))

    @field_validator("end")
    @classmethod
    def _end(cls, value: str | None) -> str | None:
        return None if value is None else check_regex(value)

    @model_validator(mode="after")
    def _handles_somewhere(self) -> "Query":
        groups = set(re.compile(self.reply).groupindex)
        if not self.item and not {"count", "handles"} & groups:
            raise ValueError("query.reply needs a named group `count` or `handles`, or give query.item for "
                             "handles printed one per line")
        if self.count and "count" in groups:
            raise ValueError("the count is on the reply line (its `count` group) or on a line of its own "
                             "(query.count), not both")
        return self

    @property
    def counted(self) -> bool:
        return bool(self.count) or "count" in re.compile(self.reply).groupindex


class ReturnedLine(Strict):
    """The line that says a tweet came back, printed by the tweeter or by the tracker."""

    at: Literal["tweeter", "tracker"] = Field("tweeter", description="Which program prints it.")
    line: str = Field(description="Regex for the line.")

    @field_validator("line")
    @classmethod
    def _line(cls, value: str) -> str:
        return check_regex(value)


class Tweets(Strict):
    received: str | list[str] | None = Field(
        rf'^(?P<receiver>{HANDLE}) received tweet from (?P<tweeter>{HANDLE}) via (?P<forwarder>{HANDLE}): '
        r'"(?P<text>.*)"$',
        description="Regex for the line a follower prints on receiving a tweet, or a list of regexes for "
                    "consecutive lines (their groups combine); null if it prints none. Group `text` "
                    "required; `tweeter` and `forwarder` (the handle that passed it on) strongly recommended.")
    returned: str | ReturnedLine | None = Field(
        rf'^(?P<tweeter>{HANDLE}) tweet returned: "(?P<text>.*)"$',
        description="Regex the tweeter prints when its tweet came back round, or {at: tracker, line: regex} "
                    "for a line the tracker prints then (a user that ends its tweet silently).")
    own_copy: str | bool | None = Field(None, description="The tweeter prints its own tweet: a regex for "
                                        "that line, or true when it prints it like a received tweet. Not a "
                                        "delivery to someone outside the ring.")
    end_tweet_automatic: bool = Field(True, description="The user sends end-tweet by itself once the "
                                      "tweet returns (else the harness types it).")

    @field_validator("received")
    @classmethod
    def _received(cls, value: str | list[str] | None) -> str | list[str] | None:
        if value is None or isinstance(value, str):
            return None if value is None else check_regex(value, ("text",))
        if not 1 <= len(value) <= 4:
            raise ValueError("a received tweet is 1 to 4 consecutive lines")
        groups = set().union(*(re.compile(check_regex(line)).groupindex for line in value))
        if "text" not in groups:
            raise ValueError("one of the lines needs the named group `text`, e.g. (?P<text>.*)")
        return value

    @field_validator("returned")
    @classmethod
    def _returned(cls, value: str | ReturnedLine | None) -> str | ReturnedLine | None:
        return check_regex(value) if isinstance(value, str) else value

    @field_validator("own_copy")
    @classmethod
    def _own_copy(cls, value: str | bool | None) -> str | bool | None:
        return check_regex(value) if isinstance(value, str) else value


class LimitOverrides(Strict):
    """Resource limits a submission may ask for (e.g. more memory for a JVM); bounded, and a grader's
    command-line limits win over these."""

    cpu_seconds: int | None = Field(None, ge=1, le=600)
    memory_mb: int | None = Field(None, ge=64, le=8192)
    processes: int | None = Field(None, ge=4, le=256)
    file_size_mb: int | None = Field(None, ge=1, le=512)
    open_files: int | None = Field(None, ge=16, le=4096)
    output_kb: int | None = Field(None, ge=64, le=16384)


class TrackerPin(Strict):
    """What a submission hard-codes about its tracker."""

    ip: str | None = Field(None, description="The tracker's IPv4 address as the programs hard-code it, e.g. "
                           "a campus address; in hosts mode the tracker's host gets exactly this address.")
    port: int | None = Field(None, ge=1, le=65535, description="The tracker's port as the programs hard-code it.")

    @field_validator("ip")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            address = ipaddress.IPv4Address(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an IPv4 address in dotted decimal (e.g. 10.120.70.106)") from None
        if address.is_multicast or address.is_unspecified or address.is_reserved or str(address).endswith(".255"):
            raise ValueError(f"{value} cannot be a host's address")
        return str(address)


class NetworkPins(Strict):
    """Addresses and ports a submission hard-codes, so the harness gives them out as the programs expect."""

    tracker: TrackerPin = TrackerPin()
    ports: tuple[int, int] | None = Field(None, description="The group's port range [first, last]: every "
                                          "port a user registers is drawn from it (e.g. [38500, 38999]).")

    @field_validator("ports")
    @classmethod
    def _ports(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is None:
            return None
        first, last = value
        if not 1024 <= first <= last <= 65535:
            raise ValueError(f"a port range is [first, last] with 1024 <= first <= last <= 65535, not {list(value)}")
        if last - first < 15:
            raise ValueError(f"the range {first}-{last} has too few ports for a scenario's users (16 or more)")
        return value


ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HARNESS_ENV = {"PATH", "HOME", "TMPDIR", "TWEETER_HARNESS_RUN"}


class Timeouts(Strict):
    """Time a submission asks for; the grader's --max-step-timeout and --max-scenario-timeout cap it."""

    step: float | None = Field(None, gt=0, le=300, description="Seconds one step may take (instead of "
                               "the scenarios' default).")
    scenario: float | None = Field(None, gt=0, le=3600, description="Seconds a whole scenario may take.")
    build: float = Field(300, gt=0, le=3600, description="Seconds the build may take.")


class Manifest(Strict):
    """A submission's `tweeter.yaml`. Every key is optional."""

    name: str | None = Field(None, description="Display name of the submission.")
    build: str | None = Field(None, description="Shell command run once in the submission's folder before "
                              "any scenario (e.g. `make`, `javac *.java`), in the sandbox.")
    env: dict[str, str] = Field({}, description="Environment variables for both programs; values may use "
                                "the launch placeholders, e.g. TRACKER_PORT: \"{tracker_port}\".")
    prompt: str | None = Field(None, description="Regex of the prompt a user prints when it is ready for "
                               "the next command: the harness waits for it before typing each command.")
    timeouts: Timeouts = Timeouts()
    pace_ms: int = Field(0, ge=0, le=5000, description="Least time in milliseconds between two lines typed "
                         "at the same program (for consoles that lose input typed at machine speed).")
    launch: Launch = Launch()
    startup: Startup = Startup()
    ready: Ready = Ready()
    ports_per_user: int = Field(3, ge=1, le=5, description="How many ports `register` takes.")
    commands: Commands = Commands()
    replies: Replies = Replies()
    query: Query = Query()
    tweets: Tweets = Tweets()
    transport: Literal["udp", "tcp"] = "udp"
    trace_lines: str | None = Field(r"^\[trace\] ", description="Regex for the program's protocol-trace "
                                    "lines: kept in transcripts, left out of the short excerpts in failure "
                                    "explanations so that the lines that matter show.")
    limits: LimitOverrides = LimitOverrides()
    network: NetworkPins = NetworkPins()

    @field_validator("trace_lines", "prompt")
    @classmethod
    def _regexes(cls, value: str | None) -> str | None:
        return None if value is None else check_regex(value)

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not an environment variable name")
            if name in HARNESS_ENV:
                raise ValueError(f"{name} is set by the harness (the sandbox), not by the manifest")
            check_placeholders(str(text), LAUNCH_PLACEHOLDERS)
        return value

    @field_validator("build")
    @classmethod
    def _build(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("the build command is empty")
        return value

    @model_validator(mode="after")
    def _query_items_end(self) -> "Manifest":
        if self.query.item and not (self.query.counted or self.query.end or self.prompt):
            raise ValueError("query.item: say where the list of handles ends: a `count` group in "
                             "query.reply, query.count, query.end, or the user's `prompt`")
        return self


def load_manifest(folder: Path) -> Manifest:
    """The folder's manifest, or the defaults when it has none."""
    path = folder / MANIFEST_NAME
    if not path.exists():
        return Manifest()
    return yaml_source.validate(yaml_source.load(path), Manifest, "manifest")  # type: ignore[return-value]
