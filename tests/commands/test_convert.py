"""Parquet recordings: ``sensorhub convert`` both ways, and ``replay`` of a Parquet file."""

from __future__ import annotations

import gzip
import json
import math
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simulators.ward import Ward, generate_night, to_line

from sensorhub.cli import main
from sensorhub.codec.columnar import ParquetRecording
from sensorhub.codec.formats import RecordingError
from sensorhub.codec.parquet import RECORDING_SCHEMA, ParquetRecordingWriter
from sensorhub.codec.payload import decode_line
from sensorhub.commands.convert import ConvertError, convert
from sensorhub.contract import (
    TS_MAX,
    TS_MIN,
    VOCABULARY,
    DeadLetter,
    Event,
    allowed_events,
)

KNOWN = {"ts", "site", "room", "kind", "device", "event", "id", "confidence", "value"}

#: Lines with what a simulated night has not: unknown fields (nested, non-ASCII), RFC 3339
#: times, a null id, integer numbers, no confidence.
SPECIAL_LINES = [
    '{"ts":"2026-11-20T23:00:01.250+01:00","site":"zonnehof","room":"101","kind":"call",'
    '"device":"call-101","event":"pressed","id":"x-1","fw":"2.3.1","rssi":-61}',
    '{"ts":1795212000,"site":"zonnehof","room":"101","kind":"acoustic","device":"mic-101",'
    '"event":"sound","value":71,"id":null,"meta":{"gain":[1,2.5,{"deep":"ü"}]},"note":"café"}',
    '{"ts":1795212001.5,"site":"zonnehof","room":"102","kind":"optical","device":"cam-102",'
    '"event":"in_bed","confidence":0.7,"id":"cam-102-x","flag":true,"nothing":null}',
    '{"ts":1795212002.0,"site":"zonnehof","room":"102","kind":"optical","device":"cam-102",'
    '"event":"fall","confidence":1,"id":"cam-102-y"}',
]
#: Bad lines, each with a piece of the reason the dead letter must give.
BAD_LINES = [
    ("not json at all", "not JSON"),
    (
        '{"ts":1795212003,"site":"zonnehof","room":"101","kind":"call","device":"c","event":"x"}',
        "field 'event'",
    ),
    (
        '{"ts":631152000,"site":"zonnehof","room":"101","kind":"call","device":"c",'
        '"event":"pressed"}',
        "before 2000-01-01",
    ),
    (
        '{"ts":1795212003,"room":"101","kind":"call","device":"c","event":"pressed"}',
        "field 'site' is missing",
    ),
    (
        '{"ts":1795212003,"site":"zonnehof","room":"101","kind":"optical","device":"c",'
        '"event":"in_bed","confidence":1.5}',
        "outside 0 to 1",
    ),
]


def _night_lines() -> list[str]:
    ward = Ward.typical(4, day=date(2026, 11, 20))
    night = generate_night(ward, 7, late_fraction=0.05)
    return [to_line(entry) for entry in night]


def _write(path: Path, lines: list[str]) -> None:
    data = ("\n".join(lines) + "\n").encode("utf-8")
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data, mtime=0))
    else:
        path.write_bytes(data)


def _decoded(lines: list[str]) -> list[Event]:
    items = [decode_line(line.encode("utf-8"), 0.0, "t") for line in lines]
    return [item for item in items if isinstance(item, Event)]


def _key(event: Event) -> tuple[Any, ...]:
    """All an event is, but the form of the payload's fields (ts as text or number)."""
    unknown = {k: v for k, v in event.raw.items() if k not in KNOWN}
    return (
        event.ts,
        event.site,
        event.room,
        event.kind,
        event.device,
        event.event,
        event.id,
        event.confidence,
        event.value,
        json.dumps(unknown, sort_keys=True),
    )


@pytest.fixture
def recording(tmp_path: Path) -> tuple[Path, list[str]]:
    """A JSONL recording: a simulated night, special lines, bad lines in between."""
    lines = _night_lines()
    for n, line in enumerate(SPECIAL_LINES):
        lines.insert(100 + 50 * n, line)
    for n, (line, _) in enumerate(BAD_LINES):
        lines.insert(75 + 40 * n, line)
    path = tmp_path / "night.jsonl"
    _write(path, lines)
    return path, lines


