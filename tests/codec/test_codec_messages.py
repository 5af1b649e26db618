"""What the codec tells a technician, word for word, and how it keeps its parsed topics.

The other codec tests look for a few words in each dead letter's reason; the mutation run of
codec/payload.py (docs/testing.md) showed that a reason could lose or garble the rest (the
example of what to send, the field a bad name is in) and no test would notice. These pin the
whole reason; the edges it found unpinned (RFC 3339 offsets up to 23:59, the first and last
dates shown, times read in UTC on a machine that is not, a head that cuts a character in two,
a topic of exactly 400 bytes); and the caches' promises: a topic or a recording line's place
is parsed once, and a cache never holds more than ``_CACHE_MAX`` entries.
"""

from __future__ import annotations

import base64
import logging
import time

import pytest

from sensorhub.codec import payload as codec
from sensorhub.codec.payload import dead_letter, decode_line, decode_mqtt, parse_object
from sensorhub.contract import MAX_PAYLOAD, DeadLetter, Event
from tests.codec.test_codec import RECEIVED, TOPIC, TS, line, payload

EXAMPLE = 'send one object such as {"ts": 1761355800.5, "event": "heartbeat"}'
NAME_RULE = "use 1-64 letters, digits, '_', '.' or '-'"


def reason(result: Event | DeadLetter) -> str:
    assert isinstance(result, DeadLetter), result
    return result.error


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (b"[1, 2]", "a JSON array"),
        (b'"occupied"', "a JSON string"),
        (b"1761355800", "a JSON number"),
        (b"true", "the JSON value true"),
        (b"null", "the JSON value null"),
        (b"\xef\xbb\xbf[1, 2]", "a JSON array"),  # the slow way, past a byte order mark
    ],
)
def test_json_that_is_not_an_object_says_what_it_is_and_what_to_send(
    body: bytes, what: str
) -> None:
    expected = f"payload is {what}, not a JSON object: {EXAMPLE}"
    assert reason(decode_mqtt(TOPIC, body, RECEIVED)) == expected
    assert parse_object(body) == expected


def test_parse_object_takes_one_object_up_to_the_payload_limit() -> None:
    assert parse_object(b'{"a": 1}') == {"a": 1}
    assert parse_object(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}
    assert parse_object(b"{") == (
        "not JSON: EOF while parsing an object at line 1 column 1: send one JSON object per message"
    )
    body = b'{"a": "' + b"x" * (MAX_PAYLOAD - 9) + b'"}'
    assert len(body) == MAX_PAYLOAD
    assert parse_object(body) == {"a": "x" * (MAX_PAYLOAD - 9)}
    assert parse_object(body + b" ") == (
        f"payload is {MAX_PAYLOAD + 1} bytes, more than the {MAX_PAYLOAD} allowed: "
        "send one event per message"
    )


@pytest.mark.parametrize("field", ["site", "room", "device"])
def test_a_recording_line_with_a_bad_name_says_which_field_word_for_word(field: str) -> None:
    letter = decode_line(line(**{field: "a b"}), RECEIVED, "night.jsonl:4")
    assert reason(letter) == f"field '{field}': 'a b' is not a valid name: {NAME_RULE}"


def test_a_recording_line_names_each_missing_place_field_and_no_ill_typed_one_as_missing() -> None:
    missing = "is missing: every line of a recording must give site, room, kind and device"
    letter = decode_line(line(site=None, device=None), RECEIVED, "night.jsonl:5")
    assert reason(letter) == f"field 'site' {missing}; field 'device' {missing}"
    letter = decode_line(line(site=5), RECEIVED, "night.jsonl:6")
    assert reason(letter) == "field 'site': 5 is a number, not a string: send it in quotes"


