"""Parquet recordings: the format, and writing one.

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
missing (:mod:`sensorhub.codec.columnar` reads them).

``confidence`` is stored as float32 (7 significant digits) and read back as the shortest decimal
that float32 value stands for, so a sensor's 0.7 comes back as 0.7, not 0.699999988.

This module holds the format (``RECORDING_SCHEMA``), the writer (``ParquetRecordingWriter``) and
what reading and writing share.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self, TypeAlias, cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from sensorhub.codec.formats import RecordingError, is_parquet
from sensorhub.contract import Event

__all__ = [
    "ID_MAX",
    "KNOWN_FIELDS",
    "OPTIONAL_COLUMNS",
    "RECORDING_SCHEMA",
    "REQUIRED_COLUMNS",
    "ROW_GROUP_SIZE",
    "ParquetRecordingWriter",
    "RecordingError",
    "RecordingFile",
    "dictionary_array",
    "is_parquet",
    "payload_line",
    "shortest_float64",
]

#: Rows per Parquet row group when writing.
ROW_GROUP_SIZE: Final = 65_536

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
#: The columns of an event's place, of its names, and the columns read as dictionaries
PLACE_COLUMNS: Final = ("site", "room", "kind", "device")
NAME_COLUMNS: Final = ("site", "room", "device")
DICTIONARY_COLUMNS: Final = (*PLACE_COLUMNS, "event")
#: Columns written with Parquet dictionary encoding (the others plain)
_DICTIONARY_WRITTEN: Final = (*DICTIONARY_COLUMNS, "confidence", "value", "extra")
REQUIRED_COLUMNS: Final = ("ts", *DICTIONARY_COLUMNS)
OPTIONAL_COLUMNS: Final = ("id", "confidence", "value", "extra")
#: The fields of a payload that have columns of their own; every other field goes to ``extra``.
KNOWN_FIELDS: Final = frozenset((*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS[:-1]))
#: Longest id the contract allows (characters).
ID_MAX: Final = 128

COLUMNS_TEXT: Final = (
    "a sensorhub recording has the columns ts, site, room, kind, device, event (required) and "
    "id, confidence, value, extra (optional); `sensorhub convert night.jsonl night.parquet` "
    "writes one"
)

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.intp]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
Column: TypeAlias = "pa.Array[Any]"


def dictionary_array(array: Column) -> pa.DictionaryArray[Any, Any]:
    """A column read as a dictionary array (as ``ParquetRecording`` reads every text column)."""
    return cast("pa.DictionaryArray[Any, Any]", array)


def shortest_float64(values: npt.NDArray[np.float32]) -> FloatArray:
    """Each float32 as the float64 of its shortest decimal: 0.7f is 0.7, not 0.699999988.

    Computed once per distinct value (a recording has few distinct confidences)."""
    if values.size == 0:
        return values.astype(np.float64)
    distinct, inverse = np.unique(values, return_inverse=True)
    decimal = np.array([float(str(value)) for value in distinct], dtype=np.float64)
    result: FloatArray = decimal[inverse.reshape(values.shape)]
    return result


class RecordingFile:
    """A recording open for reading or writing, as a context manager: closed on the way out of
    the ``with`` block, or ``abort`` ed if it raised (by default: closed all the same)."""

    def close(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        self.close()

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
            self.abort()


class ParquetRecordingWriter(RecordingFile):
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
            *(pa.array(columns[name], pa.string()).dictionary_encode() for name in PLACE_COLUMNS),
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

    def abort(self) -> None:
        """Close without writing the events held (the ``with`` block raised)."""
        self._writer.close()


def payload_line(event: Event) -> str:
    """The JSONL line (without its line break) of an event read from a recording: its payload,
    unknown fields included."""
    return json.dumps(event.raw, separators=(",", ":"), ensure_ascii=False)
