"""A batch of a Parquet recording's rows, read and judged: ``RowBatch``, the *read* stage of
:mod:`sensorhub.codec.stages` for Parquet, and what it becomes: ``Event`` objects
(``events``, ``decoded_events``) or columns (``decoded``), without a Python object per row:
the places from one compiled pass over the dictionary indices, the ids straight from the Arrow
string buffers (``arrow_ids``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final, cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from sensorhub.codec.columns import IdColumn, event_values
from sensorhub.codec.parquet import (
    DICTIONARY_COLUMNS,
    PLACE_COLUMNS,
    Column,
    FloatArray,
    IntArray,
    dictionary_array,
)
from sensorhub.codec.stages import DecodedBatch, DecodedEvents, Places
from sensorhub.contract import DeadLetter, Event
from sensorhub.jit import jit

__all__ = ["RowBatch", "arrow_ids"]


@dataclass(slots=True)
class RowBatch:
    """One batch of a Parquet recording, read and its rows judged (the *read* stage of
    :mod:`sensorhub.codec.stages`; ``decoded`` and ``decoded_events`` make the next).

    ``rows`` rows were read, starting at row ``first_row`` (counting from 0) of the file.
    ``valid`` holds the positions (in the batch) of the rows that are valid events, in file
    order; ``ts``, ``event_code`` and ``confidence`` are theirs as arrays, and ``columns`` their
    columns (normalised to ``RECORDING_SCHEMA``'s types, confidence as float64). Every other row
    is a dead letter. ``events()`` builds the :class:`~sensorhub.contract.Event` objects.
    """

    first_row: int
    rows: int
    valid: IntArray
    ts: FloatArray
    event_code: npt.NDArray[np.int16]
    confidence: FloatArray
    columns: pa.RecordBatch
    dead_letters: list[DeadLetter]
    #: Events the codec made, for rows with unknown fields (or rows the arrays doubted), by
    #: position in the batch.
    by_codec: dict[int, Event] = field(default_factory=dict)
    #: The ids of the valid rows (``columns``' id column read from its buffers; None: not read)
    ids: IdColumn | None = None
    _events: list[Event] | None = None

    def events(self) -> list[Event]:
        """The valid rows as events, in file order; ``raw`` is the payload they stand for."""
        if self._events is None:
            self._events = self._build_events()
        return self._events

    def _build_events(self) -> list[Event]:
        columns = self.columns
        ts = self.ts.tolist()
        site, room, kind, device, event = (
            _strings(columns.column(name)) for name in DICTIONARY_COLUMNS
        )
        ids = columns.column("id").to_pylist()
        absent = columns.column("confidence").is_null().to_numpy(zero_copy_only=False).tolist()
        confidence = self.confidence.tolist()
        value = columns.column("value").to_pylist()
        events: list[Event] = []
        append = events.append
        for t, s, r, k, d, e, i, a, c, v in zip(
            ts, site, room, kind, device, event, ids, absent, confidence, value, strict=True
        ):
            raw: dict[str, Any] = {"ts": t, "site": s, "room": r, "kind": k, "device": d}
            raw["event"] = e
            if i is not None:
                raw["id"] = i
            if not a:
                raw["confidence"] = c
            if v is not None:
                raw["value"] = v
            append(Event(t, s, r, k, d, e, i, c, v, raw))
        if self.by_codec:  # rows with unknown fields: the codec's event, raw payload and all
            for n, position in enumerate(self.valid.tolist()):
                made = self.by_codec.get(position)
                if made is not None:
                    events[n] = made
        return events

    def decoded_events(self) -> DecodedEvents:
        """The batch decoded as ``Event`` objects (``events()``)."""
        return DecodedEvents(self.rows, self.dead_letters, [], self.events())

    def decoded(self, *, keep_raw: bool = False) -> DecodedBatch:
        """The valid rows as columns, without a Python object per row: places are found once
        per distinct (site, room, kind, device) of the batch's dictionaries, numbered in the
        order of their first row; the ids are read from the Arrow buffers (``arrow_ids``).
        Only the rows the codec made (``by_codec``) are patched one by one. ``keep_raw`` adds
        each event's payload object (for the audit trail; slow)."""
        columns = self.columns
        n = columns.num_rows
        codes = [dictionary_array(columns.column(name)) for name in PLACE_COLUMNS]
        names = [array.dictionary.to_pylist() for array in codes]
        sizes = [max(1, len(values)) for values in names]
        index = [
            array.indices.to_numpy(zero_copy_only=False) if n else np.zeros(0, dtype=np.int32)
            for array in codes
        ]
        distinct, place = _places(index, sizes)
        site, room, kind, device = names
        places = Places(
            [
                (str(site[s]), str(room[r]), str(kind[k]), str(device[d]))
                for s, r, k, d in distinct.T.tolist()
            ],
            in_order=True,
        )
        ts = np.array(self.ts, dtype=np.float64)  # copies: writable, the kernel's own
        code = np.array(self.event_code, dtype=np.int16)
        value_column = columns.column("value")
        if value_column.null_count == n:
            value = np.full(n, math.nan, dtype=np.float64)
        else:
            # the kernel's own copy, NaN where null, in one step (fresh memory costs here)
            value = value_column.to_numpy(zero_copy_only=False, writable=True)
        confidence = self.confidence.astype(np.float32)
        ids = self.ids if self.ids is not None else arrow_ids(columns.column("id"))
        if self.by_codec:  # rows the codec made: its events' values instead
            rows = np.searchsorted(self.valid, list(self.by_codec)).tolist()
            made = list(self.by_codec.values())
            ts[rows], code[rows], value[rows], confidence[rows] = event_values(made)
            place[rows] = [places.number((e.site, e.room, e.kind, e.device)) for e in made]
            ids = ids.replaced(rows, [e.id for e in made])
        raw = [event.raw for event in self.events()] if keep_raw else None
        return DecodedBatch(
            self.rows,
            self.dead_letters,
            [],
            ts=ts,
            code=code,
            value=value,
            confidence=confidence,
            ids=ids,
            raw=raw,
            place=place,
            places=places,
        )


#: Largest table of (site, room, kind, device) dictionary index combinations ``_places`` makes
#: (beyond: numpy's unique over the rows)
_PLACE_TABLE_MAX: Final = 1 << 22


def _places(index: list[Any], sizes: list[int]) -> tuple[npt.NDArray[np.int64], Any]:
    """The distinct (site, room, kind, device) dictionary indices of the rows, as four rows
    of columns in order of their first row, and each row's column (the inverse)."""
    n = index[0].shape[0]
    if not n:
        return np.zeros((4, 0), dtype=np.int64), np.zeros(0, dtype=np.int64)
    if math.prod(sizes) <= _PLACE_TABLE_MAX:
        table = np.full(math.prod(sizes), -1, dtype=np.int32)
        a, b, c, d = (np.ascontiguousarray(i, dtype=np.int32) for i in index)
        first, inverse = _first_places(a, b, c, d, sizes[1], sizes[2], sizes[3], table)
        return np.stack([a[first], b[first], c[first], d[first]]).astype(np.int64), inverse
    rows = np.stack([np.asarray(i, dtype=np.int64) for i in index])
    places, first, inverse = np.unique(rows, axis=1, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.shape[0])
    return places[:, order], rank[inverse.reshape(-1)]


@jit
def _first_places(  # noqa: PLR0917 - numba takes its arguments positionally
    a: Any, b: Any, c: Any, d: Any, nb: int, nc: int, nd: int, table: Any
) -> tuple[Any, Any]:
    """Rows of the first occurrence of each distinct (a, b, c, d), in row order, and each
    row's number among them; ``table`` (-1 everywhere) has a slot per combination."""
    n = a.shape[0]
    inverse = np.empty(n, dtype=np.int32)
    first = np.empty(n, dtype=np.int64)
    m = 0
    for i in range(n):
        key = ((np.int64(a[i]) * nb + b[i]) * nc + c[i]) * nd + d[i]
        p = table[key]
        if p < 0:
            p = m
            table[key] = m
            first[m] = i
            m += 1
        inverse[i] = p
    return first[:m], inverse


def _strings(array: Column) -> list[Any]:
    """A dictionary-encoded string column as a list of str, each distinct value made once."""
    encoded = dictionary_array(array)
    dictionary: npt.NDArray[np.object_] = np.array(encoded.dictionary.to_pylist(), dtype=object)
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    result: list[Any] = dictionary[indices].tolist()
    return result


def arrow_ids(array: Column | pa.ChunkedArray[Any]) -> IdColumn:
    """An Arrow string column (``string`` or ``large_string``, plain or dictionary-encoded,
    sliced or not, an array or a chunked array; all null: ``null``) as an ``IdColumn``, read
    from its buffers: no Python object per row, and for a plain array no byte copied (the
    column points into the Arrow data buffer, which it keeps alive). The same ids as
    ``to_pylist()``."""
    if isinstance(array, pa.ChunkedArray):
        return IdColumn.joined([arrow_ids(chunk) for chunk in array.chunks])
    kind = array.type
    if pa.types.is_dictionary(kind):
        return arrow_ids(dictionary_array(array).dictionary_decode())
    n = len(array)
    if n == 0 or pa.types.is_null(kind) or array.null_count == n:
        return IdColumn.none(n)
    if pa.types.is_string(kind) or pa.types.is_binary(kind):
        width: np.dtype[Any] = np.dtype(np.int32)
    elif pa.types.is_large_string(kind) or pa.types.is_large_binary(kind):
        width = np.dtype(np.int64)
    else:
        raise TypeError(f"ids must be a string column, not {kind}")
    # the buffers of a (large) string array: validity bitmap, offsets, bytes
    _, offsets_buffer, data_buffer = array.buffers()[:3]
    offsets = np.frombuffer(cast("bytes", offsets_buffer), dtype=width, count=array.offset + n + 1)[
        array.offset :
    ]
    data: npt.NDArray[np.uint8] = (
        np.frombuffer(cast("bytes", data_buffer), dtype=np.uint8)
        if data_buffer is not None and data_buffer.size
        else np.zeros(0, dtype=np.uint8)
    )
    has = None if array.null_count == 0 else array.is_valid().to_numpy(zero_copy_only=False)
    return IdColumn.from_offsets(data, offsets, has)
