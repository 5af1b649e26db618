"""Events as columns: what the compiled core takes instead of one ``Event`` object per event.

Names become small integers once, in a ``Registry`` shared by whoever builds the columns (the
decoder, a Parquet reader) and the ``FastClassifier`` that decides them: a room index per
``(site, room)``, a device index per ``(site, room, kind, device)``. The Python-side lists
(``ids``, ``raw``) travel beside the arrays for redelivery checks, page evidence and the audit
trail; the kernel never sees them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from sensorhub.contract import EVENT_CODES, Event


class Registry:
    """Room and device names and their indices, in order of first appearance."""

    def __init__(self) -> None:
        self.rooms: dict[tuple[str, str], int] = {}
        self.room_keys: list[tuple[str, str]] = []
        self.devices: dict[tuple[str, str, str, str], int] = {}
        self.device_keys: list[tuple[str, str, str, str]] = []
        self.device_room: list[int] = []

    def room(self, site: str, room: str) -> int:
        key = (site, room)
        index = self.rooms.get(key)
        if index is None:
            index = self.rooms[key] = len(self.room_keys)
            self.room_keys.append(key)
        return index

    def device(self, site: str, room: str, kind: str, device: str) -> int:
        key = (site, room, kind, device)
        index = self.devices.get(key)
        if index is None:
            index = self.devices[key] = len(self.device_keys)
            self.device_keys.append(key)
            self.device_room.append(self.room(site, room))
        return index


@dataclass(slots=True)
class EventColumns:
    """A batch of events in arrival order, as columns.

    ``code`` is ``contract.EVENT_CODES[(kind, event)]``; ``value`` is NaN where the event has
    none. ``ids`` (None where an event has no id) and ``raw`` (the payloads, for the audit) may
    be left out: without ids there is no redelivery check.
    """

    ts: npt.NDArray[np.float64]
    room: npt.NDArray[np.int32]
    device: npt.NDArray[np.int32]
    code: npt.NDArray[np.int16]
    value: npt.NDArray[np.float64]
    confidence: npt.NDArray[np.float32]
    ids: list[str | None] | None = None
    raw: list[dict[str, Any]] | None = None

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    @classmethod
    def from_events(cls, events: Sequence[Event], registry: Registry) -> EventColumns:
        """Columns of ``events`` (slow: one Python step per event; for tests and ``push``)."""
        n = len(events)
        ts = np.empty(n, dtype=np.float64)
        room = np.empty(n, dtype=np.int32)
        device = np.empty(n, dtype=np.int32)
        code = np.empty(n, dtype=np.int16)
        value = np.empty(n, dtype=np.float64)
        confidence = np.empty(n, dtype=np.float32)
        for i, e in enumerate(events):
            ts[i] = e.ts
            room[i] = registry.room(e.site, e.room)
            device[i] = registry.device(e.site, e.room, e.kind, e.device)
            code[i] = EVENT_CODES[(e.kind, e.event)]
            value[i] = math.nan if e.value is None else e.value
            confidence[i] = e.confidence
        return cls(
            ts,
            room,
            device,
            code,
            value,
            confidence,
            ids=[e.id for e in events],
            raw=[e.raw for e in events],
        )

    def take(self, index: npt.NDArray[np.int64]) -> EventColumns:
        """The events at ``index``, in that order."""
        positions = index.tolist()
        return EventColumns(
            self.ts[index],
            self.room[index],
            self.device[index],
            self.code[index],
            self.value[index],
            self.confidence[index],
            ids=None if self.ids is None else [self.ids[i] for i in positions],
            raw=None if self.raw is None else [self.raw[i] for i in positions],
        )


def empty_columns() -> EventColumns:
    return EventColumns(
        np.zeros(0, dtype=np.float64),
        np.zeros(0, dtype=np.int32),
        np.zeros(0, dtype=np.int32),
        np.zeros(0, dtype=np.int16),
        np.zeros(0, dtype=np.float64),
        np.zeros(0, dtype=np.float32),
        ids=[],
        raw=[],
    )
