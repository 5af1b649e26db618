"""The codec: bytes in, validated events or dead letters out (contract section 1)."""

from __future__ import annotations

import base64
import hashlib
import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensorhub.codec import payload as codec
from sensorhub.codec.payload import dead_letter, decode_line, decode_mqtt
from sensorhub.contract import (
    DEAD_LETTER_MAX,
    HEALTH_EVENTS,
    MAX_PAYLOAD,
    TS_MAX,
    TS_MIN,
    VOCABULARY,
    DeadLetter,
    Event,
)

TOPIC = "care/north/14/bed/mat-14"
TS = 1_761_355_800.25  # 2025-10-25T01:30:00.25Z
RECEIVED = 1_761_355_801.0


def payload(**fields: Any) -> bytes:
    """A JSON payload; a field given as None is left out."""
    body = {"ts": TS, "event": "occupied", **fields}
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


def mqtt(body: bytes, topic: str = TOPIC, **kwargs: Any) -> Event | DeadLetter:
    return decode_mqtt(topic, body, RECEIVED, **kwargs)


def accepted(result: Event | DeadLetter) -> Event:
    assert isinstance(result, Event), result
    return result


def rejected(result: Event | DeadLetter, *mentions: str) -> DeadLetter:
    """The result is a dead letter whose error names every one of ``mentions``."""
    assert isinstance(result, DeadLetter), result
    for mention in mentions:
        assert mention in result.error, (mention, result.error)
    return result


def line(**fields: Any) -> bytes:
    place = {"site": "north", "room": "14", "kind": "bed", "device": "mat-14"}
    body = {"ts": TS, "event": "occupied", **place, **fields}
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


# --- valid input ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(VOCABULARY))
def test_every_event_of_every_kind_is_accepted(kind: str) -> None:
    for name in (*VOCABULARY[kind], *HEALTH_EVENTS):
        topic = f"care/north/14/{kind}/dev-1"
        event = accepted(mqtt(payload(event=name), topic))
        assert (event.site, event.room, event.kind, event.device) == ("north", "14", kind, "dev-1")
        assert event.event == name
        assert event.ts == TS


def test_optional_fields_have_their_defaults_when_absent() -> None:
    event = accepted(mqtt(payload()))
    assert event.id is None
    assert event.confidence == 1.0
    assert event.value is None
    assert event.seq == 0


def test_optional_fields_are_taken_when_given() -> None:
    body = payload(id="mat-14-000123", confidence=0.75, value=42)
    event = accepted(mqtt(body))
    assert event.id == "mat-14-000123"
    assert event.confidence == 0.75
    assert event.value == 42.0
    assert isinstance(event.value, float)


def test_null_optional_fields_count_as_absent() -> None:
    body = b'{"ts": 1761355800, "event": "occupied", "id": null, "confidence": null, "value": null}'
    event = accepted(mqtt(body))
    assert (event.id, event.confidence, event.value) == (None, 1.0, None)


def test_unknown_fields_are_kept_in_raw_with_everything_else() -> None:
    body = payload(fw="2.3.1", battery={"mv": 2950, "cells": [1.5, 1.45]}, note=None)
    event = accepted(mqtt(body))
    assert event.raw == json.loads(body)
    assert event.raw["fw"] == "2.3.1"
    assert event.raw["battery"] == {"mv": 2950, "cells": [1.5, 1.45]}


def test_raw_keeps_numbers_as_sent() -> None:
    """An integer ts stays an integer in raw; Event.ts is a float."""
    event = accepted(mqtt(b'{"ts": 1761355800, "event": "vacated"}'))
    assert event.raw["ts"] == 1761355800
    assert isinstance(event.raw["ts"], int)
    assert event.ts == 1761355800.0
    assert isinstance(event.ts, float)


def test_numeric_ts_keeps_its_fraction() -> None:
    assert accepted(mqtt(payload(ts=1761355800.125))).ts == 1761355800.125