def test_round_trip_keeps_every_valid_event_and_unknown_field(
    recording: tuple[Path, list[str]], tmp_path: Path
) -> None:
    """JSONL -> Parquet -> JSONL gives the same events, unknown fields included."""
    source, lines = recording
    parquet, back = tmp_path / "night.parquet", tmp_path / "back.jsonl"
    first = convert(source, parquet, row_group_size=500)  # several row groups
    second = convert(parquet, back)
    expected = _decoded(lines)
    assert first.events == second.events == len(expected)
    again = _decoded(back.read_text(encoding="utf-8").splitlines())
    assert [_key(e) for e in again] == [_key(e) for e in expected]
    assert pq.ParquetFile(parquet).metadata.num_row_groups > 1
    by_id = {e.id: e for e in again}
    assert by_id["x-1"].raw["fw"] == "2.3.1"
    assert by_id["x-1"].raw["rssi"] == -61
    assert by_id["cam-102-x"].raw["confidence"] == 0.7  # not 0.699999988 (float32)
    assert by_id["cam-102-x"].raw["nothing"] is None
    sound = next(e for e in again if e.kind == "acoustic" and e.id is None)
    assert sound.raw["meta"] == {"gain": [1, 2.5, {"deep": "ü"}]}
    assert sound.raw["note"] == "café"


def test_parquet_has_the_documented_schema(
    recording: tuple[Path, list[str]], tmp_path: Path
) -> None:
    """Dictionary-encoded names, nullable id/confidence/value/extra, float32 confidence."""
    source, _ = recording
    parquet = tmp_path / "night.parquet"
    convert(source, parquet)
    assert pq.read_schema(parquet).equals(RECORDING_SCHEMA)


def test_bad_lines_are_dead_lettered_with_reasons_and_counted(
    recording: tuple[Path, list[str]], tmp_path: Path
) -> None:
    """A bad line is not converted; it is in OUT.deadletter.jsonl with why, and counted."""
    source, lines = recording
    parquet = tmp_path / "out" / "night.parquet"
    parquet.parent.mkdir()
    summary = convert(source, parquet)
    assert summary.dead_letters == len(BAD_LINES)
    assert summary.rows == len(lines)
    letters = [
        json.loads(row)
        for row in (parquet.parent / "night.deadletter.jsonl").read_text().splitlines()
    ]
    assert len(letters) == len(BAD_LINES)
    for letter, (line, reason) in zip(letters, BAD_LINES, strict=True):
        assert letter["payload"] == line
        assert reason in letter["error"]
        number = lines.index(line) + 1
        assert letter["source"] == f"night.jsonl:{number}"


