"""``decode_mqtt``'s short way for ordinary payloads (``codec._ordinary``, one msgspec call)
gives what the codec's whole way gives (``codec._decode``), for any payload: the same event, or
the same dead letter."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensorhub.codec import payload as codec
from sensorhub.codec.payload import decode_mqtt
from sensorhub.contract import VOCABULARY, DeadLetter, Event, allowed_events

PLACE = {"site": "north", "room": "14", "device": "dev-14"}
RECEIVED = 1_761_355_801.0

_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.just(10**400),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(9.0e8, 4.2e9),
    st.floats(0.0, 1.0),
    st.just(1),
    st.sampled_from(["", "x" * 129, "2026-11-20T23:00:01+01:00", "north", "14", "bed", "dev-14"]),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
)


@st.composite
def _message(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(list(VOCABULARY)))
    body: dict[str, Any] = {
        "ts": draw(st.floats(9.4e8, 4.2e9) | st.integers(946_684_800, 4_102_444_799)),
        "event": draw(st.sampled_from([*allowed_events(kind), "fall", "pressed"])),
    }
    if draw(st.booleans()):
        body["id"] = draw(st.text(min_size=1, max_size=130) | st.none())
    if draw(st.booleans()):
        body["confidence"] = draw(st.floats(-0.5, 1.5) | st.sampled_from([0, 0.0, 1, None]))
    if draw(st.booleans()):
        body["value"] = draw(st.floats(-100, 200) | st.integers(-(10**20), 10**20) | st.none())
    for name in draw(st.lists(st.sampled_from(["site", "room", "kind", "device"]), max_size=2)):
        body[name] = draw(st.sampled_from([PLACE.get(name, kind), "other", None]))
    for name in draw(
        st.lists(st.sampled_from(["ts", "event", "id", "confidence", "value", "fw"]), max_size=2)
    ):
        if draw(st.booleans()):
            body.pop(name, None)
        else:
            body[name] = draw(_values)
    text = json.dumps(body, ensure_ascii=draw(st.booleans()), allow_nan=True)
    damage = draw(st.sampled_from(["", "", "", "cut", "bom", "space", "two", "twice", "array"]))
    if damage == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    elif damage == "space":
        text = f" \t\n{text} \r\n"
    elif damage == "two":
        text = f"{text} {text}"
    elif damage == "twice" and len(body) > 1:  # a field given twice
        key = draw(st.sampled_from(sorted(body)))
        text = text[:-1] + ", " + json.dumps({key: draw(_values)})[1:]
    elif damage == "array":
        text = f"[{text}]"
    data = text.encode("utf-8", "surrogatepass")
    if damage == "bom":
        data = b"\xef\xbb\xbf" + data
    topic = f"care/{PLACE['site']}/{PLACE['room']}/{kind}/{PLACE['device']}"
    return topic, data


def _whole_way(topic: str, payload: bytes) -> Event | str:
    where = codec._where_of_topic(topic, "care")
    assert not isinstance(where, str)
    result, _ = codec._decode(payload, where)
    return result


@given(message=_message())
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_payload_is_decoded_as_the_codecs_whole_way_decodes_it(
    message: tuple[str, bytes],
) -> None:
    topic, payload = message
    expected = _whole_way(topic, payload)
    got = decode_mqtt(topic, payload, RECEIVED, "care")
    if isinstance(expected, str):
        assert isinstance(got, DeadLetter)
        # the reason, and what the dead letter says it left out of the payload (privacy)
        assert got.error == codec.dead_letter(topic, payload, expected, RECEIVED).error
    else:
        assert got == expected
        assert (type(got.ts), type(got.confidence)) == (
            type(expected.ts),
            type(expected.confidence),
        )
        assert type(got.value) is type(expected.value)
        assert list(got.raw.items()) == list(expected.raw.items())  # the same order too


@pytest.mark.parametrize(
    "payload",
    [
        b'{"ts": 1761355800.25, "event": "occupied"}',
        b'{"ts": 1761355800, "event": "occupied", "id": "m-1", "confidence": 0.9, "value": 3}',
        b'{"ts": 1761355800.5, "event": "occupied", "confidence": 0, "value": -2.5}',
        b'{"site": "north", "room": "14", "kind": "bed", "device": "dev-14", '
        b'"ts": 1761355800.5, "event": "vacated", "id": "m-2"}',
    ],
)
def test_ordinary_payloads_take_the_short_way(
    payload: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _whole_way("care/north/14/bed/dev-14", payload)

    def whole_way(*args: object) -> object:
        raise AssertionError("an ordinary payload went the whole way")

    monkeypatch.setattr(codec, "_decode", whole_way)
    assert decode_mqtt("care/north/14/bed/dev-14", payload, RECEIVED, "care") == expected
