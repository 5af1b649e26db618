"""The site's broker as deploy/mosquitto configures it: TLS, a password per account, and an ACL
in which a sensor publishes only its own device's topic, pager gateways and the board only
their site's acknowledgements, and only sensorhub pages.

A real Mosquitto runs with exactly deploy/mosquitto/mosquitto.conf and acl (only the paths and
the port substituted; as root it is told to stay root, as ``PrivateBroker`` does, for it could
not read the private directory), with certificates and passwords made by
deploy/mosquitto/make-site-credentials. MQTT v5 clients see each refusal twice: the broker's
PUBACK says 0x87 (not authorised), and a subscriber allowed to read the topic never gets the
message, while the allowed publish beside it (the positive control) arrives.
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from sensorhub.testing.broker import HOST, find_mosquitto, free_port
from tests.conftest import WAIT, wait_until

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
SITE = "zonnebloem"  # the site of the shipped acl's example block
NOT_AUTHORIZED = 0x87
#: How long a refused message is given to arrive anyway (it never should).
QUIET = 1.0
TECHNICIAN = f"technician@{SITE}"
ACCOUNTS = ("sensorhub", f"gateway@{SITE}", f"board@{SITE}", TECHNICIAN, "cam-101", "call-102")


@pytest.fixture(scope="module")
def site_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path, dict]]:
    """Mosquitto with the deploy configuration on a free loopback port: (port, folder with
    ca.crt, passwords by account)."""
    folder = tmp_path_factory.mktemp("site-broker")
    subprocess.run(
        [str(DEPLOY / "make-site-credentials"), HOST, str(folder), *ACCOUNTS],
        check=True,
        capture_output=True,
    )
    passwords = dict(
        line.split(" ", 1) for line in (folder / "passwords.txt").read_text().splitlines()
    )
    port = free_port()
    config = (DEPLOY / "mosquitto.conf").read_text(encoding="utf-8")
    config = (
        config.replace("/etc/mosquitto/sensorhub/", f"{folder}/")
        .replace("/var/lib/mosquitto/", f"{folder}/")
        .replace("/var/log/mosquitto/", f"{folder}/")
        .replace("listener 8883", f"listener {port} {HOST}")
    )
    settings = [line for line in config.splitlines() if not line.startswith("#")]
    assert not [line for line in settings if "/etc/" in line or "/var/" in line]
    if os.geteuid() == 0:
        config += "user root\n"
    (folder / "acl").write_text((DEPLOY / "acl").read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "mosquitto.conf").write_text(config, encoding="utf-8")
    with (folder / "mosquitto.out").open("wb") as output:
        process = subprocess.Popen(
            [find_mosquitto(), "-c", str(folder / "mosquitto.conf")],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(lambda: _listening(port), "the site broker to listen")
        yield port, folder, passwords
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _listening(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


class SiteClient:
    """An MQTT v5 client of one account, over TLS: what it got, and each publish's reason."""

    def __init__(self, broker: tuple[int, Path, dict], user: str | None, topics: list[str]):
        port, folder, passwords = broker
        self.messages: list[tuple[str, bytes]] = []
        self.reasons: dict[int, int] = {}
        self.connected: ReasonCode | None = None
        self._done = threading.Condition()
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"acl-{uuid.uuid4().hex[:12]}",
            protocol=paho.MQTTv5,
        )
        self._client.tls_set(ca_certs=str(folder / "ca.crt"), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        if user is not None:
            self._client.username_pw_set(user, passwords.get(user, "wrong"))
        subscribed = threading.Event()
        if not topics:
            subscribed.set()
        self._client.on_connect = self._on_connect(topics)
        self._client.on_subscribe = lambda *_: subscribed.set()
        self._client.on_message = self._on_message
        self._client.on_publish = self._on_publish
        self._client.connect(HOST, port)
        self._client.loop_start()
        wait_until(lambda: self.connected is not None, f"{user} to be answered")
        if self.connected is not None and not self.connected.is_failure:
            assert subscribed.wait(WAIT), f"{user} could not subscribe"

    def _on_connect(self, topics: list[str]) -> Any:
        def connected(client: paho.Client, _: Any, __: Any, reason: ReasonCode, ___: Any) -> None:
            self.connected = reason
            if topics and not reason.is_failure:
                client.subscribe([(topic, 1) for topic in topics])

        return connected

    def _on_message(self, _: paho.Client, __: Any, message: paho.MQTTMessage) -> None:
        with self._done:
            self.messages.append((message.topic, bytes(message.payload)))
            self._done.notify_all()

    def _on_publish(
        self, _: paho.Client, __: Any, mid: int, reason: ReasonCode, ___: Properties
    ) -> None:
        with self._done:
            self.reasons[mid] = reason.value
            self._done.notify_all()

    def publish(self, topic: str, payload: bytes) -> int:
        """Publish with QoS 1; the broker's PUBACK reason code (0 accepted, 0x87 refused)."""
        info = self._client.publish(topic, payload, qos=1)
        wait_until(lambda: info.mid in self.reasons, f"the PUBACK of {topic}")
        return self.reasons[info.mid]

    def got(self, payload: bytes, timeout: float = WAIT) -> bool:
        """Whether a message with ``payload`` arrives within ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._done:
            while not any(p == payload for _, p in self.messages):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._done.wait(remaining)
            return True

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@pytest.fixture
def client(site_broker: tuple[int, Path, dict]) -> Iterator[Any]:
    """``client(user, topics)``: a connected client of ``user`` (None: anonymous)."""
    made: list[SiteClient] = []

    def make(user: str | None, topics: list[str] | None = None) -> SiteClient:
        made.append(SiteClient(site_broker, user, topics or []))
        return made[-1]

    yield make
    for each in made:
        each.close()


def unique(what: str) -> bytes:
    return f'{{"note": "{what} {uuid.uuid4().hex}"}}'.encode()


@pytest.mark.mqtt
def test_a_sensor_publishes_its_own_device_but_cannot_forge_another_rooms_call(
    client: Any,
) -> None:
    sensorhub = client("sensorhub", ["care/#"])
    camera = client("cam-101")
    own, forged = unique("own"), unique("forged")
    assert camera.publish(f"care/{SITE}/101/optical/cam-101", own) == 0
    assert camera.publish(f"care/{SITE}/102/call/call-102", forged) == NOT_AUTHORIZED
    assert sensorhub.got(own)
    assert not sensorhub.got(forged, QUIET)


@pytest.mark.mqtt
def test_a_sensor_cannot_acknowledge_but_the_sites_gateway_and_board_can(client: Any) -> None:
    sensorhub = client("sensorhub", ["sensorhub/ack/+"])
    by_camera, by_gateway, by_board, elsewhere = (unique(w) for w in ("cam", "gw", "bd", "x"))
    assert client("cam-101").publish(f"sensorhub/ack/{SITE}", by_camera) == NOT_AUTHORIZED
    gateway = client(f"gateway@{SITE}")
    assert gateway.publish(f"sensorhub/ack/{SITE}", by_gateway) == 0
    assert gateway.publish("sensorhub/ack/another-site", elsewhere) == NOT_AUTHORIZED
    assert client(f"board@{SITE}").publish(f"sensorhub/ack/{SITE}", by_board) == 0
    assert sensorhub.got(by_gateway)
    assert sensorhub.got(by_board)
    assert not sensorhub.got(by_camera, QUIET)
    assert not sensorhub.got(elsewhere, 0.1)


@pytest.mark.mqtt
@pytest.mark.parametrize(
    "topic", [f"sensorhub/pages/{SITE}/night-team", "sensorhub/status", "sensorhub/deadletter"]
)
def test_nobody_but_sensorhub_publishes_a_page_its_status_or_a_dead_letter(
    client: Any, topic: str
) -> None:
    board = client(f"board@{SITE}", [f"sensorhub/pages/{SITE}/#"])
    watcher = client(TECHNICIAN, ["sensorhub/status", "sensorhub/deadletter"])
    users = ("cam-101", f"gateway@{SITE}", f"board@{SITE}", TECHNICIAN)
    forged = {user: unique(user) for user in users}
    for user, payload in forged.items():
        assert client(user).publish(topic, payload) == NOT_AUTHORIZED, user
    real = unique("sensorhub")
    assert client("sensorhub").publish(topic, real) == 0
    reader = board if topic.startswith("sensorhub/pages/") else watcher
    assert reader.got(real)
    assert not any(reader.got(payload, QUIET / 3) for payload in forged.values())


@pytest.mark.mqtt
@pytest.mark.parametrize("user", [None, "mallory", "cam-101 (wrong password)"])
def test_anonymous_or_unknown_accounts_are_not_let_in(client: Any, user: str | None) -> None:
    refused = client(user)
    assert refused.connected is not None
    assert refused.connected.is_failure


@pytest.mark.mqtt
def test_the_broker_speaks_tls_only(site_broker: tuple[int, Path, dict]) -> None:
    """A plain MQTT CONNECT on the port gets no CONNACK."""
    port, _, _ = site_broker
    with socket.create_connection((HOST, port), timeout=2) as plain:
        plain.sendall(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00")
        try:
            answer = plain.recv(4)
        except (TimeoutError, ConnectionResetError):
            answer = b""
    assert answer != b"\x20\x02\x00\x00"
