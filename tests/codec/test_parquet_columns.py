"""Parquet rows to ``EventColumns`` without a Python object per row.

The ids come straight from the Arrow string buffers (``rows.arrow_ids``), the places from
one pass over the dictionary indices, the row checks from one compiled pass; these tests hold
each to what the slow way makes of the same rows (``to_pylist()``, ``EventColumns.from_events``
of the batch's ``Event`` objects), on the edges the fast way has: slices, chunks, nulls,
``large_string``, non-ASCII ids, rows the codec made or refused, a read-ahead thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensorhub.codec import rows
from sensorhub.codec.columnar import ParquetRecording
from sensorhub.codec.columns import EventColumns, IdColumn, Registry
from sensorhub.codec.rows import RowBatch, arrow_ids
from sensorhub.commands.replay import read_ahead
from sensorhub.core import fast as fast_module
from sensorhub.core.arrival import group_by_room
from sensorhub.core.fast import FastClassifier
from tests.core.test_event_time import _policy
from tests.core.test_kernel import _arrival, _batches, _copy, _page_key, _stream

IDS = ["a", None, "é-101", "", "\U0001f6cf bed", "x" * 200, None, "id-7", "zonnehof/101", "ü€𝄞"]

_ID = st.one_of(st.none(), st.text(max_size=12))


def _variants(values: list[str | None]) -> Iterator[Any]:
    for kind in (pa.string(), pa.large_string()):
        array = pa.array(values, kind)
        yield array
        yield array.slice(1)
        yield array.slice(len(values) // 2)
        yield array.slice(len(values))  # empty, at the end
        yield array.dictionary_encode()
        yield pa.chunked_array([array.slice(0, 2), array.slice(2)], kind)
        yield pa.chunked_array([array.slice(3), array.slice(0, 0), array.slice(1, 2)], kind)
        yield pa.chunked_array([], kind)
        yield pa.nulls(3, kind)
    yield pa.nulls(4)


def test_arrow_ids_are_the_ids_of_to_pylist() -> None:
    for array in _variants(IDS):
        ids = arrow_ids(array)
        assert ids.tolist() == array.to_pylist(), array
        assert len(ids) == len(array)


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(_ID, max_size=30),
    start=st.integers(0, 30),
    stop=st.integers(0, 30),
    large=st.booleans(),
)
def test_any_slice_of_any_ids_reads_as_to_pylist(
    values: list[str | None], start: int, stop: int, large: bool
) -> None:
    array = pa.array(values, pa.large_string() if large else pa.string())
    part = array.slice(min(start, len(values)), stop)
    assert arrow_ids(part).tolist() == part.to_pylist()
    chunked = pa.chunked_array([part, array], array.type)
    assert arrow_ids(chunked).tolist() == chunked.to_pylist()


def test_arrow_ids_point_into_the_arrow_buffer() -> None:
    array = pa.array(["abc", "de", None, "f"]).slice(1)
    ids = arrow_ids(array)
    buffer = array.buffers()[2]
    assert buffer is not None
    assert ids.data.ctypes.data == buffer.address  # no byte copied
    assert ids.tolist() == ["de", None, "f"]


def test_arrow_ids_refuse_what_is_not_text() -> None:
    with pytest.raises(TypeError, match="string column"):
        arrow_ids(pa.array([1, 2]))


def test_id_columns_replace_and_join() -> None:
    base = arrow_ids(pa.array(["a", None, "ccc", "dd"]))
    replaced = base.replaced([1, 3], ["né", None])
    assert replaced.tolist() == ["a", "né", "ccc", None]
    assert base.tolist() == ["a", None, "ccc", "dd"]  # unchanged
    assert base.replaced([], []) is base
    joined = IdColumn.joined([base, IdColumn.none(2), replaced.take(np.array([2, 1]))])
    assert joined.tolist() == ["a", None, "ccc", "dd", None, None, "ccc", "né"]
    assert IdColumn.joined([]).tolist() == []
    offsets = IdColumn.from_offsets(np.frombuffer(b"abcd", np.uint8), np.array([0, 1, 1, 4]))
    assert offsets.tolist() == ["a", "", "bcd"]


# -- a recording read to columns, against its events -----------------------------------------

_SCHEMA = pa.schema(
    [
        ("ts", pa.float64()),
        ("site", pa.string()),
        ("room", pa.string()),
        ("kind", pa.string()),
        ("device", pa.string()),
        ("event", pa.string()),
        ("id", pa.string()),
        ("confidence", pa.float32()),
        ("value", pa.float64()),
        ("extra", pa.string()),
    ]
)


def _rows(n: int, seed: int) -> list[dict[str, Any]]:
    """Calls, optical and acoustic events of a few rooms, with the odd bad or unusual row."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for i in range(n):
        room = f"1{int(rng.integers(0, 4)):02d}"
        kind = ["call", "optical", "acoustic"][int(rng.integers(0, 3))]
        event = {"call": "pressed", "optical": "in_bed", "acoustic": "sound"}[kind]
        row: dict[str, Any] = {
            "ts": 1_795_212_000.0 + i * 1.5,
            "site": "zonnehof",
            "room": room,
            "kind": kind,
            "device": f"{kind}-{room}",
            "event": event,
            "id": [f"e-{i}", None, f"é-{i}-\U0001f6cf", f"{'ü' * 50}{i}"][i % 4],
        }
        if kind == "optical" and i % 3:
            row["confidence"] = [0.7, 0.85, 1.0, 0.333][i % 4]
        if kind == "acoustic":
            row["value"] = 60.0 + i % 20
        pick = i % 23
        if pick == 5:
            row["ts"] = 12.0  # before 2000: a dead letter
        elif pick == 7:
            row["extra"] = '{"fw": "2.3", "note": "café"}'  # the codec makes the event
        elif pick == 11:
            row["id"] = "ü" * 129  # 129 characters: a dead letter
        elif pick == 13:
            row["id"] = "ü" * 64  # 128 bytes, 64 characters: fine
        elif pick == 17:
            row["event"] = "jumped"
        rows.append(row)
    return rows


