"""Run scenario files as pytest tests: each `specs/*.yaml` scenario is one test item.

Installed with the harness (entry point `pytest11: tweeter_harness`), so it needs no conftest:

    pytest specs/ --submission=PATH            # every scenario against the submission in PATH
    pytest specs/                              # against the submission in the current folder
    pytest specs/ --submission=PATH -k query   # scenarios whose id contains "query"
    pytest specs/ --submission=PATH -m ring    # scenarios tagged `ring`
    pytest specs/register_new.yaml --submission=PATH --step-timeout=20
    pytest specs/ --submission=PATH --junitxml=results.xml  # <id>.score, .max_score, .status per scenario

Options:
    --submission=PATH        a submission folder (tracker.py and user.py, or a tweeter.yaml);
                             default: the folder pytest is started in
    --step-timeout=SECONDS   seconds per step, overriding the scenarios' own
    --network=MODE           auto (default), hosts or loopback, as for `tweeter-harness grade`
    --faults=SPEC            network faults for every scenario (hosts mode), as for `tweeter-harness grade`

Write these options with `=`. pytest chooses its rootdir and ini file before it knows a plugin's
options, so in `--submission PATH` the PATH also counts as a test path for that choice: an ini
file above the submission (or a rootdir that is their common ancestor) may then be used. The run
and its verdicts are the same; only the rootdir, configuration and test ids can differ.

What is collected: `*.yaml` files, other than `tweeter.yaml` manifests, whose top level is a mapping
with `steps` and `users` keys; the item's name is the scenario id (the file name without .yaml), and
the scenario's tags are markers. Every other file is left alone, so ordinary test runs are unaffected.

Verdicts are the CLI's (`tweeter-harness grade`): the same runner and judge (harness.batch.run_scenario),
with the CLI's default limits and sandbox. A failing item's report is the harness's explanation
(numbered steps, expected vs. seen, last lines of each process), not a traceback; `error` (the
submission could not be run) fails too. A scenario file that does not validate fails with the
harness's `file:line: ...` problems. Every scenario runs; one whose preparing steps failed
(`blocked`) is skipped with the reason. Scenarios named in `depends_on` run first (the order is
otherwise kept), and a failure whose dependency failed in the same session says it is probably the
same cause; a dependency that was not collected or was deselected is ignored. Dependencies are
tracked within one pytest process, so do not spread scenarios over pytest-xdist workers.

Scenarios run one at a time in the pytest process. Ctrl+C stops the running scenario the way the
CLI does: the runner is told to stop, kills every process it started, and pytest then ends.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _pytest import junitxml  # its LogXML holds the testsuite properties (what record_testsuite_property uses)

from harness.option_values import FAULTS_SYNTAX, faults, positive_seconds

# The harness itself is imported only when a scenario file is met: this module is loaded by every
# pytest run in an environment where the harness is installed, and should cost those runs nothing.
if TYPE_CHECKING:
    from harness.inputs.dialect import Dialect
    from harness.judge.grading import ScenarioResult
    from harness.net.mode import NetworkChoice
    from harness.inputs.scenario import Faults, Scenario
    from harness.inputs.yaml_source import LocatedYaml

MANIFEST_NAME = "tweeter.yaml"  # harness.inputs.manifest.MANIFEST_NAME
CLEANUP_WAIT_S = 30.0  # after Ctrl+C, how long to wait for the runner to kill its processes
# Markers that change how pytest runs a test: a tag of that name is kept as a keyword (for -k) only.
RESERVED_MARKERS = frozenset({"skip", "skipif", "xfail", "parametrize", "usefixtures", "filterwarnings",
                              "tryfirst", "trylast", "timeout"})
TOP_LEVEL_KEY = re.compile(r"^(steps|users)\s*:", re.MULTILINE)

_submission_key = pytest.StashKey["tuple[Path, Dialect | str] | None"]()
_outcomes_key = pytest.StashKey["dict[str, bool]"]()  # scenario id -> passed, for depends_on
_tags_key = pytest.StashKey["set[str]"]()
_network_key = pytest.StashKey["NetworkChoice"]()


# -- options --------------------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tweeter-harness", "Tweeter scenario files (specs/*.yaml) as tests")
    group.addoption("--submission", metavar="PATH", default=None,
                    help="submission folder the scenario files run against (tracker.py and user.py, "
                         "or a tweeter.yaml); default: the current folder")
    group.addoption("--network", choices=("auto", "hosts", "loopback"), default="auto",
                    help="hosts: every program on a host of its own on a virtual LAN, every packet captured "
                         "(root); loopback: this machine's loopback; auto (default): hosts where possible")
    group.addoption("--step-timeout", metavar="SECONDS", type=positive_seconds, default=None,
                    help="seconds per scenario step, overriding the scenarios' own")
    group.addoption("--faults", metavar="SPEC", type=faults, default=None,
                    help=f"network faults for every scenario, replacing their own (hosts mode), e.g. {FAULTS_SYNTAX}")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_outcomes_key] = {}
    config.stash[_tags_key] = set()
    config.stash[_submission_key] = None


# -- collection -----------------------------------------------------------------------------------
def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix != ".yaml" or file_path.name == MANIFEST_NAME:
        return None
    from harness.inputs import yaml_source
    from harness.errors import InputFileError
    try:
        source: LocatedYaml | None = yaml_source.load(file_path)
    except InputFileError:  # unreadable or not YAML: a scenario only if it plainly tries to be one
        source = None
        if not _looks_like_scenario_text(file_path):
            return None
    else:
        if not (isinstance(source.data, dict) and {"steps", "users"} <= source.data.keys()):
            return None
    node = ScenarioFile.from_parent(parent, path=file_path)
    node.source = source
    return node


def _looks_like_scenario_text(path: Path) -> bool:
    from harness.inputs.yaml_source import MAX_FILE_BYTES
    try:
        with path.open("rb") as stream:
            text = stream.read(MAX_FILE_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return False
    return {match.group(1) for match in TOP_LEVEL_KEY.finditer(text)} == {"steps", "users"}


class ScenarioFile(pytest.File):
    """One scenario file; it collects exactly one item, named by the scenario id."""

    source: LocatedYaml | None = None

    def collect(self):
        from harness.inputs import yaml_source
        from harness.errors import InputFileError
        from harness.inputs.scenario import Scenario
        scenario: Scenario | None = None
        problems: list[str] = []
        try:
            source = self.source or yaml_source.load(self.path)
            scenario = yaml_source.validate(source, Scenario, "scenario")  # as harness.inputs.scenario.load_scenario
        except InputFileError as exc:
            shown = _shown(self.path, self.config)
            problems = [problem.replace(str(self.path), shown, 1) for problem in exc.problems]
        item = ScenarioItem.from_parent(self, name=self.path.stem, scenario=scenario, problems=problems)
        if scenario is not None:
            item.depends_on_line = source.line_of(("depends_on",))
        yield item


class ScenarioItem(pytest.Item):
    """One scenario run against the session's submission."""

    def __init__(self, *, scenario: Scenario | None, problems: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.problems = problems
        self.depends_on_line = 1
        if scenario is not None:
            self._mark(scenario.tags)
            self._properties(0.0, "not run")

    @property
    def scenario_id(self) -> str:
        return self.name

    @property
    def depends_on(self) -> list[str]:
        return list(self.scenario.depends_on) if self.scenario is not None else []

    def _mark(self, tags: list[str]) -> None:
        seen = self.config.stash[_tags_key]
        for tag in tags:
            if tag in RESERVED_MARKERS or tag.startswith("_"):
                self.extra_keyword_matches.add(tag)
                continue
            if tag not in seen:
                seen.add(tag)
                self.config.addinivalue_line("markers", f"{tag}: Tweeter scenarios tagged `{tag}`")
            self.add_marker(tag)

    def runtest(self) -> None:
        from harness.judge import grading
        outcomes = self.config.stash[_outcomes_key]
        outcomes[self.scenario_id] = False
        if self.problems:
            self._properties(0.0, "error")
            raise ScenarioNotRun("\n".join(self.problems))
        assert self.scenario is not None
        submission, dialect = _submission(self.config)
        if isinstance(dialect, str):
            result = grading.errored(self.scenario_id, self.path, self.scenario, dialect)
        else:
            result = run_scenario(submission, dialect, self.scenario_id, self.path, self.scenario,
                                  self.config.getoption("step_timeout"), _network(self.config),
                                  self.config.getoption("faults"))
        self._properties(result.score, result.status)
        outcomes[self.scenario_id] = result.status == "passed"
        grading.link_failures([result], {self.scenario_id: self.depends_on},
                              {dep for dep in self.depends_on if outcomes.get(dep) is False})
        if result.status == "blocked":
            _skip_at_item(result.summary)
        if result.status != "passed":
            raise ScenarioFailed(result)

    def _properties(self, score: float, status: str) -> None:
        """`<id>.score`, `<id>.max_score` and `<id>.status` as properties of pytest's JUnit testsuite:
        the xunit2 form CI systems validate has properties at suite level only, never per testcase."""
        log = self.config.stash.get(junitxml.xml_key, None)
        if log is None:  # no --junitxml
            return
        log.add_global_property(f"{self.scenario_id}.score", _number(score))
        if self.scenario is not None:
            log.add_global_property(f"{self.scenario_id}.max_score", _number(self.scenario.points))
        log.add_global_property(f"{self.scenario_id}.status", status)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, (ScenarioFailed, ScenarioNotRun)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        title = f"{self.scenario_id}: {self.scenario.name}" if self.scenario else self.scenario_id
        return self.path, 0, title


class ScenarioFailed(Exception):
    """The scenario ran and failed, or could not be run (`error`): its explanation is the report."""

    def __init__(self, result: ScenarioResult) -> None:
        self.result = result
        super().__init__(result.message or f"scenario {result.status}")


class ScenarioNotRun(Exception):
    """The scenario file is invalid (file:line problems) or its depends_on loops."""


def _skip_at_item(reason: str) -> None:
    """Skip, reported at the scenario file rather than at this module's line."""
    try:
        raise pytest.skip.Exception(reason, _use_item_location=True)
    except TypeError:  # a pytest without the keyword
        pytest.skip(reason)


def _shown(path: Path, config: pytest.Config) -> str:
    """A path as the person typing the pytest command would write it (relative where it can be)."""
    try:
        return str(path.relative_to(config.invocation_params.dir))
    except ValueError:
        return str(path)


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 4)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    """Dependencies first, otherwise the order stays; check the submission once, before anything runs."""
    if not any(isinstance(item, ScenarioItem) for item in items):
        return
    items[:] = _dependency_order(items)
    if not config.option.collectonly:  # a bad --submission is a usage error before anything runs
        config.stash[_submission_key] = _resolve_submission(config)