@pytest.mark.parametrize(
    "text",
    [
        "2025-10-25T03:30:00.25+02:00",
        "2025-10-25T01:30:00.25Z",
        "2025-10-25t01:30:00.25z",
        "2025-10-25 01:30:00.250000000Z",
        "2025-10-24T20:30:00.25-05:00",
        "2025-10-25T01:30:00.25-00:00",
    ],
)
def test_rfc3339_ts_with_an_offset_or_z_is_the_same_instant(text: str) -> None:
    assert accepted(mqtt(payload(ts=text))).ts == pytest.approx(TS, abs=1e-6)


def test_rfc3339_ts_is_kept_as_a_string_in_raw() -> None:
    text = "2025-10-25T03:30:00+02:00"
    event = accepted(mqtt(payload(ts=text)))
    assert event.raw["ts"] == text
    assert event.ts == datetime(2025, 10, 25, 1, 30, tzinfo=UTC).timestamp()


def test_rfc3339_leap_second_is_the_next_second() -> None:
    event = accepted(mqtt(payload(ts="2016-12-31T23:59:60Z")))
    assert event.ts == datetime(2017, 1, 1, tzinfo=UTC).timestamp()


def test_ts_at_2000_01_01_is_accepted() -> None:
    assert accepted(mqtt(payload(ts=TS_MIN))).ts == TS_MIN
    assert accepted(mqtt(payload(ts="2000-01-01T00:00:00Z"))).ts == TS_MIN


def test_confidence_bounds_0_and_1_are_accepted() -> None:
    assert accepted(mqtt(payload(confidence=0))).confidence == 0.0
    assert accepted(mqtt(payload(confidence=1))).confidence == 1.0


def test_payload_place_equal_to_the_topic_is_accepted() -> None:
    body = payload(site="north", room="14", kind="bed", device="mat-14")
    event = accepted(mqtt(body))
    assert event.topic_suffix == "north/14/bed/mat-14"


def test_names_of_64_characters_with_dots_dashes_underscores_are_accepted() -> None:
    device = "d" * 61 + "_.-"
    assert accepted(mqtt(payload(), f"care/north/14/bed/{device}")).device == device


def test_id_of_128_characters_is_accepted() -> None:
    assert accepted(mqtt(payload(id="x" * 128))).id == "x" * 128


def test_another_prefix_is_honoured() -> None:
    event = accepted(mqtt(payload(), "site-a/care/north/14/bed/mat-14", prefix="site-a/care"))
    assert event.device == "mat-14"
    rejected(mqtt(payload(), TOPIC, prefix="site-a/care"), "'site-a/care/'")


def test_payload_of_exactly_64_kib_is_accepted() -> None:
    body = payload(pad="")
    body = payload(pad="x" * (MAX_PAYLOAD - len(body)))
    assert len(body) == MAX_PAYLOAD
    accepted(mqtt(body))


def test_leading_utf8_byte_order_mark_is_tolerated() -> None:
    """RFC 8259 lets a parser ignore a BOM; a sensor adding one still gets its events through."""
    event = accepted(mqtt(b"\xef\xbb\xbf" + payload()))
    assert event.event == "occupied"


def test_unicode_text_is_accepted() -> None:
    event = accepted(mqtt(payload(note="kamer van mevrouw Müller")))
    assert event.raw["note"] == "kamer van mevrouw Müller"


# --- bad payloads ---------------------------------------------------------------------------


def test_not_json_is_a_dead_letter_saying_so() -> None:
    letter = rejected(mqtt(b"occupied at 3am"), "not JSON")
    assert letter.topic == TOPIC
    assert letter.payload == "occupied at 3am"
    assert letter.encoding == "utf-8"
    assert letter.received_at == RECEIVED


def test_truncated_json_is_not_json() -> None:
    rejected(mqtt(payload()[:-5]), "not JSON")


