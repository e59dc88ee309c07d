"""Start-up order: the users' programs start only once the tracker is ready, whoever holds its port.

The users are launched while the tracker starts (their sandboxes built meanwhile) and let in once its
port is bound: a user that says hello to the tracker as soon as it starts must always be heard.
"""

from __future__ import annotations

import pytest

TRACKER = '''"""Takes a while before it binds its port (as a JVM may), then prints every datagram it gets."""
import socket
import sys
import time

time.sleep(0.5)  # the submission's own slowness: the subject of the test
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("0.0.0.0", int(sys.argv[1])))
count = 0
while True:
    data, _ = sock.recvfrom(64)
    count += 1
    print(f"tracker: got {data.decode()} ({count} so far)", flush=True)
'''
USER = '''"""Says hello to the tracker the moment it starts (a datagram sent before the tracker binds is lost)."""
import socket
import sys

socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"hello", (sys.argv[1], int(sys.argv[2])))
input()
'''
SPEC = """name: every hello is heard
points: 1
users: [alice, bob, carol]
steps:
  - expect: {at: tracker, pattern: "[(]3 so far[)]$", timeout: 5}
"""
LAUNCH = {
    "itself": "python3 tracker.py {tracker_port}",
    # the port is held by the script's child, not by the program launched: ready once it stays up
    "through a script": "sh run_tracker.sh {tracker_port}",
}


@pytest.mark.parametrize("launched", LAUNCH)
def test_users_start_once_the_tracker_holds_its_port(grade, tmp_path, launched):
    folder = tmp_path / "slow_tracker"
    folder.mkdir()
    (folder / "tracker.py").write_text(TRACKER)
    (folder / "user.py").write_text(USER)
    (folder / "run_tracker.sh").write_text('python3 tracker.py "$1"\n')
    (folder / "tweeter.yaml").write_text(f"launch:\n  tracker: {LAUNCH[launched]}\n"
                                         "  user: python3 user.py {tracker_ip} {tracker_port}\n")
    spec = tmp_path / "hello.yaml"
    spec.write_text(SPEC)
    graded = grade(folder, extra=("--specs", str(spec), "--network", "loopback"))
    scenario = graded.scenario("slow_tracker", "hello")
    assert scenario["status"] == "passed", scenario["message"]
