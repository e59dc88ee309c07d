"""LANs built ahead and removed behind (harness/net/lan_pool.py): a scenario takes a LAN that is
ready, named for its programs, whose hosts reach each other; nothing of any LAN outlives the session,
whether it was taken, given back, or built and never used."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness.net import lan_pool, mode
from harness.net.lan import LanShape, socket_on
from tests.conftest import our_namespaces

pytestmark = pytest.mark.skipif(mode.hosts_unavailable() is not None, reason=str(mode.hosts_unavailable()))

def test_a_session_hands_out_ready_lans_named_for_their_programs_and_leaves_nothing(tmp_path):
    names = ["tracker", "alice", "bob"]
    shape = LanShape.of(names)
    with lan_pool.session([shape, LanShape.of(["tracker", "alice"])]):
        pool = lan_pool.current()
        assert pool is not None
        spare = pool._spares[shape][0]
        spare.result(timeout=30)  # the expected shapes are built at the session's start
        lan = lan_pool.take(shape, names, tmp_path)
        assert lan.switch == spare.result().switch  # the spare, not one built on demand
        assert [host.name for host in lan.hosts.values()] == names
        assert (tmp_path / "hosts").read_text().count("tweeter.lan") == 3
        named = subprocess.run([sys.executable, "-c", "import socket; print(socket.gethostname())"],
                               preexec_fn=lan.hosts["bob"].enter, capture_output=True, text=True, check=True)
        assert named.stdout.strip() == "bob"
        with socket_on(lan.hosts["tracker"]) as tracker, socket_on(lan.hosts["alice"]) as alice:
            tracker.bind((lan.hosts["tracker"].ip, 9000))
            tracker.settimeout(10)
            alice.sendto(b"hello", (lan.hosts["tracker"].ip, 9000))
            assert tracker.recvfrom(64) == (b"hello", (lan.hosts["alice"].ip, alice.getsockname()[1]))
        assert pool._spares[shape], "another LAN of this shape is on its way for the next scenario"
        lan_pool.give_back(lan)
    assert lan_pool.current() is None
    assert our_namespaces() == []  # the LAN given back, and every spare, the unused shape's too


def test_outside_a_session_a_lan_is_built_when_taken_and_removed_when_given_back(tmp_path):
    lan = lan_pool.take(LanShape.of(["tracker", "alice"]), ["tracker", "alice"], tmp_path)
    assert len(our_namespaces()) == 3
    lan_pool.give_back(lan)
    assert our_namespaces() == []
