"""Under network faults, the datagrams the harness dropped and the submission never sent again: the
likely cause of a failure, named as a TA reading the capture would name it.

A dropped frame was sent again when a later frame from the same host to the same host carries the same
message: the same payload, or, for the JSON objects most protocols use, the same `op` and `id`. A
message is named by its `op` when it is such an object, else by its first word.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from harness.inputs.scenario import Faults
from harness.run.records import ScenarioRecord, WireEvent

LISTED = 5  # lost datagrams named one by one; the rest are counted
FIRST_WORD = re.compile(rb"[\x21-\x7e]{1,24}")


@dataclass(frozen=True)
class LostMessage:
    """A message the harness dropped every time it was sent: its first send and how many there were."""

    first: WireEvent
    sends: int


def plan_text(record: ScenarioRecord) -> str:
    """The faults the record was run under, in a report's words ("20 % loss, seed 7")."""
    return Faults.model_validate(record.faults or {}).describe(record.seed)


def lost_messages(record: ScenarioRecord) -> list[LostMessage]:
    """Messages whose every send the harness dropped (none of them was delivered), in time order."""
    sends: dict[tuple, list[WireEvent]] = {}
    for event in record.wire:
        if event.payload and event.proto in ("udp", "tcp") and event.fate != "duplicated":
            sends.setdefault((event.src, event.dst, event.proto, message_key(event.payload)), []).append(event)
    lost: list[LostMessage] = []
    for events in sends.values():
        for index, event in enumerate(events):
            if event.fate == "dropped" and all(later.fate == "dropped" for later in events[index:]):
                lost.append(LostMessage(event, len(events) - index))
                break
    return sorted(lost, key=lambda message: message.first.t)


def message_key(payload: bytes) -> object:
    """What makes two datagrams the same message: `op` and `id` of a JSON object, else the bytes."""
    decoded = _json_object(payload)
    if decoded is not None and "op" in decoded and "id" in decoded:
        return ("json", str(decoded["op"]), json.dumps(decoded["id"]))
    return payload


def message_name(payload: bytes) -> str:
    """A JSON object's `op` ("setup"), else the first word of the payload ("REGISTER datagram"), else
    its size."""
    decoded = _json_object(payload)
    if decoded is not None and isinstance(decoded.get("op"), str):
        return decoded["op"][:24]
    word = FIRST_WORD.search(payload[:64])
    return f"{word.group().decode('ascii')} datagram" if word else f"{len(payload)}-byte datagram"


def _json_object(payload: bytes) -> dict | None:
    try:
        decoded = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return decoded if isinstance(decoded, dict) else None


def describe_lost(message: LostMessage, record: ScenarioRecord) -> str:
    """"the setup from @alice to @carol at 1.234 s was dropped (loss, seed 7) and never sent again"."""
    event = message.first
    what = (f"the {message_name(event.payload)} from {_host(event.src, record)} to {_host(event.dst, record)} "
            f"at {event.t:.3f} s")
    seed = f", seed {record.seed}" if record.seed is not None else ""
    if message.sends == 1:
        return f"{what} was dropped (loss{seed}) and never sent again"
    return f"{what} was sent {message.sends} times and dropped each time (loss{seed})"


def _host(host: str | None, record: ScenarioRecord) -> str:
    if host == "tracker":
        return "the tracker"
    return record.handles.get(host or "", host or "an unknown host")


def faults_paragraph(record: ScenarioRecord) -> tuple[str, str]:
    """(a clause for the cause line, a paragraph for the explanation) about the faults of a run that
    lost points; both empty when it ran without faults."""
    if record.faults is None:
        return "", ""
    lost = lost_messages(record)
    heading = f"Under network faults ({plan_text(record)})"
    if not lost:
        return "", f"{heading}, every datagram the harness dropped was sent again."
    named = [describe_lost(message, record) for message in lost[:LISTED]]
    more = [f"and {len(lost) - LISTED} more"] if len(lost) > LISTED else []
    clause = f"under network faults, {named[0]}" + (f" (and {len(lost) - 1} more)" if len(lost) > 1 else "")
    return clause, "\n".join([f"{heading}, datagrams lost for good:", *(f"- {line}" for line in named + more)])