def test_deeply_nested_json_is_a_dead_letter_not_a_recursion_error() -> None:
    rejected(mqtt(b'{"ts": 1761355800, "event": "occupied", "x": ' + b"[" * 20_000), "not JSON")


def test_empty_payload_is_a_dead_letter() -> None:
    rejected(mqtt(b""), "empty")


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (b"[1, 2]", "a JSON array"),
        (b'"occupied"', "a JSON string"),
        (b"1761355800", "a JSON number"),
        (b"true", "true"),
        (b"null", "null"),
    ],
)
def test_json_that_is_not_an_object_is_a_dead_letter(body: bytes, what: str) -> None:
    rejected(mqtt(body), what, "not a JSON object")


def test_missing_ts_is_named() -> None:
    rejected(mqtt(b'{"event": "occupied"}'), "field 'ts' is missing")


def test_missing_event_is_named() -> None:
    rejected(mqtt(b'{"ts": 1761355800}'), "field 'event' is missing")


@pytest.mark.parametrize(
    ("fields", "mention"),
    [
        ({"ts": True}, "field 'ts': true is a boolean"),
        ({"ts": False}, "field 'ts': false is a boolean"),
        ({"ts": [1761355800]}, "field 'ts': a list"),
        ({"ts": "1761355800"}, "field 'ts': '1761355800' is a string, not a number"),
        ({"ts": "last night"}, "field 'ts': 'last night' is not an RFC 3339 time"),
        ({"ts": "2025-10-25"}, "field 'ts'"),
        ({"ts": "2025-02-30T01:00:00Z"}, "field 'ts': '2025-02-30T01:00:00Z' is not a valid"),
        ({"ts": "2025-10-25T01:00:00+24:00"}, "field 'ts'"),
        ({"event": 3}, "field 'event': 3 is a number, not a string"),
        ({"event": True}, "field 'event': true is a boolean"),
        ({"confidence": "0.9"}, "field 'confidence': '0.9' is a string, not a number"),
        ({"confidence": "high"}, "field 'confidence': 'high' is a string, not a number"),
        ({"confidence": True}, "field 'confidence': true is a boolean"),
        ({"value": "65"}, "field 'value': '65' is a string, not a number"),
        ({"value": False}, "field 'value': false is a boolean"),
        ({"value": {"db": 65}}, "field 'value': an object"),
        ({"id": 123}, "field 'id': 123 is a number, not a string"),
        ({"id": ""}, "field 'id' is empty"),
        ({"id": "x" * 129}, "field 'id': 'xxx"),
        ({"id": "x" * 129}, "129 characters long, more than the 128 allowed"),
        ({"room": 14}, "field 'room': 14 is a number, not a string"),
    ],
)
def test_ill_typed_field_is_named_with_its_value(fields: dict[str, Any], mention: str) -> None:
    rejected(mqtt(payload(**fields)), mention)


def test_required_field_sent_as_null_is_named() -> None:
    rejected(mqtt(b'{"ts": null, "event": "occupied"}'), "field 'ts' is null")
    rejected(mqtt(b'{"ts": 1761355800, "event": null}'), "field 'event' is null")


def test_event_outside_its_kinds_vocabulary_lists_the_allowed_ones() -> None:
    letter = rejected(mqtt(payload(event="jumped")))
    assert letter.error == (
        "field 'event': 'jumped' is not an event of kind 'bed' "
        "(expected one of: occupied, vacated, heartbeat, battery_low, fault)"
    )


def test_event_of_another_kind_is_outside_the_vocabulary() -> None:
    rejected(mqtt(payload(event="fall")), "field 'event': 'fall'", "kind 'bed'")


@pytest.mark.parametrize("field", ["ts", "confidence", "value"])
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
def test_non_finite_number_in_a_field_is_named(field: str, literal: str) -> None:
    body = payload(**{field: 0.5}).replace(b"0.5", literal.encode())
    if field == "ts":
        body = payload(ts=123.5).replace(b"123.5", literal.encode())
    rejected(mqtt(body), f"field '{field}'", "not a finite number")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "1e999"])
