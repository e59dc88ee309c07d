"""The `tweeter-harness` command line: grade, check, rejudge, validate, schema, gradescope-bundle.

Exit status: 0 every graded submission has full marks; 1 points were lost; 2 usage, spec, manifest
or harness error (with a one-line reason on stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import NoReturn

from harness.batch import GradeOptions, Suite, grade_all, select_scenarios
from harness.errors import HarnessError, InputFileError
from harness.gradescope_bundle import build_bundle
from harness.inputs.manifest import MANIFEST_NAME
from harness.inputs.scenario import load_suite
from harness.inputs.schema import dumps, manifest_schema, scenario_schema
from harness.inputs.submissions import Submission, discover, loose_files
from harness.inputs.template import template
from harness.inputs.validate import validate_paths
from harness.judge.grading import FLAKY_RULES, ScenarioResult, SubmissionGrade
from harness.net import mode as network_mode
from harness.option_values import FAULTS_SYNTAX, faults, positive_int, positive_seconds, seed_value
from harness.reports import files as report
from harness.rejudge import rejudge
from harness.reports import terminal
from harness.run.sandbox import Limits

EXIT_OK, EXIT_POINTS_LOST, EXIT_ERROR = 0, 1, 2
LIMIT_OPTIONS = {
    "cpu_seconds": "CPU seconds per process",
    "memory_mb": "address space per process, MiB",
    "processes": "processes per scenario",
    "file_size_mb": "largest file a process may write, MiB",
    "open_files": "open files per process",
    "output_kb": "output kept per process, KiB (the rest is counted)",
}


def default_specs() -> Path:
    """The public specs: `specs/` beside the package in a checkout, or the copy installed with it."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "specs", here / "bundled_specs"):
        if candidate.is_dir() and any(candidate.glob("*.yaml")):
            return candidate
    raise HarnessError("no bundled specs found; pass --specs PATH")


BUNDLED_SUITES = ("robustness",)  # folders of the bundled specs a --specs value may name by itself


def spec_path(text: str) -> Path:
    """A --specs value: a scenario file or folder, or the name of a suite bundled with the harness
    (`robustness`: the opt-in scenarios under network faults) when no such path exists here."""
    path = Path(text)
    if not path.exists() and text in BUNDLED_SUITES:
        return default_specs() / text
    return path


class Parser(argparse.ArgumentParser):
    """Usage mistakes cost one line (which option, what is wrong), not a screen of usage; subcommands
    use this class too (argparse gives sub-parsers the class of their parent)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with its default, unless the help says it already."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.default in (None, False):
            return text
        return super()._get_help_string(action)


def check_out_folder(submission: Path) -> Path:
    """Where `check` writes by default: a folder of the user's cache per submission folder (its name
    and a hash of its absolute path), never inside the submission itself, which the student hands in."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    absolute = submission.resolve()
    digest = hashlib.sha256(str(absolute).encode()).hexdigest()[:8]
    return cache / "tweeter-harness" / "check" / f"{absolute.name or 'root'}-{digest}"