def _dependency_order(items: list[pytest.Item]) -> list[pytest.Item]:
    by_id: dict[str, list[ScenarioItem]] = {}
    for item in items:
        if isinstance(item, ScenarioItem):
            by_id.setdefault(item.scenario_id, []).append(item)
    ordered: list[pytest.Item] = []
    state: dict[int, str] = {}

    def visit(item: pytest.Item, chain: list[ScenarioItem]) -> None:
        if state.get(id(item)) == "done":
            return
        if state.get(id(item)) == "active":
            assert isinstance(item, ScenarioItem)
            loop = chain[chain.index(item):]
            for start, member in enumerate(loop):
                if not member.problems:  # each file names the loop starting from itself
                    names = [other.scenario_id for other in loop[start:] + loop[:start + 1]]
                    where = f"{_shown(member.path, member.config)}:{member.depends_on_line}"
                    member.problems = [f"{where}: depends_on forms a loop: {' -> '.join(names)}"]
            return
        state[id(item)] = "active"
        if isinstance(item, ScenarioItem):
            for dependency in item.depends_on:
                for other in by_id.get(dependency, []):
                    visit(other, [*chain, item])
        state[id(item)] = "done"
        ordered.append(item)

    for item in items:
        visit(item, [])
    return ordered


# -- the submission -------------------------------------------------------------------------------
def default_submission(config: pytest.Config) -> Path:
    """The folder pytest was started in: a student runs `pytest specs/` in their own submission (the
    installed harness carries no model answer)."""
    from harness.inputs.submissions import DEFAULT_PROGRAMS, is_submission
    candidate = Path(config.invocation_params.dir).resolve()
    if not is_submission(candidate):
        raise pytest.UsageError(f"tweeter-harness: {candidate} is not a submission (no {MANIFEST_NAME}, no "
                                f"{' and '.join(DEFAULT_PROGRAMS)}); run pytest in your submission's folder, "
                                "or pass --submission=PATH")
    return candidate