NOT_FINITE = (
    "field 'x' holds {}, which is not a finite number: send finite numbers only "
    "(kept without fields outside the contract or blobs: 'x')"
)
NOT_A_STRING = "field 'event': {0} is {0}, not a string: send the event's name in quotes; "


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'"ts": 1761355800.25, "event": "occupied", "x": NaN', NOT_FINITE.format("NaN")),
        # a ts that is no float: the first float the quick look meets is the NaN
        (b'"ts": 1761355800, "event": "occupied", "x": NaN', NOT_FINITE.format("NaN")),
        (
            b'"ts": 1761355800, "event": "occupied", "x": [1, {"y": -Infinity}]',
            NOT_FINITE.format("-Infinity"),
        ),
        # an event that is an object or a list: no string for the quick look to stop at
        (
            b'"ts": 1761355800.25, "event": {}, "x": {"y": NaN}',
            NOT_A_STRING.format("an object") + NOT_FINITE.format("NaN"),
        ),
        (
            b'"ts": 1761355800.25, "event": [], "x": [Infinity]',
            NOT_A_STRING.format("a list") + NOT_FINITE.format("Infinity"),
        ),
    ],
)
def test_a_non_finite_number_in_an_unknown_field_is_found_and_shown_as_sent(
    body: bytes, expected: str
) -> None:
    assert reason(decode_mqtt(TOPIC, b"{" + body + b"}", RECEIVED)) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b"\xff\xfe",
            "payload is not UTF-8 text (invalid start byte at byte 0): "
            "configure the sensor to send JSON in UTF-8",
        ),
        (b" \r\n", "payload is empty: send one JSON object per message"),
    ],
)
def test_a_payload_that_is_no_json_text_says_what_to_send(body: bytes, expected: str) -> None:
    assert reason(decode_mqtt(TOPIC, body, RECEIVED)) == expected


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        ("1761355800", "is a string, not a number: send Unix seconds without quotes"),
        (
            "yesterday",
            "is not an RFC 3339 time: send e.g. '2026-10-25T02:30:00+01:00', "
            "or Unix seconds as a number",
        ),
        (
            "2025-10-25T01:30:00+24:00",
            "has the offset +24:00, which is not a valid UTC offset: use -23:59 to +23:59",
        ),
        (
            "2025-10-25T01:30:00+01:60",
            "has the offset +01:60, which is not a valid UTC offset: use -23:59 to +23:59",
        ),
    ],
)
def test_a_ts_text_that_is_no_time_says_what_to_send(ts: str, expected: str) -> None:
    assert reason(decode_mqtt(TOPIC, payload(ts=ts), RECEIVED)) == f"field 'ts': {ts!r} {expected}"


@pytest.mark.parametrize(
    ("text", "hours", "minutes"),
    [("+23:59", 23, 59), ("-23:59", -23, -59), ("+05:30", 5, 30), ("-00:01", 0, -1)],
)
def test_an_rfc3339_offset_up_to_23_59_either_way_is_taken_to_the_minute(
    text: str, hours: int, minutes: int
) -> None:
    event = decode_mqtt(TOPIC, payload(ts=f"2025-10-25T01:30:00.25{text}"), RECEIVED)
    assert isinstance(event, Event), event
    assert event.ts == TS - (hours * 60 + minutes) * 60


def test_times_are_read_and_shown_in_utc_whatever_the_machines_time_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        event = decode_mqtt(TOPIC, payload(ts="2025-10-25T01:30:00.25Z"), RECEIVED)
        early = decode_mqtt(TOPIC, payload(ts=946684799), RECEIVED)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert isinstance(event, Event), event
    assert event.ts == TS
    assert (
        reason(early) == f"field 'ts': 946684799 (1999-12-31T23:59:59Z) is before 2000-01-01{CLOCK}"
    )


CLOCK = ": check the sensor's clock"


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        ("1999-12-31T23:59:59Z", "'1999-12-31T23:59:59Z' is before 2000-01-01"),
        ("2100-01-01T00:00:00Z", "'2100-01-01T00:00:00Z' is not before 2100-01-01"),
        (946684799, "946684799 (1999-12-31T23:59:59Z) is before 2000-01-01"),
        (4102444800, "4102444800 (2100-01-01T00:00:00Z) is not before 2100-01-01"),
        # past the last date Python can show: no date, and no internal error
        (253402300800.0, "253402300800.0 is not before 2100-01-01"),
    ],
)
def test_a_ts_out_of_range_says_which_bound_and_shows_the_date_of_a_number(
    ts: float | str, expected: str
) -> None:
    assert reason(decode_mqtt(TOPIC, payload(ts=ts), RECEIVED)) == f"field 'ts': {expected}{CLOCK}"


def test_the_first_date_python_can_show_is_shown() -> None:
    """The year's digits are the platform's (glibc shows year 1 as "1")."""
    error = reason(decode_mqtt(TOPIC, payload(ts=-62135596800.0), RECEIVED))
    assert error.startswith("field 'ts': -62135596800.0 (")
    assert error.endswith(f"1-01-01T00:00:00Z) is before 2000-01-01{CLOCK}")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            payload(ts=None),
            "field 'ts' is missing: add the time the sensor saw the event (Unix seconds, or an "
            "RFC 3339 string with an offset)",
        ),
        (
            payload(event=None),
            'field \'event\' is missing: add what the sensor saw, e.g. "event": "heartbeat"',
        ),
        (
            payload(confidence=1.5),
            "field 'confidence': 1.5 is outside 0 to 1: send the confidence as a fraction "
            "(0.85, not 85%)",
        ),
        (
            payload(confidence="0.5"),
            "field 'confidence': '0.5' is a string, not a number: send it without quotes",
        ),
        (
            b'{"ts": 1761355800.25, "event": "occupied", "value": 1' + b"0" * 400 + b"}",
            "field 'value': a number of about 401 digits is too large a number: send the "
            "measurement as a number, or leave it out",
        ),
    ],
)
def test_a_missing_or_ill_typed_field_says_what_to_send_word_for_word(
    body: bytes, expected: str
) -> None:
    assert reason(decode_mqtt(TOPIC, body, RECEIVED)) == expected


