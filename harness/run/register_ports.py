"""Before `register` types a user's ports: are they still free on its host?

A real client bound its tracker connection to a random port of its group's range, and the harness
then handed it that same port for its ring. So right before the ports are typed (and can still
change), the ones its program has not been told yet are looked up among the sockets of its host
(ports.holders), and any that is taken is replaced by a free port of the same range, with a note.
"""

from __future__ import annotations

import os
import re

from harness.inputs.manifest import placeholders_in
from harness.run.driver import Driver
from harness.run.asleep import SleepWatch
from harness.run.ports import START_LIMIT_S, bound_ports, default_ranges, holders, stand_in


def told_ports(driver: Driver, name: str) -> set[int]:
    """The ports of user `name` its program has been told already, which can no longer change: by its
    launch command or environment (their placeholders), or in a line typed at it (a start-up answer,
    an earlier `register`)."""
    slot, manifest = driver.users[name], driver.dialect.manifest
    given = placeholders_in(manifest.launch.user).union(*(placeholders_in(str(v)) for v in manifest.env.values()))
    told = {port for index, port in enumerate(slot.ports, start=1) if {"ports", f"port{index}"} & given}
    typed = "\n".join(event.text for event in driver.trace.lines(name, ("in",)))
    return told | {port for port in slot.ports if re.search(rf"(?<!\d){port}(?!\d)", typed)}


def check_before_register(driver: Driver, name: str) -> None:
    """Right before `register` types user `name`'s ports: each one its program has not been told yet
    that a socket on its host already holds (a client that bound its tracker connection to a port of
    the group's range) is replaced in the user's slot by a free port of the same range, and a note of
    the harness says which and why. A port already told stays: its program may rightly hold it."""
    child, slot = driver.procs.children.get(name), driver.users[name]
    untold = set(slot.ports) - told_ports(driver, name)
    if child is None or child.exited or not untold:
        return

    watch = SleepWatch()

    def started() -> bool | None:  # what it binds at start-up is bound once it waits for input
        program = driver.procs.sandbox.program_pid(child.pid)  # (its sandbox's own processes only wait)
        return True if child.exited or (program is not None and watch.asleep(program)) else None

    driver.wait(started, START_LIMIT_S, poll=0.005)
    taken = holders(child.pid, untold, tcp=driver.dialect.manifest.transport == "tcp")
    if not taken:
        return
    try:
        shared = os.stat(f"/proc/{child.pid}/ns/net").st_ino == os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return  # the program is gone: its host cannot be read, and nothing will listen there
    pins = driver.dialect.manifest.network
    ranges = [pins.ports] if pins.ports else None
    where = "this machine (loopback)" if shared else "its host"
    on_host = bound_ports(child.pid)
    for old in sorted(taken):
        own = driver.procs.holds(name, frozenset(inode for _, inode in taken[old] if inode))
        what = " and ".join(dict.fromkeys(words for words, _ in taken[old])) + (" of its own program" if own else "")
        new = stand_in(old, ranges, on_host | set(slot.ports), shared)
        if new is None:
            driver.trace.add("harness", "note", f"port {old} for {slot.handle} is already held on {where} "
                             f"({what}), and no other port of {ranges or default_ranges()} is free: it is "
                             "typed as it is")
            continue
        slot.ports[slot.ports.index(old)] = new
        driver.trace.add("harness", "note", f"port {old} for {slot.handle} is already held on {where} "
                         f"({what}) before `register` types it: {slot.handle} registers port {new} instead")
