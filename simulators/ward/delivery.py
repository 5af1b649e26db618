"""A night's events as a broker delivers them: each with an id, a share of them late (up to
``MAX_DELAY`` s after their event time), and now and then a malformed line.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Final

from simulators.ward.degrade import SENT_AT
from simulators.ward.model import MAX_DELAY, Event, RecordingEntry
from simulators.ward.recording import compact


def check_shares(late_fraction: float, malformed_fraction: float) -> None:
    """``ValueError`` unless both are shares between 0 and 1."""
    if not 0 <= late_fraction <= 1 or not 0 <= malformed_fraction <= 1:
        raise ValueError("late_fraction and malformed_fraction are shares between 0 and 1")


def assign_ids(events: Iterable[Event], prefix: str = "") -> None:
    """Give every event an id, unique per device, numbered in the order given."""
    counters: Counter[str] = Counter()
    for event in events:
        counters[event["device"]] += 1
        event["id"] = f"{event['device']}-{prefix}{counters[event['device']]:05d}"


def deliver(
    events: Sequence[Event],
    rng: random.Random,
    late_fraction: float,
    malformed_fraction: float,
) -> tuple[list[RecordingEntry], int, int]:
    """``events`` (in event-time order) as a broker delivers them: ``late_fraction`` of them
    up to ``MAX_DELAY`` s late and, after about ``malformed_fraction`` of them, a malformed
    line. Returns the recording, the number of late events and of malformed lines."""
    check_shares(late_fraction, malformed_fraction)
    arrival: list[tuple[float, int, Event]] = []
    late = 0
    for index, event in enumerate(events):
        delay = 0.0
        if late_fraction and rng.random() < late_fraction:
            delay = rng.uniform(1.0, MAX_DELAY)
            late += 1
        sent_at = event.pop(SENT_AT, event["ts"])  # a skewed clock's event: when it was sent
        arrival.append((sent_at + delay, index, event))
    arrival.sort(key=_arrival_order)

    recording: list[RecordingEntry] = []
    malformed = 0
    for _, _, event in arrival:
        recording.append(event)
        if malformed_fraction and rng.random() < malformed_fraction:
            recording.append(_malformed(event, rng))
            malformed += 1
    return recording, late, malformed


def _arrival_order(arrival: tuple[float, int, Event]) -> tuple[float, int]:
    return arrival[0], arrival[1]


#: Ways a line can be bad input, whether read from a recording or received over MQTT.
_MALFORMED: Final[tuple[Callable[[Event, random.Random], str], ...]] = (
    lambda e, r: compact(e)[: r.randint(5, 40)],  # cut off
    lambda e, r: "not json at all",
    lambda e, r: compact([e]),  # not an object
    lambda e, r: compact(
        {k: v for k, v in e.items() if k != "ts"} | {"id": e["id"] + "-x"}
    ),  # no ts
    lambda e, r: compact({**e, "id": e["id"] + "-x", "ts": 631152000}),  # 1990
    lambda e, r: compact({**e, "id": e["id"] + "-x", "event": "exploded"}),  # no such event
    lambda e, r: compact({**e, "id": e["id"] + "-x", "confidence": 1.5}),  # out of range
    lambda e, r: compact({**e, "id": e["id"] + "-x", "value": "loud"}),  # ill-typed
    lambda e, r: compact({**e, "id": e["id"] + "-x", "ts": str(e["ts"])}),  # not RFC 3339
)


def _malformed(event: Event, rng: random.Random) -> str:
    return rng.choice(_MALFORMED)(event, rng)