def test_an_internal_error_is_logged_with_its_topic_and_traceback(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(codec, "_ordinary", broken)
    monkeypatch.setattr(codec, "_decode", broken)
    with caplog.at_level(logging.ERROR, logger=codec.logger.name):
        letters = [
            decode_mqtt(TOPIC, payload(), RECEIVED),
            decode_line(line(), RECEIVED, "night.jsonl:7"),
        ]
    for letter in letters:
        assert reason(letter) == (
            "sensorhub could not check this message (RuntimeError: boom): "
            "report this to the sensorhub maintainers with the payload"
        )
    assert [letter.topic for letter in letters] == [TOPIC, ""]
    assert [record.getMessage() for record in caplog.records] == [
        f"codec failed on a message on topic {TOPIC!r}",
        "codec failed on a message on topic ''",
    ]
    for record in caplog.records:
        assert record.exc_info is not None
        assert str(record.exc_info[1]) == "boom"


# -- dead letters --------------------------------------------------------------------------------

EURO = "\u20ac".encode()  # 3 bytes
SMILE = "\U0001f600".encode()  # 4 bytes


@pytest.mark.parametrize(
    ("body", "head", "encoding"),
    [
        (b"ab" + EURO * 400, "ab" + "\u20ac" * 340, "utf-8"),  # the 341st cut after 2 bytes
        (b"a" + SMILE * 300, "a" + "\U0001f600" * 255, "utf-8"),  # the 256th after 3 bytes
        # the payload itself ends inside a character: not cut by the head, so not UTF-8 text
        (b"a" * 1022 + EURO[:2], base64.b64encode(b"a" * 1022 + EURO[:2]).decode(), "base64"),
    ],
)
def test_a_character_the_head_cuts_in_two_is_left_out_but_a_broken_one_is_kept_as_base64(
    body: bytes, head: str, encoding: str
) -> None:
    letter = decode_mqtt(TOPIC, body, RECEIVED)
    assert isinstance(letter, DeadLetter)
    assert (letter.payload, letter.encoding, letter.length) == (head, encoding, len(body))


def test_a_dead_letters_extra_fields_are_kept_and_only_texts_shortened() -> None:
    letter = dead_letter(TOPIC, b"x", "why", RECEIVED, line=17, source="s" * 300)
    assert letter.model_extra is not None
    assert letter.model_extra["line"] == 17
    assert letter.model_extra["source"].endswith("\u2026")


@pytest.mark.parametrize(
    ("topic", "kept"),
    [
        ("t" * 100, "t" * 100),  # over 6 bytes a character would be too long, but it is not
        ("t" * 400, "t" * 400),  # the limit exactly
        ("t" * 401, "t" * 397 + "\u2026"),  # over it: cut so that the "…" (3 bytes) fits too
    ],
)
def test_a_dead_letters_topic_is_kept_up_to_400_bytes_then_cut_with_a_mark(
    topic: str, kept: str
) -> None:
    assert dead_letter(topic, b"x", "why", RECEIVED).topic == kept


# -- the caches ----------------------------------------------------------------------------------


def test_a_topic_is_parsed_once_per_prefix_however_many_messages_it_carries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed: list[tuple[str, str]] = []
    parse = codec._parse_topic

    def counted(topic: str, prefix: str) -> object:
        parsed.append((topic, prefix))
        return parse(topic, prefix)

    monkeypatch.setattr(codec, "_parse_topic", counted)
    for _ in range(3):
        assert isinstance(decode_mqtt(TOPIC, payload(), RECEIVED), Event)
        assert isinstance(decode_mqtt("care/x y", payload(), RECEIVED), DeadLetter)
    assert isinstance(decode_mqtt("a/" + TOPIC, payload(), RECEIVED, prefix="a/care"), Event)
    assert parsed == [(TOPIC, "care"), ("care/x y", "care"), ("a/" + TOPIC, "a/care")]


def test_a_recording_lines_place_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[tuple[str, ...]] = []
    parse = codec._parse_line_location

    def counted(*place: str) -> object:
        parsed.append(place)
        return parse(*place)

    monkeypatch.setattr(codec, "_parse_line_location", counted)
    for number in range(3):
        assert isinstance(decode_line(line(), RECEIVED, f"n:{number}"), Event)
    assert parsed == [("north", "14", "bed", "mat-14")]


def test_the_caches_hold_at_most_their_limit_then_start_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(codec, "_CACHE_MAX", 2)
    for device in ("a", "b", "c"):
        decode_mqtt(f"care/north/14/bed/{device}", payload(), RECEIVED)
        decode_line(line(device=device), RECEIVED, "n:1")
    assert list(codec._topic_cache["care"]) == ["care/north/14/bed/c"]
    assert list(codec._line_cache) == [("north", "14", "bed", "c")]