def test_non_finite_number_in_an_unknown_field_is_named(literal: str) -> None:
    body = payload(extra={"deep": [1, 99]}).replace(b"99", literal.encode())
    rejected(mqtt(body), "field 'extra'", "not a finite number")


@pytest.mark.parametrize(
    ("ts", "mention"),
    [
        (915_148_800, "before 2000-01-01"),  # 1999-01-01
        (TS_MIN - 0.001, "before 2000-01-01"),
        ("1999-12-31T23:59:59Z", "before 2000-01-01"),
        ("2000-01-01T00:30:00+01:00", "before 2000-01-01"),
        (TS_MAX, "not before 2100-01-01"),  # 2100-01-01 exactly is out
        ("2100-01-01T00:00:00Z", "not before 2100-01-01"),
        ("2100-01-01T01:00:00+01:00", "not before 2100-01-01"),
        (-1, "before 2000-01-01"),
        (1e300, "not before 2100-01-01"),
    ],
)
def test_ts_out_of_range_is_named_with_advice(ts: float | str, mention: str) -> None:
    rejected(mqtt(payload(ts=ts)), "field 'ts'", mention, "check the sensor's clock")


def test_ts_out_of_range_shows_the_date_it_means() -> None:
    rejected(mqtt(payload(ts=915_148_800)), "915148800 (1999-01-01T00:00:00Z)")


def test_ts_string_without_offset_says_to_add_one() -> None:
    letter = rejected(mqtt(payload(ts="2026-10-25T02:30:00")))
    assert letter.error == "field 'ts': '2026-10-25T02:30:00' has no UTC offset: add Z or +01:00"


@pytest.mark.parametrize("confidence", [1.5, -0.1, 85])
def test_confidence_outside_0_to_1_is_named(confidence: float) -> None:
    rejected(mqtt(payload(confidence=confidence)), "field 'confidence'", "outside 0 to 1")


def test_room_in_payload_different_from_topic_says_both() -> None:
    letter = rejected(mqtt(payload(room="12")))
    assert letter.error.startswith("field 'room' is '12' but the topic says '14'")


@pytest.mark.parametrize(
    ("field", "value"), [("site", "south"), ("kind", "door"), ("device", "mat-15")]
)
def test_other_place_fields_different_from_topic_are_named(field: str, value: str) -> None:
    rejected(mqtt(payload(**{field: value})), f"field '{field}' is '{value}' but the topic says")


def test_every_problem_of_a_payload_is_reported_at_once() -> None:
    body = payload(ts="2026-10-25T02:30:00", event="jumped", room="12", confidence=2, id=7)
    rejected(
        mqtt(body),
        "field 'ts'",
        "field 'event'",
        "field 'room'",
        "field 'confidence'",
        "field 'id'",
    )


def test_payload_over_64_kib_is_rejected_before_parsing() -> None:
    body = b"x" * 70_123  # not JSON either: the size is what is reported
    letter = rejected(mqtt(body))
    assert letter.error.startswith("payload is 70123 bytes, more than the 65536 allowed")
    assert letter.payload == "x" * 1024
    assert (letter.length, letter.sha256) == (70_123, hashlib.sha256(body).hexdigest())


# --- dead letters are capped (contract section 1) --------------------------------------------


def _size(letter: DeadLetter) -> int:
    return len(letter.model_dump_json().encode("utf-8"))


