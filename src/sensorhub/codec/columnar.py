"""Parquet recordings read, checked a column at a time: ``ParquetRecording``.

The format is :mod:`sensorhub.codec.parquet`'s. A column that is not in the table, or a
required column that is missing or of the wrong type, makes the whole file unreadable
(:class:`~sensorhub.codec.parquet.RecordingError`, with a sentence saying what to do); a row
that breaks the contract is bad input like a bad JSONL line: it becomes a dead letter with the
reason, and the rest is read.

Reading checks the rules of the codec (contract section 1) on whole columns with numpy and
pyarrow compute: names are matched against the name pattern once per distinct value, ``kind``
and ``event`` go through one lookup table per batch that also yields the event code of
:data:`sensorhub.contract.EVENT_CODES`, ``ts``, ``confidence``, ``value`` and the length of
``id`` are compared as arrays. Only rows that fail (or carry unknown fields in ``extra``, which
may hold anything) are rebuilt as a JSON payload and handed to
:func:`sensorhub.codec.payload.decode_line`, so a dead letter reads exactly as it would for the
same line of a JSONL recording, and the codec stays the one definition of what is valid.

The checked rows come batch by batch as :class:`~sensorhub.codec.rows.RowBatch` es (the *read*
stage of :mod:`sensorhub.codec.stages`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic_core import from_json

from sensorhub.codec.columns import IdColumn
from sensorhub.codec.parquet import (
    COLUMNS_TEXT,
    DICTIONARY_COLUMNS,
    ID_MAX,
    KNOWN_FIELDS,
    NAME_COLUMNS,
    RECORDING_SCHEMA,
    REQUIRED_COLUMNS,
    BoolArray,
    Column,
    RecordingError,
    RecordingFile,
    dictionary_array,
    shortest_float64,
)
from sensorhub.codec.payload import dead_letter, decode_line
from sensorhub.codec.rows import RowBatch, arrow_ids
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
from sensorhub.jit import jit

__all__ = ["FAST_BATCH_SIZE", "READ_BATCH_SIZE", "ParquetRecording"]

#: Rows per batch when reading: checking columns costs little per batch, the Event objects of a
#: batch take about 1 KB a row, so this bounds what a replay holds (measured: 16k rows check
#: within 10% of the speed of 64k).
READ_BATCH_SIZE: Final = 16_384
#: Rows per batch when replay reads columns for the compiled core (no Event objects).
FAST_BATCH_SIZE: Final = 65_536
#: Distinct names remembered as valid or not, per reader.
_NAME_CACHE_MAX: Final = 65_536


class ParquetRecording(RecordingFile):
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
                path, read_dictionary=list(DICTIONARY_COLUMNS), pre_buffer=False
            )
        except (pa.ArrowException, OSError) as error:
            raise RecordingError(
                f"{path} is not a Parquet file ({error}): {COLUMNS_TEXT}"
            ) from None
        self._name_ok: dict[str, bool] = {}

    @property
    def rows(self) -> int:
        """Rows in the file, valid or not."""
        return int(self._file.metadata.num_rows)

    def close(self) -> None:
        self._file.close()

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
                f"{COLUMNS_TEXT[0].upper()}{COLUMNS_TEXT[1:]}."
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
            elif name in DICTIONARY_COLUMNS:
                if not pa.types.is_dictionary(array.type):
                    array = pc.dictionary_encode(array)
            elif name in ("id", "extra"):
                if pa.types.is_dictionary(array.type):
                    array = dictionary_array(array).dictionary_decode()
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
        for name in DICTIONARY_COLUMNS:
            # null rows point at one past the dictionary: the "null" entry of each table
            array = dictionary_array(columns[name])
            codes = array.indices
            if codes.null_count:
                codes = codes.fill_null(len(array.dictionary))
            indices[name] = _readonly(codes.to_numpy(zero_copy_only=False), np.int32)
        names_ok = [
            self._names_ok(dictionary_array(columns[name]).dictionary.to_pylist())
            for name in NAME_COLUMNS
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


def _event_codes(kind: Column, event: Column) -> npt.NDArray[np.int16]:
    """The table [kind index, event index] -> event code, or -1 if the kind has no such event.

    Indices are those of the two dictionaries; the last row and column stand for null."""
    kinds = dictionary_array(kind).dictionary.to_pylist()
    events = dictionary_array(event).dictionary.to_pylist()
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
