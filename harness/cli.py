"""The `tweeter-harness` command line: grade, check, rejudge, validate, schema, gradescope-bundle.

Exit status: 0 every graded submission has full marks; 1 points were lost; 2 usage, spec, manifest
or harness error (with a one-line reason on stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from harness.batch import GradeOptions, Suite, grade_all
from harness.errors import HarnessError, InputFileError
from harness.gradescope_bundle import build_bundle
from harness.inputs.manifest import MANIFEST_NAME
from harness.inputs.scenario import load_suite
from harness.inputs.schema import dumps, manifest_schema, scenario_schema
from harness.inputs.submissions import Submission, discover, loose_files
from harness.inputs.template import template
from harness.inputs.validate import validate_paths
from harness.judge.grading import SubmissionGrade
from harness.net import mode as network_mode
from harness.reports import files as report
from harness.rejudge import rejudge
from harness.reports import terminal

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


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tweeter-harness", description="Grade Tweeter socket-project "
                                     "submissions by driving their tracker and users.")
    sub = parser.add_subparsers(dest="command", required=True)
    grade = sub.add_parser("grade", help="grade submission folders (or folders of them)")
    grade.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    check = sub.add_parser("check", help="self-check one submission with readable explanations")
    check.add_argument("path", nargs="?", type=Path, default=Path("."), metavar="PATH")
    for command in (grade, check):
        command.add_argument("--specs", action="append", type=Path, metavar="PATH",
                             help="scenario file or folder (repeatable; default: the bundled specs)")
        command.add_argument("--jobs", type=_positive_int, default=os.cpu_count() or 1,
                             help="scenarios run in parallel (default: number of cores)")
        command.add_argument("--out", type=Path, default=Path("grading-results"),
                             help="folder for reports and transcripts (default: ./grading-results)")
        command.add_argument("--step-timeout", type=float, default=None,
                             help="seconds per step, overriding the scenarios' and the manifests' own")
        command.add_argument("--max-step-timeout", type=float, default=60.0, metavar="SECONDS",
                             help="the most a manifest's `timeouts: {step}` may ask for (default 60)")
        command.add_argument("--max-scenario-timeout", type=float, default=600.0, metavar="SECONDS",
                             help="the most a manifest's `timeouts: {scenario}` may ask for (default 600)")
        command.add_argument("--max-build-timeout", type=float, default=600.0, metavar="SECONDS",
                             help="the most a manifest's `timeouts: {build}` may ask for (default 600)")
        command.add_argument("--quiet", action="store_true", help="no progress display")
        command.add_argument("--verbose", action="store_true",
                             help="also print each failure's explanation as soon as it happens")
        limits = command.add_argument_group("limits for submission processes (defaults in README)")
        for name, what in LIMIT_OPTIONS.items():
            limits.add_argument(f"--{name.replace('_', '-')}", dest=f"limit_{name}", type=_positive_int,
                                metavar="N", help=what)
        command.add_argument("--network", choices=network_mode.MODES, default="auto",
                             help="hosts: every program on a host of its own on a virtual LAN per scenario, "
                                  "every packet captured and judged (needs root and iproute2); loopback: all "
                                  "on this machine's loopback; auto (default): hosts where it can be built")
        command.add_argument("--isolate-network", dest="network", action="store_const", const="hosts",
                             help=argparse.SUPPRESS)  # the earlier name of --network hosts
        command.add_argument("--keep-work", action="store_true",
                             help="keep each scenario's working copy (its path is in harness.log) to debug a "
                                  "submission; by default every copy is removed when its scenario ends")
        limits.add_argument("--same-user", action="store_true",
                            help="when run as root, do not give each scenario an unprivileged user "
                                 "of its own (the process limit then does not bind)")
    rejudge = sub.add_parser("rejudge", help="judge a finished grading run again from its saved records, "
                             "without running anything, and rewrite its reports")
    rejudge.add_argument("out", type=Path, metavar="OUT_DIR", help="the --out folder of a `grade` run")
    rejudge.add_argument("--specs", action="append", type=Path, metavar="PATH",
                         help="scenario file or folder (repeatable; default: the files the run was graded with)")
    template = sub.add_parser("manifest-template", help="write a commented tweeter.yaml for a submission, "
                              "guessed from its files (every guess marked)")
    template.add_argument("path", type=Path, metavar="SUBMISSION")
    template.add_argument("-o", "--output", type=Path, default=None,
                          help="where to write it (default: SUBMISSION/tweeter.yaml; - for standard output)")
    template.add_argument("--force", action="store_true", help="replace an existing tweeter.yaml")
    validate = sub.add_parser("validate", help="check scenario files and submissions' manifests, all at once: "
                              "one line per problem (file:line:column), exit 1 if any")
    validate.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                          help="spec file or folder (all of them are one suite), tweeter.yaml, or submission folder")
    bundle = sub.add_parser("gradescope-bundle", help="build an autograder.zip for Gradescope")
    bundle.add_argument("--specs", action="append", type=Path, metavar="PATH",
                        help="scenario file or folder (repeatable; default: the bundled specs)")
    bundle.add_argument("-o", "--output", type=Path, default=Path("autograder.zip"))
    bundle.add_argument("--with-reference", action="store_true",
                        help="also put the model answer (reference/) in the zip, to try the autograder on it; "
                             "never given to students (default: left out)")
    bundle.add_argument("--network", choices=network_mode.MODES, default="auto",
                        help="the --network the autograder grades with (default: auto, which is hosts on "
                             "Gradescope, where it runs as root)")
    schema = sub.add_parser("schema", help="print the JSON Schema of scenarios or manifests")
    schema.add_argument("kind", choices=("scenario", "manifest"))
    return parser


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
                           network=network,
                           limits={name: getattr(args, f"limit_{name}") for name in LIMIT_OPTIONS})
    progress = Progress(submissions, len(suite), args.out, verbosity=0 if args.quiet else 1 + args.verbose,
                        network={"mode": network.mode, "reason": network.reason})
    stop = threading.Event()
    with stop_on_signals(stop):
        grades = grade_all(submissions, suite, options, progress=progress.scenario_done, stop=stop)
    progress.close()
    report.write_batch(grades, args.out)
    if stop.is_set():
        print(f"tweeter-harness: interrupted; results graded so far are in {args.out}/ (marked incomplete)",
              file=sys.stderr)
    return grades


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
    """Shows progress, and writes each submission's report as soon as its last scenario is done."""

    def __init__(self, submissions: list, scenarios: int, out: Path, verbosity: int, network: dict) -> None:
        self.per_submission = scenarios
        self.network = network
        self.done: dict[str, list] = {s.name: [] for s in submissions}
        self.out = out
        self.verbosity = verbosity
        self.bar = terminal.ProgressBar(len(submissions) * scenarios) if verbosity > 0 else None
        self.lock = threading.Lock()

    def scenario_done(self, submission, result) -> None:
        with self.lock:
            self.done[submission.name].append(result)
            if self.bar:
                self.bar.advance(submission.name, result)
            if self.verbosity > 1 and result.status != "passed":
                print(f"\n=== {submission.name} / {result.id} [{result.status}] ===\n{result.message}\n",
                      file=sys.stderr, flush=True)
            if len(self.done[submission.name]) == self.per_submission:
                report.write_submission(SubmissionGrade(submission.name, str(submission.path),
                                                        self.done[submission.name], network=self.network), self.out)

    def close(self) -> None:
        if self.bar:
            self.bar.close()


def _exit_status(grades: list) -> int:
    """2 when any entry could not be graded (not a submission, a failed build, interrupted)."""
    if any(g.status != "graded" or g.error for g in grades):
        return EXIT_ERROR
    return EXIT_OK if all(g.full_marks for g in grades) else EXIT_POINTS_LOST


def cmd_grade(args: argparse.Namespace) -> int:
    grades = _grade(args, args.paths)
    terminal.print_summary(grades)
    print(f"\nReports written to {args.out}/")
    return _exit_status(grades)


def cmd_check(args: argparse.Namespace) -> int:
    grades = _grade(args, [args.path])
    for grade in grades:
        terminal.print_check(grade)
    return _exit_status(grades)


def cmd_rejudge(args: argparse.Namespace) -> int:
    grades = rejudge(args.out, args.specs)
    terminal.print_summary(grades)
    print(f"\nReports rewritten in {args.out}/")
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