def test_replay_of_parquet_gives_the_same_pages_as_replay_of_jsonl(
    recording: tuple[Path, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Same pages, byte for byte, and the same audit decisions."""
    source, _ = recording
    parquet = tmp_path / "night.parquet"
    assert main(["convert", str(source), str(parquet), "--row-group-size", "300"]) == 0
    pages_j, pages_p = tmp_path / "j.jsonl", tmp_path / "p.jsonl"
    audit_j, audit_p = tmp_path / "aj.jsonl", tmp_path / "ap.jsonl"
    assert main(["replay", str(source), "--pages", str(pages_j), "--audit", str(audit_j)]) == 0
    assert main(["replay", str(parquet), "--pages", str(pages_p), "--audit", str(audit_p)]) == 0
    assert pages_j.read_text() == pages_p.read_text()
    assert len(pages_j.read_text().splitlines()) > 5

    def decisions(path: Path) -> list[tuple[Any, ...]]:
        records = [json.loads(line) for line in path.read_text().splitlines()]
        return [
            (r["ts"], r["decision"], r["reason"], r.get("page_id"), r.get("event", {}).get("id"))
            for r in records
        ]

    assert decisions(audit_j) == decisions(audit_p)
    out = capsys.readouterr().out
    assert "events" in out


def test_gzipped_jsonl_in_and_out(recording: tuple[Path, list[str]], tmp_path: Path) -> None:
    """.jsonl.gz is read and written (deterministically: the same input, the same bytes)."""
    _, lines = recording
    gz = tmp_path / "night.jsonl.gz"
    _write(gz, lines)
    parquet = tmp_path / "night.parquet"
    summary = convert(gz, parquet)
    assert summary.events == len(_decoded(lines))
    assert summary.dead_letters == len(BAD_LINES)
    assert summary.deadletter_path == tmp_path / "night.deadletter.jsonl"
    back1, back2 = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"
    convert(parquet, back1)
    convert(parquet, back2)
    assert back1.read_bytes() == back2.read_bytes()
    with gzip.open(back1, "rt", encoding="utf-8") as stream:
        again = _decoded(stream.read().splitlines())
    assert [_key(e) for e in again] == [_key(e) for e in _decoded(lines)]


# --- files that are not recordings -----------------------------------------------------------


def _table(**columns: Any) -> pa.Table:
    base: dict[str, Any] = {
        "ts": [1795212000.0],
        "site": ["zonnehof"],
        "room": ["101"],
        "kind": ["call"],
        "device": ["call-101"],
        "event": ["pressed"],
    }
    base.update(columns)
    return pa.table({name: value for name, value in base.items() if value is not None})


@pytest.mark.parametrize(
    ("table", "says"),
    [
        (_table(event=None), "required column(s) 'event' are missing"),
        (_table(site=[17]), "column 'site' is int64"),
        (_table(ts=["yesterday"]), "column 'ts' is string"),
        (_table(colour=["red"]), "'colour' are not part of a recording"),
        (_table(confidence=["high"]), "column 'confidence' is string"),
    ],
    ids=["missing column", "wrong type", "ts not a time", "unknown column", "confidence text"],
)
@pytest.mark.parametrize("command", ["replay", "convert"])
def test_a_parquet_file_that_is_no_recording_is_a_clear_error(
    table: pa.Table,
    says: str,
    command: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Exit 2, a sentence on stderr that names the problem and the columns, no traceback."""
    path = tmp_path / "odd.parquet"
    pq.write_table(table, path)
    out = tmp_path / ("pages.jsonl" if command == "replay" else "odd.jsonl")
    argv = (
        [command, str(path), "--pages", str(out)]
        if command == "replay"
        else [
            command,
            str(path),
            str(out),
        ]
    )
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert says in err
    assert "ts, site, room, kind, device, event" in err
    assert "Traceback" not in err
    assert not out.exists()  # nothing half written


def test_a_file_that_is_not_parquet_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "night.parquet"
    path.write_text('{"ts": 1, "event": "pressed"}\n')
    assert main(["replay", str(path), "--pages", str(tmp_path / "p.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "is not a Parquet file" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("source", "target", "says"),
    [
        ("a.jsonl", "b.jsonl.gz", "both JSONL"),
        ("a.parquet", "b.parquet", "both PARQUET"),
        ("a.csv", "b.parquet", "cannot tell the format"),
        ("missing.jsonl", "b.parquet", "no such recording"),
    ],
)
def test_convert_refuses_what_it_cannot_do(
    source: str, target: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("a.jsonl", "a.parquet", "a.csv"):
        (tmp_path / name).write_text("")
    with pytest.raises(ConvertError, match=says):
        convert(tmp_path / source, tmp_path / target)
    assert main(["convert", str(tmp_path / source), str(tmp_path / target)]) == 2
    assert says in capsys.readouterr().err


# --- rows that are bad input ------------------------------------------------------------------


def test_bad_parquet_rows_become_dead_letters_with_the_codecs_reasons(tmp_path: Path) -> None:
    """Each bad row is a dead letter (as its JSONL line would be); the good rows are events."""
    rows: list[dict[str, Any]] = [
        {"ts": 1795212000.0, "event": "pressed", "id": "good-1"},
        {"ts": TS_MIN - 1, "event": "pressed", "id": "early"},
        {"ts": math.nan, "event": "pressed", "id": "nan-ts"},
        {"ts": None, "event": "pressed", "id": "no-ts"},
        {"ts": 1795212000.0, "event": "jumped", "id": "bad-event"},
        {"ts": 1795212000.0, "event": None, "id": "no-event"},
        {"ts": 1795212000.0, "event": "pressed", "room": "no room!", "id": "bad-room"},
        {"ts": 1795212000.0, "event": "pressed", "id": "x" * 129},
        {"ts": 1795212000.0, "event": "pressed", "id": ""},
        {"ts": 1795212000.0, "event": "pressed", "id": "conf", "confidence": 1.5},
        {"ts": 1795212000.0, "event": "pressed", "id": "val", "value": math.inf},
        {"ts": 1795212000.0, "event": "pressed", "id": "extra-text", "extra": "fw=2"},
        {"ts": 1795212000.0, "event": "pressed", "id": "extra-list", "extra": "[1]"},
        {"ts": 1795212000.0, "event": "pressed", "id": "extra-ts", "extra": '{"ts": 3}'},
        {"ts": 1795212000.0, "event": "pressed", "id": "extra-nan", "extra": '{"a": NaN}'},
        {"ts": 1795212001.0, "event": "cancelled", "id": "good-2", "extra": '{"fw": "2"}'},
    ]
    table = pa.Table.from_pylist(
        [
            {"site": "zonnehof", "room": "101", "kind": "call", "device": "call-101", **row}
            for row in rows
        ],
        schema=pa.schema(
            [
                ("ts", pa.float64()),
                ("site", pa.string()),
                ("room", pa.string()),
                ("kind", pa.string()),
                ("device", pa.string()),
                ("event", pa.string()),
                ("id", pa.string()),
                ("confidence", pa.float64()),
                ("value", pa.float64()),
                ("extra", pa.string()),
            ]
        ),
    )
    path = tmp_path / "mixed.parquet"
    pq.write_table(table, path)
    with ParquetRecording(path) as recording:
        batches = list(recording.batches())
    events = [e for b in batches for e in b.events()]
    letters = [d for b in batches for d in b.dead_letters]
    assert [e.id for e in events] == ["good-1", "good-2"]
    assert events[1].raw["fw"] == "2"
    reasons = {json.loads(d.payload).get("id"): d.error for d in letters}
    assert "before 2000-01-01" in reasons["early"]
    assert "not a finite number" in reasons["nan-ts"]
    assert "field 'ts' is missing" in reasons["no-ts"]
    assert "'jumped' is not an event of kind 'call'" in reasons["bad-event"]
    assert "field 'event' is missing" in reasons["no-event"]
    assert "field 'room'" in reasons["bad-room"]
    assert "129 characters long" in reasons["x" * 129]
    assert "empty" in reasons[""]
    assert "outside 0 to 1" in reasons["conf"]
    assert "not a finite number" in reasons["val"]
    assert "column 'extra' is not JSON" in reasons["extra-text"]
    assert "column 'extra' is not a JSON object" in reasons["extra-list"]
    assert "column 'extra' holds 'ts'" in reasons["extra-ts"]
    assert "not a finite number" in reasons["extra-nan"]
    sources = {d.source for d in letters}  # type: ignore[attr-defined]
    assert "mixed.parquet:2" in sources  # rows count from 1, as lines do
    assert all(d.topic in ("care/zonnehof/101/call/call-101", "") for d in letters)


def test_parquet_to_jsonl_dead_letters_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "two.parquet"
    pq.write_table(
        _table(
            ts=[1795212000.0, 1.0],
            **{
                name: [value, value]
                for name, value in (
                    ("site", "zonnehof"),
                    ("room", "101"),
                    ("kind", "call"),
                    ("device", "c"),
                    ("event", "pressed"),
                )
            },
        ),
        path,
    )
    summary = convert(path, tmp_path / "two.jsonl")
    assert (summary.rows, summary.events, summary.dead_letters) == (2, 1, 1)
    letter = json.loads((tmp_path / "two.deadletter.jsonl").read_text())
    assert "before 2000-01-01" in letter["error"]
    assert letter["source"] == "two.parquet:2"


def test_other_tools_files_are_read(tmp_path: Path) -> None:
    """Plain strings, integer values, a UTC timestamp column and no optional columns."""
    path = tmp_path / "pandas.parquet"
    table = pa.table(
        {
            "ts": pa.array([1_795_212_000_250_000], pa.timestamp("us", tz="UTC")),
            "site": ["zonnehof"],
            "room": ["101"],
            "kind": ["acoustic"],
            "device": ["mic-101"],
            "event": ["sound"],
            "value": pa.array([70], pa.int64()),
        }
    )
    pq.write_table(table, path)
    with ParquetRecording(path) as recording:
        (event,) = [e for b in recording.batches() for e in b.events()]
    assert (event.ts, event.value, event.id, event.confidence) == (1795212000.25, 70.0, None, 1.0)
    naive = tmp_path / "naive.parquet"
    pq.write_table(table.set_column(0, "ts", pa.array([1], pa.timestamp("us"))), naive)
    with pytest.raises(RecordingError, match="without a time zone"):
        ParquetRecording(naive)


# --- the column checks agree with the codec ---------------------------------------------------

#: Per field: values the contract accepts, and values it does not.
_GOOD: dict[str, list[Any]] = {
    "ts": [1795212000.5, TS_MIN, TS_MAX - 1],
    "site": ["zonnehof", "a.b-c_9", "x" * 64],
    "room": ["101", "R"],
    "device": ["cam-101", "d"],
    "id": [None, "e-1", "é" * 128],
    "confidence": [None, 0.0, 1.0, 0.7, 0.93],
    "value": [None, 55.0, -3.5, 0.1],
}
_BAD: dict[str, list[Any]] = {
    "ts": [TS_MIN - 0.001, TS_MAX, math.nan, math.inf, None],
    "site": ["", "x" * 65, "é", None],
    "room": ["has space", None],
    "kind": ["Optical", "", None],
    "device": ["a/b", None],
    "event": ["jumped", "", None, "vacated"],  # vacated: an event, of another kind
    "id": ["", "x" * 129],
    "confidence": [1.5, -0.1, math.nan],
    "value": [math.nan, -math.inf],
}


@st.composite
def _row(draw: st.DrawFn) -> dict[str, Any]:
    """A valid row with, now and then, a field or two made invalid."""
    row = {name: draw(st.sampled_from(values)) for name, values in _GOOD.items()}
    row["kind"] = draw(st.sampled_from([k for k in VOCABULARY if k != "bed"]))
    row["event"] = draw(st.sampled_from(allowed_events(row["kind"])))
    for name in draw(st.lists(st.sampled_from(sorted(_BAD)), max_size=2)):
        row[name] = draw(st.sampled_from(_BAD[name]))
    return row


@given(rows=st.lists(_row(), min_size=1, max_size=40))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_column_checks_agree_with_the_codec(
    rows: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A row is an event exactly when its JSON payload is, and then the same event."""
    path = tmp_path_factory.mktemp("random") / "random.parquet"
    schema = pa.schema([f.with_nullable(True) for f in RECORDING_SCHEMA if f.name != "extra"])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    with ParquetRecording(path, batch_size=16) as recording:
        batches = list(recording.batches())
    events = iter([e for b in batches for e in b.events()])
    dead = sum(len(b.dead_letters) for b in batches)
    expected_dead = 0
    for row in rows:
        payload = {name: value for name, value in row.items() if value is not None}
        oracle = decode_line(json.dumps(payload).encode(), 0.0, "t")
        if isinstance(oracle, DeadLetter):
            expected_dead += 1
            continue
        got = next(events)
        assert _key(got) == _key(oracle)
    assert next(events, None) is None
    assert dead == expected_dead
    assert len(rows) - dead == sum(len(b.valid) for b in batches)


def test_writer_holds_one_row_group_at_a_time(tmp_path: Path) -> None:
    """Events are flushed every row_group_size rows."""
    path = tmp_path / "w.parquet"
    events = _decoded(_night_lines()[:250])
    with ParquetRecordingWriter(path, row_group_size=100) as writer:
        for event in events:
            writer.write(event)
            assert len(writer._columns["ts"]) < 100
    assert writer.rows == 250
    assert pq.ParquetFile(path).metadata.num_row_groups == 3