@pytest.mark.parametrize(
    ("body", "head", "encoding"),
    [
        (b"\x01" * (1 << 20), "\x01" * 300, "utf-8"),  # 6 bytes each as JSON: fewer kept
        (b"\xff" * 5000, base64.b64encode(b"\xff" * 1024).decode(), "base64"),
        ("\u00e9".encode() * 1000, "\u00e9" * 512, "utf-8"),  # 2 bytes each: 512 of them
        (b"a" + "\u20ac".encode() * 400, "a" + "\u20ac" * 341, "utf-8"),  # 1 + 3 x 341: no cut
        (b'"' * 5000, '"' * 900, "utf-8"),
    ],
)
def test_dead_letter_keeps_the_first_kib_with_the_whole_length_and_hash(
    body: bytes, head: str, encoding: str
) -> None:
    letter = rejected(mqtt(body))
    assert (letter.payload, letter.encoding) == (head, encoding)
    assert (letter.length, letter.sha256) == (len(body), hashlib.sha256(body).hexdigest())
    assert _size(letter) <= DEAD_LETTER_MAX


def test_a_megabyte_of_control_bytes_gives_a_dead_letter_under_4_kib() -> None:
    """Found: 1 MiB of control bytes came back as a 6.29 MB dead letter."""
    letter = dead_letter(
        "care/" + "\x1b" * 70_000, b"\x00" * (1 << 20), "bad " * 5000, 1.0, source="f" * 9999
    )
    assert _size(letter) <= DEAD_LETTER_MAX
    assert letter.topic.startswith("care/\x1b")
    assert letter.topic.endswith("\u2026")
    assert letter.error.endswith("\u2026")
    assert letter.model_extra is not None
    assert str(letter.model_extra["source"]).endswith("\u2026")


@settings(max_examples=200, deadline=None)
@given(
    topic=st.text(max_size=3000),
    body=st.binary(max_size=3000) | st.text(max_size=1500).map(str.encode),
    error=st.text(max_size=3000),
    source=st.text(max_size=1000),
)
def test_no_dead_letter_is_over_4_kib(topic: str, body: bytes, error: str, source: str) -> None:
    letter = dead_letter(topic, body, error, 1.0, source=source)
    assert _size(letter) <= DEAD_LETTER_MAX
    head = body[: len(body) if len(body) <= 1024 else 1024]
    if letter.encoding == "base64":
        assert base64.b64decode(letter.payload) == head
    else:
        assert head.startswith(letter.payload.encode())


def test_payload_one_byte_over_64_kib_is_rejected() -> None:
    body = payload(pad="")
    body = payload(pad="x" * (MAX_PAYLOAD + 1 - len(body)))
    rejected(mqtt(body), f"payload is {MAX_PAYLOAD + 1} bytes")


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe{\x00}\x00",
        b'{"ts": 1761355800, "event": "occupied", "note": "caf\xe9"}',
        b'{"ts": 1761355800, "event": "occupied", "note": "\xed\xa0\x80"}',  # a UTF-8 surrogate
        b"\xc0\xaf",  # overlong encoding of '/'
    ],
)
def test_non_utf8_payload_is_dead_lettered_as_exact_base64(body: bytes) -> None:
    letter = rejected(mqtt(body), "not UTF-8")
    assert letter.encoding == "base64"
    assert base64.b64decode(letter.payload, validate=True) == body


def test_lone_surrogate_escape_is_rejected() -> None:
    """'\\ud800' would make an event that cannot be written out as UTF-8 again."""
    rejected(mqtt(payload(note="PLACEHOLDER").replace(b"PLACEHOLDER", b"\\ud800")), "not JSON")


def test_duplicate_keys_take_the_last_value() -> None:
    event = accepted(mqtt(b'{"ts": 1761355800, "event": "jumped", "event": "vacated"}'))
    assert event.event == "vacated"


# --- bad topics -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "topic",
    [
        "care/north/14",
        "care/north/14/bed",
        "care/north/14/bed/mat-14/extra",
        "care/north/14/bed/mat-14/",
        "care/north/14/bed/mat-14/#",
    ],
)
def test_topic_with_wrong_number_of_levels_shows_the_form(topic: str) -> None:
    rejected(mqtt(payload(), topic), f"topic {topic!r}", "care/<site>/<room>/<kind>/<device>")


