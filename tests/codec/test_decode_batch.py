"""The batch decoder (``sensorhub.codec.batch``) and the codec's ``decode_line`` agree on every
line: the same lines accepted, the same values, the same dead letters."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensorhub.codec import batch
from sensorhub.codec.batch import LineDecoder
from sensorhub.codec.columns import EventColumns, Registry
from sensorhub.codec.lines import LineChunk, decode_events, read_chunks
from sensorhub.codec.stages import PlacedBatch
from sensorhub.contract import EVENT_CODES, VOCABULARY, allowed_events

GOOD = {"ts": 1795212001.5, "site": "zon", "room": "101", "kind": "optical", "device": "cam-1"}

_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(1.0e9, 4.2e9),
    st.floats(0.0, 1.0),
    st.sampled_from(["", "x" * 129, "2026-11-20T23:00:01+01:00", "2026-11-20T23:00:01", "a/b"]),
    st.text(max_size=5),
)


@st.composite
def _line(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(list(VOCABULARY)))
    body: dict[str, Any] = {
        **GOOD,
        "kind": kind,
        "event": draw(st.sampled_from(allowed_events(kind))),
    }
    if draw(st.booleans()):
        body["id"] = draw(st.text(min_size=1, max_size=130))
    if draw(st.booleans()):
        body["confidence"] = draw(st.floats(-0.5, 1.5) | st.just(1))
    if draw(st.booleans()):
        body["value"] = draw(st.floats(-100, 200) | st.integers(-(10**20), 10**20))
    for name in draw(
        st.lists(st.sampled_from([*GOOD, "event", "id", "confidence", "value", "fw"]), max_size=2)
    ):
        if draw(st.booleans()):
            body.pop(name, None)
        else:
            body[name] = draw(_values)
    text = json.dumps(body, ensure_ascii=draw(st.booleans()), allow_nan=True)
    damage = draw(st.sampled_from(["", "", "", "cut", "bom", "space", "cr", "two", "blank"]))
    if damage == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    elif damage == "space":
        text = f" \t{text} "
    elif damage == "two":
        text = f"{text} {text}"
    elif damage == "blank":
        text = " "
    data = text.encode("utf-8", "surrogatepass")
    if damage == "bom":
        data = b"\xef\xbb\xbf" + data
    elif damage == "cr":
        data += b"\r"
    return data


def _placed(decoder: LineDecoder, chunk: LineChunk) -> PlacedBatch:
    """``chunk`` decoded and placed in a registry of its own."""
    return decoder.decode(chunk, 0.0).placed(Registry())


def _compare(lines: list[bytes], *, text: bytes | None = None, passes: int = 1) -> None:
    """The batch decoder's result on ``lines`` (decoded ``passes`` times by one decoder: later
    passes know the places) is the codec's."""
    chunk = LineChunk("t.jsonl", 7, lines, text)
    fast_registry = Registry()
    decoder = LineDecoder()
    reference = decode_events(chunk, 5.0)
    rows, events, dead = reference.rows, reference.events, reference.dead_letters
    registry = Registry()
    expected = EventColumns.from_events(events, registry)
    for done in range(passes):
        fast = decoder.decode(chunk, 5.0).placed(fast_registry)
        got = fast.columns
        assert fast.rows == rows
        assert [d.model_dump() for d in fast.dead_letters] == [d.model_dump() for d in dead]
        for name in ("ts", "code", "value", "confidence"):
            assert np.array_equal(getattr(got, name), getattr(expected, name), equal_nan=True)
        assert got.ids == expected.ids
        assert fast_registry.device_keys == registry.device_keys  # same order of first events
        assert np.array_equal(got.device, expected.device), done
        assert np.array_equal(got.room, expected.room)
    audit = _placed(LineDecoder(keep_raw=True), chunk).columns
    assert audit.raw == [e.raw for e in events]
    assert audit.ids == expected.ids


@given(lines=st.lists(_line(), min_size=1, max_size=30))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_lines_are_decoded_as_the_codec_decodes_them(lines: list[bytes]) -> None:
    _compare(lines)


@given(lines=st.lists(_line(), min_size=1, max_size=30), tail=st.sampled_from([b"", b"\n", b"\n{"]))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_lines_decoded_from_their_text_by_a_decoder_that_knows_the_places(
    lines: list[bytes], tail: bytes
) -> None:
    """As ``read_chunks`` hands them (the text the lines came from, and what follows them),
    and decoded again once the decoder knows their names: the codec's result every time."""
    _compare(lines, text=b"\n".join(lines) + tail, passes=2)