def _write(path: Path, rows: list[dict[str, Any]], *, large: bool = False) -> None:
    table = pa.Table.from_pylist(rows, schema=_SCHEMA)
    if large:
        table = table.set_column(
            table.schema.get_field_index("id"), "id", table.column("id").cast(pa.large_string())
        )
    pq.write_table(table, path, row_group_size=97)


def _columns(batch: RowBatch, registry: Registry) -> EventColumns:
    """The valid rows of ``batch`` as columns of ``registry``: decoded, then placed."""
    return batch.decoded().placed(registry).columns


def _same_columns(got: EventColumns, want: EventColumns) -> None:
    assert got.ts.tolist() == want.ts.tolist()
    assert got.room.tolist() == want.room.tolist()
    assert got.device.tolist() == want.device.tolist()
    assert got.code.tolist() == want.code.tolist()
    assert np.array_equal(got.value, want.value, equal_nan=True)
    assert got.confidence.tolist() == want.confidence.tolist()
    assert got.ids is not None
    assert want.ids is not None
    assert got.ids.tolist() == want.ids.tolist()
    for array in (got.ts, got.room, got.device, got.code, got.value, got.confidence):
        assert array.flags.writeable
        assert array.flags.c_contiguous


@pytest.mark.parametrize("large", [False, True])
@pytest.mark.parametrize("batch_size", [1, 40, 1000])
def test_rows_decoded_and_placed_are_the_columns_of_the_events(
    tmp_path: Path, large: bool, batch_size: int
) -> None:
    path = tmp_path / "night.parquet"
    _write(path, _rows(300, seed=batch_size), large=large)
    fast, slow = Registry(), Registry()
    seen = 0
    with ParquetRecording(path, batch_size=batch_size) as recording:
        for batch in recording.batches():
            got = _columns(batch, fast)
            want = EventColumns.from_events(batch.events(), slow)
            _same_columns(got, want)
            seen += len(got)
            with_raw = batch.decoded(keep_raw=True).placed(Registry()).columns
            assert with_raw.raw == [event.raw for event in batch.events()]
    assert fast.device_keys == slow.device_keys
    assert fast.device_room == slow.device_room
    assert 200 < seen < 300


