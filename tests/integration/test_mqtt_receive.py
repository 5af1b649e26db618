"""Receiving: whole PUBLISH packets are taken from a block read off the socket
(``io.mqtt.split_publishes``) and handed over together; anything else is left to paho."""

from __future__ import annotations

import queue
import socket
import time
from collections.abc import Callable

import pytest

from sensorhub.io.inbox import InboundMessage, Inbox
from sensorhub.io.mqtt import MqttConnection, MqttSettings, split_publishes
from sensorhub.testing.broker import HOST, PrivateBroker, free_port
from tests.conftest import WAIT, Names, TestClient

MakeClient = Callable[..., TestClient]


def _length(n: int) -> bytes:
    """MQTT's remaining length, written out by the rule of the standard (section 2.2.3)."""
    out = []
    while True:
        byte, n = n % 128, n // 128
        out.append(byte + 128 if n > 0 else byte)
        if n == 0:
            return bytes(out)


def publish(
    topic: bytes, payload: bytes, *, qos: int = 1, mid: int = 7, retain: bool = False
) -> bytes:
    header = 0x30 | qos << 1 | int(retain)
    body = len(topic).to_bytes(2, "big") + topic + (mid.to_bytes(2, "big") if qos else b"")
    body += payload
    return bytes([header]) + _length(len(body)) + body


PUBACK = b"\x40\x02\x00\x05"


def test_whole_packets_become_messages_in_order_with_topic_payload_id_qos_and_retain() -> None:
    block = (
        publish(b"care/a/101/call/b1", b'{"ts":1}', qos=1, mid=1)
        + publish(b"care/a/102/door/d", b"", qos=0)
        + publish(b"care/a/103/bed/m", b"x" * 200, qos=1, mid=65535, retain=True)
        + publish(b"care/a/104/sound/s", b"y" * 20_000, qos=1, mid=258)  # a 3-byte length
    )
    messages, at = split_publishes(block, 0, 12.5)
    assert at == len(block)
    assert messages == [
        InboundMessage("care/a/101/call/b1", b'{"ts":1}', 12.5, False, 1, 1),
        InboundMessage("care/a/102/door/d", b"", 12.5, False, 0, 0),
        InboundMessage("care/a/103/bed/m", b"x" * 200, 12.5, True, 65535, 1),
        InboundMessage("care/a/104/sound/s", b"y" * 20_000, 12.5, False, 258, 1),
    ]


def test_a_packet_cut_by_the_end_of_the_block_is_left_where_it_starts() -> None:
    packets = [publish(b"t/1", b"one", mid=1), publish(b"t/22", b"x" * 300, mid=2)]
    whole = b"".join(packets)
    for cut in range(len(whole) + 1):
        messages, at = split_publishes(whole[:cut], 0, 0.0)
        complete = [p for n, p in enumerate(packets) if len(b"".join(packets[: n + 1])) <= cut]
        assert len(messages) == len(complete), cut
        assert at == len(b"".join(complete)), cut


def test_it_starts_where_it_is_told_and_stops_at_a_packet_that_is_not_a_publish() -> None:
    first, second = publish(b"t/1", b"a", mid=1), publish(b"t/2", b"b", mid=2)
    block = b"junk" + first + PUBACK + second
    messages, at = split_publishes(block, 4, 0.0)
    assert [m.topic for m in messages] == ["t/1"]
    assert at == 4 + len(first)  # paho reads the PUBACK, and the next round goes on from there
    messages, at = split_publishes(block, at + len(PUBACK), 0.0)
    assert [m.topic for m in messages] == ["t/2"]
    assert at == len(block)


def test_qos_2_and_malformed_packets_are_left_to_paho() -> None:
    ok = publish(b"t/1", b"a")
    for bad in (
        publish(b"t/2", b"b", qos=2),
        b"\x32\x01\x00",  # shorter than its topic length
        b"\x32\x04\x00\x09t/",  # topic longer than the packet
        b"\x32\x03\x00\x01t",  # QoS 1 without its packet id
        b"\x32\xff\xff\xff\xff\x01",  # a remaining length of five bytes
    ):
        messages, at = split_publishes(ok + bad + ok, 0, 0.0)
        assert len(messages) == 1, bad
        assert at == len(ok), bad


