"""Have numba compile the classifier's core before it is needed.

numba compiles the kernels on their first call, or loads what it compiled before from its
cache (``cache=True``): about a minute the first time after an install or an upgrade, a second
or two after. ``serve`` calls ``warm_up`` before it connects, so that the first events are not
held up by the compiler; ``scripts/setup`` calls it once after installing, so that nobody meets
that minute later.
"""

from __future__ import annotations

import time

from sensorhub.codec.columns import EventColumns
from sensorhub.contract import Event
from sensorhub.core.fast import LOG_BATCHES, FastClassifier
from sensorhub.rules import load_policy
from sensorhub.rules.policy import Policy

#: A few events of one room, with ids, in and out of order: every entry point of the core runs.
_EVENTS = (
    (1_700_000_000.0, "bed", "mat", "vacated", "w1"),
    (1_700_000_004.0, "optical", "cam", "out_of_bed", "w2"),
    (1_700_000_002.0, "call", "button", "pressed", "w3"),
    (1_700_000_002.0, "call", "button", "pressed", "w3"),
)


def warm_up(policy: Policy | None = None) -> float:
    """Run a few events through a throwaway classifier; the seconds it took."""
    started = time.perf_counter()
    classifier = FastClassifier(policy or load_policy(), audit=True)
    events = [
        Event(ts=ts, site="warm-up", room="1", kind=kind, device=device, event=name, id=id_)
        for ts, kind, device, name, id_ in _EVENTS
    ]
    classifier.push_batch(EventColumns.from_events(events, classifier.registry))
    # batches enough, with ids enough, that the redelivery table grows and the event log is
    # pruned: what those call compiles now too, not in a service's first rounds
    for batch in range(LOG_BATCHES):
        more = [
            Event(
                ts=batch + ts,
                site="warm-up",
                room="2",
                kind="bed",
                device="mat",
                event=name,
                id=f"w{batch}-{name}",
            )
            for ts, name in ((1_700_000_010.0, "occupied"), (1_700_000_010.5, "vacated"))
        ]
        classifier.push_batch(EventColumns.from_events(more, classifier.registry))
    classifier.push(events[0])
    classifier.tick(_EVENTS[0][0] + 3600)
    classifier.drain()
    return time.perf_counter() - started


if __name__ == "__main__":
    print(f"the classifier's core is compiled ({warm_up():.1f} s)")