def test_what_the_fast_path_leaves_to_the_codec_is_still_decided_by_it() -> None:
    """RFC 3339 times, nulls, unknown fields: valid, taken by the codec; bad lines: its reasons."""
    good = json.dumps({**GOOD, "event": "in_bed"})
    lines = [
        good.encode(),
        json.dumps({**GOOD, "ts": "2026-11-20T23:00:01+01:00", "event": "fall"}).encode(),
        json.dumps({**GOOD, "event": "fall", "id": None, "confidence": None}).encode(),
        json.dumps({**GOOD, "event": "fall", "fw": "1.2", "value": 3}).encode(),
        b"",
        b"not json",
        json.dumps({**GOOD, "event": "pressed"}).encode(),
        json.dumps({**GOOD, "ts": 5, "event": "fall"}).encode(),
        json.dumps({**GOOD, "site": "a b", "event": "fall"}).encode(),
        good.encode() + b" " * (64 * 1024),
    ]
    _compare(lines)


def test_the_reader_keeps_line_numbers_across_blocks(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    lines = [json.dumps({**GOOD, "event": "in_bed", "id": f"e{n}"}) for n in range(500)]
    lines[321] = "broken"
    path.write_text("\n".join(lines))  # no line break after the last line
    chunks = list(read_chunks(path, block_bytes=1000))
    assert len(chunks) > 10
    assert [line for c in chunks for line in c.lines] == [line.encode() for line in lines]
    registry = Registry()
    decoder = LineDecoder()
    batches = [decoder.decode(c, 0.0).placed(registry) for c in chunks]
    dead = [d for b in batches for d in b.dead_letters]
    assert [d.model_dump()["source"] for d in dead] == ["r.jsonl:322"]
    assert sum(len(b.columns) for b in batches) == 499
    assert math.isnan(float(batches[0].columns.value[0]))
    assert int(batches[0].columns.code[0]) == EVENT_CODES[("optical", "in_bed")]


def test_runs_of_many_lines_around_refused_ones() -> None:
    """Runs longer than a segment, with lines msgspec refuses or misreads at many places: a
    line of two objects, one ending inside a string, an object cut short, unknown names."""
    good = [
        json.dumps({**GOOD, "event": "in_bed", "id": f"e{n}", "device": f"cam-{n % 7}"}).encode()
        for n in range(700)
    ]
    odd = {
        0: json.dumps({**GOOD, "event": "fall", "fw": 1}).encode(),
        1: good[1] + b" " + good[1],
        255: b'{"ts": 1795212001.5, "site": "zon}',
        256: json.dumps({**GOOD, "ts": "2026-11-20T23:00:01+01:00", "event": "fall"}).encode(),
        300: good[300] + b"\r",
        301: b" " + good[301],
        302: good[302][:-1],
        400: json.dumps({**GOOD, "event": "fall", "device": "cam-new"}).encode(),
        401: json.dumps({**GOOD, "event": "fall", "site": "a b"}).encode(),
        402: json.dumps({**GOOD, "event": "pressed"}).encode(),
        699: b'{"ts": 1795212001.5}',
    }
    lines = [odd.get(n, line) for n, line in enumerate(good)]
    _compare(lines, text=b"\n".join(lines) + b"\n", passes=2)
    _compare(lines, passes=2)


# -- the compiled first tier (sensorhub.codec.scan) ------------------------------------------------

_NUMBER_TEXTS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(-1e6, 1e6).map(lambda x: f"{x:.3f}"),
    st.integers(-(10**17), 10**17).map(str),
    st.sampled_from(["0", "-0", "-0.0", "1", "1.0", "0.5", "1e0", "1E+0", "10e-1", "0.86", "1.5"]),
    st.sampled_from(["01", "1.", ".5", "+1", "1e", "-", "1e400", "NaN", "true", "null", '"1"']),
)
_WHITE = st.sampled_from(["", "", " ", "\t", "\r", " \r\t "])
_TEXTS = st.one_of(
    st.sampled_from(["zon", "101", "cam-1", "a b", "", "x" * 65, "\u00e9", "caf\\u00e9"]),
    st.text(st.characters(min_codepoint=1, max_codepoint=0x7F), max_size=8),
    st.text(max_size=4),
)