def test_a_topic_that_is_not_utf8_is_shown_not_fatal() -> None:
    messages, _ = split_publishes(publish(b"care/\xff/1/call/b", b"{}"), 0, 0.0)
    assert messages[0].topic == "care/\ufffd/1/call/b"


def _connect(
    broker: PrivateBroker, client_id: str, topics: list[str], inbox: Inbox
) -> MqttConnection:
    connection = MqttConnection(
        MqttSettings(broker.host, broker.port, client_id, announce=False), topics, inbox
    )
    connection.start()
    assert connection.wait_connected(WAIT)
    return connection


def _take(inbox: Inbox, count: int) -> list[InboundMessage]:
    got: list[InboundMessage] = []
    deadline = time.monotonic() + WAIT
    while len(got) < count and time.monotonic() < deadline:
        got += inbox.take(count - len(got), 0.5)
    return got


@pytest.mark.mqtt
def test_a_burst_through_a_real_broker_arrives_whole_in_order_and_is_acknowledged(
    mosquitto: PrivateBroker, mqtt_client: MakeClient, names: Names
) -> None:
    """Payloads of every size, some larger than a read block, so packets are cut at block ends;
    without manual_ack each is acknowledged: the broker sends none of them again."""
    inbox = Inbox()
    topics = [f"{names.prefix}/#"]
    connection = _connect(mosquitto, names.client_id, topics, inbox)
    sender = mqtt_client([])
    sent = [(f"{names.prefix}/m/{n}", bytes([n % 256]) * (n * 37 % 9000)) for n in range(2000)]
    sent += [(f"{names.prefix}/big/{n}", b"z" * (70_000 + n)) for n in range(3)]
    for topic, payload in sent:
        sender.publish(topic, payload)
    got = _take(inbox, len(sent))
    connection.stop()
    assert [(m.topic, m.payload) for m in got] == sent
    assert {m.qos for m in got} == {1}
    again = _connect(mosquitto, names.client_id, topics, inbox)
    sender.publish(f"{names.prefix}/after", b"after")
    first = _take(inbox, 1)
    again.stop()
    assert [m.topic for m in first] == [f"{names.prefix}/after"]


@pytest.mark.mqtt
def test_a_queue_inbox_gets_the_messages_one_by_one(
    mosquitto: PrivateBroker, mqtt_client: MakeClient, names: Names
) -> None:
    inbox: queue.Queue[InboundMessage] = queue.Queue()
    connection = MqttConnection(
        MqttSettings(mosquitto.host, mosquitto.port, names.client_id, announce=False),
        [f"{names.prefix}/#"],
        inbox,
    )
    connection.start()
    assert connection.wait_connected(WAIT)
    sender = mqtt_client([])
    for n in range(50):
        sender.publish(f"{names.prefix}/q/{n}", str(n).encode())
    got = [inbox.get(timeout=WAIT) for _ in range(50)]
    connection.stop()
    assert [m.payload for m in got] == [str(n).encode() for n in range(50)]


@pytest.mark.mqtt
def test_small_writes_such_as_a_page_go_out_at_once(mosquitto: PrivateBroker, names: Names) -> None:
    """Nagle's algorithm is off on the connection: a page written right after a round's
    PUBACKs waited for the broker's (delayed, up to 40 ms) ACK of them; 40-48 ms was the p99
    of resident calls in benchmarks/live.py at every rate before."""
    connection = _connect(mosquitto, names.client_id, [], Inbox())
    sock = connection._client.socket()
    nodelay = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    connection.stop()
    assert nodelay


def test_a_qos_0_publish_while_disconnected_is_dropped_not_left_unacknowledged() -> None:
    """paho keeps no QoS 0 message for the reconnect: counted as done, so that ``stop()`` does
    not wait for it (dead letters are QoS 0)."""
    connection = MqttConnection(
        MqttSettings(host=HOST, port=free_port(), client_id="dropped-qos0"), [], queue.Queue()
    )
    connection.publish("sensorhub/deadletter", b"{}", qos=0)
    assert connection.unacknowledged == 0
    connection.publish("sensorhub/pages/s/r", b"{}", qos=1)  # QoS 1 waits for the reconnect
    assert connection.unacknowledged == 1
