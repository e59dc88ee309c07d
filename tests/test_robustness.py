"""The robustness suite (specs/robustness/, `--specs robustness`): register, follow, a ring tweet and
exit under loss, under duplication and under delay with reordering, on a virtual LAN.

The reference retries, so it must pass every scenario of the suite in every run, whatever the seed;
the example that sends every datagram once (student_submissions/no_retries) must fail under loss, told
which datagram was lost for good, as the capture shows it.
"""

from __future__ import annotations

import base64
import json

import pytest

from harness.cli import default_specs
from harness.inputs.scenario import load_suite
from harness.net import mode
from tests.conftest import ROOT
from tests.test_faults import lost_for_good

needs_root = pytest.mark.skipif(mode.hosts_unavailable() is not None,
                                reason=f"hosts mode unavailable here: {mode.hosts_unavailable()}")
RUNS = 20
KINDS = ("loss", "duplicate", "delay")


def test_the_suite_asks_for_each_kind_of_fault_and_stays_out_of_the_public_points():
    robust = load_suite([default_specs() / "robustness"], require_dependencies=True)
    faults = {scenario_id.split("_")[0]: scenario.faults for scenario_id, (_, scenario) in robust.items()}
    assert set(faults) == set(KINDS)
    assert faults["loss"].loss == 0.2 and faults["duplicate"].duplicate > 0
    assert faults["delay"].delay_ms and faults["delay"].reorder
    public = load_suite([default_specs()])
    assert not set(public) & set(robust) and all(scenario.faults is None for _, scenario in public.values())


@needs_root
@pytest.mark.slow
def test_the_reference_passes_every_robustness_scenario_in_every_run(grade):
    graded = grade(ROOT / "reference", extra=("--specs", "robustness", "--network", "hosts",
                                              "--repeat", str(RUNS)))
    report = json.loads((graded.out / "reference" / "report.json").read_text())
    assert {scenario["id"].split("_")[0] for scenario in report["scenarios"]} == set(KINDS)
    for scenario in report["scenarios"]:
        runs = scenario["runs"]
        assert len(runs) == RUNS and not scenario["flaky"], (scenario["id"], scenario["pass_rate"])
        failed = [(run["seed"], run["cause"]) for run in runs if run["status"] != "passed"]
        assert not failed, (scenario["id"], failed)
        assert len({run["seed"] for run in runs}) == RUNS  # twenty different patterns of faults


@needs_root
def test_a_submission_without_retries_fails_under_loss_told_which_datagram_was_lost(grade):
    graded = grade(ROOT / "student_submissions" / "no_retries",
                   extra=("--specs", "robustness", "-k", "loss", "--network", "hosts"))
    [scenario] = json.loads((graded.out / "no_retries" / "report.json").read_text())["scenarios"]
    record = json.loads((graded.out / "no_retries" / "transcripts" / scenario["id"] / "record.json").read_text())
    assert scenario["status"] == "failed" and scenario["score"] == 0
    lost = lost_for_good(record)
    assert lost, "the suite's seed drops a datagram of this traffic that the example never sends again"
    first = lost[0]
    op = json.loads(base64.b64decode(first["payload"]))["op"]
    who = {name: "the tracker" if name == "tracker" else f"@{name}" for name in (first["src"], first["dst"])}
    named = (f"the {op} from {who[first['src']]} to {who[first['dst']]} at {first['t']:.3f} s was dropped "
             f"(loss, seed {record['seed']}) and never sent again")
    assert named in scenario["summary"], scenario["summary"]
