"""The reference scores full marks on the public specs, and report.json keeps its contract."""

from __future__ import annotations

from tests.conftest import ROOT

REPORT_KEYS = {"submission", "score", "max_score", "scenarios"}
SCENARIO_KEYS = {"id", "name", "file", "score", "max_score", "status", "duration_s", "message", "checks"}


def test_reference_scores_100_on_the_public_specs(grade):
    graded = grade(ROOT / "reference", extra=("--jobs", "2"))
    report = graded.report("reference")
    failures = {s["id"]: s["message"] for s in report["scenarios"] if s["status"] != "passed"}
    assert failures == {}
    assert graded.status == 0
    assert (report["score"], report["max_score"]) == (100, 100)
    assert REPORT_KEYS <= set(report)
    for scenario in report["scenarios"]:
        assert SCENARIO_KEYS <= set(scenario)
        assert scenario["checks"] and all(c["status"] in ("passed", "skipped") for c in scenario["checks"])
    ring = graded.scenario("reference", "tweet_ring_order")
    hosts = report["network"]["mode"] == "hosts"  # auto: hosts wherever a virtual LAN can be built
    evidence = [c["message"] for c in ring["checks"] if c["name"].startswith("followers receive")]
    assert evidence == ["@alice -> @bob -> @carol -> @dave -> @erin -> @alice (evidence: "
                        + ("wire)" if hosts else "forwarding handles)")]
    transcripts = graded.out / "reference" / "transcripts" / "tweet_ring_order"
    assert {p.name for p in transcripts.iterdir()} >= {"tracker.log", "alice.log", "trace.jsonl", "record.json",
                                                       *(["capture.pcap"] if hosts else [])}
    assert "100/100" in graded.output
