"""The stages of a batch of a recording, JSONL or Parquet, on its way to the classifier.

A recording is read a batch at a time, and every batch goes through the same stages, with the
same names and the same objects whatever the format:

=========== ================================ ==================================================
stage       JSONL                            Parquet
=========== ================================ ==================================================
read        ``LineChunk``: a block of whole  ``RowBatch``: a record batch; its rows are judged
            lines (``lines.read_chunks``)    as they are read, a column at a time (every row a
                                             valid event or a dead letter), and kept as Arrow
                                             columns (``ParquetRecording.batches``)
decoded     ``DecodedBatch``:                ``DecodedBatch``: ``RowBatch.decoded()``
            ``LineDecoder.decode(chunk)``
placed      ``PlacedBatch``: ``DecodedBatch.placed(registry)``
checked     ``CheckedBatch``: ``PlacedBatch.checked(new)``, ``new`` as the classifier's
            ``check_redeliveries`` found it
=========== ================================ ==================================================

- *decoded*: every line or row that is not blank is a valid event or a dead letter (with the
  codec's reason); the events are columns (time, event code, value, confidence, ids, the
  payloads for the audit), but their places (site, room, kind, device) are numbers of the
  decoder's own (``Places``), not yet the registry's: so a batch can be decoded on any thread,
  ahead of the classifier, without touching the registry.
- *placed*: the events as :class:`~sensorhub.codec.columns.EventColumns` of the registry (room
  and device indices), new places registered in the order of their first event; this happens
  on the one thread that adds to the registry, batch after batch in file order, so device
  numbers never depend on timing.
- *checked*: the redeliveries among them are known (which events are new), ready for the
  compiled classifier.

Every stage keeps what the batch was as input: ``rows`` (lines or rows read, blank lines not
counted), ``dead_letters`` (in file order) and ``acks`` (the acknowledgement lines, each at its
place among the events).

The pure-Python twin takes a batch decoded as ``Event`` objects instead of columns:
``DecodedEvents``, made by ``lines.decode_events(chunk)`` (the codec alone, line by line) or
``RowBatch.decoded_events()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from sensorhub.codec.acks import AckIn
from sensorhub.codec.columns import EventColumns, IdColumn, Redeliveries, Registry
from sensorhub.contract import DeadLetter, Event

__all__ = [
    "Batch",
    "CheckedBatch",
    "DecodedBatch",
    "DecodedEvents",
    "Place",
    "PlacedBatch",
    "Places",
]

#: A place: (site, room, kind, device)
Place = tuple[str, str, str, str]


class Places:
    """Places numbered by a decoder in the order it met them, and the registry's device of each
    once it is registered.

    ``number`` adds a place (the decoder's thread); ``placed`` looks the numbers of a batch up
    in a registry, registering the new places in the order of their first event (the thread
    that adds to the registry). The two may run on different threads: ``placed`` reads only the
    keys a batch names, numbered before the batch was handed over (``keys`` only grows, and a
    key never changes). ``in_order``: every number is used, and numbered in the order of its
    first event (a Parquet batch's places), so the keys are registered as they stand."""

    __slots__ = ("_device", "_index", "_registry", "in_order", "keys")

    def __init__(self, keys: list[Place] | None = None, *, in_order: bool = False) -> None:
        self.keys: list[Place] = [] if keys is None else keys
        self.in_order = in_order
        self._index: dict[Place, int] | None = None
        #: number -> the registry's device index (-1: not registered yet), for ``_registry``
        self._device = np.zeros(0, dtype=np.int32)
        self._registry: Registry | None = None

    def __len__(self) -> int:
        return len(self.keys)

    def number(self, key: Place) -> int:
        """The number of ``key``, numbering it if it is new."""
        index = self._index
        if index is None:
            index = self._index = {place: n for n, place in enumerate(self.keys)}
        found = index.get(key)
        if found is None:
            found = index[key] = len(self.keys)
            self.keys.append(key)
            self.in_order = False  # numbered after the batch's others: the order is not known
        return found

    def placed(
        self, place: npt.NDArray[Any], registry: Registry
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
        """(room, device) of the registry for each place number of ``place``."""
        keys = self.keys
        if self.in_order:  # registered as they stand, each once
            device_of = np.empty(len(keys), dtype=np.int32)
            room_of = np.empty(len(keys), dtype=np.int32)
            device_room = registry.device_room
            for p, key in enumerate(keys):
                d = device_of[p] = registry.device(*key)
                room_of[p] = device_room[d]
            return room_of[place], device_of[place]
        if self._registry is not registry:
            self._registry = registry
            self._device = np.full(len(keys), -1, dtype=np.int32)
        # ``keys`` may grow meanwhile (``number`` on another thread): its length is still at
        # least every number of ``place``
        if self._device.shape[0] < len(keys):
            grown = np.full(2 * len(keys), -1, dtype=np.int32)
            grown[: self._device.shape[0]] = self._device
            self._device = grown
        device = self._device[place]
        new = device < 0
        if new.any():
            numbers, first = np.unique(place[new], return_index=True)
            for number in numbers[np.argsort(first, kind="stable")].tolist():
                self._device[number] = registry.device(*keys[number])
            device = self._device[place]
        room = np.asarray(registry.device_room, dtype=np.int32)[device]
        return room, device


@dataclass(slots=True)
class Batch:
    """What every stage of a batch keeps of its input: ``rows`` lines (or rows) that were not
    blank, the ``dead_letters`` of the bad ones in file order, and the acknowledgement lines
    among them (``acks``, each at its place among the events)."""

    rows: int
    dead_letters: list[DeadLetter]
    acks: list[AckIn]


@dataclass(slots=True)
class DecodedBatch(Batch):
    """A batch decoded: its valid events as columns in file order, each naming its place by a
    number of ``places`` (``place``), not yet by the registry's device."""

    ts: npt.NDArray[np.float64]
    code: npt.NDArray[np.int16]
    value: npt.NDArray[np.float64]
    confidence: npt.NDArray[np.float32]
    ids: IdColumn
    #: the payloads (for the audit trail), or None
    raw: list[dict[str, Any]] | None
    place: npt.NDArray[Any]
    places: Places

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def placed(self, registry: Registry) -> PlacedBatch:
        """The batch as columns of ``registry``, its new places registered in the order of
        their first event."""
        room, device = self.places.placed(self.place, registry)
        columns = EventColumns(
            self.ts,
            room,
            device,
            self.code,
            self.value,
            self.confidence,
            ids=self.ids,
            raw=self.raw,
        )
        return PlacedBatch(self.rows, self.dead_letters, self.acks, columns)


@dataclass(slots=True)
class PlacedBatch(Batch):
    """A batch placed: its valid events as columns of the registry."""

    columns: EventColumns

    def checked(self, new: Redeliveries) -> CheckedBatch:
        """The batch with its redeliveries known (``new``: which events are new, None: all)."""
        return CheckedBatch(self.rows, self.dead_letters, self.acks, self.columns, new)


@dataclass(slots=True)
class CheckedBatch(Batch):
    """A batch checked: placed, and which of its events are new (``new``; None: every one)
    as the classifier's redelivery check found."""

    columns: EventColumns
    new: Redeliveries


@dataclass(slots=True)
class DecodedEvents(Batch):
    """A batch decoded as ``Event`` objects (what the pure-Python twin and ``convert``
    take): the valid ones in file order."""

    events: list[Event] = field(default_factory=list)
