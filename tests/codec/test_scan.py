"""The compiled first tier of the JSONL decoder (``sensorhub.codec.scan``): its numbers are
``float()``'s, it takes the ordinary lines, and it grows its table and outputs as it goes. That
what it takes is what the codec takes is checked in tests/test_decode_batch.py."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensorhub.codec.scan import BLANK, REST, TAKEN, NameTable, Scan

PLACE = '"site":"zon","room":"101","kind":"optical","device":"cam-1","event":"fall"'


def scan(text: bytes, table: NameTable | None = None, **options: int) -> Scan:
    """The scan of ``text`` (lines without a final line break)."""
    chars = np.frombuffer(text + b"\n", dtype=np.uint8)
    return (NameTable() if table is None else table).scan(chars, len(text), **options)


def value_of(number: str) -> float | None:
    """The value the scanner reads from ``number`` as a line's ``value``, None if it leaves
    the line to the tiers behind."""
    got = scan(f'{{"ts":1795212001.5,{PLACE},"value":{number}}}'.encode())
    if got.status[0] != TAKEN:
        return None
    return float(got.value[0])


def same(a: float, b: float) -> bool:
    return math.copysign(1.0, a) == math.copysign(1.0, b) and a == b


def expected(text: str) -> float:
    """What the codec makes of a JSON number: an integer is a Python int (``-0`` is 0), made a
    float; else ``float()`` of the text."""
    return float(int(text)) if text.lstrip("-").isdigit() else float(text)


@given(st.floats(allow_nan=False, allow_infinity=False))
@settings(max_examples=500, deadline=None)
def test_floats_read_back_as_float_reads_them(x: float) -> None:
    for text in (repr(x), f"{x:.6e}", f"{x:.17g}", f"{x:.3f}"):
        got = value_of(text)
        if got is not None:
            assert same(got, expected(text)), text


@st.composite
def _numbers(draw: st.DrawFn) -> str:
    sign = draw(st.sampled_from(["", "-"]))
    whole = draw(st.sampled_from(["0", *map(str, range(1, 10))])) + draw(
        st.text("0123456789", max_size=draw(st.integers(0, 19)))
    )
    if whole.startswith("0"):
        whole = "0"
    fraction = draw(st.sampled_from(["", "." + draw(st.text("0123456789", min_size=1))]))
    exponent = draw(
        st.sampled_from(
            ["", f"{draw(st.sampled_from('eE'))}{draw(st.sampled_from(['', '+', '-']))}"]
        )
    )
    if exponent:
        exponent += str(draw(st.integers(0, 40))).zfill(draw(st.integers(1, 3)))
    return sign + whole + fraction + exponent


@given(_numbers())
@settings(max_examples=1000, deadline=None)
def test_json_numbers_are_float_of_their_text_within_the_fast_path(text: str) -> None:
    """Every number of the fast path (significand up to 2**53, exponent within 22) is taken,
    as ``float()`` reads it (an integer as int() then float(): -0 is 0.0); the others are left."""
    got = value_of(text)
    mantissa, _, exponent = text.lower().partition("e")
    whole, _, fraction = mantissa.lstrip("-").partition(".")
    digits = int(whole + fraction)
    shift = int(exponent or 0) - len(fraction)
    if digits <= 2**53 and abs(shift) <= 22:
        assert got is not None, text
        assert same(got, expected(text)), text
    else:
        assert got is None, text


@pytest.mark.parametrize(
    "text",
    ["01", "-", "+1", ".5", "1.", "1e", "1e+", "--1", "0x10", "1_000", "NaN", "Infinity", "1e1000"],
)
def test_what_is_not_a_json_number_is_left(text: str) -> None:
    assert value_of(text) is None


def test_ordinary_lines_are_taken_with_their_values() -> None:
    lines = [
        b'{"ts":1794861000.109,"site":"zonnehof","room":"103","kind":"door","device":"door-103",'
        b'"event":"heartbeat","id":"door-103-00001"}',
        b'{"ts":1794861003.622,"site":"zonnehof","room":"206","kind":"optical","device":"cam-206",'
        b'"event":"in_bathroom","confidence":0.86,"id":"cam-206-00001"}',
        b' { "event" : "sound" ,\t"value": 71.5, "ts":1794861004, "kind":"acoustic", "room":"1",'
        b' "device":"mic-1", "site":"zonnehof" } \r',
        b"",
        b" \t\x0b",
        b"not json",
    ]
    table = NameTable()
    got = scan(b"\n".join(lines), table)
    assert got.lines == 6
    assert got.taken == 3
    assert got.status[:6].tolist() == [TAKEN, TAKEN, TAKEN, BLANK, BLANK, REST]
    assert got.ts[:3].tolist() == [1794861000.109, 1794861003.622, 1794861004.0]
    assert got.confidence[:3].tolist() == [1.0, np.float32(0.86), 1.0]
    assert got.value[1] != got.value[1]
    assert got.value[2] == 71.5
    assert got.id_has[:3].tolist() == [True, True, False]
    text = b"\n".join(lines)
    starts, lengths = got.id_start[:2].tolist(), got.id_length[:2].tolist()
    assert [text[s : s + n] for s, n in zip(starts, lengths, strict=True)] == [
        b"door-103-00001",
        b"cam-206-00001",
    ]
    assert [text[s:e] for s, e in zip(got.starts[:6], got.ends[:6], strict=True)] == lines
    assert got.entry[:3].tolist() == [0, 1, 2]
    assert table.names() == [
        ("zonnehof", "103", "door", "door-103", "heartbeat"),
        ("zonnehof", "206", "optical", "cam-206", "in_bathroom"),
        ("zonnehof", "1", "acoustic", "mic-1", "sound"),
    ]
    assert table.names(2) == table.names()[2:]
    assert table.names(3) == []


def test_the_table_and_the_outputs_grow_and_keep_their_entries() -> None:
    lines = [
        json.dumps(
            {
                "ts": 1.8e9,
                "site": "s",
                "room": f"r{n % 50}",
                "kind": "door",
                "device": "d",
                "event": ["open", "closed"][n % 2],
            },
            separators=(",", ":"),
        ).encode()
        for n in range(300)
    ]
    table = NameTable(slots=4)
    got = scan(b"\n".join(lines), table, lines_hint=1)
    assert (got.lines, got.taken, len(table)) == (300, 300, 50)
    assert got.line[:300].tolist() == list(range(300))
    assert got.entry[:300].tolist() == [n % 50 for n in range(300)]
    again = scan(b"\n".join(reversed(lines)), table)  # all of them found now
    assert again.entry[:300].tolist() == [n % 50 for n in reversed(range(300))]
    assert len(table) == 50
    table.clear()
    assert len(table) == 0
    assert scan(lines[7], table).entry[0] == 0
    assert table.names() == [("s", "r7", "door", "d", "closed")]


def test_long_names_grow_the_bytes_of_the_table() -> None:
    table = NameTable(slots=4)
    lines = [
        f'{{"ts":1.8e9,"site":"{"s" * 64}","room":"{n}","kind":"door","device":"{"d" * 60}",'
        f'"event":"open"}}'.encode()
        for n in range(40)
    ]
    got = scan(b"\n".join(lines), table)
    assert got.taken == 40
    assert [key[1] for key in table.names()] == [str(n) for n in range(40)]


def test_too_long_lines_are_left_and_a_line_break_must_end_the_text() -> None:
    line = f'{{"ts":1.8e9,{PLACE}}}'.encode()
    assert scan(line, max_line=len(line)).status[0] == TAKEN
    assert scan(line, max_line=len(line) - 1).status[0] == REST
    with pytest.raises(ValueError, match="line break"):
        NameTable().scan(np.frombuffer(line, dtype=np.uint8), len(line))
