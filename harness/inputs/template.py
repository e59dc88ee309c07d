"""`tweeter-harness manifest-template PATH`: a commented tweeter.yaml to start from, guessed from the
submission's files.

It reads the source (Python, C, C++, Java) as text, never runs it, and guesses: how it is built
(a Makefile, .java or .c/.cpp files), which program is the tracker (it binds a socket and loops on
receiving) and which the user (it reads the keyboard), how they are launched (arguments, or addresses
and ports hard-coded in the code), the prompts the user prints, and the command words it compares
typed input against. Every guess is marked `# guess:`; what could not be guessed is left at the
default with a note. The instructor checks it against the code, then runs `tweeter-harness validate`.
"""

from __future__ import annotations

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
BOUND_PORT = re.compile(r"""(?:bind\s*\(\s*\(\s*["'][^"']*["']\s*,\s*|DatagramSocket\s*\(\s*|PORT\s*=\s*)(?P<port>\d{4,5})\b""")
ARGV = re.compile(r"sys\.argv\[(\d)\]|argv\[(\d)\]|args\[(\d)\]|add_argument\(\s*[\"'](\w)")
ARGPARSE_OPTION = re.compile(r"""add_argument\(\s*["'](--[\w-]+)["']""")
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
    args = bool(ARGV.search(program.text))
    options = ARGPARSE_OPTION.findall(program.text)
    wanted = "{tracker_port}" if role == "tracker" else "{tracker_ip} {tracker_port}"
    if role == "tracker" and "--port" in options:
        arguments, why = " --port {tracker_port}", "takes the port as --port"
    else:
        arguments = f" {wanted}" if args else ""
        why = "reads its arguments" if args else "reads no command-line argument"
    if program.language == "python":
        return f"python3 {relative}{arguments}", why
    if program.language == "java":
        return f"java -Xmx64m -cp classes {program.path.stem}{arguments}", f"{why}; compiled into classes/"
    return f"./{_binary(folder, program.path.stem)}{arguments}", f"{why}; built by the build command"


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
    ips = sorted({m.group("ip") for m in IPV4.finditer(user.text)} - {"0.0.0.0", "127.0.0.1"})
    ports = sorted({m.group("port") for m in BOUND_PORT.finditer(tracker.text)})
    if not ips and not ports:
        return
    out.lines.append("network:")
    out.lines.append("  tracker:")
    if ips:
        out.key(f"    ip: {ips[0]}", f"the user hard-codes the address {', '.join(ips)}")
    if ports:
        out.key(f"    port: {ports[0]}", f"the tracker binds the port {', '.join(ports)}")


def _startup(out: Guesses, user: Program) -> None:
    prompts = [m.group("prompt") for m in PROMPT.finditer(user.text)]
    if not prompts:
        return
    out.note(f"the user asks with input(): {'; '.join(repr(p) for p in prompts[:6])}")
    out.lines.append("startup:")
    out.lines.append("  user:")
    for prompt in prompts[:3]:
        out.key(f"    - {{expect: {_yaml('^' + re.escape(prompt.strip()))}, send: \"{{handle}}\"}}",
                "a start-up prompt: answer it with what it asks for ({handle}, {ip}, {ports}, ...)")


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


def _yaml(text: str) -> str:
    """A YAML scalar for `text` (quoted when needed)."""
    return text if re.fullmatch(r"[A-Za-z0-9_./{} -]+", text) and not text.startswith(("{", "-")) \
        else '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