def _add_grading_options(command: argparse.ArgumentParser, out_help: str, out_default: Path | None) -> None:
    """The options `grade` and `check` share."""
    command.add_argument("--specs", action="append", type=spec_path, metavar="PATH",
                         help="scenario file or folder, or `robustness` for the bundled robustness suite "
                         "(repeatable; default: the bundled public specs)")
    command.add_argument("-k", "--scenario", action="append", dest="scenarios", metavar="PATTERN",
                         help="run only the scenarios whose id matches: a glob (`register_*`), or, without "
                              "* ? [, any id containing PATTERN (repeatable; default: every scenario). The "
                              "scores are out of the chosen scenarios' points")
    command.add_argument("--jobs", type=positive_int, default=os.cpu_count() or 1, metavar="N",
                         help="scenarios run in parallel (default: the number of cores, %(default)s here)")
    command.add_argument("--out", type=Path, default=out_default, metavar="DIR", help=out_help)
    command.add_argument("--step-timeout", type=positive_seconds, default=None, metavar="SECONDS",
                         help="seconds per step, overriding the scenarios' and the manifests' own "
                              "(default: each scenario's own)")
    for name, default in (("step", 60.0), ("scenario", 600.0), ("build", 600.0)):
        command.add_argument(f"--max-{name}-timeout", type=positive_seconds, default=default, metavar="SECONDS",
                             help=f"the most a manifest's `timeouts: {{{name}}}` may ask for")
    command.add_argument("--repeat", type=positive_int, default=1, metavar="N",
                         help="run every (submission, scenario) N times, each run judged on its own with a seed "
                              "of its own; a scenario whose runs disagree is marked flaky (default: 1)")
    command.add_argument("--replay", type=seed_value, default=None, metavar="SEED",
                         help="give every run this seed, from a report's runs, to run it again "
                              "(default: seeds counted up from a base drawn for the grading run)")
    command.add_argument("--flaky", choices=FLAKY_RULES, default=FLAKY_RULES[0],
                         help="points of a flaky scenario: majority, the most common verdict's (ties: the "
                              "lower points); min, the lowest (default: majority)")
    command.add_argument("--quiet", action="store_true", help="no progress display (default: progress shown)")
    command.add_argument("--verbose", action="store_true",
                         help="also print each failure's explanation as soon as it happens (default: off)")
    command.add_argument("--network", choices=network_mode.MODES, default="auto",
                         help="hosts: every program on a host of its own on a virtual LAN per scenario, "
                              "every packet captured and judged (needs root and iproute2); loopback: all "
                              "on this machine's loopback; auto: hosts where it can be built")
    command.add_argument("--faults", type=faults, default=None, metavar="SPEC",
                         help="network faults for every scenario, replacing their own `faults:` (hosts mode "
                              f"only), e.g. {FAULTS_SYNTAX}; the same seed gives the same faults "
                              "(default: each scenario's own, if any)")
    command.add_argument("--isolate-network", dest="network", action="store_const", const="hosts",
                         help=argparse.SUPPRESS)  # the earlier name of --network hosts
    command.add_argument("--keep-work", action="store_true",
                         help="keep each scenario's working copy (its path is in harness.log) to debug a "
                              "submission (default: every copy is removed when its scenario ends)")
    limits = command.add_argument_group("limits for submission processes (the grader's value wins over "
                                        "a manifest's)")
    defaults = Limits()
    for name, what in LIMIT_OPTIONS.items():
        limits.add_argument(f"--{name.replace('_', '-')}", dest=f"limit_{name}", type=positive_int,
                            metavar="N", help=f"{what} (default: {getattr(defaults, name)}, or the manifest's)")
    limits.add_argument("--same-user", action="store_true",
                        help="when run as root, do not give each scenario an unprivileged user "
                             "of its own (the process limit then does not bind; default: a user of its own)")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="tweeter-harness", formatter_class=HelpFormatter,
                    description="Grade Tweeter socket-project submissions by driving their tracker and users.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}",
                        help="print the harness's version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, description=help_text, formatter_class=HelpFormatter)

    grade = command("grade", "grade submission folders (or folders of them)")
    grade.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                       help="a submission folder or archive, or a folder of them (a class)")
    _add_grading_options(grade, "folder for reports and transcripts", Path("grading-results"))
    check = command("check", "self-check one submission with readable explanations")
    check.add_argument("path", nargs="?", type=Path, default=Path("."), metavar="PATH",
                       help="the submission folder (default: the current folder)")
    _add_grading_options(check, "folder for reports and transcripts (default: "
                         "~/.cache/tweeter-harness/check/<folder name>-<hash>, outside the submission)", None)
    rejudge = command("rejudge", "judge a finished grading run again from its saved records, "
                      "without running anything, and rewrite its reports")
    rejudge.add_argument("out", type=Path, metavar="OUT_DIR", help="the --out folder of a `grade` run")
    rejudge.add_argument("--specs", action="append", type=spec_path, metavar="PATH",
                         help="scenario file or folder (repeatable; default: the files the run was graded with)")
    rejudge.add_argument("--flaky", choices=FLAKY_RULES, default=None,
                         help="score flaky scenarios by this rule instead (default: the rule they were graded with)")
    template = command("manifest-template", "write a commented tweeter.yaml for a submission, "
                       "guessed from its files (every guess marked)")
    template.add_argument("path", type=Path, metavar="SUBMISSION", help="the submission folder")
    template.add_argument("-o", "--output", type=Path, default=None,
                          help="where to write it (default: SUBMISSION/tweeter.yaml; - for standard output)")
    template.add_argument("--force", action="store_true", help="replace an existing tweeter.yaml (default: keep it)")
    validate = command("validate", "check scenario files and submissions' manifests, all at once: "
                       "one line per problem (file:line:column), exit 1 if any")
    validate.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                          help="spec file or folder (all of them are one suite), tweeter.yaml, or submission folder")
    bundle = command("gradescope-bundle", "build an autograder.zip for Gradescope")
    bundle.add_argument("--specs", action="append", type=spec_path, metavar="PATH",
                        help="scenario file or folder, or `robustness` for the bundled robustness suite "
                        "(repeatable; default: the bundled public specs)")
    bundle.add_argument("-o", "--output", type=Path, default=Path("autograder.zip"), help="the zip to write")
    bundle.add_argument("--with-reference", action="store_true",
                        help="also put the model answer (reference/) in the zip, to try the autograder on it; "
                             "never given to students (default: left out)")
    bundle.add_argument("--network", choices=network_mode.MODES, default="auto",
                        help="the --network the autograder grades with (auto is hosts on Gradescope, where "
                             "it runs as root)")
    schema = command("schema", "print the JSON Schema of scenarios or manifests")
    schema.add_argument("kind", choices=("scenario", "manifest"), help="which schema")
    return parser


