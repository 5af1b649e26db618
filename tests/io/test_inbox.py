"""``io.mqtt.Inbox``: messages from paho's network thread to serve's loop, in batches."""

from __future__ import annotations

import threading
import time

from sensorhub.io.inbox import InboundMessage, Inbox


def _message(n: int) -> InboundMessage:
    return InboundMessage(f"care/s/{n}/call/b", b"{}", float(n))


def test_take_gives_at_most_so_many_in_arrival_order_and_keeps_the_rest_ready() -> None:
    inbox = Inbox()
    for n in range(5):
        inbox.put(_message(n))
    assert [m.received_at for m in inbox.take(3, 1.0)] == [0.0, 1.0, 2.0]
    started = time.monotonic()
    assert [m.received_at for m in inbox.take(3, 10.0)] == [3.0, 4.0]  # without waiting
    assert time.monotonic() - started < 1.0


def test_take_waits_for_the_first_message_and_no_longer_than_its_timeout() -> None:
    inbox = Inbox()
    started = time.monotonic()
    assert inbox.take(10, 0.2) == []
    assert 0.15 <= time.monotonic() - started < 2.0
    threading.Timer(0.1, inbox.put, [_message(7)]).start()
    started = time.monotonic()
    assert [m.received_at for m in inbox.take(10, 10.0)] == [7.0]
    assert time.monotonic() - started < 5.0


def test_a_producer_thread_loses_nothing_and_keeps_the_order() -> None:
    inbox = Inbox()
    total = 50_000
    producer = threading.Thread(target=lambda: [inbox.put(_message(n)) for n in range(total)])
    producer.start()
    got: list[float] = []
    deadline = time.monotonic() + 60
    while len(got) < total and time.monotonic() < deadline:
        got += [m.received_at for m in inbox.take(2000, 0.5)]
    producer.join()
    assert got == [float(n) for n in range(total)]
    assert inbox.take(10, 0.01) == []
