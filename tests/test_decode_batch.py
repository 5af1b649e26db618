"""The batch decoder (``sensorhub.batch``) and the codec's ``decode_line`` agree on every line:
the same lines accepted, the same values, the same dead letters."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensorhub.batch import ColumnDecoder, LineChunk, decode_events, read_chunks
from sensorhub.contract import EVENT_CODES, VOCABULARY, allowed_events
from sensorhub.core.columns import EventColumns, Registry

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


def _compare(lines: list[bytes], *, text: bytes | None = None, passes: int = 1) -> None:
    """The batch decoder's result on ``lines`` (decoded ``passes`` times by one decoder: later
    passes know the places) is the codec's."""
    chunk = LineChunk("t.jsonl", 7, lines, text)
    fast_registry = Registry()
    decoder = ColumnDecoder(fast_registry)
    rows, events, dead = decode_events(chunk, 5.0)
    registry = Registry()
    expected = EventColumns.from_events(events, registry)
    for done in range(passes):
        fast = decoder.decode(chunk, 5.0)
        got = fast.columns
        assert fast.rows == rows
        assert [d.model_dump() for d in fast.dead_letters] == [d.model_dump() for d in dead]
        for name in ("ts", "code", "value", "confidence"):
            assert np.array_equal(getattr(got, name), getattr(expected, name), equal_nan=True)
        assert got.ids == expected.ids
        assert fast_registry.device_keys == registry.device_keys  # same order of first events
        assert np.array_equal(got.device, expected.device), done
        assert np.array_equal(got.room, expected.room)


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
    decoder = ColumnDecoder(registry)
    batches = [decoder.decode(c, 0.0) for c in chunks]
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
