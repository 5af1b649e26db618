"""``io.triage`` and ``Inbox``'s low lane: bad input that can only be dead letters waits in a
bounded lane of its own, acknowledged at once, so that it never holds good input back."""

from __future__ import annotations

import logging
import time

import pytest

from sensorhub.codec.payload import decode_mqtt
from sensorhub.contract import MAX_PAYLOAD, DeadLetter
from sensorhub.io import inbox as lanes
from sensorhub.io.inbox import InboundMessage, Inbox
from sensorhub.io.triage import REPORT_EVERY, FloodReport, hopeless

TEST = hopeless("care")
CALL = "care/s/12/call/b"
GOOD = b'{"ts": 1800000000, "event": "pressed"}'


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        (CALL, b"\x01" * 16384),  # control bytes, as a hostile client sent them
        (CALL, b"the button was pressed"),
        (CALL, b"[1, 2, 3]"),
        (CALL, b""),
        (CALL, b"  \r\n\t"),
        (CALL, b"\xff\xfe{"),
        (CALL, b"{" + b" " * MAX_PAYLOAD),  # over 64 KiB: refused unparsed
        (CALL, b" " * (MAX_PAYLOAD + 1)),
        ("sensorhub/ack/s", b"ack!"),
        ("sensorhub/ack/s", b"{" + b" " * MAX_PAYLOAD),
        ("care/s/12", b"pressed"),  # a native topic, however wrong its levels
    ],
)
def test_hopeless_holds_back_only_what_the_decoder_dead_letters_too(
    topic: str, payload: bytes
) -> None:
    assert TEST(topic, payload)
    if topic.startswith("care/"):
        assert isinstance(decode_mqtt(topic, payload, 0.0), DeadLetter)


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        (CALL, GOOD),
        (CALL, b" \r\n\t" + GOOD),  # JSON may start with white space
        (CALL, b'{"ts": "not a time"}'),  # bad, but only decoding can tell: decided in order
        (CALL, b"{" + b" " * (MAX_PAYLOAD - 2) + b"}"),  # exactly 64 KiB
        ("sensorhub/ack/s", b'{"incident": "i"}'),
        ("zigbee2mqtt/kamer1-deur/availability", b"online"),  # a source's own format
        ("homeassistant/status", b"online"),
        ("zigbee2mqtt/kamer1-deur", b"{" + b" " * MAX_PAYLOAD),  # a source's, of any size
        ("careless/s/12/call/b", b"pressed"),  # not under the prefix
    ],
)
def test_hopeless_lets_through_anything_that_may_be_good_or_is_a_sources(
    topic: str, payload: bytes
) -> None:
    assert not TEST(topic, payload)


def _message(topic: str, payload: bytes, mid: int, *, retained: bool = False) -> InboundMessage:
    return InboundMessage(topic, payload, float(mid), retained, mid, 1)


def _names(messages: list[InboundMessage]) -> list[float]:
    return [m.received_at for m in messages]


def test_hopeless_messages_are_acknowledged_at_once_and_taken_where_they_came() -> None:
    inbox = Inbox(TEST)
    came = [
        _message(CALL, GOOD, 1),
        _message(CALL, b"junk", 2),
        _message(CALL, GOOD, 3),
        _message(CALL, b"\x01", 4, retained=True),  # retained: the round says so, in order
        _message(CALL, b"junk", 5),
    ]
    assert inbox.put_all(came[:3]) == [2]
    assert inbox.put(came[3]) == []
    assert inbox.put(came[4]) == [5]
    taken = inbox.take(100, 1.0)
    assert _names(taken) == [1.0, 2.0, 3.0, 4.0, 5.0]  # arrival order, as without the lane
    assert [m.qos for m in taken] == [1, 0, 1, 1, 0]  # nothing acknowledges those twice
    assert inbox.dropped == 0


def test_a_flood_is_taken_a_few_at_a_time_after_what_came_before_it_and_overflows_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lanes, "LOW_LANE", 10)
    monkeypatch.setattr(lanes, "LOW_PER_TAKE", 3)
    inbox = Inbox(TEST)
    inbox.put(_message(CALL, GOOD, 1))
    acked = inbox.put_all([_message(CALL, b"junk", n) for n in range(2, 22)])
    assert acked == list(range(2, 22))  # every one acknowledged, kept or not
    inbox.put(_message(CALL, GOOD, 99))  # a call behind the flood
    assert inbox.dropped == 10

    assert _names(inbox.take(100, 1.0)) == [1.0, 2.0, 3.0, 4.0, 99.0]  # the call at once
    assert _names(inbox.take(100, 1.0)) == [5.0, 6.0, 7.0]
    assert _names(inbox.take(100, 1.0)) == [8.0, 9.0, 10.0]
    assert _names(inbox.take(100, 1.0)) == [11.0]
    assert inbox.take(100, 0.01) == []
    inbox.put(_message(CALL, b"junk", 50))  # room again
    assert _names(inbox.take(100, 1.0)) == [50.0]


def test_the_low_lane_is_given_so_often_at_most_and_wakes_no_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lanes, "LOW_PER_TAKE", 2)
    monkeypatch.setattr(lanes, "LOW_EVERY", 0.5)
    inbox = Inbox(TEST)
    inbox.put_all([_message(CALL, b"junk", n) for n in range(1, 6)])
    assert _names(inbox.take(100, 1.0)) == [1.0, 2.0]
    started = time.monotonic()
    assert inbox.take(100, 0.1) == []  # not yet: the loop is free meanwhile
    assert time.monotonic() - started >= 0.09
    inbox.put(_message(CALL, GOOD, 6))
    assert _names(inbox.take(100, 1.0)) == [6.0]  # good input at once, the lane waits
    assert _names(inbox.take(100, 1.0)) == [3.0, 4.0]  # its time came
    assert time.monotonic() - started >= 0.45


def test_the_low_lane_holds_so_many_bytes_at_most(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lanes, "LOW_LANE_BYTES", 100)
    inbox = Inbox(TEST)
    inbox.put_all([_message(CALL, b"x" * 40, n) for n in range(4)])
    assert inbox.dropped == 2
    assert len(inbox.take(100, 1.0)) == 2
    inbox.put_all([_message(CALL, b"x" * 40, n) for n in range(4)])  # taken: room again
    assert inbox.dropped == 4


def test_a_message_that_may_be_good_is_never_held_back_nor_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lanes, "LOW_LANE", 0)
    inbox = Inbox(TEST)
    good = [_message(CALL, GOOD, n) for n in range(5000)]
    assert inbox.put_all(good) == []
    assert inbox.put_all([_message(CALL, b"junk", 9999)]) == [9999]
    assert _names(inbox.take(10_000, 1.0)) == _names(good)
    assert inbox.dropped == 1


def test_the_flood_report_says_what_was_dropped_at_most_every_ten_seconds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    dropped = [0]
    report = FloodReport(logging.getLogger("flood"), lambda: dropped[0], clock=lambda: now[0])
    report.flush()
    assert caplog.records == []  # nothing dropped, nothing said
    dropped[0] = 7
    report.flush()
    dropped[0] = 12
    now[0] = REPORT_EVERY - 0.1
    report.flush()
    now[0] = REPORT_EVERY
    report.flush()
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 2
    assert said[0].startswith("flood of bad input: 7 message(s) were dropped")
    assert said[1].startswith("flood of bad input: 5 message(s) were dropped")
    assert "sensorhub_deadletters_dropped_total" in said[0]