@st.composite
def _shaped_line(draw: st.DrawFn) -> bytes:
    """A line in the scanner's shape (one flat object of the contract's keys), often valid,
    often one rule away from it: every key or value may be off, doubled or missing; white
    space around any token."""
    kind = draw(st.sampled_from(list(VOCABULARY)))
    pairs: list[tuple[str, str]] = [
        ("ts", draw(st.sampled_from(["1795212001.5", "1795212001", "1.7952120015e9"]))),
        ("site", '"zon"'),
        ("room", '"101"'),
        ("kind", json.dumps(kind)),
        ("device", '"cam-1"'),
        ("event", json.dumps(draw(st.sampled_from(allowed_events(kind))))),
    ]
    if draw(st.booleans()):
        pairs.append(("id", json.dumps(draw(st.text(min_size=1, max_size=130)))))
    if draw(st.booleans()):
        pairs.append(("confidence", draw(st.one_of(st.floats(0, 1).map(repr), _NUMBER_TEXTS))))
    if draw(st.booleans()):
        pairs.append(("value", draw(_NUMBER_TEXTS)))
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(pairs) - 1))
        name, value = pairs[at]
        change = draw(st.sampled_from(["value", "text", "drop", "twice", "key", "ts"]))
        if change == "value":
            pairs[at] = (name, draw(_NUMBER_TEXTS))
        elif change == "text":
            pairs[at] = (name, json.dumps(draw(_TEXTS), ensure_ascii=draw(st.booleans())))
        elif change == "drop":
            del pairs[at]
        elif change == "twice":
            pairs.append((name, value))
        elif change == "key":
            pairs[at] = (draw(st.sampled_from(["fw", "Ts", "t\\u0073", "ts ", "", "evt"])), value)
        else:
            pairs[at] = ("ts", draw(st.sampled_from(['"2026-11-20T23:00:01+01:00"', "5", "4.2e9"])))
    pairs = draw(st.permutations(pairs))
    w = [draw(_WHITE) for _ in range(4 * len(pairs) + 2)]
    body = ",".join(
        f"{w[4 * i]}{json.dumps(name)}{w[4 * i + 1]}:{w[4 * i + 2]}{value}{w[4 * i + 3]}"
        for i, (name, value) in enumerate(pairs)
    )
    text = f"{w[-2]}{{{body}}}{w[-1]}"
    return text.encode("utf-8", "surrogatepass")


@given(lines=st.lists(_shaped_line(), min_size=1, max_size=20))
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_lines_of_the_scanners_shape_are_decoded_as_the_codec_decodes_them(
    lines: list[bytes],
) -> None:
    _compare(lines, text=b"\n".join(lines), passes=2)


NEAR_MISSES = [
    # each one rule away from a line the scanner takes; the codec decides each
    b'{"ts":1795212001.5,"site":"zon","room":"101","kind":"optical","device":"cam-1"}',
    b'{"ts":1795212001.5,"ts":1795212002,"site":"zon","room":"101","kind":"optical",'
    b'"device":"cam-1","event":"fall"}',
    b'{"ts":1795212001.5,"site":"zon","room":"101","kind":"optical","device":"cam-1",'
    b'"event":"fall","fw":1}',
    b'{"ts":1795212001.5,"site":"z\\u006fn","room":"101","kind":"optical","device":"cam-1",'
    b'"event":"fall"}',
    '{"ts":1795212001.5,"site":"zön","room":"101","kind":"optical","device":"cam-1",'
    '"event":"fall"}'.encode(),
    b'{"ts":1795212001.5,"site":"zon","room":"101","kind":"optical","device":"cam-1",'
    b'"event":"fall","id":""}',
    b'{"ts":1795212001.5,"site":"zon","room":"101","kind":"optical","device":"cam-1",'
    b'"event":"fall","id":"' + b"x" * 129 + b'"}',
    b'{"ts":1795212001.5,"site":"zon","room":"101","kind":"optical","device":"cam-1",'
    b'"event":"fall","id":"' + b"x" * 128 + b'"}',
    b'{"ts":1795212001.5,"site":"zon","room":"101","kind":"optical","device":"cam-1",'
    b'"event":"fall","confidence":1.0000001}',
    b'{"ts":1795212001.5,"site":"zon","room":"101","kind":"optical","device":"cam-1",'
    b'"event":"fall","confidence":-0.0,"value":-0}',
    b'{"ts":1795212001.5,"site":"zon","room":"101","kind":"optical","device":"cam-1",'
    b'"event":"fall","value":true}',
    b'{"ts":1795212001.5,"site":"zon","room":"101","kind":"optical","device":"cam-1",'
    b'"event":"fall","value":null}',
    b'{"ts":946684800,"site":"zon","room":"101","kind":"optical","device":"cam-1","event":"fall"}',
    b'{"ts":946684799.999,"site":"zon","room":"101","kind":"optical","device":"cam-1",'
    b'"event":"fall"}',
    b'{"ts":4102444800,"site":"zon","room":"101","kind":"optical","device":"cam-1","event":"fall"}',
    b'{"ts":"2026-11-20T23:00:01+01:00","site":"zon","room":"101","kind":"optical",'
    b'"device":"cam-1","event":"fall"}',
    b'{"ts":1795212001.5,"site":"zon","room":"101","kind":"optical","device":"cam-1",'
    b'"event":"pressed"}',
    b'{"ts":1795212001.5,"site":"a b","room":"101","kind":"optical","device":"cam-1",'
    b'"event":"fall"}',
    b'{"ts":1795212001.5,"site":"zon","room":"101","kind":"radar","device":"cam-1","event":"fall"}',
    b'{"ts":1795212001.5,"site":"zon","room":"101","kind":"optical","device":"cam-1",'
    b'"event":"fall"} x',
    b'{"ts":1795212001.5,"site":"zon","room":"101","kind":"optical","device":"cam-1",'
    b'"event":"fall"}\x0b',
    b'{"ts":1795212001.5,"site":"zon","room":"101","kind":"optical","device":"cam-1",'
    b'"event":"fall",}',
    b'{"ts":1795212001.5 "site":"zon","room":"101","kind":"optical","device":"cam-1",'
    b'"event":"fall"}',
    b'{"ts":1795212001.5,"site":"zon","room":"101","kind":"optical","device":"cam-1",'
    b'"event":"fall"',
    b'{"ts":1795212001.5,"site":"zon","room":"101","kind":"optical","device":"cam-1",'
    b'"event":"fall\x01"}',
    b'{"ts":12345678901234567890,"site":"zon","room":"101","kind":"optical","device":"cam-1",'
    b'"event":"fall"}',
    b'{"ts":1795212001.5e0,"site":"zon","room":"101","kind":"optical","device":"cam-1",'
    b'"event":"fall","value":1e23}',
    b"{}",
    b"{ }",
    b"[]",
    b"\t \r",
    b"",
]


