"""PrivateBroker: a Mosquitto of our own on a free loopback port, started and stopped cleanly."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from sensorhub.testing import broker as broker_module
from sensorhub.testing.broker import BrokerError, PrivateBroker
from tests.conftest import WAIT, TestClient


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _connects(host: str, port: int) -> bool:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4().hex[:8]}")
    try:
        client.connect(host, port)
    except OSError:
        return False
    client.disconnect()
    return True


@pytest.mark.mqtt
def test_broker_accepts_mqtt_connections_on_loopback_and_stops_without_a_trace() -> None:
    with PrivateBroker() as broker:
        assert broker.url == f"mqtt://127.0.0.1:{broker.port}"
        assert _connects(broker.host, broker.port)
        pid, directory = broker.pid, broker.directory
        assert pid is not None
    assert _gone(pid), "mosquitto is still running after the broker was closed"
    assert not directory.exists(), "the private directory was left behind"
    with socket.socket() as sock:  # nobody listens there any more
        assert sock.connect_ex(("127.0.0.1", broker.port)) != 0


@pytest.mark.mqtt
def test_broker_restarts_on_the_same_port() -> None:
    with PrivateBroker() as broker:
        port, first = broker.port, broker.pid
        broker.stop()
        assert not broker.running
        assert first is not None
        assert _gone(first)
        assert not _connects(broker.host, port)
        broker.start()
        assert broker.port == port
        assert broker.pid != first
        assert _connects(broker.host, port)


@pytest.mark.mqtt
def test_broker_keeps_queued_qos1_messages_of_a_persistent_session_across_a_restart() -> None:
    """A restart must not lose events queued for a client that is away (serve reconnects)."""
    with PrivateBroker() as broker:
        received: list[bytes] = []
        got, subscribed = threading.Event(), threading.Event()
        client_id = f"away-{uuid.uuid4().hex[:8]}"

        def on_message(client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
            received.append(bytes(message.payload))
            got.set()

        def connect() -> paho.Client:
            # a new paho client each time: paho leaks a socket pair if loop_start runs twice
            client = paho.Client(
                CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False
            )
            client.on_message = on_message
            client.on_subscribe = lambda *_: subscribed.set()
            client.connect(broker.host, broker.port)
            client.loop_start()
            return client

        away = connect()
        away.subscribe("queued/#", qos=1)
        assert subscribed.wait(WAIT)
        away.disconnect()
        away.loop_stop()

        sensor = TestClient(broker, [])
        sensor.publish("queued/x", b"kept", qos=1)
        sensor.close()
        broker.stop()
        broker.start()

        back = connect()
        try:
            assert got.wait(WAIT), "the queued message was lost in the restart"
            assert received == [b"kept"]
        finally:
            back.disconnect()
            back.loop_stop()


def test_missing_mosquitto_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sensorhub.testing.broker.shutil.which", lambda name: None)
    monkeypatch.setattr(broker_module, "FALLBACK_BINARY", "/nonexistent/mosquitto")
    with pytest.raises(BrokerError, match=r"apt-get install mosquitto"):
        PrivateBroker().start()


@pytest.mark.mqtt
def test_broker_that_cannot_start_says_why() -> None:
    """A port already taken: the error carries the tail of mosquitto's log."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        broker = PrivateBroker(port=port)
        with pytest.raises(BrokerError, match=r"mosquitto exited.*\n.*last lines"):
            broker.start()
        assert not broker.running
        broker.close()
