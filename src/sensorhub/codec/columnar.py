"""Columnar recordings: Parquet in and out, checked a column at a time.

Researchers keep years of sensor data in Parquet. A sensorhub Parquet recording has one row per
event and these columns (``RECORDING_SCHEMA``):

=========== ===================== ==========================================================
column      type                  meaning
=========== ===================== ==========================================================
ts          float64               event time, Unix seconds (required)
site        string, dictionary    the site (required)
room        string, dictionary    the room (required)
kind        string, dictionary    the sensor kind (required)
device      string, dictionary    the device (required)
event       string, dictionary    what was seen (required)
id          string, nullable      the event's id
confidence  float32, nullable     the sensor's confidence; absent means 1.0
value       float64, nullable     a measurement (dB(A), battery %)
extra       string, nullable      the payload's unknown fields as one JSON object
=========== ===================== ==========================================================

Files written by other tools are read too: strings may be plain or dictionary-encoded, ``ts``
may be any integer or float type or a timestamp with a time zone, the optional columns may be
missing. A column that is not in the table, or a required column that is missing or of the
wrong type, makes the whole file unreadable (:class:`RecordingError`, with a sentence saying
what to do); a row that breaks the contract is bad input like a bad JSONL line: it becomes a
dead letter with the reason, and the rest is read.

Reading checks the rules of the codec (contract section 1) on whole columns with numpy and
pyarrow compute: names are matched against the name pattern once per distinct value, ``kind``
and ``event`` go through one lookup table per batch that also yields the event code of
:data:`sensorhub.contract.EVENT_CODES`, ``ts``, ``confidence``, ``value`` and the length of
``id`` are compared as arrays. Only rows that fail (or carry unknown fields in ``extra``, which
may hold anything) are rebuilt as a JSON payload and handed to
:func:`sensorhub.codec.payload.decode_line`, so a dead letter reads exactly as it would for the
same line of a JSONL recording, and the codec stays the one definition of what is valid.

``confidence`` is stored as float32 (7 significant digits) and read back as the shortest decimal
that float32 value stands for, so a sensor's 0.7 comes back as 0.7, not 0.699999988.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self, TypeAlias, cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic_core import from_json

from sensorhub.codec.payload import dead_letter, decode_line
from sensorhub.codec.stages import DecodedBatch, DecodedEvents, Places
from sensorhub.contract import (
    DEFAULT_PREFIX,
    EVENT_CODES,
    NAME_RE,
    TS_MAX,
    TS_MIN,
    VOCABULARY,
    DeadLetter,
    Event,
    allowed_events,
)
from sensorhub.core.columns import IdColumn
from sensorhub.core.jit import jit

__all__ = [
    "FAST_BATCH_SIZE",
    "READ_BATCH_SIZE",
    "RECORDING_SCHEMA",
    "ROW_GROUP_SIZE",
    "ParquetRecording",
    "ParquetRecordingWriter",
    "RecordingError",
    "RowBatch",
    "is_parquet",
    "payload_line",
]

logger = logging.getLogger(__name__)

#: Rows per Parquet row group when writing.
ROW_GROUP_SIZE: Final = 65_536
#: Rows per batch when reading: checking columns costs little per batch, the Event objects of a
#: batch take about 1 KB a row, so this bounds what a replay holds (measured: 16k rows check
#: within 10% of the speed of 64k).
READ_BATCH_SIZE: Final = 16_384
#: Rows per batch when replay reads columns for the compiled core (no Event objects).
FAST_BATCH_SIZE: Final = 65_536

_TEXT: Final = pa.dictionary(pa.int32(), pa.string())
RECORDING_SCHEMA: Final = pa.schema(
    [
        pa.field("ts", pa.float64(), nullable=False),
        pa.field("site", _TEXT, nullable=False),
        pa.field("room", _TEXT, nullable=False),
        pa.field("kind", _TEXT, nullable=False),
        pa.field("device", _TEXT, nullable=False),
        pa.field("event", _TEXT, nullable=False),
        pa.field("id", pa.string()),
        pa.field("confidence", pa.float32()),
        pa.field("value", pa.float64()),
        pa.field("extra", pa.string()),
    ]
)
_LOCATION: Final = ("site", "room", "kind", "device")
_NAMES: Final = ("site", "room", "device")
_DICTIONARY_COLUMNS: Final = (*_LOCATION, "event")
#: Columns written with Parquet dictionary encoding (the others plain)
_DICTIONARY_WRITTEN: Final = (*_DICTIONARY_COLUMNS, "confidence", "value", "extra")
REQUIRED_COLUMNS: Final = ("ts", *_DICTIONARY_COLUMNS)
OPTIONAL_COLUMNS: Final = ("id", "confidence", "value", "extra")
#: The fields of a payload that have columns of their own; every other field goes to ``extra``.
KNOWN_FIELDS: Final = frozenset((*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS[:-1]))
#: Longest id the contract allows (characters).
ID_MAX: Final = 128
#: Distinct names remembered as valid or not, per reader.
_NAME_CACHE_MAX: Final = 65_536

_COLUMNS_TEXT: Final = (
    "a sensorhub recording has the columns ts, site, room, kind, device, event (required) and "
    "id, confidence, value, extra (optional); `sensorhub convert night.jsonl night.parquet` "
    "writes one"
)

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.intp]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
Column: TypeAlias = "pa.Array[Any]"


class RecordingError(Exception):
    """The file is not a sensorhub Parquet recording; the message says what to do."""


def is_parquet(path: Path) -> bool:
    """Whether ``path`` names a Parquet recording (by its suffix)."""
    return path.suffix.lower() in (".parquet", ".parq", ".pq")


# --- shortest decimals of float32 ---------------------------------------------------------------


def shortest_float64(values: npt.NDArray[np.float32]) -> FloatArray:
    """Each float32 as the float64 of its shortest decimal: 0.7f is 0.7, not 0.699999988.

    Computed once per distinct value (a recording has few distinct confidences)."""
    if values.size == 0:
        return values.astype(np.float64)
    distinct, inverse = np.unique(values, return_inverse=True)
    decimal = np.array([float(str(value)) for value in distinct], dtype=np.float64)
    result: FloatArray = decimal[inverse.reshape(values.shape)]
    return result


# --- writing ------------------------------------------------------------------------------------


class ParquetRecordingWriter:
    """Writes validated events to a Parquet recording, one row group per ``row_group_size``.

    Only ``row_group_size`` events are held in memory. ``confidences_rounded`` counts confidences
    that needed more than float32's 7 significant digits and were rounded.
    """

    def __init__(self, path: Path, *, row_group_size: int = ROW_GROUP_SIZE) -> None:
        if row_group_size < 1:
            raise ValueError("row_group_size must be at least 1")
        self.path = path
        self.row_group_size = row_group_size
        self.rows = 0
        self.row_groups = 0
        self.confidences_rounded = 0
        self._writer = pq.ParquetWriter(
            path,
            RECORDING_SCHEMA,
            compression="zstd",
            write_statistics=["ts"],
            # dictionary pages where values repeat; ids and times rarely do (a dictionary of
            # them overflows and falls back to plain: measured, 30% larger and a third slower
            # to read)
            use_dictionary=cast(bool, list(_DICTIONARY_WRITTEN)),  # a list: pyarrow-stubs say bool
        )
        self._columns: dict[str, list[Any]] = {name: [] for name in RECORDING_SCHEMA.names}

    def write(self, event: Event) -> None:
        """Add one event (as the codec made it: unknown fields are read from ``event.raw``)."""
        columns = self._columns
        raw = event.raw
        columns["ts"].append(event.ts)
        columns["site"].append(event.site)
        columns["room"].append(event.room)
        columns["kind"].append(event.kind)
        columns["device"].append(event.device)
        columns["event"].append(event.event)
        columns["id"].append(event.id)
        confidence = raw.get("confidence")
        columns["confidence"].append(None if confidence is None else float(confidence))
        columns["value"].append(event.value)
        if len(raw) > len(KNOWN_FIELDS) or not KNOWN_FIELDS.issuperset(raw):
            unknown = {name: value for name, value in raw.items() if name not in KNOWN_FIELDS}
            columns["extra"].append(
                json.dumps(unknown, separators=(",", ":"), ensure_ascii=False) if unknown else None
            )
        else:
            columns["extra"].append(None)
        if len(columns["ts"]) >= self.row_group_size:
            self.flush()

    def flush(self) -> None:
        """Write the events held so far as one row group."""
        columns = self._columns
        count = len(columns["ts"])
        if not count:
            return
        confidence = pa.array(columns["confidence"], pa.float64())
        given = confidence.drop_null().to_numpy()
        self.confidences_rounded += int(
            np.count_nonzero(shortest_float64(given.astype(np.float32)) != given)
        )
        arrays = [
            pa.array(columns["ts"], pa.float64()),
            *(pa.array(columns[name], pa.string()).dictionary_encode() for name in _LOCATION),
            pa.array(columns["event"], pa.string()).dictionary_encode(),
            pa.array(columns["id"], pa.string()),
            confidence.cast(pa.float32()),
            pa.array(columns["value"], pa.float64()),
            pa.array(columns["extra"], pa.string()),
        ]
        batch = pa.RecordBatch.from_arrays(arrays, schema=RECORDING_SCHEMA)
        self._writer.write_batch(batch, row_group_size=self.row_group_size)
        self.rows += count
        self.row_groups += 1
        for values in columns.values():
            values.clear()

    def close(self) -> None:
        self.flush()
        self._writer.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._writer.close()


# --- reading ------------------------------------------------------------------------------------


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
            _strings(columns.column(name)) for name in _DICTIONARY_COLUMNS
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
        codes = [_dictionary(columns.column(name)) for name in _LOCATION]
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
        if self.by_codec:  # rows the codec made: its event, field by field
            rows = np.searchsorted(self.valid, list(self.by_codec)).tolist()
            made_events = list(self.by_codec.values())
            for n_row, made in zip(rows, made_events, strict=True):
                ts[n_row] = made.ts
                code[n_row] = EVENT_CODES[(made.kind, made.event)]
                value[n_row] = math.nan if made.value is None else made.value
                confidence[n_row] = made.confidence
                place[n_row] = places.number((made.site, made.room, made.kind, made.device))
            ids = ids.replaced(rows, [made.id for made in made_events])
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


def _readonly(array: Any, dtype: Any) -> Any:
    """``array`` as a read-only array of ``dtype`` (a view if it is one already): the compiled
    checks take every column the same way, whether Arrow lent it or numpy made it."""
    view = np.asarray(array, dtype=dtype).view()
    view.flags.writeable = False
    return view


@jit
def _row_checks(  # noqa: PLR0917 - numba takes its arguments positionally
    ts: Any,
    site: Any,
    room: Any,
    device: Any,
    kind: Any,
    event: Any,
    site_ok: Any,
    room_ok: Any,
    device_ok: Any,
    codes: Any,
    ts_min: float,
    ts_max: float,
) -> tuple[Any, Any]:
    """Per row: whether its time is in range, its names valid and its event one of its kind's
    (``ok``), and its event code (-1: none). Names and codes are looked up by dictionary index
    in the tables ``_names_ok`` and ``_event_codes`` made."""
    n = ts.shape[0]
    ok = np.empty(n, dtype=np.bool_)
    code = np.empty(n, dtype=np.int16)
    for i in range(n):
        c = codes[kind[i], event[i]]
        code[i] = c
        t = ts[i]
        ok[i] = (
            c >= 0
            and t >= ts_min
            and t < ts_max
            and site_ok[site[i]]
            and room_ok[room[i]]
            and device_ok[device[i]]
        )
    return ok, code


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


def _dictionary(array: Column) -> pa.DictionaryArray[Any, Any]:
    """The column as the dictionary array ``_normalised`` made it."""
    return cast("pa.DictionaryArray[Any, Any]", array)


def _strings(array: Column) -> list[Any]:
    """A dictionary-encoded string column as a list of str, each distinct value made once."""
    encoded = _dictionary(array)
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
        return arrow_ids(_dictionary(array).dictionary_decode())
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


class ParquetRecording:
    """A Parquet recording opened for reading; the schema is checked on opening.

    ``batches()`` yields :class:`RowBatch` es of at most ``batch_size`` rows, holding only one
    batch in memory at a time. Raises :class:`RecordingError` if the file is not a recording.
    """

    def __init__(self, path: Path, *, batch_size: int = READ_BATCH_SIZE) -> None:
        self.path = path
        self.batch_size = batch_size
        self._ts_unit: float | None = None
        try:
            with pq.ParquetFile(path) as probe:
                self._columns = self._check_schema(probe.schema_arrow)
            # all text columns there: read them as dictionaries, whatever the writer did;
            # without pre-buffering whole row groups (measured: 50 MB less at the peak, the
            # same speed)
            self._file = pq.ParquetFile(
                path, read_dictionary=list(_DICTIONARY_COLUMNS), pre_buffer=False
            )
        except (pa.ArrowException, OSError) as error:
            raise RecordingError(
                f"{path} is not a Parquet file ({error}): {_COLUMNS_TEXT}"
            ) from None
        self._name_ok: dict[str, bool] = {}

    @property
    def rows(self) -> int:
        """Rows in the file, valid or not."""
        return int(self._file.metadata.num_rows)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the schema --------------------------------------------------------------------------

    def _check_schema(self, schema: pa.Schema) -> list[str]:
        problems: list[str] = []
        names = list(schema.names)
        duplicated = sorted({name for name in names if names.count(name) > 1})
        problems.extend(f"column {name!r} appears more than once" for name in duplicated)
        unknown = [name for name in names if name not in RECORDING_SCHEMA.names]
        if unknown:
            problems.append(
                f"column(s) {', '.join(map(repr, unknown))} are not part of a recording "
                "(put unknown payload fields in 'extra', as one JSON object per row)"
            )
        missing = [name for name in REQUIRED_COLUMNS if name not in names]
        if missing:
            problems.append(f"required column(s) {', '.join(map(repr, missing))} are missing")
        for name in names:
            if name in duplicated or name not in RECORDING_SCHEMA.names:
                continue
            wanted = self._type_problem(name, schema.field(name).type)
            if wanted:
                problems.append(f"column {name!r} is {schema.field(name).type}, {wanted}")
        if problems:
            raise RecordingError(
                f"{self.path} is not a sensorhub recording: {'; '.join(problems)}. "
                f"{_COLUMNS_TEXT[0].upper()}{_COLUMNS_TEXT[1:]}."
            )
        return [name for name in RECORDING_SCHEMA.names if name in names]

    def _type_problem(self, name: str, kind: pa.DataType) -> str:
        """What is wrong with the column's type, or ""."""
        if name == "ts":
            if pa.types.is_floating(kind) or pa.types.is_integer(kind):
                return ""
            if pa.types.is_timestamp(kind):
                if kind.tz is None:
                    return (
                        "a time without a time zone: store UTC times (a timestamp with "
                        "tz='UTC') or Unix seconds as float64"
                    )
                unit = kind.unit
                self._ts_unit = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}[unit]
                return ""
            return "not a time: store Unix seconds as float64"
        if name in ("confidence", "value"):
            if pa.types.is_floating(kind) or (name == "value" and pa.types.is_integer(kind)):
                return ""
            return "not a number column: store float64 (or float32), with null where absent"
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            return ""
        return "not text: store strings"

    # -- the rows ----------------------------------------------------------------------------

    def batches(self) -> Iterator[RowBatch]:
        """The file's rows, batch by batch, checked."""
        first = 0
        # on this thread alone: replay reads beside the classifier and the id checks, and
        # pyarrow's pool of threads only added cpu time there (measured: 2 ms of 20 a
        # recording, and no faster)
        reading = self._file.iter_batches(
            batch_size=self.batch_size, columns=self._columns, use_threads=False
        )
        while True:
            try:
                batch = next(reading)
            except StopIteration:
                return
            except (pa.ArrowException, OSError) as error:
                raise RecordingError(
                    f"{self.path}: rows from {first + 1} on cannot be read ({error}); the file "
                    "is damaged: write it again, e.g. with sensorhub convert"
                ) from None
            yield self._check(batch, first, time.time())
            first += batch.num_rows

    def _normalised(self, batch: pa.RecordBatch) -> dict[str, Column]:
        n = batch.num_rows
        columns: dict[str, Column] = {}
        for name in RECORDING_SCHEMA.names:
            if name not in self._columns:
                columns[name] = pa.nulls(n, RECORDING_SCHEMA.field(name).type)
                continue
            array = batch.column(name)
            if name == "ts":
                if self._ts_unit is not None:
                    ticks = array.cast(pa.int64()).cast(pa.float64())
                    array = pc.divide(ticks, pa.scalar(self._ts_unit))
                elif array.type != pa.float64():
                    array = array.cast(pa.float64())
            elif name in _DICTIONARY_COLUMNS:
                if not pa.types.is_dictionary(array.type):
                    array = pc.dictionary_encode(array)
            elif name in ("id", "extra"):
                if pa.types.is_dictionary(array.type):
                    array = _dictionary(array).dictionary_decode()
            elif name == "value" and array.type != pa.float64():
                array = array.cast(pa.float64())
            columns[name] = array
        return columns

    def _names_ok(self, values: list[Any]) -> BoolArray:
        cache = self._name_ok
        if len(cache) > _NAME_CACHE_MAX:
            cache.clear()
        result = np.empty(len(values) + 1, dtype=np.bool_)
        for index, value in enumerate(values):
            ok = cache.get(value) if value is not None else False
            if ok is None:
                ok = cache[value] = NAME_RE.fullmatch(value) is not None
            result[index] = ok
        result[-1] = False  # null
        return result

    def _check(self, batch: pa.RecordBatch, first: int, received_at: float) -> RowBatch:
        columns = self._normalised(batch)
        n = batch.num_rows

        ts = columns["ts"].to_numpy(zero_copy_only=False)  # null -> NaN, which fails below
        indices: dict[str, Any] = {}
        for name in _DICTIONARY_COLUMNS:
            # null rows point at one past the dictionary: the "null" entry of each table
            array = _dictionary(columns[name])
            codes = array.indices
            if codes.null_count:
                codes = codes.fill_null(len(array.dictionary))
            indices[name] = _readonly(codes.to_numpy(zero_copy_only=False), np.int32)
        names_ok = [
            self._names_ok(_dictionary(columns[name]).dictionary.to_pylist()) for name in _NAMES
        ]
        # one pass over the rows: the time's range, the names, the event in its kind's vocabulary
        ok, code = _row_checks(
            _readonly(ts, np.float64),
            indices["site"],
            indices["room"],
            indices["device"],
            indices["kind"],
            indices["event"],
            names_ok[0],
            names_ok[1],
            names_ok[2],
            _event_codes(columns["kind"], columns["event"]),
            TS_MIN,
            TS_MAX,
        )

        ids = columns["id"]
        id_column: IdColumn | None = None
        if ids.null_count < n:
            # the length in characters is at most the length in bytes, and at least 1 where
            # that is: only ids of more than ID_MAX bytes need counting
            id_column = arrow_ids(ids)
            size = id_column.lengths
            # masks only for a batch with an id missing, empty or of more than ID_MAX bytes
            if size.min() < 1 or size.max() > ID_MAX:
                ok &= ~id_column.has | (size >= 1)
                long = id_column.has & (size > ID_MAX)
                if long.any():
                    text = cast("pa.StringArray | pa.LargeStringArray", ids)
                    length = pc.utf8_length(text).fill_null(1).to_numpy(zero_copy_only=False)
                    ok &= ~long | (length <= ID_MAX)

        confidence_column = columns["confidence"]
        absent: BoolArray | None = None
        if confidence_column.null_count == n:
            confidence = np.ones(n, dtype=np.float64)
        else:
            if confidence_column.null_count:
                absent = confidence_column.is_null().to_numpy(zero_copy_only=False)
            if confidence_column.type == pa.float32():
                given32 = confidence_column.fill_null(1.0).to_numpy(zero_copy_only=False)
                # 1.0 (absent) is its own shortest decimal: only the given ones are looked at
                if absent is None:
                    confidence = shortest_float64(given32)
                else:
                    confidence = given32.astype(np.float64)
                    given = np.flatnonzero(~absent)
                    confidence[given] = shortest_float64(given32[given])
            else:
                confidence = confidence_column.fill_null(1.0).to_numpy(zero_copy_only=False)
            with np.errstate(invalid="ignore"):
                ok &= (confidence >= 0.0) & (confidence <= 1.0)
        value = columns["value"]
        # a mask only for a batch with a value that is not finite
        if value.null_count < n and not pc.all(pc.is_finite(value)).as_py():
            ok &= np.isfinite(value.fill_null(0.0).to_numpy(zero_copy_only=False))

        extra = columns["extra"]
        slow_rows = ~ok
        if extra.null_count < n:
            slow_rows |= extra.is_valid().to_numpy(zero_copy_only=False)

        # confidence as read (shortest decimals), null where the payload had none
        columns["confidence"] = (
            confidence_column.cast(pa.float64())
            if confidence_column.null_count == n
            else pa.array(confidence, pa.float64(), mask=absent)
        )
        dead: list[DeadLetter] = []
        by_codec: dict[int, Event] = {}
        if slow_rows.any():
            ok &= ~slow_rows
            for position in np.flatnonzero(slow_rows).tolist():
                result = self._decode_row(columns, position, first + position + 1, received_at)
                if isinstance(result, DeadLetter):
                    dead.append(result)
                else:
                    by_codec[position] = result
                    ok[position] = True
        valid = np.flatnonzero(ok)
        if valid.shape[0] == n:  # every row: the columns as they are, no copy
            kept = pa.RecordBatch.from_arrays(
                [columns[name] for name in RECORDING_SCHEMA.names], names=RECORDING_SCHEMA.names
            )
            valid_ts, valid_code, valid_confidence = ts, code, confidence
        else:
            kept = pa.RecordBatch.from_arrays(
                [columns[name].take(valid) for name in RECORDING_SCHEMA.names],
                names=RECORDING_SCHEMA.names,
            )
            valid_ts, valid_code, valid_confidence = ts[valid], code[valid], confidence[valid]
            if id_column is not None:
                id_column = id_column.take(valid)
        return RowBatch(
            first_row=first,
            rows=n,
            valid=valid,
            ts=valid_ts,
            event_code=valid_code,
            confidence=valid_confidence,
            columns=kept,
            dead_letters=dead,
            by_codec=by_codec,
            ids=id_column if id_column is not None else IdColumn.none(valid.shape[0]),
        )

    def _decode_row(
        self, columns: dict[str, Column], position: int, row: int, received_at: float
    ) -> Event | DeadLetter:
        """One row the arrays rejected or could not judge alone, through the codec.

        The row is rebuilt as the JSON payload it stands for (a null column is a missing
        field), so the dead letter reads as it would for the same JSONL line."""
        source = f"{self.path.name}:{row}"
        payload: dict[str, Any] = {}
        for name in RECORDING_SCHEMA.names[:-1]:  # all but extra
            cell = columns[name][position].as_py()
            if cell is not None:
                payload[name] = cell
        text = columns["extra"][position].as_py()
        if text is None:
            return decode_line(_dumps(payload), received_at, source)
        problem = ""
        try:
            unknown = from_json(text)
        except ValueError as error:
            problem = f"column 'extra' is not JSON ({error})"
        else:
            if not isinstance(unknown, dict):
                problem = "column 'extra' is not a JSON object"
            elif not KNOWN_FIELDS.isdisjoint(unknown):
                repeated = ", ".join(map(repr, sorted(KNOWN_FIELDS.intersection(unknown))))
                problem = f"column 'extra' holds {repeated}, which have columns of their own"
            else:
                payload.update(unknown)
        if not problem:
            return decode_line(_dumps(payload), received_at, source)
        # the payload keeps the bad text as a field 'extra', so nothing is lost
        payload["extra"] = text
        problem += ": it must hold the payload's unknown fields as one JSON object, or be null"
        line = _dumps(payload)
        result = decode_line(line, received_at, source)
        if isinstance(result, DeadLetter):
            result.error = f"{problem}; {result.error}"
            return result
        return dead_letter(
            f"{DEFAULT_PREFIX}/{result.topic_suffix}", line, problem, received_at, source=source
        )


def _event_codes(kind: Column, event: Column) -> npt.NDArray[np.int16]:
    """The table [kind index, event index] -> event code, or -1 if the kind has no such event.

    Indices are those of the two dictionaries; the last row and column stand for null."""
    kinds = _dictionary(kind).dictionary.to_pylist()
    events = _dictionary(event).dictionary.to_pylist()
    table = np.full((len(kinds) + 1, len(events) + 1), -1, dtype=np.int16)
    where: dict[str | None, list[int]] = {}
    for e, name in enumerate(events):
        where.setdefault(name, []).append(e)
    for k, name in enumerate(kinds):
        if name not in VOCABULARY:
            continue
        for allowed in allowed_events(name):
            for e in where.get(allowed, ()):
                table[k, e] = EVENT_CODES[(name, allowed)]
    return table


def _dumps(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def payload_line(event: Event) -> str:
    """The JSONL line (without its line break) of an event read from a recording: its payload,
    unknown fields included."""
    return json.dumps(event.raw, separators=(",", ":"), ensure_ascii=False)