def test_near_misses_of_the_scanners_rules_are_the_codecs_to_decide() -> None:
    _compare(NEAR_MISSES, passes=2)
    _compare([*NEAR_MISSES, *NEAR_MISSES], text=b"\r\n".join(NEAR_MISSES), passes=2)


def test_the_scanner_takes_the_ordinary_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """A recording of ordinary lines is decoded by the first tier alone: msgspec and the
    codec are never called."""
    lines = [
        json.dumps(
            {
                "ts": 1795212001.5 + n,
                "site": "zon",
                "room": f"{100 + n % 9}",
                "kind": "optical",
                "device": f"cam-{n % 9}",
                "event": ["in_bed", "fall", "heartbeat"][n % 3],
                "id": f"cam-{n}",
                **({"confidence": 0.5} if n % 2 else {}),
                **({"value": round(n / 3, 2)} if n % 5 == 0 else {}),
            },
            separators=(",", ":"),
        ).encode()
        for n in range(500)
    ]

    def not_called(*args: object, **kwargs: object) -> None:
        raise AssertionError("a line was left to the tiers behind the scanner")

    monkeypatch.setattr(batch, "Segments", not_called)
    monkeypatch.setattr(batch, "decode_line", not_called)
    got = _placed(LineDecoder(), LineChunk("t.jsonl", 1, lines))
    assert got.rows == len(got.columns) == 500
    assert got.columns.ids is not None
    assert got.columns.ids.tolist() == [f"cam-{n}" for n in range(500)]


def test_a_flood_of_places_empties_the_tables_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(batch, "_PLACES_MAX", 3)
    lines = [
        json.dumps({**GOOD, "device": f"cam-{n % 7}", "event": "fall", "id": f"e{n}"}).encode()
        for n in range(40)
    ]
    lines[5] = json.dumps({**GOOD, "device": "cam-ü", "event": "fall"}).encode()
    _compare(lines, passes=4)


def test_chunks_of_text_alone_are_lines_made_when_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'{"a":1}\n\nx\r\n')
    (chunk,) = read_chunks(path)
    assert chunk.count == 3
    assert chunk.lines == [b'{"a":1}', b"", b"x\r"]
    assert chunk == LineChunk("r.jsonl", 1, [b'{"a":1}', b"", b"x\r"])
    assert "x" in repr(chunk)
    with pytest.raises(TypeError):
        LineChunk("r.jsonl", 1)
    empty = _placed(LineDecoder(keep_raw=True), LineChunk("e", 1, []))
    assert (empty.rows, len(empty.columns), empty.columns.raw) == (0, 0, [])
