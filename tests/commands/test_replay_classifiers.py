"""``replay`` with the compiled core (the default) writes what the pure-Python twin writes:
the same pages, audit trail and dead letters, byte for byte, from JSONL and from Parquet. A
JSONL recording decoded ahead on a thread writes what it writes decoded in line, and an error
or an early stop leaves no thread behind."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from simulators.site import simulate_site

from sensorhub.codec.batch import LineDecoder
from sensorhub.codec.columns import Registry
from sensorhub.codec.lines import LineChunk, read_chunks
from sensorhub.codec.stages import DecodedBatch, PlacedBatch
from sensorhub.commands import replay as replay_module
from sensorhub.commands.convert import convert
from sensorhub.commands.replay import ReplaySummary, replay
from sensorhub.rules import load_policy
from simulators import ward

_T = TypeVar("_T")


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A small simulated site week (late events, malformed lines) as JSONL and Parquet."""
    folder = tmp_path_factory.mktemp("week")
    run = simulate_site(6, 3, date(2026, 10, 23), 3, 0.05, 0.002)
    rules = folder / "week.rules.yaml"
    rules.write_text(run.rule_file(), encoding="utf-8")
    jsonl = folder / "week.jsonl"
    ward.write_recording(run.recording, jsonl)
    # redeliveries: every 97th line once more, a little later
    lines = jsonl.read_bytes().splitlines(keepends=True)
    with_copies = []
    for n, line in enumerate(lines):
        with_copies.append(line)
        if n % 97 == 50:
            with_copies.append(lines[n - 3])
    jsonl.write_bytes(b"".join(with_copies))
    parquet = folder / "week.parquet"
    convert(jsonl, parquet, deadletter_path=folder / "convert.deadletter.jsonl")
    return jsonl, parquet, rules


def _run(recording: Path, rules: Path, out: Path, classifier: Any) -> tuple[ReplaySummary, Path]:
    out.mkdir()
    summary = replay(
        recording,
        load_policy(rules),
        out / "pages.jsonl",
        audit_path=out / "audit.jsonl",
        deadletter_path=out / "dead.jsonl",
        classifier=classifier,
    )
    return summary, out


