"""--isolate-network: each scenario's processes see loopback only and cannot reach the host."""

from __future__ import annotations

import os
import shutil
import socket

import pytest

from harness.net import netns
from harness.errors import HarnessError
from tests.conftest import ROOT, SUBMISSIONS

needs_root = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                                reason="network namespaces need root and iproute2")

PROBE_SPEC = """name: network probe
points: 1
users: [alice]
steps:
  - expect: {at: alice, pattern: "^probe: "}
  - expect: {at: alice, pattern: "^probe: interfaces lo; host listener not reached"}
"""


@pytest.fixture
def probe(tmp_path):
    """The probe submission, pointed at a TCP listener on the host's loopback."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    folder = tmp_path / "net_probe"
    shutil.copytree(SUBMISSIONS / "net_probe", folder)
    (folder / "probe_port.txt").write_text(str(listener.getsockname()[1]))
    spec = tmp_path / "probe.yaml"
    spec.write_text(PROBE_SPEC)
    yield folder, spec
    listener.close()


def probe_result(grade, folder, spec, *extra):
    graded = grade(folder, extra=("--specs", str(spec), *extra))
    return graded.scenario("net_probe", "probe")


@needs_root
def test_isolated_scenario_sees_only_loopback_and_cannot_reach_the_host(grade, probe):
    scenario = probe_result(grade, *probe, "--isolate-network")
    assert scenario["status"] == "passed", scenario["message"]
    assert not [name for name in os.listdir("/run/netns") if name.startswith(f"tweeter-{os.getpid()}-")]


@needs_root
def test_without_isolation_the_same_probe_reaches_the_host(grade, probe):
    scenario = probe_result(grade, *probe)
    assert scenario["status"] == "failed"
    assert "host listener connected" in scenario["message"]


@needs_root
def test_reference_passes_with_isolated_network(grade):
    graded = grade(ROOT / "reference", specs=["register_new", "tweet_one_follower"],
                   extra=("--isolate-network",))
    assert graded.status == 0, graded.output
    assert graded.report("reference")["sandbox"]["network"].startswith("isolated")


def test_isolation_without_root_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(HarnessError, match="needs root"):
        netns.check_available()
