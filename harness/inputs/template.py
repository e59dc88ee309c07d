"""`tweeter-harness manifest-template PATH`: a commented tweeter.yaml to start from, guessed from the
submission's files.

It reads the source (Python, C, C++, Java) as text, never runs it, and guesses: how it is built
(a Makefile, .java or .c/.cpp files), which program is the tracker (it binds a socket and loops on
receiving) and which the user (it reads the keyboard), how they are launched (arguments, or addresses
and ports hard-coded in the code), the prompts the user prints, and the command words it compares
typed input against. Every guess is marked `# guess:`; what could not be guessed is left at the
default with a note. The instructor checks it against the code, then runs `tweeter-harness validate`.

The rules behind the guesses that real submissions got wrong before:
- Arguments: how many a program reads is the highest position it indexes (`sys.argv[2]`, C's
  `argv[2]`, Java's `args[1]`, Python's `args[1]` after `args = sys.argv[1:]`) or the number of
  argparse positionals. A user that reads one argument gets `{tracker_ip}` alone (or
  `{tracker_port}` alone when it converts that argument to a number): it hard-codes the other.
- The tracker's port: a number the tracker binds, passes to `htons()`, parses from a string
  (`atoi("46498")`) or names (`PORT = 8000`, `#define TRACKER_PORT 46498`, `const int PORT = ...`).
  When the tracker has none, a constant the user names PORT or after the tracker/server. Pinning
  it (`network.tracker.port`) is what lets a user that takes only the IP reach the tracker.
- The tracker's address: a quoted IPv4 that is really used as the tracker's, first in the user,
  else in the tracker. Never a loopback, unspecified, multicast or reserved address, and never a
  dead initial value: a literal assigned to a name that the code assigns again (from argv, input(),
  strcpy, scanf, ...) is only a placeholder. In the user, a name that says it is the user's own
  (`my_ip`, `local_ip`, `client_ip`, ...) is not the tracker's either.
- Prompts (Python `input("...")`): the harness needs the start-up prompts (answered once, in order)
  apart from the command prompt (`prompt:`, awaited before every command). Position decides, with
  the wording where position cannot: an `input()` outside any `while` loop runs once, so it is a
  start-up prompt; wording that asks for a command (command, choice, option, menu, select, action)
  makes it the command prompt wherever it is (a `read_command()` helper); inside a `while` loop
  (the outermost one holding it, by indentation), prompts asking for a handle, name, IP or port
  before any other prompt of that loop, and before the loop compares input with a command word,
  are start-up prompts asked until valid; the first other one is the command prompt; the ones
  after it, or after such a comparison, are a command's own questions (listed in a note for
  `commands:`). Only the first command prompt becomes `prompt:`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

SOURCE_SUFFIXES = {".py": "python", ".c": "c", ".cc": "c++", ".cpp": "c++", ".cxx": "c++", ".java": "java"}
MAX_FILE = 500_000
CONSOLE = re.compile(r"\binput\s*\(|sys\.stdin|Scanner\s*\(\s*System\.in|System\.in\b|std::cin|getline\s*\(|"
                     r"fgets\s*\([^)]*stdin|scanf\s*\(|readLine\s*\(")
RECEIVE = re.compile(r"\brecvfrom\b|\brecv\s*\(|\.receive\s*\(|\baccept\s*\(")
BIND = re.compile(r"\bbind\s*\(|new\s+DatagramSocket\s*\(\s*\w|new\s+ServerSocket\s*\(")
LOOP = re.compile(r"while\s*\(?\s*(True|true|1)\s*\)?|for\s*\(\s*;\s*;\s*\)")
PROMPT = re.compile(r"""\binput\s*\(\s*f?(["'])(?P<prompt>[^"'\n]{2,60})\1""")
IPV4 = re.compile(r"""["'](?P<ip>(?:\d{1,3}\.){3}\d{1,3})["']""")
BOUND_PORT = re.compile(r"""(?:bind\s*\(\s*\(\s*["'][^"']*["']\s*,\s*|DatagramSocket\s*\(\s*|ServerSocket\s*\(\s*
                            |htons\s*\(\s*|\b(?:ato[il]|stoi)\s*\(\s*")(?P<port>\d{4,5})\b""", re.VERBOSE)
NAMED_PORT = re.compile(r"""(?:\#\s*define\s+(?P<macro>\w+)\s+\(?|(?<![\w.])(?P<name>\w+)\s*=(?!=)\s*)(?P<port>\d{4,5})\b""")
PROGRAM_ARGUMENT = {"c": re.compile(r"(?<![\w.])argv\[(\d)\]"), "c++": re.compile(r"(?<![\w.])argv\[(\d)\]"),
                    "java": re.compile(r"(?<![\w.])args\[(\d)\]"),
                    "python": re.compile(r"(?<![\w.])(?:sys\.argv|args|argv)\[(\d)\]")}
ARGPARSE_OPTION = re.compile(r"""add_argument\(\s*["'](--[\w-]+)["']""")
ARGPARSE_POSITIONAL = re.compile(r"""add_argument\(\s*["']\w""")
NUMBER_FIRST_ARGUMENT = re.compile(r"(?:\bint|\bato[il]|\bstoi|parseInt|valueOf)\s*\(\s*(?:(?:sys\.)?argv\[1\]|args\[0\])")
ASSIGNED_TO = re.compile(r"""(?:\#\s*define\s+(?P<macro>\w+)\s+|(?P<name>[A-Za-z_][\w.]*)\s*(?:\[\w*\]\s*)?(?::\s*[\w\[\]|]+\s*)?=\s*)$""")
NAME_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
PORT_WORDS = {"port", "portno", "portnum", "portnumber"}
TRACKER_WORDS = {"tracker", "server", "serv", "srv"}
OWN_WORDS = {"my", "own", "local", "client", "peer", "me", "listen", "bind"}
COMMAND_WORDING = re.compile(r"\b(?:command|cmd|choice|option|menu|select|action|what (?:do|would) you)", re.IGNORECASE)
STARTUP_WORDING = re.compile(r"\b(?:handle|(?:user)?name|nick|ip|ipv4|address|host|ports?)\b", re.IGNORECASE)
WHILE = re.compile(r"\s*while\b")
MAIN = {"c": re.compile(r"\bint\s+main\s*\("), "c++": re.compile(r"\bint\s+main\s*\("),
        "java": re.compile(r"static\s+void\s+main\s*\(")}
MAKE_VARIABLE = re.compile(r"^\s*(\w+)\s*:?=\s*(\S+)\s*$", re.MULTILINE)
WORD = re.compile(r"""(?:==|!=|equals(?:IgnoreCase)?\s*\(|startswith\s*\(|strcmp\s*\([^,]*,|case)\s*["'](?P<word>[A-Za-z][A-Za-z_ -]{0,20})["']""")
CANONICAL = {"register": ("register", "reg"), "query": ("query", "users", "list"), "follow": ("follow",),
             "drop": ("drop", "unfollow"), "tweet": ("tweet", "post"), "end_tweet": ("end-tweet", "end_tweet", "endtweet", "end tweet"),
             "exit": ("exit", "quit", "leave")}


@dataclass
class Program:
    path: Path
    language: str
    text: str
    score_tracker: int = 0
    score_user: int = 0


@dataclass
class Guesses:
    lines: list[str] = field(default_factory=list)

    def key(self, text: str, why: str) -> None:
        self.lines.append(f"{text}  # guess: {why}")

    def note(self, text: str) -> None:
        self.lines.append(f"# {text}")


def _programs(folder: Path) -> list[Program]:
    found = []
    for path in sorted(folder.rglob("*")):
        language = SOURCE_SUFFIXES.get(path.suffix)
        if language and path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts):
            text = path.read_bytes()[:MAX_FILE].decode("utf-8", errors="replace")
            program = Program(path, language, text)
            name = path.stem.lower()
            program.score_tracker = (2 * bool(BIND.search(text)) + 2 * bool(RECEIVE.search(text)) + bool(LOOP.search(text))
                                     - 3 * bool(CONSOLE.search(text)) + 3 * any(w in name for w in ("tracker", "server")))
            program.score_user = (3 * bool(CONSOLE.search(text)) + bool(BIND.search(text))
                                  + 3 * any(w in name for w in ("user", "client", "peer")))
            if language in MAIN and not MAIN[language].search(text):  # a module, not a program
                program.score_tracker -= 10
                program.score_user -= 10
            found.append(program)
    return found


def _launch(program: Program, folder: Path, role: str) -> tuple[str, str]:
    """The launch command of a program, and why."""
    relative = program.path.relative_to(folder)
    count = _argument_count(program)
    options = ARGPARSE_OPTION.findall(program.text)
    if role == "tracker" and "--port" in options:
        arguments, why = " --port {tracker_port}", "takes the port as --port"
    elif count == 0:
        arguments, why = "", "reads no command-line argument"
    elif role == "tracker" or count > 1:
        arguments = " {tracker_port}" if role == "tracker" else " {tracker_ip} {tracker_port}"
        why = "reads its arguments"
    elif _takes_only_the_ip(program):
        arguments, why = " {tracker_ip}", "reads one argument: the tracker's IP (the port is hard-coded)"
    else:
        arguments, why = " {tracker_port}", "reads one argument, a number: the tracker's port (the address is hard-coded)"
    if program.language == "python":
        return f"python3 {relative}{arguments}", why
    if program.language == "java":
        return f"java -Xmx64m -cp classes {program.path.stem}{arguments}", f"{why}; compiled into classes/"
    return f"./{_binary(folder, program.path.stem)}{arguments}", f"{why}; built by the build command"


def _argument_count(program: Program) -> int:
    """How many command-line arguments a program reads: the highest position it indexes, or its
    argparse positionals. C's argv[1] is the first argument, and Java's args[0]; Python's args[0] is
    the first when it was sliced off sys.argv[1:], else the program's own name, like sys.argv[0]."""
    shift = 1 if program.language == "java" or "argv[1:]" in program.text else 0
    positions = [int(n) + (shift if not match.group().startswith("sys.") else 0)
                 for match in PROGRAM_ARGUMENT[program.language].finditer(program.text) for n in match.groups()]
    return max(positions + [len(ARGPARSE_POSITIONAL.findall(program.text))])


def _takes_only_the_ip(program: Program) -> bool:
    """One argument, not converted to a number: the tracker's IP, the port being hard-coded."""
    return _argument_count(program) == 1 and not NUMBER_FIRST_ARGUMENT.search(program.text)


def _binary(folder: Path, stem: str) -> str:
    """Where the Makefile puts the program built from `stem` (its target or -o), else the stem."""
    makefile = next((folder / name for name in ("Makefile", "makefile") if (folder / name).is_file()), None)
    if makefile is None:
        return stem
    text = makefile.read_text(errors="replace")[:MAX_FILE]
    for name, value in MAKE_VARIABLE.findall(text):
        text = text.replace(f"$({name})", value).replace(f"${{{name}}}", value)
    match = re.search(rf"(?:-o\s+|^)([\w./-]*\b{re.escape(stem)}\b[\w.-]*)\s*:?", text, re.MULTILINE)
    return match.group(1).lstrip("./") if match and not match.group(1).endswith((".cpp", ".c", ".cc", ".o")) else stem


def _build(folder: Path, programs: list[Program]) -> tuple[str, str] | None:
    if (folder / "Makefile").is_file() or (folder / "makefile").is_file():
        return "make", "a Makefile is there"
    languages = {p.language for p in programs}
    if "java" in languages:
        return "javac -d classes *.java", ".java files and no build file"
    if languages & {"c", "c++"}:
        sources = [p for p in programs if p.language in ("c", "c++")]
        lines = [f"{'g++' if p.language == 'c++' else 'gcc'} -o {p.path.stem} {p.path.relative_to(folder)}" for p in sources]
        return " && ".join(lines), "C/C++ sources and no Makefile (check which files each program needs)"
    return None


def template(folder: Path) -> str:
    """The commented manifest text for the submission in `folder`."""
    folder = folder.resolve()  # `.` has no name: the heading names the folder itself
    programs = _programs(folder)
    out = Guesses()
    out.note(f"tweeter.yaml for {folder.name}: a starting point guessed from its files by tweeter-harness")
    out.note("manifest-template. Check every `# guess:` against the code, delete what is not needed, and run")
    out.note("`tweeter-harness validate` on the folder. Every key is explained in docs/MANIFEST.md.")
    if not programs:
        out.note("no Python, C, C++ or Java source found: write the launch commands by hand")
        return "\n".join(out.lines) + "\n"
    build = _build(folder, programs)
    if build:
        out.key(f"build: {_yaml(build[0])}", build[1])
    tracker = max(programs, key=lambda p: p.score_tracker)
    user = max((p for p in programs if p is not tracker), key=lambda p: p.score_user, default=tracker)
    out.lines.append("launch:")
    for role, program in (("tracker", tracker), ("user", user)):
        command, why = _launch(program, folder, role)
        evidence = "binds a socket and loops on receiving" if role == "tracker" else "reads the keyboard"
        out.key(f"  {role}: {_yaml(command)}", f"{program.path.relative_to(folder)} {evidence}; {why}")
    _network(out, tracker, user)
    _startup(out, user)
    _commands(out, user)
    return "\n".join(out.lines) + "\n"


def _network(out: Guesses, tracker: Program, user: Program) -> None:
    ips, skipped, source = _tracker_address(user, tracker)
    ports, port_source = _tracker_ports(tracker, user)
    if skipped:
        out.note(f"not taken for the tracker's address: {'; '.join(skipped)}")
    if not ports and _takes_only_the_ip(user):
        out.note("the user takes only the tracker's IP: write the port it hard-codes as network.tracker.port")
    if not ips and not ports:
        return
    out.lines.append("network:")
    out.lines.append("  tracker:")
    if ips:
        out.key(f"    ip: {ips[0]}", f"{source} {', '.join(ips)}")
    if ports:
        out.key(f"    port: {ports[0]}", f"{port_source} {', '.join(ports)}")


def _tracker_ports(tracker: Program, user: Program) -> tuple[list[str], str]:
    """The port the tracker hard-codes (what it binds, passes to htons, parses from a string or
    names as a port), else the one the user names after the tracker or plainly PORT; and where."""
    bound = {m.group("port") for m in BOUND_PORT.finditer(tracker.text)}
    bound |= {m.group("port") for m in NAMED_PORT.finditer(tracker.text)
              if PORT_WORDS & set(_words(m.group("macro") or m.group("name")))}
    if bound := sorted(port for port in bound if int(port) <= 65535):
        return bound, "the tracker binds the port"
    named = {m.group("port") for m in NAMED_PORT.finditer(user.text) if _names_tracker_port(m.group("macro") or m.group("name"))}
    return sorted(port for port in named if int(port) <= 65535), "the user sends to the tracker's port"


def _names_tracker_port(name: str) -> bool:
    """`TRACKER_PORT`, `serverPort`, `PORT`: a name for the tracker's port, not the user's own."""
    words = set(_words(name))
    return bool(words & PORT_WORDS) and (bool(words & TRACKER_WORDS) or words <= PORT_WORDS | {"number", "no", "num"})


def _words(name: str) -> list[str]:
    """The words of an identifier, lower case: `trackerPort`, `TRACKER_PORT` -> tracker, port."""
    return [word.lower() for word in NAME_WORD.findall(name)]


def _tracker_address(user: Program, tracker: Program) -> tuple[list[str], list[str], str]:
    """The addresses really used as the tracker's (from the user, else the tracker), the literals
    passed over with the reason, and where the addresses were found."""
    used, skipped = _live_addresses(user, own_excluded=True)
    if used:
        return used, skipped, "the user hard-codes the address"
    used, skipped_here = _live_addresses(tracker, own_excluded=False)
    return used, skipped + skipped_here, "the tracker hard-codes the address"


def _live_addresses(program: Program, own_excluded: bool) -> tuple[list[str], list[str]]:
    """Quoted IPv4 literals of a program that can be the tracker's address, and the others (but for
    the everyday loopback and unspecified ones) with why not."""
    used, skipped = set(), {}
    for match in IPV4.finditer(program.text):
        ip = match.group("ip")
        why = _not_a_tracker_address(ip, program.text, match.start(), own_excluded)
        if why is None:
            used.add(ip)
        elif why not in ("loopback", "unspecified", "not an address"):
            skipped.setdefault(ip, why)
    skipped = {ip: why for ip, why in skipped.items() if ip not in used}
    return sorted(used), [f"{ip} ({why})" for ip, why in sorted(skipped.items())]


def _not_a_tracker_address(ip: str, text: str, at: int, own_excluded: bool) -> str | None:
    """Why the literal `ip` at offset `at` cannot be the tracker's address, or None when it can."""
    try:
        address = ipaddress.IPv4Address(ip)
    except ValueError:
        return "not an address"
    if address.is_loopback or address.is_unspecified or ip.startswith("0."):
        return "loopback" if address.is_loopback else "unspecified"
    if address.is_multicast or address.is_reserved or address.is_link_local:
        return "not a host's address"
    before = text[text.rfind("\n", 0, at) + 1:at]
    assigned = ASSIGNED_TO.search(before)
    name = assigned and (assigned.group("macro") or assigned.group("name"))
    if not name or before[:assigned.start()].rstrip().endswith(","):  # used in place, or unpacked
        return None
    if own_excluded and OWN_WORDS & set(_words(name)):
        return f"{name}: the user's own address"
    if _assigned_again(name, text):
        return f"{name} is assigned again: a dead initial value"
    return None


def _assigned_again(name: str, text: str) -> bool:
    """Whether `name` gets a value more than once (plain or tuple assignment, strcpy, scanf, cin, ...):
    then a literal it starts with is a placeholder, not the address the program uses."""
    target = re.escape(name)
    plain = re.findall(rf"(?<![\w.]){target}\s*(?:\[\w*\]\s*)?(?::\s*[\w\[\]|]+\s*)?=(?!=)", text)
    unpacked = re.search(rf"^[ \t]*(?:[\w.]+[ \t]*,[ \t]*)+{target}[ \t]*(?:,[ \t]*[\w.]+[ \t]*)*=(?!=)"
                         rf"|^[ \t]*{target}[ \t]*(?:,[ \t]*[\w.]+[ \t]*)+=(?!=)", text, re.MULTILINE)
    written = re.search(rf"\b(?:strn?cpy|memcpy|s?n?printf|fgets|inet_ntop)\s*\(\s*&?{target}\b"
                        rf"|\b(?:scanf|getline)\s*\([^;]*[,(]\s*&?{target}\s*[,)]|>>\s*{target}\b", text)
    return len(plain) > 1 or bool(unpacked) or bool(written)


def _startup(out: Guesses, user: Program) -> None:
    prompts = _classified_prompts(user.text)
    if not prompts:
        return
    out.note(f"the user asks with input(): {'; '.join(repr(p) for p, _ in prompts[:6])}")
    startup = [prompt for prompt, kind in prompts if kind == "startup"]
    command = next((prompt for prompt, kind in prompts if kind == "command"), None)
    asked = [prompt for prompt, kind in prompts if kind != "startup" and prompt != command]
    if startup:
        out.lines.append("startup:")
        out.lines.append("  user:")
    for prompt in startup[:8]:
        out.key(f"    - {{expect: {_yaml('^' + _literal(prompt))}, send: \"{{handle}}\"}}",
                "asked before the command loop: answer it with what it asks for ({handle}, {ip}, {ports}, ...)")
    if command is not None:
        out.key(f"prompt: {_yaml('^' + _literal(command))}",
                "the user asks for each command with it: the harness awaits it before typing one")
    if asked:
        out.note(f"asked inside the command loop, a command's own questions (write them in commands: as "
                 f"{{expect, send}}): {'; '.join(repr(p) for p in asked[:6])}")


def _classified_prompts(text: str) -> list[tuple[str, str]]:
    """Each input() prompt in the order written, with its kind: `startup` (asked once, or until
    valid, before the command loop), `command` (asks for the next command) or `asked` (a command's
    own question: after its loop's command prompt, or after the loop compares input with a command
    word). The rule is in the module docstring."""
    lines = text.split("\n")
    found, loops_with_command = [], set()
    for match in PROMPT.finditer(text):
        prompt = match.group("prompt")
        loop = _outermost_while(lines, text.count("\n", 0, match.start()))
        answered = loop is not None and (loop in loops_with_command or _compares_before(text, lines, loop, match.start()))
        if COMMAND_WORDING.search(prompt):
            kind = "command"
        elif loop is None or (not answered and STARTUP_WORDING.search(prompt)):
            kind = "startup"
        else:
            kind = "asked" if answered else "command"
        if kind != "startup" and loop is not None:
            loops_with_command.add(loop)
        found.append((prompt, kind))
    return found


def _compares_before(text: str, lines: list[str], loop: int, at: int) -> bool:
    """Whether the loop at line `loop` compares input with a command word before offset `at`: the
    line it compares was read already (by a prompt elsewhere, e.g. a read_command() helper)."""
    begin = sum(len(line) + 1 for line in lines[:loop])
    return bool(WORD.search(text, begin, at))


def _outermost_while(lines: list[str], index: int) -> int | None:
    """The line of the outermost `while` whose body holds line `index` (Python: by indentation)."""
    indent, outermost = _indent(lines[index]), None
    for number in range(index - 1, -1, -1):
        line = lines[number]
        if not line.strip() or line.lstrip().startswith("#") or _indent(line) >= indent:
            continue
        indent = _indent(line)
        if WHILE.match(line):
            outermost = number
        if indent == 0:
            break
    return outermost


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _commands(out: Guesses, user: Program) -> None:
    words = {m.group("word").strip() for m in WORD.finditer(user.text)}
    if not words:
        out.note("no command words found in the user's code: the default syntax (`follow @a @b`) is assumed")
        return
    found = {command: next((w for w in sorted(words) if w.lower() in names), None)
             for command, names in CANONICAL.items()}
    out.note(f"the user compares typed input against: {', '.join(sorted(words))}")
    out.lines.append("commands:")
    for command, word in found.items():
        if word is None:
            out.note(f"  {command}: no word for it found: the default is kept (or write null if it has none)")
            continue
        default = {"register": "{handle} {ip} {ports}", "query": "handles" if "handles" in words else "",
                   "tweet": '{handle} "{text}"', "follow": "{handle} {target}",
                   "drop": "{handle} {target}"}.get(command, "{handle}")
        line = f"{word} {default}".strip()
        out.key(f"  {command}: {_yaml(line)}", f"it compares input with {word!r}; check the arguments it expects")


def _literal(text: str) -> str:
    """A regex for the literal prompt `text`, stripped, escaping only what a regex reads specially."""
    return re.escape(text.strip()).replace("\\ ", " ")


def _yaml(text: str) -> str:
    """A YAML scalar for `text` (quoted when needed)."""
    return text if re.fullmatch(r"[A-Za-z0-9_./{} -]+", text) and not text.startswith(("{", "-")) \
        else '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