def _dead(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    letters = [json.loads(line) for line in path.read_text().splitlines()]
    for letter in letters:
        del letter["received_at"]  # the wall clock of the run
    return letters


@pytest.mark.parametrize("form", ["jsonl", "parquet"])
def test_fast_and_reference_replay_write_the_same_files(
    week: tuple[Path, Path, Path], tmp_path: Path, form: str
) -> None:
    jsonl, parquet, rules = week
    recording = jsonl if form == "jsonl" else parquet
    fast, fast_out = _run(recording, rules, tmp_path / "fast", "fast")
    ref, ref_out = _run(recording, rules, tmp_path / "reference", "reference")
    pages = (fast_out / "pages.jsonl").read_text()
    assert pages == (ref_out / "pages.jsonl").read_text()
    assert len(pages.splitlines()) > 20
    assert (fast_out / "audit.jsonl").read_text() == (ref_out / "audit.jsonl").read_text()
    assert _dead(fast_out / "dead.jsonl") == _dead(ref_out / "dead.jsonl")
    assert fast.duplicates > 0
    for name in ("lines", "events", "dead_letters", "duplicates", "late_events", "raw_alarms"):
        assert getattr(fast, name) == getattr(ref, name), name
    assert fast.pages_by_kind == ref.pages_by_kind
    if form == "jsonl":
        assert fast.dead_letters > 0


def test_pages_without_audit_are_the_same_and_in_event_time_order(
    week: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    jsonl, _, rules = week
    policy = load_policy(rules)
    fast_pages, ref_pages = tmp_path / "f.jsonl", tmp_path / "r.jsonl"
    replay(jsonl, policy, fast_pages)
    replay(jsonl, policy, ref_pages, classifier="reference")
    assert fast_pages.read_text() == ref_pages.read_text()
    times = [json.loads(line)["ts"] for line in fast_pages.read_text().splitlines()]
    assert times == sorted(times)


def test_progress_is_reported_on_a_long_run(
    week: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jsonl, _, rules = week
    monkeypatch.setattr("sensorhub.commands.replay.PROGRESS_EVERY", 0.0)
    monkeypatch.setattr("sensorhub.codec.lines.BLOCK_BYTES", 4096)
    seen: list[int] = []
    replay(
        jsonl,
        load_policy(rules),
        tmp_path / "p.jsonl",
        progress=lambda summary: seen.append(summary.lines),
    )
    assert len(seen) > 1
    assert seen == sorted(seen)


def test_parquet_of_another_tool_in_small_batches_replays_as_the_twin(
    week: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ids as ``large_string`` with non-ASCII characters (redeliveries kept), rows with unknown
    fields and bad rows, small row groups read in batches that cut across them (so the id
    arrays are slices): the fast replay still writes what the twin writes."""
    _, parquet, rules = week
    table = pq.read_table(parquet)
    ids = pc.binary_join_element_wise(table.column("id"), pa.scalar("-é\U0001d11e"), "")
    table = table.set_column(table.schema.get_field_index("id"), "id", ids.cast(pa.large_string()))
    n = table.num_rows
    rows = pa.array(range(n))
    extra = pc.if_else(
        pc.equal(pc.bit_wise_and(rows, 63), 5), pa.scalar('{"fw": "2.3", "note": "café"}'), None
    )
    table = table.set_column(table.schema.get_field_index("extra"), "extra", extra)
    ts = pc.if_else(pc.equal(pc.bit_wise_and(rows, 255), 7), 1.0, table.column("ts"))
    table = table.set_column(table.schema.get_field_index("ts"), "ts", ts)
    other = tmp_path / "other.parquet"
    pq.write_table(table, other, row_group_size=1000)
    # replay reads the batch size from codec.columnar, which it imports for Parquet only
    monkeypatch.setattr("sensorhub.codec.columnar.FAST_BATCH_SIZE", 777)
    fast, fast_out = _run(other, rules, tmp_path / "fast", "fast")
    ref, ref_out = _run(other, rules, tmp_path / "reference", "reference")
    assert (fast_out / "pages.jsonl").read_text() == (ref_out / "pages.jsonl").read_text()
    assert (fast_out / "audit.jsonl").read_text() == (ref_out / "audit.jsonl").read_text()
    assert _dead(fast_out / "dead.jsonl") == _dead(ref_out / "dead.jsonl")
    assert fast.duplicates == ref.duplicates > 0
    assert fast.dead_letters == ref.dead_letters > 0
    assert fast.events == ref.events
    assert "é\U0001d11e" in (fast_out / "pages.jsonl").read_text()


def _in_line(items: Iterator[_T], depth: int = 1) -> Iterator[_T]:
    """``read_ahead`` without the thread: each item made when asked for."""
    yield from items


def _helper_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("sensorhub-")]


def test_jsonl_decoded_ahead_writes_what_it_writes_decoded_in_line(
    week: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small blocks (many chunks decoded ahead, new places in later ones), bad lines and
    redeliveries: the same files, byte for byte, as decoding each chunk when it is needed."""
    jsonl, _, rules = week
    monkeypatch.setattr("sensorhub.codec.lines.BLOCK_BYTES", 16_384)
    ahead, ahead_out = _run(jsonl, rules, tmp_path / "ahead", "fast")
    with monkeypatch.context() as patch:
        patch.setattr(replay_module, "read_ahead", _in_line)
        in_line, in_line_out = _run(jsonl, rules, tmp_path / "in-line", "fast")
    for name in ("pages.jsonl", "audit.jsonl"):
        assert (ahead_out / name).read_bytes() == (in_line_out / name).read_bytes(), name
    assert _dead(ahead_out / "dead.jsonl") == _dead(in_line_out / "dead.jsonl")
    assert ahead == ReplaySummary(**{**vars(in_line), "seconds": ahead.seconds})
    assert ahead.lines > 1000
    assert ahead.dead_letters > 0
    assert ahead.duplicates > 0


def test_places_decoded_ahead_are_registered_as_in_line(week: tuple[Path, Path, Path]) -> None:
    """Every chunk decoded before any is placed, then placed in order: the same columns, and
    the same devices in the registry in the same order, as each placed once decoded."""
    jsonl, _, _ = week
    chunks = list(read_chunks(jsonl, block_bytes=16_384))
    assert len(chunks) > 10
    in_line, ahead = Registry(), Registry()
    in_line_decoder = LineDecoder(keep_raw=True)
    ahead_decoder = LineDecoder(keep_raw=True)
    expected = [in_line_decoder.decode(_fresh(chunk), 0.0).placed(in_line) for chunk in chunks]
    decoded: list[DecodedBatch] = [ahead_decoder.decode(chunk, 0.0) for chunk in chunks]
    got = [batch.placed(ahead) for batch in decoded]
    assert [_plain(batch) for batch in got] == [_plain(batch) for batch in expected]
    assert ahead.device_keys == in_line.device_keys
    assert ahead.room_keys == in_line.room_keys
    assert len(ahead.device_keys) > 1


def _fresh(chunk: LineChunk) -> LineChunk:
    return LineChunk(chunk.name, chunk.first, text=chunk.text, limit=chunk.limit)


def _plain(batch: PlacedBatch) -> tuple[Any, ...]:
    """A decoded batch as lists, comparable with ``==`` (NaN values as None)."""
    c = batch.columns
    ids = c.ids.tolist() if c.ids is not None else None
    values = [None if math.isnan(v) else v for v in c.value.tolist()]
    arrays = (c.ts, c.room, c.device, c.code, c.confidence)
    letters = [letter.model_dump() for letter in batch.dead_letters]
    return batch.rows, [a.tolist() for a in arrays], values, ids, c.raw, letters


class _StopError(Exception):
    pass


def test_an_error_decoding_ahead_is_raised_and_leaves_no_thread(
    week: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jsonl, _, rules = week
    monkeypatch.setattr("sensorhub.codec.lines.BLOCK_BYTES", 16_384)
    decode = LineDecoder.decode
    calls = 0

    def failing(self: LineDecoder, chunk: LineChunk, received_at: float) -> DecodedBatch:
        nonlocal calls
        calls += 1
        if calls == 5:
            raise _StopError("a chunk that cannot be decoded")
        return decode(self, chunk, received_at)

    monkeypatch.setattr(LineDecoder, "decode", failing)
    with pytest.raises(_StopError, match="cannot be decoded"):
        replay(jsonl, load_policy(rules), tmp_path / "pages.jsonl")
    assert calls == 5
    assert _helper_threads() == []


def test_stopping_a_jsonl_replay_early_leaves_no_thread(
    week: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caller stops after the second batch (here: its progress callback raises) while
    the decoding thread is ahead of it: the thread is stopped and joined."""
    jsonl, _, rules = week
    monkeypatch.setattr("sensorhub.codec.lines.BLOCK_BYTES", 16_384)
    monkeypatch.setattr("sensorhub.commands.replay.PROGRESS_EVERY", 0.0)
    seen: list[int] = []

    def progress(summary: ReplaySummary) -> None:
        seen.append(summary.lines)
        if len(seen) == 2:
            raise _StopError("enough")

    with pytest.raises(_StopError, match="enough"):
        replay(jsonl, load_policy(rules), tmp_path / "pages.jsonl", progress=progress)
    assert len(seen) == 2
    assert _helper_threads() == []
