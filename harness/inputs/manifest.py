"""The manifest (`tweeter.yaml`): how to launch, type at and read one submission.

Every key has a default taken from the reference's console convention (reference/CONVENTION.md),
so a submission that follows it needs no manifest at all. The model is validated like the scenario
files, and its JSON Schema is published beside the specs.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from harness.inputs import yaml_source
from harness.inputs.keys import KEYS
from harness.inputs.reasons import REASON_NAMES, REASONS

MANIFEST_NAME = "tweeter.yaml"
HANDLE = r"@\w+"  # a whole handle, digits too: a program that accepts @alice99 is seen printing it
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
        """Which placeholders a line may use depends on where it is typed (checked there too)."""
        return check_placeholders(value, COMMAND_PLACEHOLDERS | {"line"}, keys=True)

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


class _ReasonPatterns(Strict):
    """The fields are made from the vocabulary (harness/inputs/reasons.py), so a name the scenarios
    may test is always a name a manifest may give, and no other."""

    @model_validator(mode="before")
    @classmethod
    def _known_names(cls, value: Any) -> Any:
        """An unknown name in one line that lists the names there are (a misspelt one suggested)."""
        for name in value if isinstance(value, dict) else ():
            if name not in REASONS:
                close = difflib.get_close_matches(str(name), REASON_NAMES, n=1)
                hint = f"; did you mean `{close[0]}`?" if close else ""
                raise ValueError(f"unknown reason `{name}`{hint} (the reasons: {', '.join(REASON_NAMES)})")
        return value

    @field_validator("*")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("an empty pattern matches every FAILURE line: give the words of this reason")
        return None if value is None else check_regex(value)

    def named(self) -> dict[str, str]:
        """Reason name -> regex, for the reasons this submission names."""
        return {name: pattern for name, pattern in self if pattern is not None}


Reasons = create_model(  # type: ignore[call-overload]
    "Reasons", __base__=_ReasonPatterns,
    __doc__="Regexes, searched in a FAILURE line ignoring case, that say why a command was refused.",
    **{name: (str | None, Field(None, description=f"Regex for a refusal because "
                                f"{reason.because.format(user='the user', target='the handle')}."))
       for name, reason in REASONS.items()})


class Replies(Strict):
    """Regexes that recognise the result line of each command, and the reasons a FAILURE line gives."""

    register_: Reply = Field(_reply("register"), alias="register")
    query: Reply = _reply("query handles")
    follow: Reply = _reply("follow")
    drop: Reply = _reply("drop")
    tweet: Reply = _reply("tweet")
    end_tweet: Reply = _reply("end-tweet")
    exit: Reply = _reply("exit")
    reasons: Reasons = Field(Reasons(), description="Why a FAILURE line refused, by reason name (e.g. "  # type: ignore[valid-type]
                             "`already_following: \"already follow\"`): a scenario step that tests one reason "
                             "fails when the line gives another of these. None named: any FAILURE will do.")

    def of(self, command: str) -> Reply:
        return getattr(self, _attribute(command))


class Query(Strict):
    """How the answer to `query handles` reads: a block of lines printed after it was typed (a reply
    line, a count line, one handle per line, in the orders real programs print them), or one line."""

    reply: str | None = Field(r"^query handles: SUCCESS (?P<count>\d+)(?P<handles>.*)$",
                              description="Regex for the answer's result line; groups `count` and/or "
                              "`handles` when it holds them. It may come before or after a count line "
                              "(query.count). null: the answer has no such line, its first line is already "
                              "the first handle (query.item).")
    count: str | None = Field(None, description="Regex (group `count`) for a line of its own that gives the "
                              "number of handles, printed before the handles (before or after the reply).")
    item: str | None = Field(None, description="Regex (group `handle`) for one handle per line; lines that do "
                             "not match (followers nested under a handle) are passed over.")
    end: str | None = Field(None, description="Regex for the line after the last handle, when no count is "
                            "printed (the user's `prompt` also ends the list).")
    empty: str | None = Field(None, description="Regex for the line printed instead of the list when nobody is "
                              "registered (e.g. `^No users`): the answer is then an empty list.")
    nested: bool = Field(False, description="The `handles` group of query.reply holds the whole list as a "
                         "Python or JSON literal with each user's followers nested beside it "
                         "([['@alice', ['@bob']], ['@bob', []]] or {'@alice': ['@bob']}): only the top-level "
                         "handles are the registered ones.")
    settle_ms: int | None = Field(None, ge=50, le=10000, description="When no count, query.end or prompt closes "
                                  "the list: it ends once the user has printed no new line for this long "
                                  "(and with query.reply null and no query.empty, nothing printed for this "
                                  "long is an empty list).")

    @field_validator("reply", "end", "empty")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        return None if value is None else check_regex(value)

    @field_validator("count")
    @classmethod
    def _count(cls, value: str | None) -> str | None:
        return None if value is None else check_regex(value, ("count",))

    @field_validator("item")
    @classmethod
    def _item(cls, value: str | None) -> str | None:
        return None if value is None else check_regex(value, ("handle",))

    @model_validator(mode="after")
    def _handles_somewhere(self) -> "Query":
        """Each shape names where its handles are, once: a manifest that says two things at once is
        refused with the one line that says which, rather than read one way at random."""
        if self.reply is None and not self.item:
            raise ValueError("query.reply: null (no header line) needs query.item, the regex of one handle per line")
        groups = self.reply_groups
        if self.reply is not None and not self.item and not {"count", "handles"} & groups:
            raise ValueError("query.reply needs a named group `count` or `handles`, or give query.item for "
                             "handles printed one per line")
        if self.count and "count" in groups:
            raise ValueError("the count is on the reply line (its `count` group) or on a line of its own "
                             "(query.count), not both")
        if self.nested and "handles" not in groups:
            raise ValueError("query.nested reads the list from the `handles` group of query.reply: give it "
                             "one, e.g. (?P<handles>\\[.*\\])")
        if self.nested and self.item:
            raise ValueError("query.nested reads the whole list from the reply line and query.item one handle "
                             "per line: give only one of them")
        return self

    @property
    def reply_groups(self) -> set[str]:
        return set(re.compile(self.reply).groupindex) if self.reply is not None else set()

    @property
    def counted(self) -> bool:
        return bool(self.count) or "count" in self.reply_groups


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
                                          "port a user registers, and the tracker's unless it is pinned, is "
                                          "drawn from it (e.g. [38500, 38999]).")

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
    registration: Literal["command", "startup"] | None = Field(
        None, description="`startup`: a user registers from its start-up prompts (`startup.user` answers "
        "them with {handle}) and has no command prompt before that; `command`: it registers when `register` "
        "is typed. Default: `startup` when `commands.register` is null and a start-up answer types {handle} "
        "or {name}, else `command`.")
    commands: Commands = Commands()
    raw_lines: CommandScript = Field("{line}", description="How a scenario's raw `type:` line is typed at a user, "
                                     "`{line}` being the line: e.g. [\"{ctrl-c}\", {expect: \"^Command>\", send: "
                                     "\"{line}\"}] for a console that reads the keyboard only after Ctrl+C.")
    replies: Replies = Replies()
    query: Query = Query()
    tweets: Tweets = Tweets()
    transport: Literal["udp", "tcp"] = "udp"
    trace_lines: str | None = Field(r"^\[trace\] ", description="Regex for the program's protocol-trace "
                                    "lines: kept in transcripts, left out of the short excerpts in failure "
                                    "explanations so that the lines that matter show.")
    limits: LimitOverrides = LimitOverrides()
    network: NetworkPins = NetworkPins()

    @field_validator("raw_lines")
    @classmethod
    def _raw_lines(cls, value: CommandScript) -> CommandScript:
        script = _script(value) or []
        for line in script:
            check_placeholders(line.send, {"line"}, keys=True)
        if not script or "line" not in placeholders_in(script[-1].send):
            raise ValueError("raw_lines: the last line typed must hold {line}, the scenario's raw line")
        return value

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

    @property
    def registers_at_startup(self) -> bool:
        """Whether a user registers from its start-up prompts (said, or read from a manifest whose
        start-up answers give the handle and which has no `register` command)."""
        if self.registration is not None:
            return self.registration == "startup"
        answers = {name for line in self.startup.user for name in placeholders_in(line.send)}
        return self.commands.register_ is None and bool(answers & {"handle", "name"})

    @model_validator(mode="after")
    def _startup_registration(self) -> "Manifest":
        if self.registration == "startup" and not any(
                placeholders_in(line.send) & {"handle", "name"} for line in self.startup.user):
            raise ValueError("registration: startup needs a start-up answer that types the handle: "
                             "startup.user with {handle} or {name}")
        return self

    @model_validator(mode="after")
    def _query_items_end(self) -> "Manifest":
        query = self.query
        if query.item and not (query.counted or query.end or self.prompt or query.settle_ms):
            raise ValueError("query.item: say where the list of handles ends: a `count` group in "
                             "query.reply, query.count, query.end, the user's `prompt`, or query.settle_ms "
                             "(it ends when the user stops printing)")
        return self


def load_manifest(folder: Path) -> Manifest:
    """The folder's manifest, or the defaults when it has none."""
    path = folder / MANIFEST_NAME
    if not path.exists():
        return Manifest()
    return yaml_source.validate(yaml_source.load(path), Manifest, "manifest")  # type: ignore[return-value]