def test_topic_of_three_levels_message() -> None:
    letter = rejected(mqtt(payload(), "care/a/b"))
    assert letter.error.startswith(
        "topic 'care/a/b' does not have the form care/<site>/<room>/<kind>/<device>"
    )


@pytest.mark.parametrize(
    ("topic", "mention"),
    [
        ("care/nor th/14/bed/mat-14", "site 'nor th'"),
        ("care/north/1 4/bed/mat-14", "room '1 4'"),
        ("care/north/14/bed/mat 14", "device 'mat 14'"),
        (f"care/north/14/bed/{'d' * 65}", "device 'ddd"),
        ("care/north/14/bed/mat+14", "device 'mat+14'"),
        ("care/north/kamer-ü/bed/mat-14", "room 'kamer-ü'"),
        ("care/north//bed/mat-14", "room ''"),
    ],
)
def test_topic_with_a_bad_name_names_the_level(topic: str, mention: str) -> None:
    rejected(mqtt(payload(), topic), mention, "is not a valid name")


def test_topic_with_unknown_kind_lists_the_kinds() -> None:
    rejected(
        mqtt(payload(), "care/north/14/lamp/l-1"),
        "kind 'lamp' is not a sensor kind",
        "optical, bed, door",
    )


@pytest.mark.parametrize("topic", ["zorg/north/14/bed/mat-14", "north/14/bed/mat-14", "care"])
def test_topic_with_wrong_prefix_says_where_to_publish(topic: str) -> None:
    letter = rejected(mqtt(payload(), topic), "does not start with 'care/'")
    assert letter.topic == topic


def test_topic_error_is_reported_for_every_message_not_just_the_first() -> None:
    """Topics are cached, errors included."""
    for _ in range(3):
        rejected(mqtt(payload(), "care/north/14/lamp/l-1"), "kind 'lamp'")


# --- recordings ---------------------------------------------------------------------------------


def test_recording_line_gives_an_event_placed_by_its_fields() -> None:
    event = accepted(decode_line(line(id="e-1"), RECEIVED, "night.jsonl:1"))
    assert (event.site, event.room, event.kind, event.device) == ("north", "14", "bed", "mat-14")
    assert (event.ts, event.event, event.id) == (TS, "occupied", "e-1")


def test_recording_line_break_is_not_part_of_the_payload() -> None:
    accepted(decode_line(line() + b"\n", RECEIVED, "night.jsonl:1"))
    accepted(decode_line(line() + b"\r\n", RECEIVED, "night.jsonl:1"))
    letter = rejected(decode_line(b"oops\r\n", RECEIVED, "night.jsonl:2"), "not JSON")
    assert letter.payload == "oops"


@pytest.mark.parametrize("field", ["site", "room", "kind", "device"])
def test_recording_line_missing_a_place_field_is_named(field: str) -> None:
    letter = rejected(
        decode_line(line(**{field: None}), RECEIVED, "night.jsonl:17"), f"field '{field}'"
    )
    assert letter.topic == ""
    assert letter.model_extra == {"source": "night.jsonl:17"}


def test_recording_line_with_bad_ts_is_dead_lettered_on_the_topic_it_would_have_had() -> None:
    letter = rejected(decode_line(line(ts=True), RECEIVED, "night.jsonl:3"), "field 'ts'")
    assert letter.topic == "care/north/14/bed/mat-14"
    assert letter.model_extra == {"source": "night.jsonl:3"}


def test_recording_line_with_unknown_kind_is_named() -> None:
    letter = rejected(decode_line(line(kind="lamp"), RECEIVED, "n:1"), "field 'kind': 'lamp'")
    assert letter.topic == "care/north/14/lamp/mat-14"


def test_recording_line_with_bad_names_has_no_topic() -> None:
    letter = rejected(decode_line(line(room="kamer 14"), RECEIVED, "n:1"), "field 'room'")
    assert letter.topic == ""
    letter = rejected(decode_line(line(site=7), RECEIVED, "n:1"), "field 'site': 7")
    assert letter.topic == ""


