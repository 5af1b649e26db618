"""The reorder buffer keeps only its own events' ids: in a classifier fed without a pause (a
service, whose buffer never empties) it does not grow, in memory nor in the snapshot."""

from __future__ import annotations

import numpy as np

from sensorhub.codec.columns import COMPACT_SLACK, EventColumns, IdColumn
from sensorhub.contract import Event
from sensorhub.core.fast import FastClassifier
from sensorhub.rules import load_policy

NIGHT = 1_794_861_000.0
ROOMS = 20


def _batch(first: int, size: int) -> list[Event]:
    """Heartbeats of every room, 20 a second, each with an id: a steady stream."""
    return [
        Event(
            NIGHT + n / 20,
            "zonnehof",
            str(101 + n % ROOMS),
            "optical",
            f"cam-{101 + n % ROOMS}",
            "heartbeat",
            f"cam-{101 + n % ROOMS}-{n:09d}",
        )
        for n in range(first, first + size)
    ]


def test_a_column_taken_from_a_large_buffer_keeps_only_its_own_bytes() -> None:
    ids = IdColumn.from_strings([f"event-{n:06d}" if n % 7 else None for n in range(50_000)])
    few = ids.take(np.array([49_999, 3, 7, 12_345], dtype=np.int64))
    compact = few.compact()
    assert (
        compact.tolist() == few.tolist() == ["event-049999", "event-000003", None, "event-012345"]
    )
    assert compact.data.shape[0] == len("event-000003") * 3
    assert ids.compact() is ids  # nothing to gain: as it is


def test_the_buffer_of_a_classifier_fed_without_pause_does_not_grow() -> None:
    classifier = FastClassifier(load_policy(), audit="decisive")
    seq = 0
    for _ in range(300):  # 60,000 events with ids of 20 bytes: 1.2 MB if the buffer kept them
        events = _batch(seq, 200)
        seq += len(events)
        classifier.push_batch(EventColumns.from_events(events, classifier.registry))
        assert classifier.buffered > 0  # within the lateness: the buffer never empties
        ids = classifier._buf.ids
        assert ids is not None
        assert ids.data.shape[0] <= 2 * 20 * classifier.buffered + COMPACT_SLACK
