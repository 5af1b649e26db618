"""The event log of ``FastClassifier``: the refs of events that may still be evidence.

A page names its evidence by the events' ids (or, for an event without one, by a ref made of
its device and time); the kernel keeps only sequence numbers. The log maps them back, for as
long as an event may still be evidence of a page to come.
"""

from __future__ import annotations

import bisect

import numpy as np
import numpy.typing as npt

from sensorhub.codec.columns import EventColumns, IdColumn, Registry

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


class EventLog:
    """Enough of every event that may still be evidence to name it in a page (its ``ref``).

    Recent events are kept as the batches they came in (the batch's own arrays and id list, not
    copies); when the batches pile up, the refs of the few older events still held as evidence
    are kept by themselves and the batches go. A ref is made only when asked for (a page, or
    pinning at a pruning).
    """

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._starts: list[int] = []
        self._chunks: list[tuple[int, F64, npt.NDArray[np.int32], IdColumn | None]] = []
        self._pinned: dict[int, str] = {}
        self.events = 0  # events in the batches held

    def __len__(self) -> int:
        return len(self._chunks)

    def add(self, seq0: int, columns: EventColumns) -> None:
        if len(columns):
            self._starts.append(seq0)
            self._chunks.append((seq0, columns.ts, columns.device, columns.ids))
            self.events += len(columns)

    def ref(self, seq: int) -> str:
        pinned = self._pinned.get(seq)
        if pinned is not None:
            return pinned
        start, ts, device, ids = self._chunks[bisect.bisect_right(self._starts, seq) - 1]
        i = seq - start
        event_id = ids[i] if ids is not None else None
        if event_id is not None:
            return event_id
        site, room, kind, name = self._registry.device_keys[int(device[i])]
        return f"{site}/{room}/{kind}/{name}@{float(ts[i]):.3f}"

    def prune(self, live: I64, keep_from: int) -> None:
        """Keep the batches from sequence number ``keep_from`` on, and the refs of ``live``."""
        pinned = {}
        for seq in live.tolist():
            if seq < keep_from:
                pinned[seq] = self.ref(seq)
        self._pinned = pinned
        while len(self._chunks) > 1 and self._starts[1] <= keep_from:
            self.events -= self._starts[1] - self._starts[0]
            del self._starts[0]
            del self._chunks[0]