def _resolve_submission(config: pytest.Config) -> tuple[Path, Dialect | str]:
    """The submission folder (built, if it has a build step) and its dialect, or the message every
    scenario errors with (as in harness.batch.grade_all: an invalid tweeter.yaml, a failed build)."""
    from harness.batch import GradeOptions, build, build_problem, prepare
    from harness.inputs.submissions import DEFAULT_PROGRAMS, Submission, is_submission
    option = config.getoption("submission")
    if option is None:
        folder = default_submission(config)
    else:
        folder = (config.invocation_params.dir / option).resolve()
        if not folder.is_dir():
            raise pytest.UsageError(f"--submission {option}: no such folder")
        if not is_submission(folder):
            raise pytest.UsageError(f"--submission {option}: not a submission (no {MANIFEST_NAME}, "
                                    f"no {' and '.join(DEFAULT_PROGRAMS)})")
    options = GradeOptions(jobs=1, network=_network(config))
    prepared = prepare(Submission(folder.name, folder), options)
    if prepared.needs_build and prepared.problem is None:
        prepared.build = build(prepared, options, threading.Event())
        config.add_cleanup(prepared.build.remove)
        prepared.problem = build_problem(prepared.build)
    if prepared.problem is not None or prepared.dialect is None:
        return folder, prepared.problem or "the submission could not be read"
    return prepared.folder, prepared.dialect