def test_recording_line_event_is_checked_against_its_kind() -> None:
    rejected(decode_line(line(event="fall"), RECEIVED, "n:1"), "not an event of kind 'bed'")


def test_recording_line_that_is_not_an_object_has_no_topic() -> None:
    letter = rejected(decode_line(b"[]", RECEIVED, "n:9"), "not a JSON object")
    assert (letter.topic, letter.model_extra) == ("", {"source": "n:9"})


def test_recording_line_over_64_kib_is_rejected() -> None:
    rejected(decode_line(line(pad="x" * MAX_PAYLOAD), RECEIVED, "n:1"), "more than the 65536")


# --- dead letters -------------------------------------------------------------------------------


def test_dead_letter_keeps_utf8_payload_as_text() -> None:
    letter = dead_letter("care/x", "é".encode(), "why", 5.0)
    assert letter.model_dump() == {
        "topic": "care/x",
        "payload": "é",
        "encoding": "utf-8",
        "length": 2,
        "sha256": hashlib.sha256("é".encode()).hexdigest(),
        "error": "why",
        "received_at": 5.0,
    }


def test_dead_letter_keeps_other_bytes_as_base64_and_extras_as_fields() -> None:
    letter = dead_letter("", b"\x00\xff", "why", 5.0, source="n:1")
    assert letter.encoding == "base64"
    assert base64.b64decode(letter.payload) == b"\x00\xff"
    assert letter.model_dump()["source"] == "n:1"


def test_an_internal_error_becomes_a_dead_letter_not_an_exception(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(codec, "_check", broken)
    monkeypatch.setattr(codec, "_ordinary", broken)
    rejected(mqtt(payload()), "could not check", "RuntimeError: boom")
    letter = rejected(decode_line(line(), RECEIVED, "n:1"), "could not check")
    assert letter.model_extra == {"source": "n:1"}
    assert "codec failed" in caplog.text


# --- properties -------------------------------------------------------------------------------

_SETTINGS = settings(max_examples=300, deadline=None)


@_SETTINGS
@given(body=st.binary(max_size=300), topic=st.sampled_from([TOPIC, "care/a/b"]) | st.text())
def test_arbitrary_bytes_never_raise_and_give_an_event_or_a_dead_letter(
    body: bytes, topic: str
) -> None:
    result = decode_mqtt(topic, body, RECEIVED)
    assert isinstance(result, Event | DeadLetter)
    if isinstance(result, DeadLetter):
        raw = result.payload.encode() if result.encoding == "utf-8" else None
        assert (raw or base64.b64decode(result.payload)) == body
    else:
        body.decode("utf-8")  # an accepted payload is UTF-8
    result = decode_line(body, RECEIVED, "p:1")
    assert isinstance(result, Event | DeadLetter)


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=10)
    | st.sampled_from(["occupied", "2025-10-25T01:30:00Z", "north", "14", "bed", "mat-14"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


@_SETTINGS
@given(
    fields=st.dictionaries(
        st.sampled_from(
            ["ts", "event", "id", "confidence", "value", "site", "room", "kind", "device", "x"]
        ),
        _json_values,
    )
)
def test_arbitrary_objects_never_raise_and_accepted_ones_obey_the_contract(
    fields: dict[str, Any],
) -> None:
    body = json.dumps(fields).encode()  # may hold NaN/Infinity, as Python's json writes them
    for result in (decode_mqtt(TOPIC, body, RECEIVED), decode_line(body, RECEIVED, "p:1")):
        assert isinstance(result, Event | DeadLetter)
        if isinstance(result, Event):
            assert TS_MIN <= result.ts < TS_MAX
            assert result.event in (*VOCABULARY[result.kind], *HEALTH_EVENTS)
            assert 0.0 <= result.confidence <= 1.0
            assert result.value is None or math.isfinite(result.value)
            assert result.raw == fields
        else:
            assert result.error