def _version() -> str:
    try:
        return metadata.version("tweeter-harness")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except InputFileError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return EXIT_ERROR
    except HarnessError as exc:
        print(f"tweeter-harness: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("tweeter-harness: interrupted", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # a harness bug: one line, and the traceback only on request
        if os.environ.get("TWEETER_HARNESS_DEBUG"):
            raise
        print(f"tweeter-harness: internal error: {type(exc).__name__}: {exc} "
              "(set TWEETER_HARNESS_DEBUG=1 for the traceback, and please report it)", file=sys.stderr)
        return EXIT_ERROR


def _grade(args: argparse.Namespace, paths: list[Path]) -> list[SubmissionGrade]:
    """Grade, writing each submission's report as soon as it is complete; on SIGINT or SIGTERM stop,
    kill every child, and write what was graded so far, marked incomplete."""
    suite = load_suite(args.specs or [default_specs()])
    if args.scenarios:
        suite = select_scenarios(suite, args.scenarios)
    with tempfile.TemporaryDirectory(prefix=f"tweeter-unpacked-{os.getpid()}-") as unpacked:
        submissions = discover(paths, Path(unpacked), skip=(args.out,))
        loose = [f.name for path in paths for f in loose_files(path)]
        if loose:
            print(f"tweeter-harness: passed over {len(loose)} file(s) that are neither submission folders nor "
                  f"archives: {', '.join(loose)}", file=sys.stderr)
        return _grade_found(args, suite, submissions)


def _grade_found(args: argparse.Namespace, suite: Suite, submissions: list[Submission]) -> list[SubmissionGrade]:
    network = network_mode.choose(args.network)
    options = GradeOptions(jobs=args.jobs, step_timeout=args.step_timeout, separate_user=not args.same_user,
                           max_step_timeout=args.max_step_timeout, max_scenario_timeout=args.max_scenario_timeout,
                           max_build_timeout=args.max_build_timeout, keep_work=args.keep_work,
                           network=network, faults=args.faults, repeat=args.repeat, replay=args.replay,
                           flaky=args.flaky,
                           limits={name: getattr(args, f"limit_{name}") for name in LIMIT_OPTIONS})
    if options.repeated:
        print(f"tweeter-harness: {_seeds_line(options)}", file=sys.stderr)
    progress = Progress(len(submissions), len(suite), args.out, verbosity=0 if args.quiet else 1 + args.verbose,
                        repeat=options.repeat if options.repeated else None)
    stop = threading.Event()
    try:
        with stop_on_signals(stop):
            grades = grade_all(submissions, suite, options, progress=progress.scenario_done, stop=stop,
                               finished=progress.submission_done)
    finally:
        progress.close()
    report.write_batch(grades, args.out)
    if stop.is_set():
        print(f"tweeter-harness: interrupted; results graded so far are in {args.out}/ (marked incomplete)",
              file=sys.stderr)
    return grades


def _seeds_line(options: GradeOptions) -> str:
    """Which seeds the runs get, said once, so that any run can be replayed."""
    runs = f"{options.repeat} run(s) of every scenario"
    if options.replay is not None:
        return f"{runs}, every one with seed {options.replay} (--replay)"
    return (f"{runs}, run k with seed {options.seed_base} + k - 1 (a scenario's own faults.seed replaces "
            f"{options.seed_base}); replay one with --replay SEED; flaky scenarios scored by {options.flaky}")


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set `stop` (running scenarios end and clean up); a second Ctrl+C is fatal."""
    def handler(signum: int, frame: object) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class Progress:
    """Shows progress, and writes each submission's report as soon as its last scenario is done
    (a long class run leaves finished reports behind even if it is stopped)."""

    def __init__(self, submissions: int, scenarios: int, out: Path, verbosity: int, repeat: int | None = None) -> None:
        self.out = out
        self.verbosity = verbosity
        self.repeat = repeat  # runs per scenario, when each run is recorded with its seed
        self.display = terminal.BatchProgress(submissions * scenarios * (repeat or 1), submissions,
                                              unit="runs" if repeat else "scenarios") if verbosity > 0 else None
        self.lock = threading.Lock()

    def scenario_done(self, submission: Submission, result: ScenarioResult) -> None:
        with self.lock:
            if self.display:
                self.display.scenario_done(result)
                if self.verbosity > 1 and result.status != "passed":
                    seed = f", seed {result.seed}" if self.repeat else ""
                    self.display.note(f"\n=== {submission.name} / {result.id} [{result.status}{seed}] ===\n"
                                      f"{result.message}\n")

    def submission_done(self, grade: SubmissionGrade) -> None:
        with self.lock:
            report.write_submission(grade, self.out)
            if self.display:
                self.display.submission_done(grade)

    def close(self) -> None:
        if self.display:
            self.display.close()


def _exit_status(grades: list) -> int:
    """2 when any entry could not be graded (not a submission, a failed build, interrupted)."""
    if any(g.status != "graded" or g.error for g in grades):
        return EXIT_ERROR
    return EXIT_OK if all(g.full_marks for g in grades) else EXIT_POINTS_LOST


def cmd_grade(args: argparse.Namespace) -> int:
    grades = _grade(args, args.paths)
    terminal.print_summary(grades)
    print(f"\nReports written to {args.out}/")
    print(f"Class page: {args.out / report.CLASS_PAGE}")
    return _exit_status(grades)


def cmd_check(args: argparse.Namespace) -> int:
    """A student's self-check; reports go outside the submission (it is handed in), and the last
    line is where the full report is, to open in a browser."""
    if args.out is None:
        args.out = check_out_folder(args.path)
    grades = _grade(args, [args.path])
    for grade in grades:
        terminal.print_check(grade)
    for grade in grades:
        print("\nThe full report, to open in a browser:")
        print((args.out / report.safe_name(grade.submission) / "report.html").resolve())
    return _exit_status(grades)


def cmd_rejudge(args: argparse.Namespace) -> int:
    grades = rejudge(args.out, args.specs, args.flaky)
    terminal.print_summary(grades)
    print(f"\nReports rewritten in {args.out}/")
    print(f"Class page: {args.out / report.CLASS_PAGE}")
    return _exit_status(grades)


def cmd_validate(args: argparse.Namespace) -> int:
    findings = validate_paths(args.paths)
    for problem in findings.problems:
        print(problem)
    print(findings.summary())
    return findings.exit_status


def cmd_manifest_template(args: argparse.Namespace) -> int:
    if not args.path.is_dir():
        raise HarnessError(f"{args.path}: no such folder")
    text = template(args.path)
    if str(args.output) == "-":
        sys.stdout.write(text)
        return EXIT_OK
    target = args.output or args.path / MANIFEST_NAME
    if target.exists() and not args.force:
        raise HarnessError(f"{target} exists; pass --force to replace it, or -o - to print the template")
    target.write_text(text, encoding="utf-8")
    print(f"{target}: written; check every `# guess:` against the code, then run "
          f"`tweeter-harness validate {args.path}`")
    return EXIT_OK


def cmd_gradescope_bundle(args: argparse.Namespace) -> int:
    specs = args.specs or [default_specs()]
    load_suite(specs)  # refuse to bundle specs that would not validate
    names = build_bundle(specs, args.output, args.network, args.with_reference)
    print(f"{args.output}: setup.sh, run_autograder, the harness and {len(names)} scenario file(s). "
          "Upload it as the autograder of a Gradescope programming assignment.")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    sys.stdout.write(dumps(scenario_schema() if args.kind == "scenario" else manifest_schema()))
    return EXIT_OK


COMMANDS = {"grade": cmd_grade, "check": cmd_check, "rejudge": cmd_rejudge, "validate": cmd_validate,
            "manifest-template": cmd_manifest_template,
            "gradescope-bundle": cmd_gradescope_bundle, "schema": cmd_schema}