def _submission(config: pytest.Config) -> tuple[Path, Dialect | str]:
    resolved = config.stash[_submission_key]
    if resolved is None:  # items run without going through collection_modifyitems (unusual)
        resolved = config.stash[_submission_key] = _resolve_submission(config)
    return resolved


# -- running --------------------------------------------------------------------------------------
def _network(config: pytest.Config) -> NetworkChoice:
    """The network every scenario of the session runs on (chosen once, as the CLI does)."""
    from harness.errors import HarnessError
    from harness.net.mode import choose
    if _network_key not in config.stash:
        try:
            # inside someone's test session the process is theirs: it never becomes root of a namespace of its own
            config.stash[_network_key] = choose(config.getoption("network"), own_namespace=False)
        except HarnessError as exc:
            raise pytest.UsageError(f"tweeter-harness: {exc}") from None
    return config.stash[_network_key]


def run_scenario(submission: Path, dialect: Dialect, scenario_id: str, file: Path, scenario: Scenario,
                 step_timeout: float | None = None, network: NetworkChoice | None = None,
                 faults: Faults | None = None) -> ScenarioResult:
    """Run one scenario as `tweeter-harness grade` does (harness.batch.run_scenario, CLI defaults).

    The runner works in a thread while this one waits, so that Ctrl+C (or any exception raised here,
    such as a pytest-timeout failure) first stops the runner and lets it kill every process it
    started, then propagates.
    """
    from harness.batch import GradeOptions, run_scenario as run
    options = GradeOptions(jobs=1, step_timeout=step_timeout, faults=faults)
    if network is not None:
        options.network = network
    stop = threading.Event()
    box: dict[str, ScenarioResult] = {}

    def work() -> None:
        box["result"] = run(submission, dialect, scenario_id, file, scenario, options, stop)

    thread = threading.Thread(target=work, name=f"scenario-{scenario_id}", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.25)
    except BaseException:
        stop.set()
        _await_cleanup(thread)
        raise
    return box["result"]


def _await_cleanup(thread: threading.Thread) -> None:
    """Wait for the stopped runner to finish its cleanup; a second Ctrl+C does not cut it short."""
    deadline = time.monotonic() + CLEANUP_WAIT_S
    while thread.is_alive() and time.monotonic() < deadline:
        try:
            thread.join(0.25)
        except KeyboardInterrupt:
            continue
