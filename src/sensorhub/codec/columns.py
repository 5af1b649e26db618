"""Events as columns: what the compiled core takes instead of one ``Event`` object per event.

Names become small integers once, in a ``Registry`` shared by whoever builds the columns (the
decoder, a Parquet reader) and the ``FastClassifier`` that decides them: a room index per
``(site, room)``, a device index per ``(site, room, kind, device)``. The ids travel as bytes
(``IdColumn``: no Python object per event) and the payloads, when the audit needs them, as a
list (``raw``), beside the arrays for redelivery checks, page evidence and the audit trail; the
kernel never sees them.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

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


def nones(items: list[int | None]) -> Generator[int, None, None]:
    """The positions of None in ``items`` (scanned in C: there are few)."""
    i = -1
    while True:
        try:
            i = items.index(None, i + 1)
        except ValueError:
            return
        yield i


_ENCODING: Final = "utf-8"
#: ``str`` <-> bytes of an id: lone surrogates (a JSON ``"\\ud800"``) pass through, so every
#: ``str`` has its own byte string
_ERRORS: Final = "surrogatepass"
#: Bytes of a buffer beyond its ids' own (twice theirs) that ``IdColumn.compact`` leaves.
COMPACT_SLACK: Final = 1 << 16


@dataclass(slots=True, eq=False)
class IdColumn:
    """The ids of a batch of events as bytes: id ``i`` is ``data[starts[i]:starts[i] +
    lengths[i]]`` (UTF-8) where ``has[i]``, else the event has none. ``data`` may be shared
    with other columns (``take`` copies no bytes) and hold bytes that are no id's: a decoder
    hands over the block it read, a Parquet reader its column's buffer."""

    data: npt.NDArray[np.uint8]
    starts: npt.NDArray[np.int64]
    lengths: npt.NDArray[np.int64]
    has: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.has.shape[0])

    def __getitem__(self, i: int) -> str | None:
        if not self.has[i]:
            return None
        start = int(self.starts[i])
        return self.data[start : start + int(self.lengths[i])].tobytes().decode(_ENCODING, _ERRORS)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdColumn) and self.tolist() == other.tolist()

    __hash__ = None  # type: ignore[assignment]

    def tolist(self) -> list[str | None]:
        return [self[i] for i in range(len(self))]

    @classmethod
    def from_strings(cls, ids: Sequence[str | None]) -> IdColumn:
        n = len(ids)
        try:  # every event with an id (the usual case): one string, ids between NULs
            data = "\x00".join(cast("list[str]", ids)).encode(_ENCODING, _ERRORS)
        except TypeError:
            data = None
        if data is not None:
            raw = np.frombuffer(data, dtype=np.uint8)
            # UTF-8 has no zero byte but NUL's: n - 1 of them, and the split is exact
            ends = np.flatnonzero(raw == 0)
            if ends.shape[0] == n - 1:
                starts = np.empty(n, dtype=np.int64)
                starts[:1] = 0
                starts[1:] = ends + 1
                lengths = np.empty(n, dtype=np.int64)
                lengths[:-1] = ends - starts[:-1]
                lengths[-1:] = raw.shape[0] - starts[-1:]
                return cls(raw, starts, lengths, np.ones(n, dtype=np.bool_))
        encoded = [b"" if i is None else i.encode(_ENCODING, _ERRORS) for i in ids]
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=n)
        starts = np.zeros(n, dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        return cls(
            np.frombuffer(b"".join(encoded), dtype=np.uint8),
            starts,
            lengths,
            np.fromiter((i is not None for i in ids), dtype=np.bool_, count=n),
        )

    @classmethod
    def none(cls, n: int) -> IdColumn:
        """``n`` events without an id."""
        zeros = np.zeros(n, dtype=np.int64)
        return cls(np.zeros(0, dtype=np.uint8), zeros, zeros, np.zeros(n, dtype=np.bool_))

    @classmethod
    def from_offsets(
        cls,
        data: npt.NDArray[np.uint8],
        offsets: npt.NDArray[np.int32] | npt.NDArray[np.int64],
        has: npt.NDArray[np.bool_] | None = None,
    ) -> IdColumn:
        """Ids laid out as Arrow lays out strings: id ``i`` is ``data[offsets[i]:offsets[i +
        1]]`` (``len(offsets) - 1`` ids), where ``has[i]`` (None: every one). No byte is
        copied."""
        n = offsets.shape[0] - 1
        if n <= 0:
            return cls.none(0)
        starts = offsets[:-1].astype(np.int64)
        lengths = offsets[1:] - starts
        if has is None:
            has = np.ones(n, dtype=np.bool_)
        return cls(data, starts, lengths, has)

    def take(self, index: npt.NDArray[np.int64]) -> IdColumn:
        return IdColumn(self.data, self.starts[index], self.lengths[index], self.has[index])

    def compact(self) -> IdColumn:
        """The same ids in a buffer of their own bytes, if ``data`` holds many more: a column
        kept and joined batch after batch (the reorder buffer) would otherwise keep every
        buffer it was taken from, and copy it again at each join."""
        lengths = np.where(self.has, self.lengths, 0)
        size = int(lengths.sum())
        if self.data.shape[0] <= 2 * size + COMPACT_SLACK:
            return self
        starts = np.cumsum(lengths) - lengths
        at = np.repeat(self.starts - starts, lengths) + np.arange(size, dtype=np.int64)
        return IdColumn(self.data[at], starts, lengths, self.has.copy())

    def replaced(self, index: Sequence[int], ids: Sequence[str | None]) -> IdColumn:
        """The same ids but those at ``index``, which become ``ids`` (their bytes are appended
        to a copy of ``data``)."""
        if not len(index):
            return self
        new = IdColumn.from_strings(ids)
        at = np.asarray(index, dtype=np.int64)
        starts = self.starts.copy()
        lengths = self.lengths.copy()
        has = self.has.copy()
        starts[at] = new.starts + self.data.shape[0]
        lengths[at] = new.lengths
        has[at] = new.has
        return IdColumn(np.concatenate([self.data, new.data]), starts, lengths, has)

    @classmethod
    def joined(cls, parts: Sequence[IdColumn]) -> IdColumn:
        """The ids of ``parts`` one after the other: their bytes copied once, into one buffer,
        unless they all point into the same one."""
        if not parts:
            return cls.none(0)
        if len(parts) == 1:
            return parts[0]
        first = parts[0].data
        if all(part.data is first for part in parts):
            data, shift = first, [0] * len(parts)
        else:
            sizes = np.array([part.data.shape[0] for part in parts], dtype=np.int64)
            offsets = np.zeros(len(parts), dtype=np.int64)
            np.cumsum(sizes[:-1], out=offsets[1:])
            data, shift = np.concatenate([part.data for part in parts]), offsets.tolist()
        return cls(
            data,
            np.concatenate([part.starts + s for part, s in zip(parts, shift, strict=True)]),
            np.concatenate([part.lengths for part in parts]),
            np.concatenate([part.has for part in parts]),
        )


@dataclass(slots=True)
class EventColumns:
    """A batch of events in arrival order, as columns.

    ``code`` is ``contract.EVENT_CODES[(kind, event)]``; ``value`` is NaN where the event has
    none. ``ids`` and ``raw`` (the payloads, for the audit) may be left out: without ids there
    is no redelivery check.
    """

    ts: npt.NDArray[np.float64]
    room: npt.NDArray[np.int32]
    device: npt.NDArray[np.int32]
    code: npt.NDArray[np.int16]
    value: npt.NDArray[np.float64]
    confidence: npt.NDArray[np.float32]
    ids: IdColumn | None = None
    raw: list[dict[str, Any]] | None = None

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    @classmethod
    def from_events(cls, events: Sequence[Event], registry: Registry) -> EventColumns:
        """Columns of ``events`` (one Python step per event, a list per column: for ``serve``'s
        rounds, ``push`` and tests)."""
        known = registry.devices
        places = [(e.site, e.room, e.kind, e.device) for e in events]
        device = [known.get(place) for place in places]
        for i in nones(device):  # a device not seen before: registered with its room
            device[i] = registry.device(*places[i])
        devices = np.array(device, dtype=np.int32)
        ts, code, value, confidence = event_values(events)
        return cls(
            ts,
            np.array(registry.device_room, dtype=np.int32)[devices],
            devices,
            code,
            value,
            confidence,
            ids=IdColumn.from_strings([e.id for e in events]),
            raw=[e.raw for e in events],
        )

    def take(self, index: npt.NDArray[np.int64]) -> EventColumns:
        """The events at ``index``, in that order."""
        return EventColumns(
            self.ts[index],
            self.room[index],
            self.device[index],
            self.code[index],
            self.value[index],
            self.confidence[index],
            ids=None if self.ids is None else self.ids.take(index),
            raw=None if self.raw is None else [self.raw[i] for i in index.tolist()],
        )

    def kept(self, index: npt.NDArray[np.int64]) -> EventColumns:
        """``take(index)`` for columns kept from batch to batch (the reorder buffer), their ids
        in a buffer of their own (``IdColumn.compact``)."""
        taken = self.take(index)
        if taken.ids is not None:
            taken.ids = taken.ids.compact()
        return taken

    def joined(self, other: EventColumns) -> EventColumns:
        """These events, then ``other``'s (``other`` itself when these are none): the reorder
        buffer and a new batch, for instance. Ids and payloads are kept where either has them."""
        if len(self) == 0:
            return other
        ids = None
        if self.ids is not None or other.ids is not None:
            ids = IdColumn.joined(
                [IdColumn.none(len(c)) if c.ids is None else c.ids for c in (self, other)]
            )
        raw = None
        if self.raw is not None or other.raw is not None:
            raw = (self.raw or [{} for _ in range(len(self))]) + (
                other.raw or [{} for _ in range(len(other))]
            )
        return EventColumns(
            np.concatenate([self.ts, other.ts]),
            np.concatenate([self.room, other.room]),
            np.concatenate([self.device, other.device]),
            np.concatenate([self.code, other.code]),
            np.concatenate([self.value, other.value]),
            np.concatenate([self.confidence, other.confidence]),
            ids=ids,
            raw=raw,
        )


def event_values(
    events: Sequence[Event],
) -> tuple[
    npt.NDArray[np.float64], npt.NDArray[np.int16], npt.NDArray[np.float64], npt.NDArray[np.float32]
]:
    """The columns of ``events`` that need no registry, one Python step per event: time, event
    code, value (NaN where none) and confidence."""
    return (
        np.array([e.ts for e in events], dtype=np.float64),
        np.array([EVENT_CODES[(e.kind, e.event)] for e in events], dtype=np.int16),
        np.array([math.nan if e.value is None else e.value for e in events], np.float64),
        np.array([e.confidence for e in events], dtype=np.float32),
    )


def empty_columns() -> EventColumns:
    return EventColumns(
        np.zeros(0, dtype=np.float64),
        np.zeros(0, dtype=np.int32),
        np.zeros(0, dtype=np.int32),
        np.zeros(0, dtype=np.int16),
        np.zeros(0, dtype=np.float64),
        np.zeros(0, dtype=np.float32),
        ids=IdColumn.none(0),
        raw=[],
    )


#: Which events of a batch are new, not redeliveries (None: every one): ``SeenIds.check``'s
Redeliveries = npt.NDArray[np.bool_] | None