def test_batches_decoded_ahead_and_placed_in_order_are_the_same_columns(tmp_path: Path) -> None:
    """What replay does with a Parquet recording: every batch decoded on another thread first
    (codec rows and new places in later batches too), then placed one by one: the same
    columns, and the places registered in the same order, as each placed once decoded."""
    path = tmp_path / "night.parquet"
    _write(path, _rows(300, seed=5))
    with ParquetRecording(path, batch_size=40) as recording:
        batches = list(recording.batches())
    assert any(batch.by_codec for batch in batches)
    made = list(read_ahead(batch.decoded() for batch in batches))
    ahead, in_order = Registry(), Registry()
    for decoded, batch in zip(made, batches, strict=True):
        _same_columns(decoded.placed(ahead).columns, _columns(batch, in_order))
    assert ahead.device_keys == in_order.device_keys
    assert ahead.device_room == in_order.device_room


def test_places_without_the_table_are_the_same(tmp_path: Path) -> None:
    path = tmp_path / "night.parquet"
    _write(path, _rows(200, seed=3))
    with ParquetRecording(path, batch_size=64) as recording:
        batches = list(recording.batches())
    table = [_columns(batch, Registry()) for batch in batches]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rows, "_PLACE_TABLE_MAX", 0)
        unique = [_columns(batch, Registry()) for batch in batches]
    for got, want in zip(unique, table, strict=True):
        _same_columns(got, want)


def test_a_batch_of_only_bad_rows_has_no_columns(tmp_path: Path) -> None:
    rows = _rows(3, seed=1)
    for row in rows:
        row["ts"] = 1.0
    path = tmp_path / "bad.parquet"
    _write(path, rows)
    with ParquetRecording(path) as recording:
        (batch,) = recording.batches()
    assert len(batch.dead_letters) == 3
    assert len(_columns(batch, Registry())) == 0


# -- reading ahead on a thread --------------------------------------------------------------


def test_read_ahead_keeps_the_order_and_raises_where_the_error_was() -> None:
    def items() -> Iterator[int]:
        yield from range(5)
        raise ValueError("damaged")

    reader = read_ahead(items(), depth=2)
    got = [next(reader) for _ in range(5)]
    assert got == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="damaged"):
        next(reader)


def test_read_ahead_stops_its_thread_when_the_caller_stops() -> None:
    made = []
    closed = threading.Event()

    def items() -> Iterator[int]:
        try:
            for i in range(1000):
                made.append(i)
                yield i
        finally:
            closed.set()

    reader = read_ahead(items(), depth=2)
    assert next(reader) == 0
    reader.close()
    assert closed.is_set()
    assert len(made) <= 5
    assert not any(t.name == "sensorhub-read-ahead" for t in threading.enumerate())


def test_grouping_by_room_is_a_stable_sort() -> None:
    rng = np.random.default_rng(2)
    room = rng.integers(0, 7, size=500).astype(np.int32)
    order, start = group_by_room(room, 9)
    assert order.tolist() == np.argsort(room, kind="stable").tolist()
    assert start.tolist() == [int(np.count_nonzero(room < r)) for r in range(10)]


@pytest.mark.parametrize("seed", range(3))
def test_plans_made_in_kept_arrays_page_as_fresh_ones(seed: int) -> None:
    """Every plan made into the arrays the classifier keeps from batch to batch (batches of
    every size, growing and shrinking): the same pages and audit trail as with fresh arrays."""
    arrivals = _arrival(_stream(300 + seed, 3000), seed)

    def run() -> tuple[list[Any], list[Any]]:
        fast = FastClassifier(_policy())
        steps = []
        start = 0
        for size in [*_batches(len(arrivals), seed), 700, 3, 1200, 1]:
            chunk = [_copy(e) for e in arrivals[start : start + size]]
            start += size
            if chunk:
                steps.append(fast.push_batch(EventColumns.from_events(chunk, fast.registry)))
        steps.append(fast.drain())
        pages = [_page_key(p) for s in steps for p in s.opened]
        audit = [(r.ts, r.decision, r.reason, r.room, r.incident) for s in steps for r in s.audit]
        return pages, audit

    fresh = run()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fast_module, "PLAN_SCRATCH_MIN", 1)
        kept = run()
    assert kept == fresh
    assert fresh[0]
